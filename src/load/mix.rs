//! The request mix: which endpoint request number `seq` goes to.
//!
//! Endpoints are picked by weight, deterministically, with smooth weighted round-robin over a
//! precomputed cycle (weights 3,1 -> `a a b a`, repeated). Indexing the cycle by the global
//! sequence number needs no shared mutable state, and every stretch of requests (a phase, a
//! tick) gets the intended shares, interleaved rather than in blocks.

/// Longest cycle kept; larger weight sums are scaled down to fit (shares change by < 0.1%).
const MAX_CYCLE: u64 = 1 << 16;

/// A precomputed cycle of endpoint indexes.
#[derive(Debug, Clone)]
pub struct Mix {
    cycle: Vec<u32>,
}

impl Mix {
    /// Builds the cycle for these weights (one per endpoint). A weight of 0 is never picked
    /// (a phase's `mix` may leave a request out); all zeros are treated as all ones; an empty
    /// list gives a cycle that always answers endpoint 0.
    pub fn new(weights: &[u32]) -> Mix {
        let mut w: Vec<u64> = weights.iter().map(|&x| u64::from(x)).collect();
        if w.is_empty() {
            return Mix { cycle: vec![0] };
        }
        if w.iter().all(|&x| x == 0) {
            w.iter_mut().for_each(|x| *x = 1);
        }
        let g = w.iter().copied().fold(0, gcd);
        w.iter_mut().for_each(|x| *x /= g);
        let total: u64 = w.iter().sum();
        if total > MAX_CYCLE {
            let scale = MAX_CYCLE as f64 / total as f64;
            w.iter_mut()
                .filter(|x| **x > 0)
                .for_each(|x| *x = ((*x as f64 * scale).round() as u64).max(1));
        }
        let total: i64 = w.iter().sum::<u64>() as i64;
        // Smooth weighted round-robin (as in nginx): each step every endpoint gains its weight,
        // the richest is picked and pays the total.
        let mut current = vec![0i64; w.len()];
        let mut cycle = Vec::with_capacity(total as usize);
        for _ in 0..total {
            current
                .iter_mut()
                .zip(&w)
                .for_each(|(c, &wi)| *c += wi as i64);
            let best = argmax(&current);
            current[best] -= total;
            cycle.push(best as u32);
        }
        Mix { cycle }
    }

    /// The endpoint of request number `seq`.
    #[inline]
    pub fn pick(&self, seq: u64) -> usize {
        self.cycle[(seq % self.cycle.len() as u64) as usize] as usize
    }

    #[cfg(test)]
    pub fn cycle_len(&self) -> usize {
        self.cycle.len()
    }
}

/// Index of the largest value, first one on ties (so the order is stable).
fn argmax(v: &[i64]) -> usize {
    let mut best = 0;
    for (i, &x) in v.iter().enumerate() {
        if x > v[best] {
            best = i;
        }
    }
    best
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(m: &Mix, n: u64, k: usize) -> Vec<u64> {
        let mut c = vec![0; k];
        for s in 0..n {
            c[m.pick(s)] += 1;
        }
        c
    }

    #[test]
    fn three_to_one_interleaves() {
        let m = Mix::new(&[3, 1]);
        let first: Vec<usize> = (0..8).map(|s| m.pick(s)).collect();
        assert_eq!(first, vec![0, 0, 1, 0, 0, 0, 1, 0]);
        assert_eq!(counts(&m, 400, 2), vec![300, 100]);
    }

    #[test]
    fn gcd_shortens_the_cycle() {
        let m = Mix::new(&[300, 100, 200]);
        assert_eq!(m.cycle_len(), 6);
        assert_eq!(counts(&m, 600, 3), vec![300, 100, 200]);
    }

    #[test]
    fn huge_weights_are_scaled_but_keep_shares() {
        let m = Mix::new(&[4_000_000_000, 1_000_000_001, 1]);
        assert!(m.cycle_len() as u64 <= MAX_CYCLE + 3);
        let c = counts(&m, m.cycle_len() as u64, 3);
        let share = c[0] as f64 / m.cycle_len() as f64;
        assert!((share - 0.8).abs() < 0.001, "share {share}");
        assert!(c[2] >= 1, "every endpoint keeps at least one slot");
    }

    #[test]
    fn zero_weights_are_never_picked() {
        let m = Mix::new(&[0, 2, 1]);
        assert_eq!(counts(&m, 300, 3), vec![0, 200, 100]);
    }

    #[test]
    fn single_and_empty() {
        assert_eq!(Mix::new(&[5]).cycle_len(), 1);
        assert_eq!(Mix::new(&[]).pick(7), 0);
        assert_eq!(Mix::new(&[0, 0]).cycle_len(), 2);
    }
}
