//! The registry's contract, rule by rule, with a driven clock.

use super::*;
use crate::clock::ManualClock;

const T0: f64 = 1_764_190_000.0;

fn clock() -> ManualClock {
    ManualClock::new(5_000.0, T0 * 1000.0)
}

fn reg() -> Registry {
    Registry::new(Config::default()).unwrap()
}

fn beat(worker: &str, ts: f64) -> String {
    format!(
        r#"{{"v":1,"id":"ab12","topic":"system.{worker}.health","type":"health","ts":{ts},"payload":{{"worker":"{worker}","ts":{ts},"pid":42}}}}"#
    )
}

fn with_payload(topic: &str, payload: &str) -> String {
    format!(
        r#"{{"v":1,"id":"ab12","topic":"{topic}","type":"health","ts":1.0,"payload":{payload}}}"#
    )
}

fn extra_of(r: &Registry, name: &str) -> serde_json::Value {
    let i = r.names().iter().position(|n| n == name).unwrap();
    serde_json::from_slice(r.extra(i)).unwrap()
}

fn row_of(r: &Registry, name: &str, c: &ManualClock) -> Row {
    let i = r.names().iter().position(|n| n == name).unwrap();
    r.row(i, c.now())
}

fn rows(r: &Registry, c: &ManualClock) -> Vec<Row> {
    r.rows(c.now()).collect()
}

/// Asserts that `frame` is refused for `reason`, counted once, and that no
/// row changed.
fn assert_rejected(r: &mut Registry, c: &ManualClock, frame: &[u8], reason: Reason) {
    let before_rows = rows(r, c);
    let before_extras: Vec<Vec<u8>> = (0..r.names().len()).map(|i| r.extra(i).to_vec()).collect();
    let before = r.stats().rejected(reason);
    let got = r.ingest(frame, c);
    assert_eq!(
        got,
        Outcome::Rejected(reason),
        "frame {:?}",
        String::from_utf8_lossy(&frame[..frame.len().min(200)])
    );
    assert_eq!(r.stats().rejected(reason), before + 1);
    assert_eq!(rows(r, c), before_rows, "a refused frame changed a row");
    let after_extras: Vec<Vec<u8>> = (0..r.names().len()).map(|i| r.extra(i).to_vec()).collect();
    assert_eq!(after_extras, before_extras);
}

#[test]
fn a_live_beat_makes_its_row_ok_and_keeps_extras() {
    let c = clock();
    let mut r = reg();
    let frame = with_payload(
        "system.api.health",
        r#"{"worker":"api","ts":1764190000.5,"pid":42,"realism":{"llm_enabled":true,"llm_breaker_state":"closed"},"note":null}"#,
    );
    assert_eq!(r.ingest(frame.as_bytes(), &c), Outcome::Recorded(0));
    let row = row_of(&r, "api", &c);
    assert_eq!(row.status, Status::Ok);
    assert_eq!(row.last_heartbeat_ts, Some(1764190000.5));
    assert_eq!(row.seconds_since, Some(0.0));
    assert_eq!(
        extra_of(&r, "api"),
        serde_json::json!({"pid":42,"realism":{"llm_enabled":true,"llm_breaker_state":"closed"},"note":null})
    );
    assert_eq!(r.stats().accepted, 1);
}

#[test]
fn rows_come_in_allowlist_order_including_never_seen_workers() {
    let c = clock();
    let mut r = reg();
    r.ingest(beat("updater", T0).as_bytes(), &c);
    r.ingest(beat("api", T0).as_bytes(), &c);
    let statuses: Vec<Status> = rows(&r, &c).iter().map(|row| row.status).collect();
    let mut expected = vec![Status::Unknown; 10];
    expected[0] = Status::Ok;
    expected[9] = Status::Ok;
    assert_eq!(statuses, expected);
    assert_eq!(r.names(), DEFAULT_KNOWN_WORKERS);
    let unknown = row_of(&r, "bus", &c);
    assert_eq!(unknown.last_heartbeat_ts, None);
    assert_eq!(unknown.seconds_since, None);
    assert_eq!(extra_of(&r, "bus"), serde_json::json!({}));
}

#[test]
fn each_rule_names_its_reason_in_order() {
    let c = clock();
    let mut r = reg();
    r.ingest(beat("api", T0).as_bytes(), &c);

    let big = format!(
        r#"{{"topic":"system.api.health","pad":"{}"}}"#,
        "x".repeat(70_000)
    );
    assert_rejected(&mut r, &c, big.as_bytes(), Reason::TooLarge);
    assert_rejected(&mut r, &c, b"{\"topic\":", Reason::NotJson);
    assert_rejected(&mut r, &c, b"[1,2]", Reason::NotObject);
    assert_rejected(&mut r, &c, b"\"system.api.health\"", Reason::NotObject);
    assert_rejected(&mut r, &c, b"null", Reason::NotObject);
    assert_rejected(
        &mut r,
        &c,
        br#"{"v":2,"topic":"system.api.health","payload":{}}"#,
        Reason::UnsupportedVersion,
    );
    assert_rejected(
        &mut r,
        &c,
        br#"{"v":"1","topic":"system.api.health"}"#,
        Reason::UnsupportedVersion,
    );
    assert_rejected(&mut r, &c, br#"{"v":1,"payload":{}}"#, Reason::BadTopic);
    assert_rejected(&mut r, &c, br#"{"v":1,"topic":7}"#, Reason::BadTopic);
    assert_rejected(&mut r, &c, br#"{"v":1,"topic":null}"#, Reason::BadTopic);
    assert_rejected(
        &mut r,
        &c,
        with_payload("system.intruder.health", "{}").as_bytes(),
        Reason::UnknownWorker,
    );
    assert_rejected(
        &mut r,
        &c,
        with_payload("system.api.health", "[1]").as_bytes(),
        Reason::BadPayload,
    );
    assert_rejected(
        &mut r,
        &c,
        with_payload("system.api.health", r#"{"ts":"abc"}"#).as_bytes(),
        Reason::BadTs,
    );
    assert_rejected(
        &mut r,
        &c,
        br#"{"topic":"system.api.health","payload":{},"retained":true,"age":-1}"#,
        Reason::BadAge,
    );
    // Two failures: the earlier rule names the reason.
    assert_rejected(
        &mut r,
        &c,
        br#"{"v":3,"topic":"system.intruder.health","payload":[]}"#,
        Reason::UnsupportedVersion,
    );
    assert_rejected(
        &mut r,
        &c,
        br#"{"topic":"system.intruder.health","payload":[]}"#,
        Reason::UnknownWorker,
    );
    assert_rejected(
        &mut r,
        &c,
        br#"{"topic":"system.api.health","payload":{"ts":"x"},"retained":true,"age":"y"}"#,
        Reason::BadTs,
    );
    assert_eq!(r.stats().accepted, 1);
    assert_eq!(r.stats().rejected.iter().sum::<u64>(), 17);
}

#[test]
fn version_one_may_be_absent_or_written_as_a_float() {
    let c = clock();
    let mut r = reg();
    for f in [
        r#"{"topic":"system.api.health"}"#,
        r#"{"v":1.0,"topic":"system.api.health"}"#,
        r#"{"v":1e0,"topic":"system.api.health"}"#,
    ] {
        assert_eq!(r.ingest(f.as_bytes(), &c), Outcome::Recorded(0), "{f}");
    }
}

#[test]
fn other_topic_shapes_are_ignored_not_rejected() {
    let c = clock();
    let mut r = reg();
    for topic in [
        "system.health",
        "system.api.health.extra",
        "system..health",
        "System.api.health",
        "system.api.Health",
        "attacker.observed",
        "system.api.metrics",
        "",
        "system.api.health ",
        " system.api.health",
    ] {
        let f = with_payload(topic, r#"{"worker":"api","ts":"abc"}"#);
        assert_eq!(r.ingest(f.as_bytes(), &c), Outcome::Ignored, "{topic:?}");
    }
    assert_eq!(r.stats().ignored, 10);
    assert_eq!(r.stats().rejected.iter().sum::<u64>(), 0);
    assert!(rows(&r, &c).iter().all(|row| row.status == Status::Unknown));
}

#[test]
fn the_topic_decides_first_and_the_rest_of_another_topic_is_not_read() {
    let c = clock();
    let mut r = reg();
    // Once the topic is known not to be a health topic, the frame is not
    // the registry's to judge: what follows it is not read.
    for f in [
        &br#"{"v":1,"topic":"attacker.observed","payload":{"broken"#[..],
        br#"{"topic":"attacker.observed","v":2}"#,
        br#"{"topic":"attacker.observed","topic":"system.api.health"}"#,
        b"{\"topic\":\"attacker.observed\",\"x\":\"\xff\"}",
    ] {
        assert_eq!(
            r.ingest(f, &c),
            Outcome::Ignored,
            "{:?}",
            String::from_utf8_lossy(f)
        );
    }
    // Keys before the topic still count.
    assert_eq!(
        r.ingest(br#"{"v":2,"topic":"attacker.observed"}"#, &c),
        Outcome::Rejected(Reason::UnsupportedVersion)
    );
    assert_eq!(
        r.ingest(br#"{"op":"pong","topic":"attacker.observed"}"#, &c),
        Outcome::Control
    );
    // A topic after the payload: the payload was read, and must be JSON.
    assert_eq!(
        r.ingest(br#"{"payload":{"a":tru},"topic":"attacker.observed"}"#, &c),
        Outcome::Rejected(Reason::NotJson)
    );
    // A health topic is read to the end, every rule applied.
    assert_eq!(
        r.ingest(br#"{"topic":"system.api.health","payload":{"broken"#, &c),
        Outcome::Rejected(Reason::NotJson)
    );
    assert_eq!(
        r.ingest(br#"{"topic":"system.api.health","v":2}"#, &c),
        Outcome::Rejected(Reason::UnsupportedVersion)
    );
    assert_eq!(
        r.ingest(
            br#"{"topic":"system.api.health","topic":"attacker.observed"}"#,
            &c
        ),
        Outcome::Rejected(Reason::BadTopic)
    );
    assert_eq!(r.stats().ignored, 4);
}

#[test]
fn the_bus_beats_on_its_own_topic() {
    let c = clock();
    let mut r = reg();
    assert_eq!(
        r.ingest(beat("bus", T0).as_bytes(), &c),
        Outcome::Recorded(1)
    );
    assert_eq!(row_of(&r, "bus", &c).status, Status::Ok);
}

#[test]
fn look_alike_names_are_unknown_workers() {
    let c = clock();
    let mut r = reg();
    // Cyrillic "а" (U+0430) and "р" (U+0440) look like Latin "a" and "p".
    for topic in [
        "system.\u{0430}pi.health",
        "system.\u{0440}rober.health",
        "system.Api.health",
        "system.api .health",
        "system.api\u{a0}.health",
        "system.*.health",
        "system.>.health",
    ] {
        let f = with_payload(topic, r#"{"worker":"api"}"#);
        assert_eq!(
            r.ingest(f.as_bytes(), &c),
            Outcome::Rejected(Reason::UnknownWorker),
            "{topic:?}"
        );
    }
    assert_eq!(row_of(&r, "api", &c).status, Status::Unknown);
}

#[test]
fn the_name_comes_from_the_topic_never_the_payload() {
    let c = clock();
    let mut r = reg();
    let f = with_payload("system.api.health", r#"{"worker":"updater","ts":1.5}"#);
    assert_eq!(r.ingest(f.as_bytes(), &c), Outcome::Recorded(0));
    assert_eq!(row_of(&r, "api", &c).status, Status::Ok);
    assert_eq!(row_of(&r, "updater", &c).status, Status::Unknown);
    // And a payload claiming an allowlisted name does not admit a rogue topic.
    let f = with_payload("system.intruder.health", r#"{"worker":"api"}"#);
    assert_eq!(
        r.ingest(f.as_bytes(), &c),
        Outcome::Rejected(Reason::UnknownWorker)
    );
}

#[test]
fn escaped_keys_and_topics_mean_what_they_decode_to() {
    let c = clock();
    let mut r = reg();
    let f = br#"{"\u0074opic":"system.\u0061pi.health","payload":{"w\u006frker":"api","\u0074s":7.5,"k":1}}"#;
    assert_eq!(r.ingest(f, &c), Outcome::Recorded(0));
    assert_eq!(row_of(&r, "api", &c).last_heartbeat_ts, Some(7.5));
    assert_eq!(extra_of(&r, "api"), serde_json::json!({"k":1}));
}

#[test]
fn payload_may_be_absent_or_null_but_not_another_type() {
    let c = clock();
    let mut r = reg();
    for f in [
        r#"{"topic":"system.api.health"}"#,
        r#"{"topic":"system.api.health","payload":null}"#,
    ] {
        c.advance(1.0);
        assert!(
            matches!(r.ingest(f.as_bytes(), &c), Outcome::Recorded(0)),
            "{f}"
        );
        let row = row_of(&r, "api", &c);
        // No payload.ts: the wall clock at arrival, in seconds.
        assert_eq!(row.last_heartbeat_ts, Some(c.now().wall_ms / 1000.0));
        assert_eq!(extra_of(&r, "api"), serde_json::json!({}));
    }
    for p in ["[]", "[{\"ts\":1}]", "\"up\"", "42", "true"] {
        let f = with_payload("system.api.health", p);
        assert_rejected(&mut r, &c, f.as_bytes(), Reason::BadPayload);
    }
}

#[test]
fn ts_must_be_a_finite_number_or_a_numeric_string() {
    let c = clock();
    let mut r = reg();
    let ok = [
        ("absent", r#"{"worker":"api"}"#, T0),
        ("int", r#"{"ts":1764190000}"#, 1764190000.0),
        ("float", r#"{"ts":1764190000.25}"#, 1764190000.25),
        ("numeric string", r#"{"ts":"1764190000.5"}"#, 1764190000.5),
        ("exponent", r#"{"ts":1.7641900005e9}"#, 1764190000.5),
        ("negative", r#"{"ts":-1}"#, -1.0),
    ];
    for (what, p, want) in ok {
        let f = with_payload("system.api.health", p);
        assert_eq!(r.ingest(f.as_bytes(), &c), Outcome::Recorded(0), "{what}");
        assert_eq!(
            row_of(&r, "api", &c).last_heartbeat_ts,
            Some(want),
            "{what}"
        );
    }
    for p in [
        r#"{"ts":"abc"}"#,
        r#"{"ts":"NaN"}"#,
        r#"{"ts":"Infinity"}"#,
        r#"{"ts":"-Infinity"}"#,
        r#"{"ts":"inf"}"#,
        r#"{"ts":true}"#,
        r#"{"ts":null}"#,
        r#"{"ts":[1]}"#,
        r#"{"ts":{"s":1}}"#,
        r#"{"ts":1e999}"#,
        r#"{"ts":"1e999"}"#,
        r#"{"ts":""}"#,
    ] {
        let f = with_payload("system.api.health", p);
        assert_rejected(&mut r, &c, f.as_bytes(), Reason::BadTs);
    }
    // The row still holds the last good beat.
    assert_eq!(row_of(&r, "api", &c).last_heartbeat_ts, Some(-1.0));
}

#[test]
fn ts_is_informational_liveness_is_measured_from_arrival() {
    let c = clock();
    let mut r = reg();
    // A worker whose clock is an hour behind is still ok on arrival.
    let f = beat("api", T0 - 3600.0);
    r.ingest(f.as_bytes(), &c);
    let row = row_of(&r, "api", &c);
    assert_eq!(row.status, Status::Ok);
    assert_eq!(row.seconds_since, Some(0.0));
    assert_eq!(row.last_heartbeat_ts, Some(T0 - 3600.0));
}

#[test]
fn the_window_boundary_is_stale() {
    let c = clock();
    let mut r = reg();
    r.ingest(beat("api", T0).as_bytes(), &c);
    c.advance(89.999);
    assert_eq!(row_of(&r, "api", &c).status, Status::Ok);
    c.advance(0.001);
    let row = row_of(&r, "api", &c);
    assert!((row.seconds_since.unwrap() - 90.0).abs() < 1e-9);
    // Exactly 90 s: compute on whole milliseconds to make it exact.
    let c = clock();
    let mut r = reg();
    r.ingest(beat("api", T0).as_bytes(), &c);
    c.shift(90.0, 90.0);
    let row = row_of(&r, "api", &c);
    assert_eq!(row.seconds_since, Some(90.0));
    assert_eq!(row.status, Status::Stale);
}

#[test]
fn wall_clock_set_back_does_not_make_rows_younger_or_negative() {
    let c = clock();
    let mut r = reg();
    r.ingest(beat("api", T0).as_bytes(), &c);
    c.shift(30.0, -3600.0);
    let row = row_of(&r, "api", &c);
    assert_eq!(
        row.seconds_since,
        Some(30.0),
        "the monotonic clock still counts"
    );
    assert_eq!(row.status, Status::Ok);
    // Both clocks set back (a custom clock gone wrong): never negative.
    let c = clock();
    let mut r = reg();
    r.ingest(beat("api", T0).as_bytes(), &c);
    c.shift(-10.0, -10.0);
    assert_eq!(row_of(&r, "api", &c).seconds_since, Some(0.0));
}

#[test]
fn wall_clock_jumping_forward_errs_towards_stale() {
    let c = clock();
    let mut r = reg();
    r.ingest(beat("api", T0).as_bytes(), &c);
    c.shift(1.0, 120.0);
    let row = row_of(&r, "api", &c);
    assert_eq!(row.seconds_since, Some(120.0));
    assert_eq!(row.status, Status::Stale);
}

#[test]
fn a_sleeping_laptop_stops_the_monotonic_clock_but_not_the_wall_clock() {
    let c = clock();
    let mut r = reg();
    r.ingest(beat("api", T0).as_bytes(), &c);
    c.shift(0.0, 600.0);
    let row = row_of(&r, "api", &c);
    assert_eq!(row.seconds_since, Some(600.0));
    assert_eq!(row.status, Status::Stale);
}

#[test]
fn an_older_beat_is_superseded() {
    let c = clock();
    let mut r = reg();
    r.ingest(beat("api", T0).as_bytes(), &c);
    c.advance(10.0);
    // A retained copy emitted 60 s ago is older than the live beat held
    // (10 s old): it must not make the worker look staler.
    let old = r#"{"v":1,"topic":"system.api.health","payload":{"ts":1.0,"old":true},"retained":true,"age":60}"#;
    assert_eq!(r.ingest(old.as_bytes(), &c), Outcome::Superseded);
    assert_eq!(r.stats().superseded, 1);
    let row = row_of(&r, "api", &c);
    assert_eq!(row.seconds_since, Some(10.0));
    assert_eq!(row.last_heartbeat_ts, Some(T0));
    assert_eq!(extra_of(&r, "api"), serde_json::json!({"pid":42}));
    // A retained beat younger than the held one replaces it.
    let newer =
        r#"{"v":1,"topic":"system.api.health","payload":{"ts":2.0},"retained":true,"age":4.5}"#;
    assert_eq!(r.ingest(newer.as_bytes(), &c), Outcome::Recorded(0));
    assert_eq!(row_of(&r, "api", &c).seconds_since, Some(4.5));
    // A live beat (age 0) always replaces, whatever its payload ts says.
    let live = beat("api", 3.0);
    assert_eq!(r.ingest(live.as_bytes(), &c), Outcome::Recorded(0));
    assert_eq!(row_of(&r, "api", &c).last_heartbeat_ts, Some(3.0));
}

#[test]
fn retained_beats_arrive_already_aged() {
    let c = clock();
    let mut r = reg();
    let f = r#"{"v":1,"topic":"system.collector.health","payload":{"ts":1.0},"retained":true,"age":12.25}"#;
    assert_eq!(r.ingest(f.as_bytes(), &c), Outcome::Recorded(2));
    assert_eq!(row_of(&r, "collector", &c).seconds_since, Some(12.25));
    c.advance(77.0);
    assert_eq!(row_of(&r, "collector", &c).status, Status::Ok);
    c.advance(1.0);
    assert_eq!(row_of(&r, "collector", &c).status, Status::Stale);
    // One replayed after the window is stale at once (but recorded).
    let f = r#"{"v":1,"topic":"system.sniffer.health","payload":{},"retained":true,"age":300}"#;
    assert_eq!(r.ingest(f.as_bytes(), &c), Outcome::Recorded(4));
    assert_eq!(row_of(&r, "sniffer", &c).status, Status::Stale);
}

#[test]
fn age_is_read_only_on_retained_frames() {
    let c = clock();
    let mut r = reg();
    for f in [
        r#"{"topic":"system.api.health","age":"junk"}"#,
        r#"{"topic":"system.api.health","age":500,"retained":false}"#,
        r#"{"topic":"system.api.health","age":500,"retained":"true"}"#,
    ] {
        assert_eq!(r.ingest(f.as_bytes(), &c), Outcome::Recorded(0), "{f}");
        assert_eq!(row_of(&r, "api", &c).seconds_since, Some(0.0), "{f}");
    }
    for f in [
        r#"{"topic":"system.api.health","retained":true}"#,
        r#"{"topic":"system.api.health","retained":true,"age":null}"#,
        r#"{"topic":"system.api.health","retained":true,"age":"5"}"#,
        r#"{"topic":"system.api.health","retained":true,"age":-0.5}"#,
        r#"{"topic":"system.api.health","retained":true,"age":1e999}"#,
    ] {
        assert_rejected(&mut r, &c, f.as_bytes(), Reason::BadAge);
    }
}

#[test]
fn control_frames_are_not_events_and_not_counted() {
    let c = clock();
    let mut r = reg();
    for f in [r#"{"op":"pong"}"#, r#"{"op":"error","message":"nope"}"#] {
        assert_eq!(r.ingest(f.as_bytes(), &c), Outcome::Control);
    }
    assert_eq!(r.stats(), &Stats::default());
}

#[test]
fn duplicate_keys_are_ambiguous_and_refused() {
    let c = clock();
    let mut r = reg();
    r.ingest(beat("api", T0).as_bytes(), &c);
    let cases: [(&str, Reason); 6] = [
        (
            r#"{"topic":"system.intruder.health","topic":"system.api.health"}"#,
            Reason::BadTopic,
        ),
        (
            r#"{"v":1,"v":2,"topic":"system.api.health"}"#,
            Reason::UnsupportedVersion,
        ),
        (
            r#"{"topic":"system.api.health","payload":{},"payload":{}}"#,
            Reason::BadPayload,
        ),
        (
            r#"{"topic":"system.api.health","payload":{"ts":1,"ts":"abc"}}"#,
            Reason::BadPayload,
        ),
        (
            r#"{"topic":"system.api.health","payload":{"pid":1,"p\u0069d":2}}"#,
            Reason::BadPayload,
        ),
        (
            r#"{"topic":"system.api.health","payload":{},"retained":true,"retained":true,"age":1}"#,
            Reason::BadAge,
        ),
    ];
    for (f, reason) in cases {
        assert_rejected(&mut r, &c, f.as_bytes(), reason);
    }
    // Many keys take the sorting path.
    let mut p = String::from("{");
    for i in 0..40 {
        p.push_str(&format!("\"k{i}\":{i},"));
    }
    p.push_str("\"k7\":0}");
    let f = with_payload("system.api.health", &p);
    assert_rejected(&mut r, &c, f.as_bytes(), Reason::BadPayload);
}

#[test]
fn hostile_frames_are_refused_without_harm() {
    let c = clock();
    let mut r = reg();
    r.ingest(beat("api", T0).as_bytes(), &c);
    let ten_mb = format!(
        r#"{{"topic":"system.api.health","pad":"{}"}}"#,
        "a".repeat(10 << 20)
    );
    assert_rejected(&mut r, &c, ten_mb.as_bytes(), Reason::TooLarge);
    assert_rejected(
        &mut r,
        &c,
        b"{\"topic\":\"system.api.health\",\"x\":\"\xff\xfe\"}",
        Reason::NotJson,
    );
    assert_rejected(&mut r, &c, b"\xc3\x28", Reason::NotJson);
    let deep = format!(
        r#"{{"topic":"system.api.health","payload":{{"x":{}1{}}}}}"#,
        "[".repeat(5000),
        "]".repeat(5000)
    );
    assert_rejected(&mut r, &c, deep.as_bytes(), Reason::NotJson);
    let deep_obj = "{\"a\":".repeat(5000) + "1" + &"}".repeat(5000);
    assert_rejected(&mut r, &c, deep_obj.as_bytes(), Reason::NotJson);
    assert_rejected(&mut r, &c, b"", Reason::NotJson);
    assert_rejected(&mut r, &c, b"\x00", Reason::NotJson);
    // A huge number in an extra is JSON, and harmless: it becomes Infinity in JS.
    let f = with_payload("system.api.health", r#"{"load":1e999}"#);
    assert_eq!(r.ingest(f.as_bytes(), &c), Outcome::Recorded(0));
}

#[test]
fn the_frame_limit_is_configurable_and_counts_bytes() {
    let c = clock();
    let mut r = Registry::new(Config {
        max_frame_bytes: 64,
        ..Config::default()
    })
    .unwrap();
    let f = r#"{"topic":"system.api.health","payload":{"x":"éééééééééééé"}}"#;
    assert!(f.chars().count() <= 64 && f.len() > 64);
    assert_rejected(&mut r, &c, f.as_bytes(), Reason::TooLarge);
    let small = r#"{"topic":"system.api.health"}"#;
    assert_eq!(r.ingest(small.as_bytes(), &c), Outcome::Recorded(0));
}

#[test]
fn nats_messages_take_the_subject_as_the_topic() {
    let c = clock();
    let mut r = reg();
    // A bare heartbeat payload, as `nats pub` from a shell sends.
    let o = r.ingest_nats(
        b"system.api.health",
        br#"{"worker":"api","ts":1764190000.5,"q":3}"#,
        &c,
    );
    assert_eq!(o, Outcome::Recorded(0));
    assert_eq!(row_of(&r, "api", &c).last_heartbeat_ts, Some(1764190000.5));
    assert_eq!(extra_of(&r, "api"), serde_json::json!({"q":3}));
    // An envelope: the body's own topic is not trusted.
    let o = r.ingest_nats(
        b"system.bus.health",
        br#"{"v":1,"topic":"system.intruder.health","payload":{"ts":2.5}}"#,
        &c,
    );
    assert_eq!(o, Outcome::Recorded(1));
    assert_eq!(
        r.ingest_nats(b"attacker.observed", b"not even json", &c),
        Outcome::Ignored
    );
    assert_eq!(
        r.ingest_nats(b"system.intruder.health", b"{}", &c),
        Outcome::Rejected(Reason::UnknownWorker)
    );
    assert_eq!(
        r.ingest_nats(b"system.api.health", b"{\"ts\":\"abc\"}", &c),
        Outcome::Rejected(Reason::BadTs)
    );
    assert_eq!(
        r.ingest_nats(b"system.api.health", br#"{"v":2,"payload":{}}"#, &c),
        Outcome::Rejected(Reason::UnsupportedVersion)
    );
    assert_eq!(
        r.ingest_nats(b"system.api.health", b"[]", &c),
        Outcome::Rejected(Reason::NotObject)
    );
}

/// Item 5 of the shell issue: NATS and gateway frames were judged
/// differently. `"payload": null` was `bad_payload` on NATS only, and NATS
/// decided `unknown_worker` before `not_json`.
#[test]
fn nats_and_gateway_frames_get_the_same_verdict() {
    let c = clock();
    let cases: [(&str, &str, &str); 6] = [
        ("api", r#"{"v":1,"payload":null}"#, "recorded"),
        ("intruder", "not json", "not_json"),
        ("intruder", "[1]", "not_object"),
        ("intruder", r#"{"v":2,"payload":{}}"#, "unsupported_version"),
        ("intruder", r#"{"payload":{}}"#, "unknown_worker"),
        ("api", r#"{"payload":7}"#, "bad_payload"),
    ];
    for (worker, body, want) in cases {
        let topic = format!("system.{worker}.health");
        // The same event as a gateway frame: the envelope's members with the
        // topic first.
        let gateway = if body.starts_with('{') && body.len() > 2 {
            format!(r#"{{"topic":"{topic}",{}"#, &body[1..])
        } else {
            format!(r#"{{"topic":"{topic}","payload":{body}}}"#)
        };
        let verdict = |o: Outcome| match o {
            Outcome::Recorded(_) => "recorded",
            Outcome::Rejected(r) => r.as_str(),
            _ => "other",
        };
        let mut on_nats = reg();
        let got = verdict(on_nats.ingest_nats(topic.as_bytes(), body.as_bytes(), &c));
        assert_eq!(got, want, "nats: {body}");
        if body.starts_with('{') {
            let mut on_gateway = reg();
            let got = verdict(on_gateway.ingest(gateway.as_bytes(), &c));
            assert_eq!(got, want, "gateway: {gateway}");
        }
    }
}

/// Item 6 of the shell issue: a string may be judged without its bytes being
/// measured only when it cannot exceed `maxFrameBytes` as UTF-8.
#[test]
fn a_string_short_enough_to_probe_always_fits_as_utf8() {
    for max in [1usize, 2, 3, 100, 1365, 65_536] {
        let units = crate::session::probe_units(max);
        // The worst case: every UTF-16 unit a lone surrogate or a
        // three-byte character.
        let worst = units * 3;
        assert!(worst <= max, "{units} units could be {worst} bytes > {max}");
        let s: String = std::iter::repeat_n('\u{20ac}', units).collect();
        assert!(s.len() <= max);
    }
    // The string from the report: 40,036 units, 80,036 bytes.
    assert!(40_036 > crate::session::probe_units(65_536));
}

/// Found by `fuzz/` (target `frame`): in a NATS body, a `topic` that is not a
/// health topic stopped the read, so everything after it skipped the rules
/// (a body that is not JSON, a second `payload`, `v`, a bad `age`) and the
/// beat was recorded. The subject decides; the body is read to the end.
#[test]
fn a_topic_inside_a_nats_body_does_not_stop_the_rules() {
    let c = clock();
    let mut r = reg();
    let before = rows(&r, &c);
    for (body, reason) in [
        (
            &br#"{"v":1,"payload":2,"topic":"x.y"} trailing"#[..],
            Reason::NotJson,
        ),
        (
            br#"{"payload":{"ts":1},"topic":"x.y", garbage"#,
            Reason::NotJson,
        ),
        (
            br#"{"payload":{"ts":1},"topic":"x.y","payload":7}"#,
            Reason::BadPayload,
        ),
        (
            br#"{"payload":{"ts":1},"topic":"x.y","v":2}"#,
            Reason::UnsupportedVersion,
        ),
        (
            br#"{"payload":{"ts":1},"topic":"x.y","retained":true,"age":-5}"#,
            Reason::BadAge,
        ),
    ] {
        assert_eq!(
            r.ingest_nats(b"system.api.health", body, &c),
            Outcome::Rejected(reason),
            "{}",
            String::from_utf8_lossy(body)
        );
    }
    assert_eq!(rows(&r, &c), before, "no row changed");
    // A valid body with such a topic is still a beat for the subject's worker.
    assert_eq!(
        r.ingest_nats(
            b"system.api.health",
            br#"{"payload":{"ts":1},"topic":"x.y","v":1}"#,
            &c
        ),
        Outcome::Recorded(0)
    );
}

#[test]
fn record_applies_the_allowlist_and_payload_rules() {
    let c = clock();
    let mut r = reg();
    assert_eq!(
        r.record("api", Some(12.5), br#"{"worker":"api","ts":1,"pid":7}"#, &c),
        Outcome::Recorded(0)
    );
    assert_eq!(row_of(&r, "api", &c).last_heartbeat_ts, Some(12.5));
    assert_eq!(extra_of(&r, "api"), serde_json::json!({"pid":7}));
    assert_eq!(
        r.record("bus", None, br#"{"ts":"99"}"#, &c),
        Outcome::Recorded(1)
    );
    assert_eq!(row_of(&r, "bus", &c).last_heartbeat_ts, Some(99.0));
    assert_eq!(
        r.record("intruder", None, b"{}", &c),
        Outcome::Rejected(Reason::UnknownWorker)
    );
    assert_eq!(
        r.record("api", Some(f64::NAN), b"{}", &c),
        Outcome::Rejected(Reason::BadTs)
    );
    assert_eq!(
        r.record("api", None, b"[1]", &c),
        Outcome::Rejected(Reason::BadPayload)
    );
    assert_eq!(r.stats().accepted, 2);
}

#[test]
fn status_expiry_is_one_deadline_not_a_poll() {
    let c = clock();
    let mut r = reg();
    assert_eq!(r.next_expiry_ms(c.now()), None);
    r.ingest(beat("api", T0).as_bytes(), &c);
    c.advance(30.0);
    r.ingest(beat("bus", T0).as_bytes(), &c);
    assert_eq!(r.next_expiry_ms(c.now()), Some(60_000.0));
    c.advance(59.0);
    assert!(!r.expire(c.now()).any());
    c.advance(1.0);
    assert!(r.expire(c.now()).stale, "api turned stale");
    assert!(!r.expire(c.now()).any(), "reported once");
    assert_eq!(r.next_expiry_ms(c.now()), Some(30_000.0));
    c.advance(30.0);
    assert!(r.expire(c.now()).stale);
    assert_eq!(r.next_expiry_ms(c.now()), None);
}

#[test]
fn config_errors_name_the_option_and_rule() {
    let bad = |names: &[&str]| {
        Registry::new(Config {
            known_workers: names.iter().map(|s| s.to_string()).collect(),
            ..Config::default()
        })
        .err()
        .map(|e| (e.message(), e.name().map(str::to_string)))
    };
    assert_eq!(
        bad(&[]).unwrap().0,
        "knownWorkers must name at least one worker"
    );
    assert_eq!(
        bad(&["api", ""]).unwrap(),
        ("knownWorkers[1] must not be empty".into(), Some("".into()))
    );
    assert_eq!(
        bad(&["a.b"]).unwrap().0,
        "knownWorkers[0] must not contain '.', '*', '>' or whitespace"
    );
    assert_eq!(
        bad(&["ok", "a b"]).unwrap().0,
        "knownWorkers[1] must not contain '.', '*', '>' or whitespace"
    );
    assert_eq!(
        bad(&[&"x".repeat(65)]).unwrap().0,
        "knownWorkers[0] must be at most 64 bytes"
    );
    assert_eq!(
        bad(&["api", "bus", "api"]).unwrap(),
        (
            "knownWorkers[2] repeats an earlier name".into(),
            Some("api".into())
        )
    );
    assert_eq!(bad(&["api", "Api"]), None, "names are case-sensitive");
}
