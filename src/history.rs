//! The beat history of one worker: the emission instants of its last beats
//! in a ring allocated once, and their cadence. Pure: instants come in as
//! arguments.
//!
//! The cadence is the median interval between consecutive beats. The
//! intervals are kept sorted beside the ring, so a new beat costs a binary
//! search and a few swaps, and the median is read without sorting.

use crate::clock::Instant;
use crate::registry::elapsed_seconds;

/// The default `historyLength`: an hour of beats at 30 s is 120; 30 beats
/// are a quarter of an hour, enough for a strip and a stable median.
pub const DEFAULT_HISTORY_LENGTH: usize = 30;

/// The largest `historyLength` accepted: memory is allowlist x this x 32 bytes.
pub const MAX_HISTORY_LENGTH: usize = 1000;

/// A worker is late when it has been silent for more than this many
/// cadences: one missed beat.
pub const DEFAULT_LATE_FACTOR: f64 = 2.0;

/// The shortest silence that counts as late. Beats microseconds apart (a
/// replay, a flood) would otherwise put a row's late moment microseconds
/// away, and the status timer would fire and be re-armed without pause; a
/// browser's timers cannot judge a shorter silence anyway.
pub const MIN_LATE_SECONDS: f64 = 0.1;

/// Fewer beats than this give no cadence (two intervals at least).
pub const MIN_BEATS_FOR_CADENCE: usize = 3;

/// The last beats of one worker, newest last, at most `capacity`.
#[derive(Debug)]
pub struct Ring {
    /// Emission instants (arrival minus age), in ring order from `head`.
    times: Box<[Instant]>,
    /// `gaps[i]`: seconds between the beat in slot `i` and the one before
    /// it (meaningless for the oldest beat held).
    gaps: Box<[f64]>,
    /// The gaps between the beats held, ascending; never more than
    /// `capacity - 1`, so never reallocated.
    sorted: Vec<f64>,
    /// Slot of the oldest beat.
    head: usize,
    len: usize,
}

impl Ring {
    /// A ring for `capacity` beats (at least 1), allocated now and never again.
    pub fn new(capacity: usize) -> Ring {
        let capacity = capacity.max(1);
        let zero = Instant {
            mono_ms: 0.0,
            wall_ms: 0.0,
        };
        Ring {
            times: vec![zero; capacity].into_boxed_slice(),
            gaps: vec![0.0; capacity].into_boxed_slice(),
            sorted: Vec::with_capacity(capacity),
            head: 0,
            len: 0,
        }
    }

    pub fn capacity(&self) -> usize {
        self.times.len()
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The slot of the `k`-th oldest beat (`k` < capacity): a subtraction
    /// rather than a division on every beat.
    fn slot(&self, k: usize) -> usize {
        let s = self.head + k;
        let cap = self.capacity();
        if s >= cap {
            s - cap
        } else {
            s
        }
    }

    /// The newest emission instant held.
    pub fn newest(&self) -> Option<Instant> {
        (self.len > 0).then(|| self.times[self.slot(self.len - 1)])
    }

    /// Adds a beat emitted at `emitted`. The caller keeps beats in emission
    /// order (the registry stores only beats no older than the one held).
    pub fn push(&mut self, emitted: Instant) {
        let cap = self.capacity();
        // With one slot there are no gaps. Otherwise the newest beat stays,
        // and when the ring is full the oldest leaves, with the gap after it
        // (held by the second oldest).
        let gap = self
            .newest()
            .filter(|_| cap > 1)
            .map(|prev| elapsed_seconds(prev, emitted));
        let leaving = (self.len == cap && cap > 1).then(|| self.gaps[self.slot(1)]);
        if self.len == cap {
            self.head = self.slot(1);
            self.len -= 1;
        }
        let at = self.slot(self.len);
        if let Some(gap) = gap {
            self.gaps[at] = gap;
            match leaving {
                Some(old) => replace_sorted(&mut self.sorted, old, gap),
                None => insert_sorted(&mut self.sorted, gap),
            }
        }
        self.times[at] = emitted;
        self.len += 1;
    }

    /// Moves the newest beat to `emitted` (the same beat, measured again:
    /// a replay whose age was taken on another clock).
    pub fn replace_newest(&mut self, emitted: Instant) {
        if self.len == 0 {
            return self.push(emitted);
        }
        let at = self.slot(self.len - 1);
        if self.len > 1 {
            let prev = self.times[self.slot(self.len - 2)];
            let gap = elapsed_seconds(prev, emitted);
            replace_sorted(&mut self.sorted, self.gaps[at], gap);
            self.gaps[at] = gap;
        }
        self.times[at] = emitted;
    }

    /// Forgets every beat (the allocation stays).
    pub fn clear(&mut self) {
        self.head = 0;
        self.len = 0;
        self.sorted.clear();
    }

    /// Emission instants, newest first.
    pub fn newest_first(&self) -> impl Iterator<Item = Instant> + '_ {
        (0..self.len).rev().map(move |k| self.times[self.slot(k)])
    }

    /// The median interval between the beats held, in seconds; `None` under
    /// [`MIN_BEATS_FOR_CADENCE`] beats.
    pub fn cadence(&self) -> Option<f64> {
        if self.len < MIN_BEATS_FOR_CADENCE {
            return None;
        }
        let s = &self.sorted;
        let m = s.len() / 2;
        Some(if s.len() % 2 == 1 {
            s[m]
        } else {
            (s[m - 1] + s[m]) / 2.0
        })
    }
}

// The sorted gaps change in place: a beat's gap replaces the gap that
// leaves, and moves by adjacent swaps to its place (a few places at most for
// a steady worker), rather than a remove and an insert that each shift the
// tail of the slice.

/// Adds `value` (the ring is not full: there is room).
fn insert_sorted(sorted: &mut Vec<f64>, value: f64) {
    debug_assert!(sorted.len() < sorted.capacity());
    sorted.push(value);
    let last = sorted.len() - 1;
    settle(sorted, last);
}

/// Replaces `old`, which is held bit for bit (it was computed once and
/// stored), with `new`.
fn replace_sorted(sorted: &mut [f64], old: f64, new: f64) {
    let at = sorted.partition_point(|x| x.total_cmp(&old).is_lt());
    if at < sorted.len() && sorted[at].to_bits() == old.to_bits() {
        sorted[at] = new;
        settle(sorted, at);
    } else {
        debug_assert!(false, "gap {old} not in the sorted gaps");
    }
}

/// Moves the value at `i` to its place in an otherwise ascending slice.
fn settle(sorted: &mut [f64], mut i: usize) {
    while i > 0 && sorted[i - 1].total_cmp(&sorted[i]).is_gt() {
        sorted.swap(i - 1, i);
        i -= 1;
    }
    while i + 1 < sorted.len() && sorted[i + 1].total_cmp(&sorted[i]).is_lt() {
        sorted.swap(i, i + 1);
        i += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: f64) -> Instant {
        Instant {
            mono_ms: s * 1000.0,
            wall_ms: 1.7e12 + s * 1000.0,
        }
    }

    fn naive_median(times: &[f64]) -> Option<f64> {
        if times.len() < 3 {
            return None;
        }
        let mut gaps: Vec<f64> = times.windows(2).map(|w| w[1] - w[0]).collect();
        gaps.sort_by(f64::total_cmp);
        let m = gaps.len() / 2;
        Some(if gaps.len() % 2 == 1 {
            gaps[m]
        } else {
            (gaps[m - 1] + gaps[m]) / 2.0
        })
    }

    #[test]
    fn no_cadence_under_three_beats() {
        let mut r = Ring::new(30);
        assert_eq!(r.cadence(), None);
        r.push(at(0.0));
        r.push(at(30.0));
        assert_eq!(r.cadence(), None);
        r.push(at(50.0));
        // Gaps 30 and 20: the median of two is their mean.
        assert_eq!(r.cadence(), Some(25.0));
        r.push(at(100.0));
        assert_eq!(r.cadence(), Some(30.0));
    }

    #[test]
    fn a_full_ring_drops_the_oldest_and_its_gap() {
        let mut r = Ring::new(4);
        let times = [0.0, 1.0, 3.0, 6.0, 10.0, 15.0, 21.0];
        for (i, t) in times.iter().enumerate() {
            r.push(at(*t));
            let kept = &times[(i + 1).saturating_sub(4)..=i];
            assert_eq!(r.len(), kept.len());
            let got: Vec<f64> = r.newest_first().map(|x| x.mono_ms / 1000.0).collect();
            let want: Vec<f64> = kept.iter().rev().copied().collect();
            assert_eq!(got, want);
            assert_eq!(r.cadence(), naive_median(kept), "after {t}");
        }
    }

    #[test]
    fn the_sorted_gaps_match_a_naive_median_on_pseudo_random_beats() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for cap in [1, 2, 3, 4, 5, 30, 31] {
            let mut r = Ring::new(cap);
            let mut t = 0.0;
            let mut all = Vec::new();
            for _ in 0..500 {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                // Irregular gaps, repeats included (equal gaps must be
                // removed one at a time).
                t += ((seed % 7) as f64) * 1.5;
                r.push(at(t));
                all.push(t);
                let kept = &all[all.len().saturating_sub(cap)..];
                assert_eq!(r.cadence(), naive_median(kept), "cap {cap}");
            }
            assert!(r.sorted.capacity() <= cap.max(1));
        }
    }

    #[test]
    fn pushing_never_reallocates() {
        let mut r = Ring::new(30);
        let (times, sorted) = (r.times.as_ptr(), r.sorted.as_ptr());
        for i in 0..100_000 {
            r.push(at(i as f64 * 30.0 + (i % 5) as f64));
        }
        assert_eq!(r.times.as_ptr(), times);
        assert_eq!(r.sorted.as_ptr(), sorted);
        assert_eq!(r.sorted.capacity(), 30);
        assert_eq!(r.len(), 30);
    }

    #[test]
    fn replacing_the_newest_moves_its_gap() {
        let mut r = Ring::new(3);
        r.replace_newest(at(0.0));
        r.push(at(10.0));
        r.push(at(30.0));
        r.replace_newest(at(29.5));
        assert_eq!(r.sorted, vec![10.0, 19.5]);
        r.push(at(40.0));
        assert_eq!(r.sorted, vec![10.5, 19.5]);
        assert_eq!(r.cadence(), Some(15.0));
        let newest: Vec<f64> = r.newest_first().map(|x| x.mono_ms / 1000.0).collect();
        assert_eq!(newest, vec![40.0, 29.5, 10.0]);
    }

    #[test]
    fn gaps_take_the_larger_clock_like_seconds_since() {
        let mut r = Ring::new(5);
        r.push(at(0.0));
        // The monotonic clock stopped for 600 s of sleep; the wall clock did not.
        let mut woke = at(10.0);
        woke.wall_ms += 600_000.0;
        r.push(woke);
        let got: Vec<f64> = r.sorted.clone();
        assert_eq!(got, vec![610.0]);
    }
}
