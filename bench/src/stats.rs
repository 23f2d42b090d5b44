//! Median / min / max over repeated runs, and percentiles of one run's samples.

/// The `p`-th percentile (0..=100) of `samples` (nearest-rank). `None` when empty.
pub fn percentile(samples: &mut [f64], p: f64) -> Option<f64> {
    if samples.is_empty() {
        return None;
    }
    samples.sort_by(|a, b| a.total_cmp(b));
    let rank = ((p / 100.0) * samples.len() as f64).ceil().max(1.0) as usize;
    Some(samples[rank.min(samples.len()) - 1])
}

/// A figure measured over repeated runs: reported as median with min and max.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    pub median: f64,
    pub min: f64,
    pub max: f64,
    pub runs: usize,
}

impl Summary {
    pub fn of(values: &[f64]) -> Option<Summary> {
        let mut v = values.to_vec();
        let median = percentile(&mut v, 50.0)?;
        Some(Summary {
            median,
            min: v[0],
            max: v[v.len() - 1],
            runs: v.len(),
        })
    }
    /// `12.3 (11.9–13.0)`
    pub fn show(&self, decimals: usize) -> String {
        format!(
            "{:.d$} ({:.d$}–{:.d$})",
            self.median,
            self.min,
            self.max,
            d = decimals
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_and_summary() {
        let mut s = vec![5.0, 1.0, 3.0, 2.0, 4.0];
        assert_eq!(percentile(&mut s, 50.0), Some(3.0));
        assert_eq!(percentile(&mut s, 100.0), Some(5.0));
        assert_eq!(percentile(&mut s, 1.0), Some(1.0));
        assert_eq!(percentile(&mut [], 50.0), None);
        let sum = Summary::of(&[3.0, 1.0, 2.0]).unwrap();
        assert_eq!((sum.median, sum.min, sum.max, sum.runs), (2.0, 1.0, 3.0, 3));
        assert_eq!(sum.show(1), "2.0 (1.0–3.0)");
    }
}
