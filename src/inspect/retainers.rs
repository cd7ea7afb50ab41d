//! Shortest retainer paths: why an object is still alive.
//!
//! One breadth-first search from the snapshot's root over strong edges gives every reachable
//! node its nearest parent. Weak edges do not keep anything alive, so they are skipped; shortcut
//! edges are followed only from the root (as DevTools does), since elsewhere they duplicate a
//! real path. A path renders as `EventEmitter._events.changed -> Array[291] -> (closure).req ->
//! IncomingMessage`: plain `Object` hops and closure scopes (`system / Context`) fold into the
//! edge names, so the chain reads like the code that holds the object.

use std::collections::VecDeque;

use super::snapshot::HeapSnapshot;

const NONE: u32 = u32::MAX;
/// Longest rendered path, in hops; longer ones keep their first and last hops.
const MAX_SEGMENTS: usize = 12;

/// Nearest-parent links from the root, for every reachable node of one snapshot.
pub struct Retainers {
    parent_node: Vec<u32>,
    parent_edge: Vec<u32>,
    distance: Vec<u32>,
}

impl Retainers {
    /// The breadth-first search from node 0 (V8 puts the synthetic root first).
    pub fn new(s: &HeapSnapshot) -> Retainers {
        let n = s.node_count();
        let mut parent_node = vec![NONE; n];
        let mut parent_edge = vec![NONE; n];
        let mut distance = vec![NONE; n];
        let mut queue = VecDeque::new();
        // Transient roots (the stack, handle scopes) are expanded only after everything the
        // heap itself reaches: a chain through a stack slot is short but says nothing about
        // what keeps an object alive between requests.
        let mut deferred: Vec<(usize, u32, u32)> = Vec::new();
        distance[0] = 0;
        queue.push_back(0usize);
        loop {
            while let Some(i) = queue.pop_front() {
                for e in s.edges_of(i) {
                    match s.edge_type(e) {
                        "weak" => continue,
                        "shortcut" if i != 0 => continue,
                        _ => {}
                    }
                    let j = s.edge_to(e);
                    if distance[j] != NONE {
                        continue;
                    }
                    if is_transient_root(s, j) {
                        if !deferred.iter().any(|d| d.0 == j) {
                            deferred.push((j, i as u32, e as u32));
                        }
                        continue;
                    }
                    distance[j] = distance[i] + 1;
                    parent_node[j] = i as u32;
                    parent_edge[j] = e as u32;
                    queue.push_back(j);
                }
            }
            let Some((j, i, e)) = deferred.pop() else {
                break;
            };
            if distance[j] == NONE {
                distance[j] = distance[i as usize] + 1;
                parent_node[j] = i;
                parent_edge[j] = e;
                queue.push_back(j);
            }
        }
        Retainers {
            parent_node,
            parent_edge,
            distance,
        }
    }

    /// Hops from the root, or None when only weak edges reach the node.
    pub fn distance(&self, node: usize) -> Option<u32> {
        self.distance.get(node).copied().filter(|d| *d != NONE)
    }

    /// The (retaining node, edge) hops from the root down to `node`, root first.
    pub fn path(&self, node: usize) -> Option<Vec<(usize, usize)>> {
        let depth = self.distance(node)? as usize;
        let mut hops = Vec::with_capacity(depth);
        let mut at = node;
        while at != 0 && hops.len() <= depth {
            let p = self.parent_node[at];
            if p == NONE {
                return None;
            }
            hops.push((p as usize, self.parent_edge[at] as usize));
            at = p as usize;
        }
        hops.reverse();
        Some(hops)
    }

    /// The readable retainer path of `node`, or None when it is unreachable.
    pub fn render(&self, s: &HeapSnapshot, node: usize) -> Option<String> {
        let hops = self.path(node)?;
        Some(render_hops(s, &hops, node))
    }
}

fn is_transient_root(s: &HeapSnapshot, i: usize) -> bool {
    s.node_type(i) == "synthetic" && matches!(s.node_name(i), "(Stack roots)" | "(Handle scope)")
}

/// A closure scope: V8 names them `system / Context` (type `object` in Node 20, `hidden` in
/// older versions).
fn is_context(s: &HeapSnapshot, i: usize) -> bool {
    let name = s.node_name(i);
    name.starts_with("system / ") && name.ends_with("Context")
}

/// A node's label in a path: its class, or the name of a synthetic root group.
fn label(s: &HeapSnapshot, i: usize) -> String {
    if s.node_type(i) == "synthetic" && !s.node_name(i).is_empty() {
        return s.node_name(i).to_string();
    }
    s.class_name(i)
}

fn edge_text(s: &HeapSnapshot, e: usize) -> String {
    let name = s.edge_name(e);
    if name.starts_with('[') {
        name
    } else if !name.is_empty() && name.bytes().all(|c| c.is_ascii_digit()) {
        // Hash-table slots and similar numeric names read as indices.
        format!("[{name}]")
    } else {
        format!(".{name}")
    }
}

/// Renders hops root-first. The root itself is left out (its name is empty).
fn render_hops(s: &HeapSnapshot, hops: &[(usize, usize)], target: usize) -> String {
    let mut segments: Vec<String> = Vec::new();
    let mut current = String::new();
    for (k, &(from, edge)) in hops.iter().enumerate() {
        if from == 0 && k == 0 {
            continue;
        }
        let to = s.edge_to(edge);
        let reached_by_property = k > 0 && {
            let t = s.edge_type(hops[k - 1].1);
            t == "property" || t == "internal"
        };
        // A scope or a plain object in the middle of a chain reads as part of the edge name.
        let fold = !current.is_empty()
            && (is_context(s, from)
                || (reached_by_property
                    && s.node_name(from) == "Object"
                    && s.node_type(from) == "object"));
        // The closure -> scope and scope -> outer scope links say nothing to a reader.
        let silent =
            is_context(s, to) && matches!(s.edge_name(edge).as_str(), "context" | "previous");
        let text = if silent {
            String::new()
        } else {
            edge_text(s, edge)
        };
        if fold {
            current.push_str(&text);
        } else {
            if !current.is_empty() {
                segments.push(std::mem::take(&mut current));
            }
            current = label(s, from) + &text;
        }
    }
    if !current.is_empty() {
        segments.push(current);
    }
    segments.push(label(s, target));
    let mut segments = collapse_repeats(segments);
    if segments.len() > MAX_SEGMENTS {
        let tail = segments.split_off(segments.len() - (MAX_SEGMENTS - 2));
        segments.truncate(1);
        segments.push("…".to_string());
        segments.extend(tail);
    }
    segments.join(" -> ")
}

/// Runs of the same hop (a cons-string chain: `(string).first` nine times) become one
/// `(string).first ×9`.
fn collapse_repeats(segments: Vec<String>) -> Vec<String> {
    let mut out: Vec<(String, usize)> = Vec::new();
    for seg in segments {
        match out.last_mut() {
            Some((last, n)) if *last == seg => *n += 1,
            _ => out.push((seg, 1)),
        }
    }
    out.into_iter()
        .map(|(seg, n)| if n > 1 { format!("{seg} ×{n}") } else { seg })
        .collect()
}

/// A path with array indices blanked, so paths through different slots of the same array
/// count as one chain.
pub fn path_signature(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut in_index = false;
    for c in path.chars() {
        match c {
            '[' => {
                in_index = true;
                out.push(c);
            }
            ']' => {
                in_index = false;
                out.push(c);
            }
            d if in_index && d.is_ascii_digit() => {}
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::snapshot::tests::synthetic;
    use super::*;

    #[test]
    fn the_path_follows_strong_edges_and_reads_like_code() {
        let text = synthetic(&[1, 3, 5, 7, 9, 11, 13, 15, 17], true);
        let s = HeapSnapshot::from_slice(text.as_bytes(), "t").unwrap();
        let r = Retainers::new(&s);
        // IncomingMessage (node 7): root, GC roots, Emitter, Object, Array, closure, Context.
        assert_eq!(r.distance(7), Some(7));
        assert_eq!(
            r.render(&s, 7).unwrap(),
            "(GC roots)[0] -> Emitter._events.changed -> Array[0] -> (closure).req -> IncomingMessage"
        );
        // The string has no retainer at all.
        assert_eq!(r.distance(8), None);
        assert!(r.render(&s, 8).is_none());
    }

    #[test]
    fn weak_edges_do_not_retain() {
        // Without the array element, only Emitter's weak edge reaches the closure.
        let text = synthetic(&[1, 3, 5, 7, 9, 11, 13, 15, 17], false);
        let s = HeapSnapshot::from_slice(text.as_bytes(), "t").unwrap();
        let r = Retainers::new(&s);
        assert_eq!(r.distance(5), None);
        assert_eq!(r.distance(4), Some(4));
    }

    #[test]
    fn repeated_hops_collapse() {
        let segs = [
            "A.x",
            "(string).first",
            "(string).first",
            "(string).first",
            "(string)",
        ];
        let out = collapse_repeats(segs.iter().map(|s| s.to_string()).collect());
        assert_eq!(out, ["A.x", "(string).first ×3", "(string)"]);
    }

    #[test]
    fn signatures_ignore_array_slots() {
        assert_eq!(
            path_signature("A.x -> Array[291] -> (closure).req -> B"),
            path_signature("A.x -> Array[7] -> (closure).req -> B")
        );
        assert_ne!(path_signature("A.x -> B"), path_signature("A.y -> B"));
    }
}
