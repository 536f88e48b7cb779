//! Latency percentiles: every sample kept (microseconds), sorted once, nearest rank.

use std::time::Duration;

use serde_json::{Value, json};

/// Latency samples in microseconds.
#[derive(Debug, Default, Clone)]
pub struct Latencies {
    micros: Vec<u64>,
}

impl Latencies {
    pub fn push(&mut self, elapsed: Duration) {
        self.push_micros(u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX));
    }

    pub fn push_micros(&mut self, micros: u64) {
        self.micros.push(micros);
    }

    pub fn merge(&mut self, other: Latencies) {
        self.micros.extend(other.micros);
    }

    pub fn len(&self) -> usize {
        self.micros.len()
    }

    /// `{"p50_ms", "p99_ms", "p999_ms", "max_ms", "mean_ms"}` (all 0 without samples).
    pub fn summary(mut self) -> Value {
        self.micros.sort_unstable();
        let sorted = &self.micros;
        let mean = if sorted.is_empty() {
            0.0
        } else {
            sorted.iter().map(|&m| m as f64).sum::<f64>() / sorted.len() as f64
        };
        json!({
            "p50_ms": ms(percentile(sorted, 0.50)),
            "p99_ms": ms(percentile(sorted, 0.99)),
            "p999_ms": ms(percentile(sorted, 0.999)),
            "max_ms": ms(sorted.last().copied().unwrap_or(0)),
            "mean_ms": round3(mean / 1000.0),
        })
    }
}

/// The nearest-rank percentile `q` (0..=1) of `sorted`; 0 when empty.
pub fn percentile(sorted: &[u64], q: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn ms(micros: u64) -> f64 {
    round3(micros as f64 / 1000.0)
}

pub fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank() {
        let sorted: Vec<u64> = (1..=1000).collect();
        assert_eq!(percentile(&sorted, 0.50), 500);
        assert_eq!(percentile(&sorted, 0.99), 990);
        assert_eq!(percentile(&sorted, 0.999), 999);
        assert_eq!(percentile(&sorted, 1.0), 1000);
        assert_eq!(percentile(&[7], 0.999), 7);
        assert_eq!(percentile(&[], 0.5), 0);
    }

    #[test]
    fn summary_in_milliseconds() {
        let mut l = Latencies::default();
        for m in [3000, 1000, 2000] {
            l.push_micros(m);
        }
        let s = l.summary();
        assert_eq!(s["p50_ms"], 2.0);
        assert_eq!(s["max_ms"], 3.0);
        assert_eq!(s["mean_ms"], 2.0);
    }
}
