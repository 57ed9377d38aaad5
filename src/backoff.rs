//! Reconnect delays: exponential backoff with full jitter, as a pure function
//! of the attempt number and a random draw.
//!
//! "Full jitter" is from Marc Brooker, *Exponential Backoff And Jitter* (AWS
//! Architecture Blog, 2015): `delay = random(0, min(max, initial * 2^attempt))`.
//! Spreading the whole interval, rather than adding a little noise to a fixed
//! step, is what keeps a thousand dashboards from reconnecting to a restarted
//! gateway in lock-step.

/// The backoff settings of `ConnectOptions.backoff`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    pub initial_ms: f64,
    pub max_ms: f64,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            initial_ms: 500.0,
            max_ms: 30_000.0,
        }
    }
}

impl Backoff {
    /// The ceiling for the `attempt`-th retry (0-based).
    pub fn cap_ms(&self, attempt: u32) -> f64 {
        // 2^52 already exceeds any sane max; clamping keeps the power finite.
        let factor = 2f64.powi(attempt.min(52) as i32);
        (self.initial_ms * factor).min(self.max_ms)
    }

    /// The delay before retry number `attempt` (0-based), given `jitter`
    /// drawn uniformly from [0, 1) (`Math.random()` in the browser).
    pub fn delay_ms(&self, attempt: u32, jitter: f64) -> f64 {
        let j = if jitter.is_finite() {
            jitter.clamp(0.0, 1.0)
        } else {
            0.0
        };
        j * self.cap_ms(attempt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ceiling_doubles_up_to_the_maximum() {
        let b = Backoff::default();
        let caps: Vec<f64> = (0..8).map(|a| b.cap_ms(a)).collect();
        assert_eq!(
            caps,
            [500.0, 1000.0, 2000.0, 4000.0, 8000.0, 16000.0, 30000.0, 30000.0]
        );
        assert_eq!(b.cap_ms(u32::MAX), 30000.0, "no overflow, ever");
    }

    #[test]
    fn full_jitter_spans_zero_to_the_ceiling() {
        let b = Backoff::default();
        assert_eq!(b.delay_ms(3, 0.0), 0.0);
        assert_eq!(b.delay_ms(3, 0.5), 2000.0);
        assert!(b.delay_ms(3, 0.999_999) < 4000.0);
        assert_eq!(b.delay_ms(20, 0.25), 7500.0);
    }

    #[test]
    fn a_bad_random_draw_cannot_make_a_bad_delay() {
        let b = Backoff::default();
        assert_eq!(b.delay_ms(1, f64::NAN), 0.0);
        assert_eq!(b.delay_ms(1, -3.0), 0.0);
        assert_eq!(b.delay_ms(1, 7.0), 1000.0);
    }

    #[test]
    fn custom_settings_are_honoured() {
        let b = Backoff {
            initial_ms: 50.0,
            max_ms: 120.0,
        };
        assert_eq!(b.cap_ms(0), 50.0);
        assert_eq!(b.cap_ms(1), 100.0);
        assert_eq!(b.cap_ms(2), 120.0);
    }
}
