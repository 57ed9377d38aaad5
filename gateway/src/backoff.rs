//! Pure: the delay before reconnect attempt `n` to the upstream bus, by
//! exponential backoff with "equal jitter" (AWS Architecture Blog,
//! "Exponential Backoff And Jitter").

// Half of each step is fixed, so a dead daemon is never polled in a tight
// loop; the other half is random, so gateways do not reconnect in lockstep.

use std::time::Duration;

/// The first delay's step.
pub const BASE: Duration = Duration::from_millis(100);

/// The longest delay: a local daemon that comes back is found within this.
pub const CAP: Duration = Duration::from_secs(3);

/// The delay before attempt `attempt` (0 for the first retry), with
/// `jitter` in [0, 1) from the caller's random source.
pub fn delay(attempt: u32, jitter: f64) -> Duration {
    let step = BASE
        .saturating_mul(1u32.checked_shl(attempt.min(16)).unwrap_or(u32::MAX))
        .min(CAP);
    let jitter = if jitter.is_finite() {
        jitter.clamp(0.0, 1.0)
    } else {
        0.0
    };
    step / 2 + (step / 2).mul_f64(jitter)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_then_caps() {
        assert_eq!(delay(0, 0.0), Duration::from_millis(50));
        assert_eq!(delay(0, 1.0), Duration::from_millis(100));
        assert_eq!(delay(3, 0.0), Duration::from_millis(400));
        assert_eq!(delay(30, 1.0), CAP);
        assert_eq!(delay(u32::MAX, 0.0), CAP / 2);
        assert_eq!(delay(1, f64::NAN), Duration::from_millis(100));
    }
}
