//! The two clock readings the registry measures liveness with, behind a
//! trait so pure code takes time as an argument and tests can drive it.

/// One reading of both clocks, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Instant {
    /// A monotonic clock (`performance.now()`): never jumps, but may stop
    /// while the machine sleeps.
    pub mono_ms: f64,
    /// The wall clock (`Date.now()`): keeps running through sleep, but can
    /// be set back or forward.
    pub wall_ms: f64,
}

/// Where readings come from. The browser shell reads `performance.now()` and
/// `Date.now()` (or the `clock` option); tests use [`ManualClock`].
pub trait Clock {
    fn now(&self) -> Instant;
}

/// A reading taken once serves as a clock that stands still: the shell reads
/// a custom JS clock before it borrows anything, then hands the reading in.
impl Clock for Instant {
    fn now(&self) -> Instant {
        *self
    }
}

/// A clock that only moves when told to.
#[derive(Debug, Default)]
pub struct ManualClock {
    now: core::cell::Cell<(f64, f64)>,
}

impl ManualClock {
    pub fn new(mono_ms: f64, wall_ms: f64) -> Self {
        ManualClock {
            now: core::cell::Cell::new((mono_ms, wall_ms)),
        }
    }

    /// Moves both clocks forward by `secs`, as time passes on an awake machine.
    pub fn advance(&self, secs: f64) {
        let (m, w) = self.now.get();
        self.now.set((m + secs * 1000.0, w + secs * 1000.0));
    }

    /// Moves each clock by its own amount (negative sets it back).
    pub fn shift(&self, mono_secs: f64, wall_secs: f64) {
        let (m, w) = self.now.get();
        self.now
            .set((m + mono_secs * 1000.0, w + wall_secs * 1000.0));
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        let (mono_ms, wall_ms) = self.now.get();
        Instant { mono_ms, wall_ms }
    }
}
