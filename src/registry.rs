//! The registry itself: the allowlist, the freshest beat per worker, liveness
//! measured from arrival, snapshot rows in allowlist order, and the counters.
//! Pure: time comes in through [`Clock`], frames as bytes.

use crate::clock::{Clock, Instant};
use crate::frame::{self, Beat, Head, Reason, Scratch, Shape};
use crate::history::{
    Ring, DEFAULT_HISTORY_LENGTH, DEFAULT_LATE_FACTOR, MAX_HISTORY_LENGTH, MIN_LATE_SECONDS,
};
use crate::topic::{self, TokenError};

/// The original's `KNOWN_WORKERS`, in its order.
pub const DEFAULT_KNOWN_WORKERS: [&str; 10] = [
    "api",
    "bus",
    "collector",
    "profiler",
    "sniffer",
    "prober",
    "mutator",
    "agent",
    "forwarder",
    "updater",
];

/// Three missed beats at the workers' 30 s cadence: one missed beat is
/// noise, three are a worker problem.
pub const DEFAULT_OK_WINDOW_SECONDS: f64 = 90.0;

/// A heartbeat is a few hundred bytes; 64 KiB leaves room for rich extras
/// while bounding what one frame can cost.
pub const DEFAULT_MAX_FRAME_BYTES: usize = 65_536;

/// The largest `maxFrameBytes` accepted: the registry keeps a copy buffer of
/// three times this size (the worst case of UTF-16 to UTF-8).
pub const MAX_MAX_FRAME_BYTES: usize = 16 << 20;

/// What the registry is built from. Checked by [`Registry::new`].
#[derive(Debug, Clone)]
pub struct Config {
    pub known_workers: Vec<String>,
    pub ok_window_seconds: f64,
    pub max_frame_bytes: usize,
    /// Beats kept per worker for `history()`: 1 to [`MAX_HISTORY_LENGTH`].
    pub history_length: usize,
    /// An ok row is late once silent for more than this many cadences;
    /// finite and greater than 1.
    pub late_factor: f64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            known_workers: DEFAULT_KNOWN_WORKERS
                .iter()
                .map(|s| s.to_string())
                .collect(),
            ok_window_seconds: DEFAULT_OK_WINDOW_SECONDS,
            max_frame_bytes: DEFAULT_MAX_FRAME_BYTES,
            history_length: DEFAULT_HISTORY_LENGTH,
            late_factor: DEFAULT_LATE_FACTOR,
        }
    }
}

/// Checks a `historyLength` given as a JS number: a whole number from 1 to
/// [`MAX_HISTORY_LENGTH`].
pub fn check_history_length(value: f64) -> Result<usize, ConfigError> {
    if value.fract() == 0.0 && (1.0..=MAX_HISTORY_LENGTH as f64).contains(&value) {
        Ok(value as usize)
    } else {
        Err(ConfigError::HistoryLength(value))
    }
}

/// A configuration the registry refuses, with the option it concerns.
#[derive(Debug, Clone, PartialEq)]
pub enum ConfigError {
    NoWorkers,
    BadName {
        index: usize,
        name: String,
        error: TokenError,
    },
    DuplicateName {
        index: usize,
        name: String,
    },
    /// `historyLength` is not a whole number from 1 to 1000.
    HistoryLength(f64),
    /// `lateFactor` is not a finite number greater than 1.
    LateFactor(f64),
}

impl ConfigError {
    /// The rule that failed, naming the option; the JS side appends the
    /// value it was given.
    pub fn message(&self) -> String {
        let (index, rule) = match self {
            ConfigError::NoWorkers => return "knownWorkers must name at least one worker".into(),
            ConfigError::HistoryLength(_) => {
                let mut m = String::from("historyLength must be a whole number from 1 to ");
                crate::json::push_u64(&mut m, MAX_HISTORY_LENGTH as u64);
                return m;
            }
            ConfigError::LateFactor(_) => {
                return "lateFactor must be a finite number greater than 1".into()
            }
            ConfigError::BadName { index, error, .. } => (*index, error.rule()),
            ConfigError::DuplicateName { index, .. } => (*index, "repeats an earlier name"),
        };
        let mut m = String::from("knownWorkers[");
        crate::json::push_u64(&mut m, index as u64);
        m.push_str("] ");
        m.push_str(rule);
        m
    }

    /// The offending name, if there is one.
    pub fn name(&self) -> Option<&str> {
        match self {
            ConfigError::NoWorkers | ConfigError::HistoryLength(_) | ConfigError::LateFactor(_) => {
                None
            }
            ConfigError::BadName { name, .. } | ConfigError::DuplicateName { name, .. } => {
                Some(name)
            }
        }
    }
}

impl ConfigError {
    /// The offending number, for the options that are numbers.
    pub fn value(&self) -> Option<f64> {
        match self {
            ConfigError::HistoryLength(v) | ConfigError::LateFactor(v) => Some(*v),
            _ => None,
        }
    }
}

/// A row's liveness.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// No beat was ever recorded.
    Unknown,
    Ok,
    Stale,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Unknown => "unknown",
            Status::Ok => "ok",
            Status::Stale => "stale",
        }
    }
}

/// What happened to one frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Stored as the worker's freshest beat (the index in allowlist order).
    Recorded(usize),
    /// Older than the stored beat; nothing changed.
    Superseded,
    /// A topic of another shape.
    Ignored,
    /// A transport control frame; not counted.
    Control,
    Rejected(Reason),
}

/// Counters, as `stats()` reports them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    pub accepted: u64,
    pub ignored: u64,
    pub superseded: u64,
    /// Indexed like [`Reason::ALL`].
    pub rejected: [u64; 9],
}

impl Stats {
    pub fn rejected(&self, r: Reason) -> u64 {
        self.rejected[r as usize]
    }

    fn count(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Recorded(_) => self.accepted += 1,
            Outcome::Superseded => self.superseded += 1,
            Outcome::Ignored => self.ignored += 1,
            Outcome::Control => {}
            Outcome::Rejected(r) => self.rejected[r as usize] += 1,
        }
    }
}

/// The stored beat of one worker.
#[derive(Debug, Default)]
struct Entry {
    seen: bool,
    /// `payload.ts`, or the wall clock at arrival, in seconds.
    ts: f64,
    arrival: Option<Instant>,
    /// Seconds the beat was already old when it arrived.
    age: f64,
    /// The payload minus `worker` and `ts`, as JSON text.
    extra: Vec<u8>,
    /// Bumped on every recorded beat, so a cached `extra` can be reused.
    version: u32,
    /// The status as of the last evaluation, to notice ok turning stale.
    was_ok: bool,
    /// Lateness as of the last evaluation, to notice a row turning late once.
    was_late: bool,
    /// `payload.ts` was given (not the arrival's wall clock).
    ts_given: bool,
}

/// What [`Registry::expire`] noticed since the last look.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Turned {
    /// A row turned from ok to stale: `onChange("status")`.
    pub stale: bool,
    /// A row turned late: `onChange("late")`.
    pub late: bool,
}

impl Turned {
    pub fn any(self) -> bool {
        self.stale || self.late
    }
}

/// A worker's beat history as of a moment, as `history(name)` reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct History {
    /// Seconds since each beat was emitted, newest first (measured like
    /// `seconds_since`).
    pub beats: Vec<f64>,
    /// The median interval between those beats; `None` under 3 beats.
    pub cadence_s: Option<f64>,
    /// Ok, but silent for more than `lateFactor` x `cadence_s`.
    pub late: bool,
}

/// One snapshot row, without the name and `extra`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Row {
    pub status: Status,
    pub last_heartbeat_ts: Option<f64>,
    pub seconds_since: Option<f64>,
}

/// Seconds between an arrival and `now`: the larger of the two clocks'
/// elapsed times, neither below zero. The monotonic clock is immune to the
/// wall clock being set; the wall clock keeps running while a laptop sleeps
/// and the monotonic one may not. Taking the larger errs towards `stale`.
pub fn elapsed_seconds(arrival: Instant, now: Instant) -> f64 {
    let mono = now.mono_ms - arrival.mono_ms;
    let wall = now.wall_ms - arrival.wall_ms;
    let ms = mono.max(wall).max(0.0);
    if ms.is_finite() {
        ms / 1000.0
    } else {
        0.0
    }
}

/// The allowlist index of a name, compared byte for byte (no case folding,
/// no Unicode normalisation: a Cyrillic "а" is not a Latin "a").
fn index_of(names: &[String], name: &[u8]) -> Option<usize> {
    names.iter().position(|n| n.as_bytes() == name)
}

/// The freshest beat per allowlisted worker.
pub struct Registry {
    names: Vec<String>,
    window: f64,
    max_frame_bytes: usize,
    late_factor: f64,
    entries: Vec<Entry>,
    /// The beat history of each row, allocated once.
    rings: Vec<Ring>,
    stats: Stats,
    scratch: Scratch,
}

impl Registry {
    /// Builds a registry; the window and frame size must already be checked
    /// (they are plain numbers in Rust, options in JS), the names are checked
    /// here.
    pub fn new(config: Config) -> Result<Self, ConfigError> {
        if !(1..=MAX_HISTORY_LENGTH).contains(&config.history_length) {
            return Err(ConfigError::HistoryLength(config.history_length as f64));
        }
        if !(config.late_factor.is_finite() && config.late_factor > 1.0) {
            return Err(ConfigError::LateFactor(config.late_factor));
        }
        if config.known_workers.is_empty() {
            return Err(ConfigError::NoWorkers);
        }
        for (index, name) in config.known_workers.iter().enumerate() {
            if let Err(error) = topic::check_name(name) {
                return Err(ConfigError::BadName {
                    index,
                    name: name.clone(),
                    error,
                });
            }
            if config.known_workers[..index].contains(name) {
                return Err(ConfigError::DuplicateName {
                    index,
                    name: name.clone(),
                });
            }
        }
        let entries = config
            .known_workers
            .iter()
            .map(|_| Entry::default())
            .collect();
        let rings = config
            .known_workers
            .iter()
            .map(|_| Ring::new(config.history_length))
            .collect();
        Ok(Registry {
            names: config.known_workers,
            window: config.ok_window_seconds,
            max_frame_bytes: config.max_frame_bytes,
            late_factor: config.late_factor,
            entries,
            rings,
            stats: Stats::default(),
            scratch: Scratch::default(),
        })
    }

    pub fn names(&self) -> &[String] {
        &self.names
    }

    pub fn ok_window_seconds(&self) -> f64 {
        self.window
    }

    pub fn max_frame_bytes(&self) -> usize {
        self.max_frame_bytes
    }

    pub fn history_length(&self) -> usize {
        self.rings[0].capacity()
    }

    pub fn late_factor(&self) -> f64 {
        self.late_factor
    }

    /// The allowlist index of `name`, byte for byte.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        index_of(&self.names, name.as_bytes())
    }

    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Counts a frame refused before it reached the registry's bytes (a JS
    /// string too long to copy, a NATS message over the limit).
    pub fn count(&mut self, outcome: Outcome) -> Outcome {
        self.stats.count(outcome);
        outcome
    }

    /// Feeds one gateway frame (an event or a control frame).
    pub fn ingest(&mut self, bytes: &[u8], clock: &impl Clock) -> Outcome {
        let outcome = self.decide(bytes, clock);
        self.count(outcome)
    }

    fn decide(&mut self, bytes: &[u8], clock: &impl Clock) -> Outcome {
        if bytes.len() > self.max_frame_bytes {
            return Outcome::Rejected(Reason::TooLarge);
        }
        let env = match frame::scan(bytes, &mut self.scratch, Shape::Envelope) {
            Ok(env) => env,
            Err(r) => return Outcome::Rejected(r),
        };
        let index = match frame::head(bytes, &env, &mut self.scratch) {
            Head::Control => return Outcome::Control,
            Head::Ignored => return Outcome::Ignored,
            Head::Rejected(r) => return Outcome::Rejected(r),
            Head::Health(name) => match index_of(&self.names, name) {
                Some(i) => i,
                None => return Outcome::Rejected(Reason::UnknownWorker),
            },
        };
        match frame::body(bytes, &env, &mut self.scratch) {
            Ok(beat) => self.store(index, beat, bytes, clock.now()),
            Err(r) => Outcome::Rejected(r),
        }
    }

    /// Feeds one NATS message: the subject is the topic (the bus set it; a
    /// `topic` inside the body is not trusted), the body an envelope or a
    /// bare heartbeat payload.
    pub fn ingest_nats(&mut self, subject: &[u8], body: &[u8], clock: &impl Clock) -> Outcome {
        let outcome = self.decide_nats(subject, body, clock);
        self.count(outcome)
    }

    fn decide_nats(&mut self, subject: &[u8], body: &[u8], clock: &impl Clock) -> Outcome {
        if body.len() > self.max_frame_bytes {
            return Outcome::Rejected(Reason::TooLarge);
        }
        // The subject decides first: a message on another topic is dropped
        // without its body being read (it was not ours to parse). A health
        // message then goes through the rules in the gateway's order: the
        // body's JSON (2, 3) and version (4) before the allowlist (7).
        let Some(name) = topic::health_worker(subject) else {
            return Outcome::Ignored;
        };
        let mut env = match frame::scan(body, &mut self.scratch, Shape::Message) {
            Ok(env) => env,
            Err(r) => return Outcome::Rejected(r),
        };
        if let Err(r) = frame::envelope_version(body, &env) {
            return Outcome::Rejected(r);
        }
        let Some(index) = index_of(&self.names, name) else {
            return Outcome::Rejected(Reason::UnknownWorker);
        };
        if frame::is_bare(&env) {
            // A bare heartbeat payload, as `nats pub` from a shell sends it.
            env = match frame::scan(body, &mut self.scratch, Shape::Bare) {
                Ok(env) => env,
                Err(r) => return Outcome::Rejected(r),
            };
        }
        match frame::bare_body(body, &env, &mut self.scratch) {
            Ok(beat) => self.store(index, beat, body, clock.now()),
            Err(r) => Outcome::Rejected(r),
        }
    }

    /// Records a beat given by hand. `payload_json` is the payload object as
    /// JSON text; `ts`, when given, wins over `payload.ts`. The allowlist and
    /// the payload rules apply as to frames.
    pub fn record(
        &mut self,
        worker: &str,
        ts: Option<f64>,
        payload_json: &[u8],
        clock: &impl Clock,
    ) -> Outcome {
        let outcome = self.decide_record(worker, ts, payload_json, clock);
        self.count(outcome)
    }

    fn decide_record(
        &mut self,
        worker: &str,
        ts: Option<f64>,
        payload_json: &[u8],
        clock: &impl Clock,
    ) -> Outcome {
        let Some(index) = index_of(&self.names, worker.as_bytes()) else {
            return Outcome::Rejected(Reason::UnknownWorker);
        };
        if payload_json.len() > self.max_frame_bytes {
            return Outcome::Rejected(Reason::TooLarge);
        }
        let env = match frame::scan(payload_json, &mut self.scratch, Shape::Bare) {
            Ok(env) => env,
            Err(_) => return Outcome::Rejected(Reason::BadPayload),
        };
        let mut beat = match frame::bare_body(payload_json, &env, &mut self.scratch) {
            Ok(beat) => beat,
            Err(r) => return Outcome::Rejected(r),
        };
        if let Some(t) = ts {
            if !t.is_finite() {
                return Outcome::Rejected(Reason::BadTs);
            }
            beat.ts = Some(t);
        }
        self.store(index, beat, payload_json, clock.now())
    }

    /// Stores a beat unless it is older, by emission time, than the one held.
    /// A stored beat enters the history at its emission time; the held beat
    /// again (the same `payload.ts`: a replay after a reconnect, or the same
    /// beat from a second gateway) only moves the newest entry to its new
    /// emission time, so `beats[0]` stays `seconds_since`.
    fn store(&mut self, index: usize, beat: Beat, bytes: &[u8], now: Instant) -> Outcome {
        let window = self.window;
        let entry = &mut self.entries[index];
        let mut again = false;
        if let (true, Some(at)) = (entry.seen, entry.arrival) {
            // The held beat is `held_age` old now; the new one is `beat.age`
            // old. Equal ages: the later arrival wins.
            let held_age = entry.age + elapsed_seconds(at, now);
            if beat.age > held_age {
                return Outcome::Superseded;
            }
            again = entry.ts_given && beat.ts == Some(entry.ts);
        }
        let ms = beat.age * 1000.0;
        let emitted = Instant {
            mono_ms: now.mono_ms - ms,
            wall_ms: now.wall_ms - ms,
        };
        if again {
            // Measured again: the newest tick follows the row's new age.
            self.rings[index].replace_newest(emitted);
        } else {
            self.rings[index].push(emitted);
        }
        entry.ts_given = beat.ts.is_some();
        entry.was_late = false;
        entry.seen = true;
        entry.ts = beat.ts.unwrap_or(now.wall_ms / 1000.0);
        entry.arrival = Some(now);
        entry.age = beat.age;
        entry.version = entry.version.wrapping_add(1);
        entry.was_ok = beat.age < window;
        frame::write_extra(bytes, &self.scratch, &mut entry.extra);
        Outcome::Recorded(index)
    }

    /// Seconds since the beat of row `index` was emitted, if there is one.
    fn seconds_since(&self, index: usize, now: Instant) -> Option<f64> {
        let e = &self.entries[index];
        match (e.seen, e.arrival) {
            (true, Some(at)) => Some(e.age + elapsed_seconds(at, now)),
            _ => None,
        }
    }

    /// Row `index` as of `now`.
    pub fn row(&self, index: usize, now: Instant) -> Row {
        match self.seconds_since(index, now) {
            None => Row {
                status: Status::Unknown,
                last_heartbeat_ts: None,
                seconds_since: None,
            },
            Some(s) => Row {
                status: if s < self.window {
                    Status::Ok
                } else {
                    Status::Stale
                },
                last_heartbeat_ts: Some(self.entries[index].ts),
                seconds_since: Some(s),
            },
        }
    }

    /// The rows, in allowlist order.
    pub fn rows(&self, now: Instant) -> impl Iterator<Item = Row> + '_ {
        (0..self.names.len()).map(move |i| self.row(i, now))
    }

    /// Row `index`'s `extra` as JSON text (`{}` when unknown).
    pub fn extra(&self, index: usize) -> &[u8] {
        let e = &self.entries[index];
        if e.seen {
            &e.extra
        } else {
            b"{}"
        }
    }

    /// When row `index`'s beat arrived, if it has one.
    pub fn arrival(&self, index: usize) -> Option<Instant> {
        let e = &self.entries[index];
        e.arrival.filter(|_| e.seen)
    }

    /// Changes with every recorded beat of row `index`.
    pub fn version(&self, index: usize) -> u32 {
        self.entries[index].version
    }

    /// Row `index`'s beat history as of `now`.
    pub fn history(&self, index: usize, now: Instant) -> History {
        let ring = &self.rings[index];
        History {
            beats: ring
                .newest_first()
                .map(|at| elapsed_seconds(at, now))
                .collect(),
            cadence_s: ring.cadence(),
            late: self.is_late(index, now),
        }
    }

    /// The median interval of row `index`'s beats, if it has 3 or more.
    pub fn cadence(&self, index: usize) -> Option<f64> {
        self.rings[index].cadence()
    }

    /// Seconds of silence after which row `index` is late: `lateFactor` x
    /// its cadence (at least [`MIN_LATE_SECONDS`]), when that comes before
    /// the ok window ends (after it, the
    /// row turns stale first and is never late).
    fn late_after(&self, index: usize) -> Option<f64> {
        let c = self.rings[index].cadence()?;
        let after = (self.late_factor * c).max(MIN_LATE_SECONDS);
        (after < self.window).then_some(after)
    }

    /// Row `index` is ok but has been silent for more than `lateFactor` x
    /// its cadence.
    pub fn is_late(&self, index: usize, now: Instant) -> bool {
        match (self.seconds_since(index, now), self.late_after(index)) {
            (Some(s), Some(after)) => s > after && s < self.window,
            _ => false,
        }
    }

    /// Notes rows that turned from ok to stale, and rows that turned late,
    /// since the last look. This is what fires `onChange("status")` and
    /// `onChange("late")`; each turn is reported once.
    pub fn expire(&mut self, now: Instant) -> Turned {
        let mut turned = Turned::default();
        for i in 0..self.entries.len() {
            let ok = self.row(i, now).status == Status::Ok;
            if self.entries[i].was_ok && !ok {
                self.entries[i].was_ok = false;
                turned.stale = true;
            }
            let late = ok && self.is_late(i, now);
            if late && !self.entries[i].was_late {
                turned.late = true;
            }
            self.entries[i].was_late = late;
        }
        turned
    }

    /// Milliseconds from `now` until row `index` turns stale, if it is ok.
    pub fn expiry_ms(&self, index: usize, now: Instant) -> Option<f64> {
        let s = self.seconds_since(index, now)?;
        (s < self.window).then_some((self.window - s) * 1000.0)
    }

    /// Milliseconds from `now` until row `index` turns late: 0 when it is late
    /// and not yet reported, none when it is reported, stale, or never late.
    pub fn late_ms(&self, index: usize, now: Instant) -> Option<f64> {
        let s = self.seconds_since(index, now)?;
        let after = self.late_after(index)?;
        if s >= self.window {
            None
        } else if s <= after {
            Some((after - s) * 1000.0)
        } else {
            (!self.entries[index].was_late).then_some(0.0)
        }
    }

    /// The monotonic instant (ms) at which row `index`'s current beat turns
    /// stale, if it is ok now. Used to arm the status timer without another
    /// clock reading right after a beat was stored.
    pub fn stale_at_mono(&self, index: usize) -> Option<f64> {
        let e = &self.entries[index];
        match (e.seen, e.arrival) {
            (true, Some(at)) if e.age < self.window => {
                Some(at.mono_ms + (self.window - e.age) * 1000.0)
            }
            _ => None,
        }
    }

    /// The monotonic instant (ms) of row `index`'s next turn, late or stale,
    /// right after a beat was stored: what the status timer must cover.
    pub fn due_at_mono(&self, index: usize) -> Option<f64> {
        let stale = self.stale_at_mono(index)?;
        let e = &self.entries[index];
        let late = match (self.late_after(index), e.arrival) {
            (Some(after), Some(at)) => at.mono_ms + (after - e.age).max(0.0) * 1000.0,
            _ => stale,
        };
        Some(late.min(stale))
    }

    /// Milliseconds until the first ok row turns late or stale: one timer
    /// for that deadline replaces polling.
    pub fn next_expiry_ms(&self, now: Instant) -> Option<f64> {
        let mut next: Option<f64> = None;
        for i in 0..self.entries.len() {
            for ms in [self.expiry_ms(i, now), self.late_ms(i, now)]
                .into_iter()
                .flatten()
            {
                next = Some(next.map_or(ms, |n| n.min(ms)));
            }
        }
        next
    }
}

#[cfg(test)]
mod history_tests;
#[cfg(test)]
mod tests;
