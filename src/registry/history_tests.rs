//! Beat history, cadence and lateness, with a driven clock.

use super::*;
use crate::clock::ManualClock;

const T0: f64 = 1_764_190_000.0;

fn clock() -> ManualClock {
    ManualClock::new(5_000.0, T0 * 1000.0)
}

fn reg_with(history_length: usize, late_factor: f64) -> Registry {
    Registry::new(Config {
        history_length,
        late_factor,
        ..Config::default()
    })
    .unwrap()
}

fn reg() -> Registry {
    Registry::new(Config::default()).unwrap()
}

/// A live beat of `worker` carrying `payload.ts`.
fn live(worker: &str, ts: f64) -> String {
    format!(
        r#"{{"v":1,"id":"ab12","topic":"system.{worker}.health","type":"health","ts":{ts},"payload":{{"worker":"{worker}","ts":{ts}}}}}"#
    )
}

/// The gateway's replay of a beat emitted `age` seconds ago.
fn retained(worker: &str, ts: f64, age: f64) -> String {
    format!(
        r#"{{"v":1,"topic":"system.{worker}.health","payload":{{"ts":{ts}}},"retained":true,"age":{age}}}"#
    )
}

fn idx(r: &Registry, name: &str) -> usize {
    r.index_of(name).unwrap()
}

fn hist(r: &Registry, name: &str, c: &ManualClock) -> History {
    r.history(idx(r, name), c.now())
}

/// Feeds `worker` beats separated by `gaps` seconds, the first one now.
fn beats(r: &mut Registry, c: &ManualClock, worker: &str, gaps: &[f64]) {
    let mut ts = T0;
    assert!(matches!(
        r.ingest(live(worker, ts).as_bytes(), c),
        Outcome::Recorded(_)
    ));
    for g in gaps {
        c.advance(*g);
        ts += g;
        assert!(matches!(
            r.ingest(live(worker, ts).as_bytes(), c),
            Outcome::Recorded(_)
        ));
    }
}

fn round(xs: &[f64]) -> Vec<f64> {
    xs.iter().map(|x| (x * 1000.0).round() / 1000.0).collect()
}

#[test]
fn an_unheard_worker_has_an_empty_history() {
    let c = clock();
    let r = reg();
    assert_eq!(
        hist(&r, "api", &c),
        History {
            beats: vec![],
            cadence_s: None,
            late: false
        }
    );
    assert_eq!(r.index_of("intruder"), None);
    assert_eq!(r.history_length(), 30);
    assert_eq!(r.late_factor(), 2.0);
}

#[test]
fn beats_are_seconds_ago_newest_first_measured_like_seconds_since() {
    let c = clock();
    let mut r = reg();
    beats(&mut r, &c, "api", &[30.0, 31.0]);
    c.advance(4.5);
    let h = hist(&r, "api", &c);
    assert_eq!(h.beats, vec![4.5, 35.5, 65.5]);
    let row = r.row(idx(&r, "api"), c.now());
    assert_eq!(Some(h.beats[0]), row.seconds_since);
}

#[test]
fn cadence_is_the_median_of_irregular_intervals_and_needs_three_beats() {
    let c = clock();
    let mut r = reg();
    beats(&mut r, &c, "api", &[30.0]);
    assert_eq!(hist(&r, "api", &c).cadence_s, None, "two beats");
    // Jitter and one long gap: the median ignores the outlier.
    let c2 = clock();
    let mut r2 = reg();
    beats(
        &mut r2,
        &c2,
        "bus",
        &[29.0, 31.0, 30.5, 85.0, 29.5, 30.0, 28.0],
    );
    // Sorted gaps: 28, 29, 29.5, 30, 30.5, 31, 85: the median is 30.
    assert_eq!(hist(&r2, "bus", &c2).cadence_s, Some(30.0));
    // An even count takes the mean of the middle two.
    let c3 = clock();
    let mut r3 = reg();
    beats(&mut r3, &c3, "sniffer", &[10.0, 20.0, 40.0, 50.0]);
    assert_eq!(hist(&r3, "sniffer", &c3).cadence_s, Some(30.0));
}

#[test]
fn a_row_turns_late_before_it_turns_stale_and_each_turn_is_reported_once() {
    let c = clock();
    let mut r = reg();
    // A 20 s cadence: late after 40 s of silence, stale after 90.
    beats(&mut r, &c, "api", &[20.0, 20.0, 20.0]);
    assert!(!r.expire(c.now()).any());
    assert_eq!(
        r.next_expiry_ms(c.now()),
        Some(40_000.0),
        "the late deadline"
    );
    c.advance(40.0);
    assert!(
        !hist(&r, "api", &c).late,
        "silent exactly 2 cadences: not yet"
    );
    assert!(!r.expire(c.now()).any());
    c.advance(0.001);
    let h = hist(&r, "api", &c);
    assert!(h.late);
    assert_eq!(r.row(0, c.now()).status, Status::Ok, "late is not a status");
    assert_eq!(
        r.expire(c.now()),
        Turned {
            stale: false,
            late: true
        }
    );
    assert!(!r.expire(c.now()).any(), "late is reported once");
    // Next: the stale deadline, 50 s on.
    let next = r.next_expiry_ms(c.now()).unwrap();
    assert!((next - 49_999.0).abs() < 1e-6, "{next}");
    c.advance(50.0);
    assert_eq!(
        r.expire(c.now()),
        Turned {
            stale: true,
            late: false
        }
    );
    assert!(!hist(&r, "api", &c).late, "a stale row is not late");
    assert_eq!(r.next_expiry_ms(c.now()), None);
}

#[test]
fn a_new_beat_clears_lateness_and_a_later_silence_is_reported_again() {
    let c = clock();
    let mut r = reg();
    beats(&mut r, &c, "api", &[10.0, 10.0, 10.0]);
    c.advance(25.0);
    assert!(r.expire(c.now()).late);
    r.ingest(live("api", T0 + 55.0).as_bytes(), &c);
    assert!(!hist(&r, "api", &c).late);
    // Gaps now 10, 10, 10, 25: the median is 10, late after 20 s.
    assert_eq!(r.next_expiry_ms(c.now()), Some(20_000.0));
    c.advance(21.0);
    assert!(r.expire(c.now()).late, "late again, reported again");
}

#[test]
fn the_late_deadline_moves_earlier_when_the_cadence_shrinks() {
    let c = clock();
    let mut r = reg();
    beats(&mut r, &c, "api", &[50.0, 50.0]);
    // Cadence 50: late after 100 s, past the 90 s window: stale comes first.
    let i = idx(&r, "api");
    assert_eq!(r.due_at_mono(i), r.stale_at_mono(i));
    // The worker speeds up: gaps 50, 50, 0, 5, 5, 5 have a median of 5.
    beats(&mut r, &c, "api", &[5.0, 5.0, 5.0]);
    assert_eq!(r.cadence(i), Some(5.0));
    let due = r.due_at_mono(i).unwrap();
    assert_eq!(due, c.now().mono_ms + 10_000.0);
    assert!(due < r.stale_at_mono(i).unwrap());
}

#[test]
fn a_cadence_too_slow_for_the_window_is_never_late() {
    let c = clock();
    let mut r = reg();
    beats(&mut r, &c, "api", &[50.0, 50.0, 50.0]);
    // 2 x 50 s is past the 90 s window: the row turns stale, never late.
    for _ in 0..100 {
        c.advance(1.0);
        assert!(!hist(&r, "api", &c).late);
        assert!(!r.expire(c.now()).late);
    }
}

#[test]
fn the_late_factor_is_configurable() {
    let c = clock();
    let mut r = reg_with(30, 1.5);
    beats(&mut r, &c, "api", &[20.0, 20.0, 20.0]);
    assert_eq!(r.next_expiry_ms(c.now()), Some(30_000.0));
    c.advance(30.5);
    assert!(r.expire(c.now()).late);
}

#[test]
fn a_sleeping_laptop_measures_gaps_and_ages_on_the_larger_clock() {
    let c = clock();
    let mut r = reg();
    beats(&mut r, &c, "api", &[30.0, 30.0, 30.0]);
    // The machine sleeps 10 minutes: the monotonic clock stops, the wall
    // clock does not.
    c.shift(0.0, 600.0);
    let h = hist(&r, "api", &c);
    assert_eq!(round(&h.beats), vec![600.0, 630.0, 660.0, 690.0]);
    assert!(!h.late, "stale, not late");
    assert_eq!(r.row(0, c.now()).status, Status::Stale);
    // Waking: the status turns stale and lateness is skipped.
    assert_eq!(
        r.expire(c.now()),
        Turned {
            stale: true,
            late: false
        }
    );
    // Beats resume; the gap across the sleep is one outlier for the median.
    r.ingest(live("api", T0 + 690.0).as_bytes(), &c);
    c.advance(30.0);
    r.ingest(live("api", T0 + 720.0).as_bytes(), &c);
    assert_eq!(hist(&r, "api", &c).cadence_s, Some(30.0));
}

#[test]
fn retained_beats_enter_at_their_emission_time() {
    let c = clock();
    let mut r = reg();
    // A page opens: the gateway replays a beat emitted 12 s ago.
    assert!(matches!(
        r.ingest(retained("api", T0, 12.0).as_bytes(), &c),
        Outcome::Recorded(_)
    ));
    c.advance(18.0);
    r.ingest(live("api", T0 + 30.0).as_bytes(), &c);
    let h = hist(&r, "api", &c);
    assert_eq!(h.beats, vec![0.0, 30.0]);
}

#[test]
fn history_across_reconnects_a_replay_and_a_superseded_beat_add_nothing() {
    let c = clock();
    let mut r = reg();
    beats(&mut r, &c, "api", &[30.0, 30.0]);
    c.advance(10.0);
    // Reconnect: the gateway replays the beat held (same ts), 10 s old by its
    // clock, a little less by ours after the link's latency.
    let replay = retained("api", T0 + 60.0, 9.8);
    assert!(matches!(
        r.ingest(replay.as_bytes(), &c),
        Outcome::Recorded(_)
    ));
    let h = hist(&r, "api", &c);
    assert_eq!(h.beats.len(), 3, "the replay is not a beat");
    assert_eq!(Some(h.beats[0]), r.row(0, c.now()).seconds_since);
    // A replay of an older beat is superseded and changes nothing.
    let old = retained("api", T0 + 30.0, 40.0);
    assert_eq!(r.ingest(old.as_bytes(), &c), Outcome::Superseded);
    let h = hist(&r, "api", &c);
    assert_eq!(round(&h.beats), vec![9.8, 40.0, 70.0]);
    assert_eq!(
        h.cadence_s.map(|x| (x * 1000.0).round() / 1000.0),
        Some(30.1)
    );
    // A beat published while the page was away, replayed with its age,
    // enters at its emission time.
    c.advance(30.0);
    r.ingest(retained("api", T0 + 90.0, 0.5).as_bytes(), &c);
    let h = hist(&r, "api", &c);
    assert_eq!(round(&h.beats), vec![0.5, 39.8, 70.0, 100.0]);
}

#[test]
fn beats_without_a_ts_all_enter() {
    let c = clock();
    let mut r = reg();
    let bare = br#"{"topic":"system.api.health","payload":{}}"#;
    for _ in 0..3 {
        r.ingest(bare, &c);
        c.advance(5.0);
    }
    assert_eq!(hist(&r, "api", &c).beats, vec![5.0, 10.0, 15.0]);
}

#[test]
fn history_is_bounded_by_history_length() {
    let c = clock();
    let mut r = reg_with(5, 2.0);
    let mut ts = T0;
    for _ in 0..1_000_000 {
        c.advance(0.25);
        ts += 0.25;
        r.ingest(live("api", ts).as_bytes(), &c);
    }
    let h = hist(&r, "api", &c);
    assert_eq!(h.beats, vec![0.0, 0.25, 0.5, 0.75, 1.0]);
    assert_eq!(h.cadence_s, Some(0.25));
    assert_eq!(r.stats().accepted, 1_000_000);
    // One beat kept, the least allowed.
    let mut one = reg_with(1, 2.0);
    beats(&mut one, &c, "bus", &[1.0, 2.0]);
    let h = hist(&one, "bus", &c);
    assert_eq!((h.beats.len(), h.cadence_s), (1, None));
}

#[test]
fn history_options_are_checked() {
    let err = |history_length, late_factor| {
        Registry::new(Config {
            history_length,
            late_factor,
            ..Config::default()
        })
        .err()
        .map(|e| (e.message(), e.value()))
    };
    assert_eq!(err(30, 2.0), None);
    assert_eq!(err(1000, 1.01), None);
    assert_eq!(
        err(0, 2.0),
        Some((
            "historyLength must be a whole number from 1 to 1000".into(),
            Some(0.0)
        ))
    );
    assert_eq!(err(1001, 2.0).unwrap().1, Some(1001.0));
    for bad in [1.0, 0.5, 0.0, -2.0, f64::NAN, f64::INFINITY] {
        let (message, value) = err(30, bad).unwrap();
        assert_eq!(message, "lateFactor must be a finite number greater than 1");
        assert_eq!(value.map(f64::to_bits), Some(bad.to_bits()));
    }
    assert_eq!(check_history_length(30.0), Ok(30));
    assert_eq!(check_history_length(1000.0), Ok(1000));
    for bad in [0.0, 2.5, -1.0, 1001.0, f64::NAN, f64::INFINITY] {
        assert!(check_history_length(bad).is_err(), "{bad}");
    }
}
