//! Noise cancellation, after Twitter's Diffy: a field differing between primary and secondary
//! counts as a real mismatch only if it differs clearly more often than between two answers of
//! the primary to the same request.
//!
//! Source: Diffy, `analysis/JoinedDifferences.scala` (`DifferencesFilterFactory`, `JoinedField`),
//! <https://github.com/twitter/diffy>. Diffy states its thresholds in percent (20 and 0.03);
//! here they are fractions (0.20 and 0.0003).

use serde::{Deserialize, Serialize};

/// Default [`NoiseThresholds::relative`]: 20 %.
pub const DEFAULT_RELATIVE_THRESHOLD: f64 = 0.20;
/// Default [`NoiseThresholds::absolute`]: 0.03 % of compared requests.
pub const DEFAULT_ABSOLUTE_THRESHOLD: f64 = 0.0003;

/// How far a field's raw difference rate must exceed its noise rate to be a mismatch.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct NoiseThresholds {
    /// Minimum relative gap `|raw − noise| / (raw + noise)`, a fraction in `[0, 1]`.
    pub relative: f64,
    /// Minimum absolute gap `|raw − noise| / compared`, a fraction of compared requests.
    pub absolute: f64,
}

impl Default for NoiseThresholds {
    fn default() -> Self {
        NoiseThresholds {
            relative: DEFAULT_RELATIVE_THRESHOLD,
            absolute: DEFAULT_ABSOLUTE_THRESHOLD,
        }
    }
}

/// What the noise filter concludes about one field of one route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FieldVerdict {
    /// The field differs between primary and secondary beyond what noise explains.
    Mismatch,
    /// Differences were seen, but noise explains them (or only noise was seen).
    Noise,
    /// No difference seen at all.
    Clean,
}

impl FieldVerdict {
    /// Lower-case name, as in reports and serialized form.
    pub fn as_str(self) -> &'static str {
        match self {
            FieldVerdict::Mismatch => "mismatch",
            FieldVerdict::Noise => "noise",
            FieldVerdict::Clean => "clean",
        }
    }
}

/// Difference counts of one field: each comparison counts at most once per field, however many
/// array elements differ in it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldStats {
    /// Primary-vs-secondary comparisons in which the field differed.
    pub raw: u64,
    /// Primary-vs-primary comparisons in which the field differed.
    pub noise: u64,
}

/// `count / total` as a fraction; 0 when `total` is 0.
pub fn rate(count: u64, total: u64) -> f64 {
    if total == 0 { 0.0 } else { count as f64 / total as f64 }
}

/// Judges one field from its counts, Diffy's rule on *rates*:
///
/// - `raw_rate = raw / compared` (primary vs secondary, over every compared request);
/// - `noise_rate = noise / noise_compared` (primary vs primary, over the sample of compared
///   requests that also got a second primary answer); 0 while `noise_compared` is 0.
///
/// The field is a [`Mismatch`](FieldVerdict::Mismatch) iff `raw_rate > noise_rate`,
/// `(raw_rate − noise_rate) / (raw_rate + noise_rate) > relative` and
/// `raw_rate − noise_rate > absolute`; [`Clean`](FieldVerdict::Clean) if both counts are 0;
/// [`Noise`](FieldVerdict::Noise) otherwise.
///
/// Why rates: Diffy sends *every* request three times and compares counts over one request set.
/// We send the second primary for a sample only, so the noise count is first scaled to the
/// compared set — `noise × compared / noise_compared`, the expected noise count had every
/// request been sampled — and Diffy's count test on `raw` and that scaled count is exactly the
/// test above (the relative gap does not change under scaling; the absolute gap divided by
/// `compared` is the gap of the rates). Without any noise sample the noise rate is taken as 0:
/// every difference then counts, which errs on the side of blocking a gate.
pub fn judge(
    stats: FieldStats,
    compared: u64,
    noise_compared: u64,
    thresholds: &NoiseThresholds,
) -> FieldVerdict {
    if stats.raw == 0 && stats.noise == 0 {
        return FieldVerdict::Clean;
    }
    let raw = rate(stats.raw, compared);
    let noise = rate(stats.noise, noise_compared);
    let gap = raw - noise;
    if gap > 0.0 && gap / (raw + noise) > thresholds.relative && gap > thresholds.absolute {
        FieldVerdict::Mismatch
    } else {
        FieldVerdict::Noise
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(raw: u64, noise: u64, compared: u64, noise_compared: u64) -> FieldVerdict {
        judge(FieldStats { raw, noise }, compared, noise_compared, &NoiseThresholds::default())
    }

    #[test]
    fn diffy_rule_on_same_sized_sets() {
        assert_eq!(verdict(0, 0, 100, 100), FieldVerdict::Clean);
        assert_eq!(verdict(30, 0, 100, 100), FieldVerdict::Mismatch);
        assert_eq!(verdict(100, 98, 100, 100), FieldVerdict::Noise, "relative gap 1 %");
        assert_eq!(verdict(0, 5, 100, 100), FieldVerdict::Noise, "raw must exceed noise");
        assert_eq!(verdict(30, 20, 100, 100), FieldVerdict::Noise, "relative gap exactly 20 %");
        assert_eq!(verdict(31, 20, 100, 100), FieldVerdict::Mismatch);
    }

    #[test]
    fn absolute_gap_is_a_share_of_compared_requests() {
        // 2 in 10 000 is 0.02 %: below the 0.03 % floor even with no noise.
        assert_eq!(verdict(2, 0, 10_000, 10_000), FieldVerdict::Noise);
        assert_eq!(verdict(4, 0, 10_000, 10_000), FieldVerdict::Mismatch);
    }

    #[test]
    fn noise_sampled_on_a_tenth_of_requests_is_scaled_up() {
        // 1000 raw of 1000; noise 95 of 100 samples: 100 % vs 95 %, explained by noise.
        assert_eq!(verdict(1000, 95, 1000, 100), FieldVerdict::Noise);
        // 300 raw of 1000 vs 25 of 100 noise (30 % vs 25 %): relative gap 9 %, noise.
        assert_eq!(verdict(300, 25, 1000, 100), FieldVerdict::Noise);
        // Without scaling, 300 vs 25 would look like a mismatch.
        assert_eq!(verdict(300, 25, 1000, 1000), FieldVerdict::Mismatch);
        // No noise sample yet: every difference counts.
        assert_eq!(verdict(300, 0, 1000, 0), FieldVerdict::Mismatch);
    }
}
