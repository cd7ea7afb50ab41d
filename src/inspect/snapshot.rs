//! A `.heapsnapshot` (V8's JSON heap dump) held as its compact arrays.
//!
//! The file is one JSON object: `snapshot.meta` names the fields of the flat `nodes` and
//! `edges` integer arrays, and `strings` holds every name. The field offsets and the type
//! names are read from that meta, never assumed. Only `nodes`, `edges` and `strings` are kept
//! (the trace and location sections are skipped unparsed, see [`super::scan`]), plus a
//! per-node index of the first edge.

use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

use super::error::InspectError;
use super::scan;

/// One parsed heap snapshot.
#[derive(Debug)]
pub struct HeapSnapshot {
    node_stride: usize,
    n_type: usize,
    n_name: usize,
    n_id: usize,
    n_size: usize,
    n_edges: usize,
    edge_stride: usize,
    e_type: usize,
    e_name: usize,
    e_to: usize,
    node_types: Vec<String>,
    edge_types: Vec<String>,
    nodes: Vec<u64>,
    edges: Vec<u32>,
    strings: Vec<String>,
    /// `first_edge[i]..first_edge[i + 1]` are node i's edges (in edge units, not array slots).
    first_edge: Vec<u32>,
    /// Edge type numbers that are only indices (element, hidden) rather than string names.
    index_edge_types: Vec<bool>,
}

#[derive(Deserialize)]
struct RawHeader {
    meta: RawMeta,
}

#[derive(Deserialize)]
struct RawMeta {
    node_fields: Vec<String>,
    node_types: Vec<Value>,
    edge_fields: Vec<String>,
    edge_types: Vec<Value>,
}

impl HeapSnapshot {
    /// Reads and parses a snapshot file. The raw bytes are dropped once parsed.
    pub fn from_file(path: &Path) -> Result<HeapSnapshot, InspectError> {
        let bytes = std::fs::read(path).map_err(|source| InspectError::File {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_slice(&bytes, &path.display().to_string())
    }

    /// Parses snapshot JSON; `what` names it in errors.
    pub fn from_slice(bytes: &[u8], what: &str) -> Result<HeapSnapshot, InspectError> {
        let bad = |detail: String| InspectError::Snapshot {
            what: what.to_string(),
            detail,
        };
        let sec = scan::sections(bytes).map_err(bad)?;
        let missing = |name: &str| bad(format!("no top-level {name:?}"));
        let header: RawHeader =
            serde_json::from_slice(sec.snapshot.ok_or_else(|| missing("snapshot"))?)
                .map_err(|e| bad(format!("snapshot header: {e}")))?;
        let meta = header.meta;
        let nodes =
            scan::uint_array(sec.nodes.ok_or_else(|| missing("nodes"))?, "nodes").map_err(bad)?;
        let edges =
            scan::uint_array(sec.edges.ok_or_else(|| missing("edges"))?, "edges").map_err(bad)?;
        let strings: Vec<String> =
            serde_json::from_slice(sec.strings.ok_or_else(|| missing("strings"))?)
                .map_err(|e| bad(format!("strings: {e}")))?;
        let field = |fields: &[String], name: &str| {
            fields
                .iter()
                .position(|f| f == name)
                .ok_or_else(|| bad(format!("meta has no field {name:?} in {fields:?}")))
        };
        let enum_names = |types: &[Value], at: usize, what: &str| -> Result<Vec<String>, _> {
            types
                .get(at)
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .map(|v| v.as_str().unwrap_or("").to_string())
                        .collect()
                })
                .ok_or_else(|| bad(format!("meta {what} types are not a list of names")))
        };
        let n_type = field(&meta.node_fields, "type")?;
        let e_type = field(&meta.edge_fields, "type")?;
        let node_types = enum_names(&meta.node_types, n_type, "node")?;
        let edge_types = enum_names(&meta.edge_types, e_type, "edge")?;
        let index_edge_types = edge_types
            .iter()
            .map(|t| t == "element" || t == "hidden")
            .collect();
        let mut s = HeapSnapshot {
            node_stride: meta.node_fields.len(),
            n_type,
            n_name: field(&meta.node_fields, "name")?,
            n_id: field(&meta.node_fields, "id")?,
            n_size: field(&meta.node_fields, "self_size")?,
            n_edges: field(&meta.node_fields, "edge_count")?,
            edge_stride: meta.edge_fields.len(),
            e_type,
            e_name: field(&meta.edge_fields, "name_or_index")?,
            e_to: field(&meta.edge_fields, "to_node")?,
            node_types,
            edge_types,
            nodes,
            edges,
            strings,
            first_edge: Vec::new(),
            index_edge_types,
        };
        s.validate().map_err(bad)?;
        Ok(s)
    }

    /// Checks every index the accessors will follow, so they cannot go out of bounds.
    fn validate(&mut self) -> Result<(), String> {
        if self.nodes.len() % self.node_stride != 0 || self.edges.len() % self.edge_stride != 0 {
            return Err("nodes or edges length is not a multiple of its field count".into());
        }
        let n = self.node_count();
        if n == 0 {
            return Err("no nodes".into());
        }
        let edge_total = self.edges.len() / self.edge_stride;
        if edge_total > u32::MAX as usize {
            return Err("too many edges".into());
        }
        let mut first = Vec::with_capacity(n + 1);
        let mut at = 0usize;
        for i in 0..n {
            first.push(at as u32);
            let base = i * self.node_stride;
            if self.nodes[base + self.n_type] as usize >= self.node_types.len() {
                return Err(format!("node {i} has an unknown type"));
            }
            if self.nodes[base + self.n_name] as usize >= self.strings.len() {
                return Err(format!(
                    "node {i} names string {} of {}",
                    self.nodes[base + self.n_name],
                    self.strings.len()
                ));
            }
            at += self.nodes[base + self.n_edges] as usize;
            if at > edge_total {
                return Err("node edge counts add up to more than the edges".into());
            }
        }
        first.push(at as u32);
        if at != edge_total {
            return Err(format!("node edge counts add up to {at}, not {edge_total}"));
        }
        for e in 0..edge_total {
            let base = e * self.edge_stride;
            let t = self.edges[base + self.e_type] as usize;
            let Some(&is_index) = self.index_edge_types.get(t) else {
                return Err(format!("edge {e} has an unknown type"));
            };
            if !is_index && self.edges[base + self.e_name] as usize >= self.strings.len() {
                return Err(format!("edge {e} names a missing string"));
            }
            let to = self.edges[base + self.e_to] as usize;
            if to % self.node_stride != 0 || to / self.node_stride >= n {
                return Err(format!("edge {e} points outside the nodes"));
            }
        }
        self.first_edge = first;
        Ok(())
    }

    pub fn node_count(&self) -> usize {
        self.nodes.len() / self.node_stride
    }

    pub fn edge_count(&self) -> usize {
        self.edges.len() / self.edge_stride
    }

    fn node_field(&self, i: usize, f: usize) -> u64 {
        self.nodes[i * self.node_stride + f]
    }

    /// The node's type name (`object`, `closure`, `string`, `hidden`, ...).
    pub fn node_type(&self, i: usize) -> &str {
        &self.node_types[self.node_field(i, self.n_type) as usize]
    }

    pub fn node_name(&self, i: usize) -> &str {
        &self.strings[self.node_field(i, self.n_name) as usize]
    }

    /// The node's id: stable for the same object across snapshots of one process.
    pub fn node_id(&self, i: usize) -> u64 {
        self.node_field(i, self.n_id)
    }

    pub fn self_size(&self, i: usize) -> u64 {
        self.node_field(i, self.n_size)
    }

    /// The edges leaving node `i` (edge numbers for the `edge_*` accessors).
    pub fn edges_of(&self, i: usize) -> std::ops::Range<usize> {
        self.first_edge[i] as usize..self.first_edge[i + 1] as usize
    }

    pub fn edge_type(&self, e: usize) -> &str {
        &self.edge_types[self.edges[e * self.edge_stride + self.e_type] as usize]
    }

    /// The node the edge points to.
    pub fn edge_to(&self, e: usize) -> usize {
        self.edges[e * self.edge_stride + self.e_to] as usize / self.node_stride
    }

    /// The edge's name: a property or variable name, or `[n]` for an element or hidden index.
    pub fn edge_name(&self, e: usize) -> String {
        let base = e * self.edge_stride;
        let raw = self.edges[base + self.e_name];
        if self.index_edge_types[self.edges[base + self.e_type] as usize] {
            format!("[{raw}]")
        } else {
            self.strings[raw as usize].clone()
        }
    }

    /// The class an object is counted under, following DevTools' summary view: the constructor
    /// name for JS objects and native objects, `(closure)`, `(string)` (all string kinds),
    /// `(array)` (internal arrays), `(compiled code)`, and the `system / ...` name for V8's
    /// internal objects.
    pub fn class_name(&self, i: usize) -> String {
        let name = self.node_name(i);
        match self.node_type(i) {
            "object" | "native" | "synthetic" => name.to_string(),
            "hidden" if name.starts_with("system / ") => name.to_string(),
            "hidden" => "(system)".to_string(),
            "string" | "concatenated string" | "sliced string" => "(string)".to_string(),
            "code" => "(compiled code)".to_string(),
            other => format!("({other})"),
        }
    }

    /// Total self size of all nodes: the live heap the snapshot saw.
    pub fn total_self_size(&self) -> u64 {
        (0..self.node_count()).map(|i| self.self_size(i)).sum()
    }

    /// Node ids, sorted, for membership tests against another snapshot.
    pub fn sorted_ids(&self) -> Vec<u64> {
        let mut ids: Vec<u64> = (0..self.node_count()).map(|i| self.node_id(i)).collect();
        ids.sort_unstable();
        ids
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A tiny snapshot with a non-default field order (offsets must come from meta):
    /// root -> (GC roots) -> Emitter -_events-> Object -changed-> Array -[0]-> closure
    /// -context-> Context -req-> Req (plus a weak edge and a string).
    pub(crate) fn synthetic(ids: &[u64; 9], with_leak: bool) -> String {
        // node_fields deliberately shuffled: name, id, type, edge_count, self_size.
        let [root, gc, em, ev, arr, clo, ctx, req, s] = *ids;
        let strings = r#"["","(GC roots)","Emitter","_events","changed","Object","Array","","system / Context","req","IncomingMessage","weakref","hello","context"]"#;
        let clo_edges = if with_leak { 1 } else { 0 };
        let arr_edges = if with_leak { 1 } else { 0 };
        // types: hidden=0 array=1 string=2 object=3 closure=4 synthetic=5
        let nodes = format!(
            "[0,{root},5,1,0, 1,{gc},5,1,0, 2,{em},3,2,40, 5,{ev},3,1,24, 6,{arr},3,{arr_edges},32, \
             7,{clo},4,{clo_edges},56, 8,{ctx},0,1,48, 10,{req},3,0,200, 12,{s},2,0,1024]"
        );
        // edge_fields: to_node, type, name_or_index. types: element=0 property=1 context=2
        // internal=3 weak=4 hidden=5.
        let mut edges = String::from("[5,5,0, 10,0,0, 15,1,3, 25,4,11, 20,1,4");
        if with_leak {
            edges.push_str(", 25,0,0, 30,3,13");
        }
        edges.push_str(", 35,2,9]");
        format!(
            r#"{{"snapshot":{{"meta":{{
              "node_fields":["name","id","type","edge_count","self_size"],
              "node_types":["string","number",["hidden","array","string","object","closure","synthetic"],"number","number"],
              "edge_fields":["to_node","type","name_or_index"],
              "edge_types":["node",["element","property","context","internal","weak","hidden"],"string_or_number"]}},
              "node_count":9}},
             "nodes":{nodes},"edges":{edges},"trace_tree":[],"samples":[],"strings":{strings}}}"#
        )
    }

    #[test]
    fn offsets_and_types_come_from_meta() {
        let text = synthetic(&[1, 3, 5, 7, 9, 11, 13, 15, 17], true);
        let s = HeapSnapshot::from_slice(text.as_bytes(), "synthetic").unwrap();
        assert_eq!(s.node_count(), 9);
        assert_eq!(s.edge_count(), 8);
        assert_eq!(s.node_name(2), "Emitter");
        assert_eq!(s.node_type(2), "object");
        assert_eq!(s.node_id(7), 15);
        assert_eq!(s.self_size(8), 1024);
        assert_eq!(s.class_name(5), "(closure)");
        assert_eq!(s.class_name(6), "system / Context");
        assert_eq!(s.class_name(8), "(string)");
        // Emitter's edges: _events (property) and weakref (weak).
        let e: Vec<_> = s.edges_of(2).collect();
        assert_eq!(e.len(), 2);
        assert_eq!(s.edge_name(e[0]), "_events");
        assert_eq!(s.edge_to(e[0]), 3);
        assert_eq!(s.edge_type(e[1]), "weak");
        // The array's element edge is named by its index.
        let a = s.edges_of(4).next().unwrap();
        assert_eq!(s.edge_name(a), "[0]");
        assert_eq!(s.edge_to(a), 5);
        assert_eq!(s.total_self_size(), 40 + 24 + 32 + 56 + 48 + 200 + 1024);
    }

    #[test]
    fn broken_snapshots_are_errors_not_panics() {
        let good = synthetic(&[1, 3, 5, 7, 9, 11, 13, 15, 17], true);
        // An edge pointing past the last node.
        let bad_to = good.replace("[5,5,0,", "[500,5,0,");
        assert!(HeapSnapshot::from_slice(bad_to.as_bytes(), "x").is_err());
        // Edge counts that do not add up.
        let bad_count = good.replace("0, 1,3,5,1,0", "0, 1,3,5,2,0");
        assert_ne!(bad_count, good);
        assert!(HeapSnapshot::from_slice(bad_count.as_bytes(), "x").is_err());
        // A meta without the id field.
        let no_id = good.replace(r#""name","id","type""#, r#""name","ident","type""#);
        let err = HeapSnapshot::from_slice(no_id.as_bytes(), "x").unwrap_err();
        assert!(err.to_string().contains("\"id\""), "{err}");
        assert!(HeapSnapshot::from_slice(b"{\"snapshot\":1}", "x").is_err());
    }
}
