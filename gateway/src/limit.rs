//! A token bucket for per-connection publish rate limiting. Pure: the caller
//! passes the current instant, so tests drive time by hand.

use std::time::Instant;

pub struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// `rate` tokens per second, holding at most `burst`; starts full so a
    /// publisher's first burst is not penalised.
    pub fn new(rate: f64, burst: f64, now: Instant) -> TokenBucket {
        TokenBucket {
            rate,
            burst,
            tokens: burst,
            last: now,
        }
    }

    /// Takes one token if there is one.
    pub fn try_take(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn allows_the_burst_then_the_rate() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(10.0, 20.0, t0);
        assert_eq!((0..30).filter(|_| b.try_take(t0)).count(), 20);
        let t1 = t0 + Duration::from_millis(500);
        assert_eq!((0..30).filter(|_| b.try_take(t1)).count(), 5);
        // A long pause refills to the burst, not beyond.
        let t2 = t1 + Duration::from_secs(60);
        assert_eq!((0..30).filter(|_| b.try_take(t2)).count(), 20);
    }
}
