//! `history(name)`, the history options, and `onChange("late")` from the
//! status timer, as JS sees them.

use super::*;

fn history(reg: &JsValue, name: &JsValue) -> JsValue {
    m(reg, "history", std::slice::from_ref(name))
}

fn json(v: &JsValue) -> String {
    JSON::stringify(v).unwrap().as_string().unwrap()
}

fn frame(worker: &str, ts: f64) -> String {
    format!(
        r#"{{"v":1,"id":"ab12","topic":"system.{worker}.health","type":"health","ts":{ts},"payload":{{"worker":"{worker}","ts":{ts}}}}}"#
    )
}

#[wasm_bindgen_test]
fn history_is_a_plain_object_of_beats_cadence_and_lateness() {
    js("globalThis.__hclock = { mono: 1000, wall: 1764190000000 }");
    let reg = registry(
        "{clock: { monoMs: () => globalThis.__hclock.mono, wallMs: () => globalThis.__hclock.wall }}",
    );
    let never = history(&reg, &"updater".into());
    assert_eq!(
        json(&never),
        r#"{"name":"updater","beats":[],"cadence_s":null,"late":false}"#
    );
    for (i, gap) in [0.0, 30.0, 30.0, 30.0].iter().enumerate() {
        js(&format!(
            "globalThis.__hclock.mono += {ms}, globalThis.__hclock.wall += {ms}",
            ms = gap * 1000.0
        ));
        assert!(ingest(&reg, &frame("api", 1000.0 + i as f64)));
    }
    js("globalThis.__hclock.mono += 5000, globalThis.__hclock.wall += 5000");
    let h = history(&reg, &"api".into());
    assert_eq!(
        json(&h),
        r#"{"name":"api","beats":[5,35,65,95],"cadence_s":30,"late":false}"#
    );
    assert!(proto_is_object(&h) && Array::is_array(&get(&h, "beats")));
    // Silent for more than 2 x 30 s: late, and still ok.
    js("globalThis.__hclock.mono += 56000, globalThis.__hclock.wall += 56000");
    assert_eq!(get(&history(&reg, &"api".into()), "late"), JsValue::TRUE);
    assert_eq!(status_of(&reg, "api"), "ok");
    // A new array every call: a caller may keep or change one.
    let a = get(&history(&reg, &"api".into()), "beats");
    let b = get(&history(&reg, &"api".into()), "beats");
    assert!(!Object::is(&a, &b));
    // Not on the allowlist, or not a name at all: null.
    for name in [
        JsValue::from("intruder"),
        JsValue::from("API"),
        JsValue::from(42),
        JsValue::NULL,
        JsValue::UNDEFINED,
    ] {
        assert!(history(&reg, &name).is_null(), "{name:?}");
    }
}

#[wasm_bindgen_test]
fn history_options_are_checked_and_readable() {
    let reg = registry("{}");
    assert_eq!(get_prop(&reg, "historyLength").as_f64(), Some(30.0));
    assert_eq!(get_prop(&reg, "lateFactor").as_f64(), Some(2.0));
    let custom = registry("{historyLength: 3, lateFactor: 1.5}");
    assert_eq!(get_prop(&custom, "historyLength").as_f64(), Some(3.0));
    assert_eq!(get_prop(&custom, "lateFactor").as_f64(), Some(1.5));
    for ts in 0..10 {
        ingest(&custom, &frame("api", f64::from(ts)));
    }
    let beats: Array = get(&history(&custom, &"api".into()), "beats").unchecked_into();
    assert_eq!(beats.length(), 3, "at most historyLength beats");

    let range = "WorkerRegistry: historyLength must be a whole number from 1 to 1000";
    for (options, got) in [
        ("{historyLength: 0}", "0"),
        ("{historyLength: 1001}", "1001"),
        ("{historyLength: 2.5}", "2.5"),
        ("{historyLength: NaN}", "NaN"),
    ] {
        assert_eq!(
            error_of(options),
            ("RangeError".into(), format!("{range} (got {got})"))
        );
    }
    assert_eq!(
        error_of(r#"{historyLength: "30"}"#),
        (
            "TypeError".into(),
            r#"WorkerRegistry: historyLength must be a number (got "30")"#.into()
        )
    );
    for (options, got) in [
        ("{lateFactor: 1}", "1"),
        ("{lateFactor: 0}", "0"),
        ("{lateFactor: Infinity}", "Infinity"),
    ] {
        assert_eq!(
            error_of(options),
            (
                "RangeError".into(),
                format!(
                    "WorkerRegistry: lateFactor must be a finite number greater than 1 (got {got})"
                )
            )
        );
    }
    assert_eq!(error_of("{lateFactor: null}").0, "TypeError");
}

#[wasm_bindgen_test]
async fn late_fires_once_from_the_status_timer_before_status() {
    let reg = registry("{okWindowSeconds: 1.5}");
    js("globalThis.__late = []");
    let listener: Function =
        js("(r) => globalThis.__late.push([r, performance.now()])").unchecked_into();
    m(&reg, "onChange", &[listener.into()]);
    for ts in 0..3 {
        if ts > 0 {
            sleep(100).await;
        }
        ingest(&reg, &frame("api", f64::from(ts)));
    }
    sleep(100).await;
    // Timers are counted page-wide and other tests run meanwhile: compare
    // around one synchronous call only.
    let timers = counts().1;
    ingest(&reg, &frame("api", 3.0));
    let last = js_sys::eval("performance.now()").unwrap().as_f64().unwrap();
    let cadence = get(&history(&reg, &"api".into()), "cadence_s")
        .as_f64()
        .unwrap();
    assert!((0.09..0.3).contains(&cadence), "cadence {cadence}");
    assert!(
        counts().1 <= timers,
        "the beat re-armed the one status timer, no new one"
    );
    sleep(1900).await;
    let events: Vec<(String, f64)> = Array::from(&js("globalThis.__late"))
        .iter()
        .map(|e| {
            let e = Array::from(&e);
            (
                e.get(0).as_string().unwrap(),
                e.get(1).as_f64().unwrap() - last,
            )
        })
        .filter(|(r, _)| r != "beat")
        .collect();
    let kinds: Vec<&str> = events.iter().map(|(r, _)| r.as_str()).collect();
    assert_eq!(kinds, ["late", "status"]);
    let late_at = events[0].1;
    assert!(
        late_at >= 2000.0 * cadence - 5.0 && late_at < 2000.0 * cadence + 250.0,
        "late {late_at} ms after the last beat, cadence {cadence} s"
    );
    assert!((1495.0..1800.0).contains(&events[1].1), "{events:?}");
}

/// Beats of an allowlisted worker, each entering its history, do not grow
/// wasm memory: the ring was allocated once. (A debug build here, so 200,000
/// beats in chunks; the benchmark feeds a million to the release build.)
#[wasm_bindgen_test]
async fn beats_do_not_grow_wasm_memory() {
    let reg = registry("{historyLength: 1000}");
    Reflect::set(&js("globalThis"), &"__big".into(), &reg).unwrap();
    js(&format!(
        "globalThis.__frames = [{:?}, {:?}]",
        frame("api", 1.0),
        frame("api", 2.0)
    ));
    // Warm up: fill the ring, let every buffer reach its size.
    js("for (let i = 0; i < 3000; i++) globalThis.__big.ingest(globalThis.__frames[i & 1])");
    let memory: js_sys::WebAssembly::Memory = wasm_bindgen::memory().unchecked_into();
    let bytes = || {
        memory
            .buffer()
            .unchecked_into::<js_sys::ArrayBuffer>()
            .byte_length()
    };
    let before = bytes();
    for _ in 0..10 {
        js("for (let i = 0; i < 20000; i++) globalThis.__big.ingest(globalThis.__frames[i & 1])");
        history(&reg, &"api".into());
        sleep(0).await;
    }
    assert_eq!(bytes(), before, "wasm memory grew");
    let stats = m(&reg, "stats", &[]);
    assert_eq!(get(&stats, "accepted").as_f64(), Some(203_000.0));
    let beats: Array = get(&history(&reg, &"api".into()), "beats").unchecked_into();
    assert_eq!(beats.length(), 1000);
    js("delete globalThis.__big");
}
