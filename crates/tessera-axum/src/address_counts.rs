//! Failures counted per client address in bounded memory, for a metric whose
//! label values an attacker chooses (any source address).
//!
//! The counter is the Space-Saving sketch (Metwally, Agrawal and El Abbadi,
//! 2005): at most `capacity` addresses are tracked; a new address past that
//! replaces the one with the least count `m` and starts at `m + 1`. A tracked
//! count is never below the address's true count and over it by at most the
//! `m` it inherited, and every address with more than `total / capacity`
//! failures is tracked, so the heavy hitters (the addresses worth an alert)
//! are always among the top, however many addresses a flood comes from.

use std::collections::HashMap;

/// The label of the failures of every address not in the top.
pub const OTHER: &str = "other";

/// Bounded per-address counts.
#[derive(Debug)]
pub struct AddressCounts {
    capacity: usize,
    counts: HashMap<String, u64>,
    total: u64,
}

impl AddressCounts {
    /// Counts tracking at most `capacity` addresses (at least one).
    pub fn new(capacity: usize) -> Self {
        AddressCounts {
            capacity: capacity.max(1),
            counts: HashMap::new(),
            total: 0,
        }
    }

    /// Counts one failure from `address`.
    pub fn record(&mut self, address: &str) {
        self.total += 1;
        if let Some(count) = self.counts.get_mut(address) {
            *count += 1;
            return;
        }
        let mut start = 1;
        if self.counts.len() >= self.capacity {
            let least = self
                .counts
                .iter()
                .min_by(|a, b| a.1.cmp(b.1).then_with(|| a.0.cmp(b.0)))
                .map(|(address, count)| (address.clone(), *count));
            if let Some((evicted, count)) = least {
                self.counts.remove(&evicted);
                start = count + 1;
            }
        }
        self.counts.insert(address.to_owned(), start);
    }

    /// Every failure counted, exactly.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Addresses tracked now (at most the capacity).
    pub fn tracked(&self) -> usize {
        self.counts.len()
    }

    /// The `n` addresses with the most failures, most first (ties by
    /// address), and the failures of all the others: the total less theirs.
    pub fn top(&self, n: usize) -> (Vec<(String, u64)>, u64) {
        let mut all: Vec<(&String, &u64)> = self.counts.iter().collect();
        all.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
        let top: Vec<(String, u64)> = all
            .into_iter()
            .take(n)
            .map(|(address, count)| (address.clone(), *count))
            .collect();
        let shown: u64 = top.iter().map(|(_, count)| count).sum();
        (top, self.total.saturating_sub(shown))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_while_under_capacity() {
        let mut counts = AddressCounts::new(4);
        for (address, n) in [("a", 5), ("b", 3), ("c", 1)] {
            for _ in 0..n {
                counts.record(address);
            }
        }
        assert_eq!(
            counts.top(2),
            (vec![("a".to_owned(), 5), ("b".to_owned(), 3)], 1)
        );
        assert_eq!(counts.total(), 9);
        assert_eq!(counts.top(10).1, 0);
    }

    #[test]
    fn a_heavy_hitter_stays_on_top_of_a_flood_from_many_addresses() {
        let mut counts = AddressCounts::new(100);
        for i in 0..50_000u32 {
            counts.record(&format!("10.0.{}.{}", i / 256, i % 256));
            if i % 10 == 0 {
                counts.record("203.0.113.7");
            }
        }
        assert_eq!(counts.tracked(), 100);
        assert_eq!(counts.total(), 55_000);
        let (top, other) = counts.top(1);
        assert_eq!(top[0].0, "203.0.113.7");
        // Never under the truth (5,000), over it by at most total / capacity.
        assert!((5_000..=5_000 + 550).contains(&top[0].1), "{top:?}");
        assert_eq!(other, 55_000 - top[0].1);
    }
}
