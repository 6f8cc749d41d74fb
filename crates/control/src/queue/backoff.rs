//! Retry delays: exponential backoff with "equal jitter" (half fixed, half random), after
//! "Exponential Backoff And Jitter", AWS Architecture Blog (Marc Brooker, 2015).

use std::time::Duration;

/// The wait after failed attempt number `attempt` (1-based): `min(max, initial · 2^(attempt−1))`,
/// of which a random half is taken off (so concurrent retries spread out). `random` is a
/// uniform sample in `[0, 1)`.
pub fn backoff(attempt: u32, initial: Duration, max: Duration, random: f64) -> Duration {
    let exp = initial.saturating_mul(1u32 << attempt.saturating_sub(1).min(20));
    let ceiling = exp.min(max);
    let half = ceiling / 2;
    half + half.mul_f64(random.clamp(0.0, 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_cap_with_half_of_it_random() {
        let (i, m) = (Duration::from_millis(100), Duration::from_secs(10));
        assert_eq!(backoff(1, i, m, 0.0), Duration::from_millis(50));
        assert_eq!(backoff(1, i, m, 1.0), Duration::from_millis(100));
        assert_eq!(backoff(4, i, m, 1.0), Duration::from_millis(800));
        assert_eq!(backoff(30, i, m, 1.0), m);
        assert_eq!(backoff(30, i, m, 0.0), m / 2);
    }
}
