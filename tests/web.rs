//! The JS-facing contract in a real Chromium (`wasm-pack test --headless
//! --chrome`): what a dashboard sees when it calls the registry.
#![cfg(target_arch = "wasm32")]

use js_sys::{Array, Function, JsString, Object, Reflect, Uint8Array, JSON};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;
use worker_registry::{debug_counts, WorkerRegistry};

wasm_bindgen_test_configure!(run_in_browser);

#[path = "web/corpus.rs"]
mod corpus;
#[path = "web/history.rs"]
mod history;
#[path = "web/live.rs"]
mod live;

#[wasm_bindgen(inline_js = r#"
// Indirect eval: runs statements too, and gives the last one's value.
export function js(source) { return (0, eval)(source); }
export function call(reg, method, ...args) { return reg[method](...args); }
export function getProp(reg, name) { return reg[name]; }
export function tryConstruct(Ctor, options) {
  try { new Ctor(options); return null; } catch (e) { return e; }
}
export function ctor(reg) { return reg.constructor; }
export function deepFrozen(v) {
  if (v === null || typeof v !== "object") return true;
  if (!Object.isFrozen(v)) return false;
  return Object.keys(v).every((k) => deepFrozen(v[k]));
}
export function strictMutate(o) {
  "use strict";
  try { o.injected = 1; return false; } catch (e) { return e instanceof TypeError; }
}
export function hasOwn(o, k) { return Object.prototype.hasOwnProperty.call(o, k); }
export function protoIsObject(o) { return Object.getPrototypeOf(o) === Object.prototype; }
export function memoryBytes() { return globalThis.__wbg_memory ? globalThis.__wbg_memory.buffer.byteLength : -1; }
"#)]
extern "C" {
    pub fn js(source: &str) -> JsValue;
    #[wasm_bindgen(variadic)]
    pub fn call(reg: &JsValue, method: &str, args: &JsValue) -> JsValue;
    #[wasm_bindgen(js_name = getProp)]
    pub fn get_prop(reg: &JsValue, name: &str) -> JsValue;
    #[wasm_bindgen(js_name = tryConstruct)]
    fn try_construct(ctor: &JsValue, options: &JsValue) -> JsValue;
    fn ctor(reg: &JsValue) -> JsValue;
    #[wasm_bindgen(js_name = deepFrozen)]
    fn deep_frozen(v: &JsValue) -> bool;
    #[wasm_bindgen(js_name = strictMutate)]
    fn strict_mutate(o: &JsValue) -> bool;
    #[wasm_bindgen(js_name = hasOwn)]
    fn has_own(o: &JsValue, k: &str) -> bool;
    #[wasm_bindgen(js_name = protoIsObject)]
    fn proto_is_object(o: &JsValue) -> bool;
}

/// A registry as JS sees it (the generated class), with options from a JS
/// expression.
pub fn registry(options: &str) -> JsValue {
    let opts = js(&format!("({options})"));
    let reg = WorkerRegistry::new(Some(opts.unchecked_into())).expect("valid options");
    JsValue::from(reg)
}

pub fn m(reg: &JsValue, method: &str, args: &[JsValue]) -> JsValue {
    call(reg, method, &args.iter().collect::<Array>())
}

pub fn get(v: &JsValue, key: &str) -> JsValue {
    Reflect::get(v, &key.into()).unwrap()
}

pub fn snapshot(reg: &JsValue) -> Array {
    m(reg, "snapshot", &[]).unchecked_into()
}

pub fn row(reg: &JsValue, name: &str) -> JsValue {
    snapshot(reg)
        .iter()
        .find(|r| get(r, "name").as_string().as_deref() == Some(name))
        .expect("row present")
}

pub fn status_of(reg: &JsValue, name: &str) -> String {
    get(&row(reg, name), "status").as_string().unwrap()
}

pub fn beat(worker: &str, extra: &str) -> String {
    format!(
        r#"{{"v":1,"id":"ab12","topic":"system.{worker}.health","type":"health","ts":1764190000.5,"payload":{{"worker":"{worker}","ts":1764190000.5{extra}}}}}"#
    )
}

pub fn ingest(reg: &JsValue, frame: &str) -> bool {
    m(reg, "ingest", &[frame.into()]).as_bool().unwrap()
}

pub fn rejected(reg: &JsValue, reason: &str) -> f64 {
    get(&get(&m(reg, "stats", &[]), "rejected"), reason)
        .as_f64()
        .unwrap()
}

pub async fn sleep(ms: u32) {
    gloo_timers::future::TimeoutFuture::new(ms).await;
}

/// Frames copied into wasm memory so far, by every registry on the page.
pub fn copies() -> u32 {
    get(&debug_counts(), "copies").as_f64().unwrap() as u32
}

pub fn counts() -> (u32, u32) {
    let c = debug_counts();
    (
        get(&c, "sockets").as_f64().unwrap() as u32,
        get(&c, "timers").as_f64().unwrap() as u32,
    )
}

fn error_of(options: &str) -> (String, String) {
    let reg = registry("{}");
    let err = try_construct(&ctor(&reg), &js(&format!("({options})")));
    assert!(!err.is_null(), "{options} was accepted");
    let name = get(&err, "name").as_string().unwrap();
    let message = get(&err, "message").as_string().unwrap();
    assert!(
        err.is_instance_of::<js_sys::Error>(),
        "{options}: a real Error"
    );
    (name, message)
}

#[wasm_bindgen_test]
fn constructor_errors_name_the_option_and_rule() {
    let cases = [
        ("5", "TypeError", "WorkerRegistry options must be an object (got 5)"),
        ("[]", "TypeError", "options must be an object (got an array)"),
        ("{okWindow: 5}", "TypeError", "unknown WorkerRegistry option \"okWindow\"; the options are knownWorkers, okWindowSeconds, maxFrameBytes, clock, historyLength, lateFactor"),
        ("{knownWorkers: 'api'}", "TypeError", "knownWorkers must be an array of worker names (got \"api\")"),
        ("{knownWorkers: ['api', 7]}", "TypeError", "knownWorkers[1] must be a string (got 7)"),
        ("{knownWorkers: ['api', , 'bus']}", "TypeError", "knownWorkers[1] must be a string (got undefined)"),
        ("{okWindowSeconds: Infinity}", "RangeError", "okWindowSeconds must be a finite number greater than 0 (got Infinity)"),
        ("{okWindowSeconds: NaN}", "RangeError", "okWindowSeconds must be a finite number greater than 0 (got NaN)"),
        ("{knownWorkers: []}", "RangeError", "knownWorkers must name at least one worker"),
        ("{knownWorkers: ['api', '']}", "RangeError", "knownWorkers[1] must not be empty (got \"\")"),
        ("{knownWorkers: ['a.b']}", "RangeError", "knownWorkers[0] must not contain '.', '*', '>' or whitespace (got \"a.b\")"),
        ("{knownWorkers: ['x*']}", "RangeError", "must not contain '.', '*', '>' or whitespace"),
        ("{knownWorkers: ['has space']}", "RangeError", "must not contain '.', '*', '>' or whitespace"),
        ("{knownWorkers: ['x'.repeat(65)]}", "RangeError", "knownWorkers[0] must be at most 64 bytes"),
        ("{knownWorkers: ['api', 'bus', 'api']}", "RangeError", "knownWorkers[2] repeats an earlier name (got \"api\")"),
        ("{okWindowSeconds: -1}", "RangeError", "okWindowSeconds must be a finite number greater than 0 (got -1)"),
        ("{okWindowSeconds: 0}", "RangeError", "okWindowSeconds must be a finite number greater than 0"),
        ("{okWindowSeconds: NaN}", "RangeError", "(got NaN)"),
        ("{okWindowSeconds: Infinity}", "RangeError", "(got Infinity)"),
        ("{okWindowSeconds: '90'}", "TypeError", "okWindowSeconds must be a finite number greater than 0 (got \"90\")"),
        ("{maxFrameBytes: 0}", "RangeError", "maxFrameBytes must be a whole number of bytes from 1 to 16777216 (got 0)"),
        ("{maxFrameBytes: 1.5}", "RangeError", "maxFrameBytes must be a whole number"),
        ("{maxFrameBytes: 1e12}", "RangeError", "maxFrameBytes must be a whole number"),
        ("{clock: {}}", "TypeError", "clock must be an object with monoMs() and wallMs() methods"),
        ("{clock: {monoMs: 1, wallMs() { return 0; }}}", "TypeError", "clock must be an object"),
    ];
    for (options, name, needle) in cases {
        let (got_name, message) = error_of(options);
        assert_eq!(got_name, name, "{options}: {message}");
        assert!(message.starts_with("WorkerRegistry: "), "{message}");
        assert!(
            message.contains(needle),
            "{options}: {message:?} lacks {needle:?}"
        );
    }
}

#[wasm_bindgen_test]
fn defaults_and_getters() {
    let reg = JsValue::from(WorkerRegistry::new(None).unwrap());
    let names: Array = get_prop(&reg, "knownWorkers").unchecked_into();
    let names: Vec<String> = names.iter().map(|v| v.as_string().unwrap()).collect();
    assert_eq!(
        names,
        [
            "api",
            "bus",
            "collector",
            "profiler",
            "sniffer",
            "prober",
            "mutator",
            "agent",
            "forwarder",
            "updater"
        ]
    );
    assert_eq!(get_prop(&reg, "okWindowSeconds").as_f64(), Some(90.0));
    assert_eq!(get_prop(&reg, "maxFrameBytes").as_f64(), Some(65536.0));
    // The getter hands out a copy: changing it changes nothing.
    let copy: Array = get_prop(&reg, "knownWorkers").unchecked_into();
    copy.set(0, "intruder".into());
    assert_eq!(status_of(&reg, "api"), "unknown");
    let custom = registry("{knownWorkers: ['b', 'a'], okWindowSeconds: 5}");
    let rows = snapshot(&custom);
    assert_eq!(rows.length(), 2);
    assert_eq!(get(&rows.get(0), "name").as_string().as_deref(), Some("b"));
}

#[wasm_bindgen_test]
fn rows_are_plain_objects_with_null_not_undefined() {
    let reg = registry("{}");
    assert!(ingest(&reg, &beat("api", r#","pid":42"#)));
    let rows = snapshot(&reg);
    assert!(Array::is_array(&rows));
    assert_eq!(rows.length(), 10);
    for r in rows.iter() {
        assert!(
            proto_is_object(&r),
            "a plain object, not a class instance or Map"
        );
        let keys: Vec<String> = Object::keys(r.unchecked_ref::<Object>())
            .iter()
            .map(|k| k.as_string().unwrap())
            .collect();
        assert_eq!(
            keys,
            [
                "name",
                "status",
                "last_heartbeat_ts",
                "seconds_since",
                "extra"
            ]
        );
    }
    let api = rows.get(0);
    assert_eq!(get(&api, "status").as_string().as_deref(), Some("ok"));
    assert_eq!(get(&api, "last_heartbeat_ts").as_f64(), Some(1764190000.5));
    assert!(get(&api, "seconds_since").as_f64().unwrap() >= 0.0);
    assert_eq!(
        JSON::stringify(&get(&api, "extra")).unwrap(),
        r#"{"pid":42}"#
    );
    let unknown = rows.get(1);
    assert_eq!(
        get(&unknown, "status").as_string().as_deref(),
        Some("unknown")
    );
    assert!(get(&unknown, "last_heartbeat_ts").is_null());
    assert!(get(&unknown, "seconds_since").is_null());
    assert_eq!(JSON::stringify(&get(&unknown, "extra")).unwrap(), "{}");
    // The whole snapshot round-trips through JSON unchanged (no Maps, no
    // undefined).
    let text = JSON::stringify(&rows).unwrap();
    let back = JSON::parse(&String::from(text.clone())).unwrap();
    assert_eq!(JSON::stringify(&back).unwrap(), text);
}

#[wasm_bindgen_test]
fn extra_keeps_prototype_keys_as_own_properties() {
    let reg = registry("{}");
    let extra = r#","__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}},"prototype":1,"nested":{"__proto__":{"deep":true},"list":[{"__proto__":{"x":1}}]}"#;
    assert!(ingest(&reg, &beat("api", extra)));
    let e = get(&row(&reg, "api"), "extra");
    assert!(
        has_own(&e, "__proto__"),
        "__proto__ is a key, not the prototype"
    );
    assert!(proto_is_object(&e), "the prototype is untouched");
    assert!(has_own(&e, "constructor") && has_own(&e, "prototype"));
    assert!(get(&e, "polluted").is_undefined());
    assert_eq!(get(&get(&e, "__proto__"), "polluted").as_bool(), Some(true));
    let nested = get(&e, "nested");
    assert!(has_own(&nested, "__proto__") && proto_is_object(&nested));
    let inner = get(&get(&nested, "list"), "0");
    assert!(has_own(&inner, "__proto__") && proto_is_object(&inner));
    // And nothing leaked into Object.prototype.
    assert!(get(&Object::new(), "polluted").is_undefined());
    assert!(get(&Object::new(), "deep").is_undefined());
}

#[wasm_bindgen_test]
fn extra_is_deep_frozen() {
    let reg = registry("{}");
    ingest(
        &reg,
        &beat(
            "agent",
            r#","realism":{"llm_enabled":true,"models":["a",{"b":1}]}"#,
        ),
    );
    let e = get(&row(&reg, "agent"), "extra");
    assert!(deep_frozen(&e));
    assert!(
        strict_mutate(&e),
        "writing to a frozen extra throws in strict mode"
    );
    assert!(strict_mutate(&get(&e, "realism")));
    assert!(
        deep_frozen(&get(&row(&reg, "bus"), "extra")),
        "the empty extra too"
    );
}

#[wasm_bindgen_test]
fn every_snapshot_is_a_new_array_of_new_rows() {
    let reg = registry("{}");
    ingest(&reg, &beat("api", r#","pid":1"#));
    let a = snapshot(&reg);
    let b = snapshot(&reg);
    assert!(!Object::is(&a, &b));
    assert!(!Object::is(&a.get(0), &b.get(0)));
    // Mutating an old snapshot cannot reach a new one.
    Reflect::set(&a.get(0), &"status".into(), &"hacked".into()).unwrap();
    a.set(1, JsValue::NULL);
    let c = snapshot(&reg);
    assert_eq!(get(&c.get(0), "status").as_string().as_deref(), Some("ok"));
    assert!(!c.get(1).is_null());
    // `extra` is shared until the worker's next beat, then replaced.
    assert!(Object::is(
        &get(&b.get(0), "extra"),
        &get(&c.get(0), "extra")
    ));
    ingest(&reg, &beat("api", r#","pid":2"#));
    let d = snapshot(&reg);
    assert!(!Object::is(
        &get(&c.get(0), "extra"),
        &get(&d.get(0), "extra")
    ));
    assert_eq!(get(&get(&d.get(0), "extra"), "pid").as_f64(), Some(2.0));
    assert_eq!(
        get(&get(&c.get(0), "extra"), "pid").as_f64(),
        Some(1.0),
        "old snapshots keep theirs"
    );
}

#[wasm_bindgen_test]
fn string_bytes_and_buffers_are_ingested_alike() {
    let reg = registry("{}");
    assert!(ingest(&reg, &beat("api", "")));
    let bytes = Uint8Array::from(beat("bus", r#","n":"é""#).as_bytes());
    assert!(m(&reg, "ingest", &[bytes.clone().into()])
        .as_bool()
        .unwrap());
    assert_eq!(
        get(&get(&row(&reg, "bus"), "extra"), "n")
            .as_string()
            .as_deref(),
        Some("é")
    );
    assert!(
        m(&reg, "ingest", &[bytes.buffer().into()])
            .as_bool()
            .unwrap(),
        "an ArrayBuffer too"
    );
    let sub = Uint8Array::new_with_length(400);
    let b = beat("collector", "");
    sub.subarray(7, 7 + b.len() as u32).copy_from(b.as_bytes());
    assert!(
        m(
            &reg,
            "ingest",
            &[sub.subarray(7, 7 + b.len() as u32).into()]
        )
        .as_bool()
        .unwrap(),
        "a view into a larger buffer"
    );
    assert_eq!(status_of(&reg, "collector"), "ok");
    // Invalid UTF-8 in bytes is refused.
    let bad = Uint8Array::from(&b"{\"topic\":\"system.api.health\",\"x\":\"\xff\"}"[..]);
    assert!(!m(&reg, "ingest", &[bad.into()]).as_bool().unwrap());
    assert_eq!(rejected(&reg, "not_json"), 1.0);
    // Neither text nor bytes: counted, not thrown.
    assert!(!m(&reg, "ingest", &[JsValue::from(42)]).as_bool().unwrap());
    assert!(!m(&reg, "ingest", &[JsValue::UNDEFINED]).as_bool().unwrap());
    assert_eq!(rejected(&reg, "not_json"), 3.0);
}

#[wasm_bindgen_test]
fn strings_decided_from_the_topic_agree_with_the_bytes_path() {
    // Strings on another topic are judged in JS without being copied; bytes
    // always take the Rust path. Both must count every frame alike.
    let fixed = "{clock: {monoMs: () => 0, wallMs: () => 1764190000000}}";
    let as_text = registry(fixed);
    let as_bytes = registry(fixed);
    let frames: Array = js(r#"(() => {
      const heads = ['', '"v":1,', '"v":1.0,', '"v":2,', '"v":"1",', '"v":1,"v":1,', '"id":"ab12",', '"id":"a\\"b",',
        '"n":-1.5e3,', '"n":01,', '"n":1.,', '"b":true,', '"b":nul,', '"o":{},', '"a":[1],', '"op":"pong",',
        '"\\u0074opic":"system.api.health",', '"x":"\u0001",', ' "s" : "t" ,'];
      const topics = ['"attacker.observed"', '"system.api.health"', '"system.intruder.health"', '"system..health"',
        '"System.api.health"', '"system.api.health.x"', '"attack\\u0065r.observed"', '7', 'null', '"system.a.b.health"', '"x"'];
      const tails = ['', ',"payload":{"worker":"api","ts":1}', ',"payload":{"broken"', ',"v":2', ',"topic":"system.api.health"',
        ',"payload":[]', ',"op":"x"'];
      const out = [];
      for (const h of heads) for (const t of topics) for (const tail of tails) out.push('{' + h + '"topic":' + t + tail + '}');
      out.push('[]', '"x"', '', '  {"topic":"attacker.observed"}  ', '{"topic":"attacker.observed"} x', '{"topic" : "attacker.observed" , "v" : 1 }');
      return out;
    })()"#).unchecked_into();
    assert!(frames.length() > 1000);
    for f in frames.iter() {
        let bytes = Uint8Array::from(f.as_string().unwrap().as_bytes());
        let a = m(&as_text, "ingest", std::slice::from_ref(&f)).as_bool();
        let b = m(&as_bytes, "ingest", &[bytes.into()]).as_bool();
        let (sa, sb) = (
            JSON::stringify(&m(&as_text, "stats", &[])).unwrap(),
            JSON::stringify(&m(&as_bytes, "stats", &[])).unwrap(),
        );
        assert_eq!(
            (a, String::from(sa)),
            (b, String::from(sb)),
            "frame {:?}",
            f.as_string()
        );
    }
    let stats = m(&as_text, "stats", &[]);
    assert!(get(&stats, "ignored").as_f64().unwrap() > 300.0);
    assert!(get(&stats, "accepted").as_f64().unwrap() > 10.0);
    assert_eq!(
        JSON::stringify(&snapshot(&as_text)).unwrap(),
        JSON::stringify(&snapshot(&as_bytes)).unwrap()
    );
}

#[wasm_bindgen_test]
fn a_ten_megabyte_string_is_refused_before_it_is_copied() {
    let reg = registry("{}");
    ingest(&reg, &beat("api", ""));
    let copied_before = copies();
    let huge: JsString = js(
        r#""{\"topic\":\"system.api.health\",\"pad\":\"" + "x".repeat(10 * 1024 * 1024) + "\"}""#,
    )
    .unchecked_into();
    assert!(huge.length() > 10_000_000);
    assert!(!m(&reg, "ingest", &[huge.into()]).as_bool().unwrap());
    assert_eq!(rejected(&reg, "too_large"), 1.0);
    assert_eq!(
        copies(),
        copied_before,
        "the string was never copied into wasm memory"
    );
    let big_bytes = Uint8Array::new_with_length(10 << 20);
    assert!(!m(&reg, "ingest", &[big_bytes.into()]).as_bool().unwrap());
    assert_eq!(rejected(&reg, "too_large"), 2.0);
    assert_eq!(copies(), copied_before, "nor were the bytes");
    // The counter can move: a frame that is taken is copied once.
    ingest(&reg, &beat("bus", ""));
    assert_eq!(copies(), copied_before + 1);
    assert_eq!(status_of(&reg, "api"), "ok", "the row is untouched");
}

#[wasm_bindgen_test]
fn hostile_frames_never_throw_or_change_rows() {
    let reg = registry("{}");
    ingest(&reg, &beat("api", r#","pid":1"#));
    let before = JSON::stringify(&get(&row(&reg, "api"), "extra")).unwrap();
    let frames = [
        js(r#""[".repeat(5000) + "]".repeat(5000)"#),
        js(r#""{\"topic\":\"system.api.health\",\"payload\":" + "{\"a\":".repeat(5000) + "1" + "}".repeat(5001)"#),
        JsValue::from(r#"{"topic":"system.api.health","payload":{"ts":1e999}}"#),
        JsValue::from(r#"{"topic":"system.api.health","payload":{"ts":"abc"}}"#),
        JsValue::from(r#"{"topic":"system.api.health","payload":{"ts":"NaN"}}"#),
        JsValue::from("\u{feff}{}"),
        // A lone surrogate in a JS string becomes U+FFFD on the way in: a
        // valid beat, for another worker.
        js("'{\"topic\":\"system.bus.health\",\"payload\":{\"x\":\"' + String.fromCharCode(0xd800) + '\"}}'"),
    ];
    for f in frames.iter() {
        let _ = m(&reg, "ingest", std::slice::from_ref(f));
    }
    assert_eq!(
        JSON::stringify(&get(&row(&reg, "api"), "extra")).unwrap(),
        before
    );
    let s = m(&reg, "stats", &[]);
    assert_eq!(get(&s, "accepted").as_f64(), Some(2.0));
    assert_eq!(
        get(&get(&row(&reg, "bus"), "extra"), "x")
            .as_string()
            .as_deref(),
        Some("\u{fffd}")
    );
    assert_eq!(rejected(&reg, "bad_ts"), 3.0);
    assert_eq!(rejected(&reg, "not_json"), 3.0);
}

#[wasm_bindgen_test]
fn stats_name_every_reason() {
    let reg = registry("{}");
    ingest(&reg, r#"{"topic":"attacker.observed"}"#);
    ingest(&reg, r#"{"topic":"system.intruder.health"}"#);
    ingest(&reg, r#"{"op":"pong"}"#);
    let s = m(&reg, "stats", &[]);
    assert_eq!(get(&s, "ignored").as_f64(), Some(1.0));
    assert_eq!(get(&s, "accepted").as_f64(), Some(0.0));
    assert_eq!(get(&s, "superseded").as_f64(), Some(0.0));
    let r = get(&s, "rejected");
    let keys: Vec<String> = Object::keys(r.unchecked_ref::<Object>())
        .iter()
        .map(|k| k.as_string().unwrap())
        .collect();
    assert_eq!(
        keys,
        [
            "too_large",
            "not_json",
            "not_object",
            "unsupported_version",
            "bad_topic",
            "unknown_worker",
            "bad_payload",
            "bad_ts",
            "bad_age"
        ]
    );
    assert_eq!(get(&r, "unknown_worker").as_f64(), Some(1.0));
}

#[wasm_bindgen_test]
fn record_by_hand_follows_the_same_rules() {
    let reg = registry("{}");
    let payload = js(r#"({worker: "api", ts: 5, pid: 9, __proto_safe: true})"#);
    assert!(m(
        &reg,
        "record",
        &["api".into(), JsValue::from(12.5), payload]
    )
    .as_bool()
    .unwrap());
    let api = row(&reg, "api");
    assert_eq!(get(&api, "last_heartbeat_ts").as_f64(), Some(12.5));
    assert_eq!(
        JSON::stringify(&get(&api, "extra")).unwrap(),
        r#"{"pid":9,"__proto_safe":true}"#
    );
    assert!(
        m(&reg, "record", &["bus".into(), JsValue::NULL, js("({})")])
            .as_bool()
            .unwrap()
    );
    assert!(m(
        &reg,
        "record",
        &["collector".into(), JsValue::NULL, JsValue::UNDEFINED]
    )
    .as_bool()
    .unwrap());
    assert!(!m(
        &reg,
        "record",
        &["intruder".into(), JsValue::NULL, js("({})")]
    )
    .as_bool()
    .unwrap());
    assert!(!m(
        &reg,
        "record",
        &["api".into(), JsValue::from(f64::NAN), js("({})")]
    )
    .as_bool()
    .unwrap());
    assert!(!m(
        &reg,
        "record",
        &[
            "api".into(),
            JsValue::NULL,
            js("(() => { const o = {}; o.self = o; return o; })()")
        ]
    )
    .as_bool()
    .unwrap());
    assert!(
        !m(&reg, "record", &["api".into(), JsValue::NULL, js("[1, 2]")])
            .as_bool()
            .unwrap()
    );
    assert!(!m(
        &reg,
        "record",
        &["api".into(), JsValue::NULL, js("({big: 1n})")]
    )
    .as_bool()
    .unwrap());
    assert_eq!(rejected(&reg, "unknown_worker"), 1.0);
    assert_eq!(rejected(&reg, "bad_ts"), 1.0);
    assert_eq!(rejected(&reg, "bad_payload"), 3.0);
    assert_eq!(
        get(&row(&reg, "api"), "last_heartbeat_ts").as_f64(),
        Some(12.5)
    );
}

#[wasm_bindgen_test]
fn a_custom_clock_drives_liveness() {
    js("globalThis.__clock = { mono: 1000, wall: 1764190000000 }");
    let reg = registry(
        "{okWindowSeconds: 90, clock: { monoMs: () => globalThis.__clock.mono, wallMs: () => globalThis.__clock.wall }}",
    );
    ingest(&reg, &beat("api", ""));
    assert_eq!(get(&row(&reg, "api"), "seconds_since").as_f64(), Some(0.0));
    js("globalThis.__clock.mono += 30000, globalThis.__clock.wall += 30000");
    assert_eq!(get(&row(&reg, "api"), "seconds_since").as_f64(), Some(30.0));
    // The laptop slept: the monotonic clock stood still, the wall clock ran.
    js("globalThis.__clock.wall += 600000");
    assert_eq!(
        get(&row(&reg, "api"), "seconds_since").as_f64(),
        Some(630.0)
    );
    assert_eq!(status_of(&reg, "api"), "stale");
    // A clock that throws keeps its last reading instead of breaking ingest.
    js("globalThis.__clock.mono = undefined");
    assert!(ingest(&reg, &beat("bus", "")));
}

#[wasm_bindgen_test]
async fn on_change_reports_beats_and_unsubscribes() {
    let reg = registry("{}");
    js("globalThis.__seen = []");
    let listener: Function = js("(reason) => globalThis.__seen.push(reason)").unchecked_into();
    let unsubscribe: Function = m(&reg, "onChange", &[listener.into()]).unchecked_into();
    // A listener that throws must not stop the others or the registry.
    let thrower: Function = js("() => { throw new Error('listener bug') }").unchecked_into();
    let off_thrower: Function = m(&reg, "onChange", &[thrower.into()]).unchecked_into();
    js("globalThis.__onerror = window.onerror; window.onerror = () => true");
    ingest(&reg, &beat("api", ""));
    ingest(&reg, r#"{"topic":"attacker.observed"}"#);
    ingest(&reg, &beat("bus", ""));
    js("window.onerror = globalThis.__onerror");
    off_thrower.call0(&JsValue::NULL).unwrap();
    assert_eq!(
        JSON::stringify(&js("globalThis.__seen")).unwrap(),
        r#"["beat","beat"]"#
    );
    unsubscribe.call0(&JsValue::NULL).unwrap();
    unsubscribe.call0(&JsValue::NULL).unwrap();
    ingest(&reg, &beat("collector", ""));
    assert_eq!(
        JSON::stringify(&js("globalThis.__seen")).unwrap(),
        r#"["beat","beat"]"#
    );
    // A listener may call back into the registry.
    js("globalThis.__rows = 0");
    let reentrant: Function =
        js("(reason) => { globalThis.__rows = globalThis.__reg.snapshot().length; }")
            .unchecked_into();
    Reflect::set(&js("globalThis"), &"__reg".into(), &reg).unwrap();
    m(&reg, "onChange", &[reentrant.into()]);
    ingest(&reg, &beat("api", ""));
    assert_eq!(js("globalThis.__rows").as_f64(), Some(10.0));
}

#[wasm_bindgen_test]
async fn status_fires_when_a_row_turns_stale_without_a_frame() {
    let reg = registry("{okWindowSeconds: 0.3}");
    js("globalThis.__events = []");
    let listener: Function =
        js("(r) => globalThis.__events.push([r, performance.now()])").unchecked_into();
    m(&reg, "onChange", &[listener.into()]);
    let timers = counts().1;
    let t0 = js_sys::eval("performance.now()").unwrap().as_f64().unwrap();
    ingest(&reg, &beat("api", ""));
    assert_eq!(status_of(&reg, "api"), "ok");
    // One timer for the deadline, not a polling loop.
    assert_eq!(counts().1, timers + 1);
    sleep(200).await;
    ingest(&reg, &beat("bus", ""));
    assert_eq!(
        counts().1,
        timers + 1,
        "a later deadline reuses the armed timer"
    );
    sleep(250).await;
    // api turned stale at 300 ms; bus is still ok.
    assert_eq!(status_of(&reg, "api"), "stale");
    assert_eq!(status_of(&reg, "bus"), "ok");
    let events: Array = js("globalThis.__events").unchecked_into();
    let kinds: Vec<String> = events
        .iter()
        .map(|e| Array::from(&e).get(0).as_string().unwrap())
        .collect();
    assert_eq!(kinds, ["beat", "beat", "status"]);
    let at = Array::from(&events.get(2)).get(1).as_f64().unwrap() - t0;
    assert!(
        (295.0..450.0).contains(&at),
        "status fired {at} ms after the beat, at the deadline"
    );
    sleep(200).await;
    let kinds: Vec<String> = Array::from(&js("globalThis.__events"))
        .iter()
        .map(|e| Array::from(&e).get(0).as_string().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["beat", "beat", "status", "status"],
        "bus turned stale in its turn"
    );
    assert_eq!(counts().1, timers, "nothing left to wait for: no timer");
}

#[wasm_bindgen_test]
async fn idle_without_a_url_and_stop_is_idempotent() {
    let reg = registry("{}");
    m(&reg, "start", &[]);
    let c = m(&reg, "connection", &[]);
    assert_eq!(
        JSON::stringify(&c).unwrap(),
        r#"{"state":"idle","bus_connected":false,"upstream":"unknown","upstream_for_s":null,"url":null,"attempts":0,"last_error":null,"next_retry_ms":null}"#
    );
    assert!(snapshot(&reg)
        .iter()
        .all(|r| get(&r, "status").as_string().as_deref() == Some("unknown")));
    let p: js_sys::Promise = m(&reg, "stop", &[]).unchecked_into();
    wasm_bindgen_futures::JsFuture::from(p).await.unwrap();
    let p: js_sys::Promise = m(&reg, "stop", &[]).unchecked_into();
    wasm_bindgen_futures::JsFuture::from(p).await.unwrap();
    assert_eq!(
        get(&m(&reg, "connection", &[]), "state")
            .as_string()
            .as_deref(),
        Some("idle")
    );
}

#[wasm_bindgen_test]
async fn free_leaves_no_timer_behind() {
    let before = counts();
    let reg = registry("{okWindowSeconds: 0.05}");
    js("globalThis.__late = 0");
    let listener: Function = js("() => globalThis.__late++").unchecked_into();
    m(&reg, "onChange", &[listener.into()]);
    ingest(&reg, &beat("api", ""));
    assert_eq!(counts().1, before.1 + 1);
    m(&reg, "free", &[]);
    assert_eq!(counts(), before);
    js("globalThis.__late = 0");
    sleep(120).await;
    assert_eq!(
        js("globalThis.__late").as_f64(),
        Some(0.0),
        "no callback after free()"
    );
}

/// Item 6 of the shell issue: a string of 40,036 UTF-16 units on another
/// topic is 80,036 bytes as UTF-8. It was `ignored` as a string and
/// `too_large` as bytes; maxFrameBytes is a limit in bytes, for both.
#[wasm_bindgen_test]
fn a_string_and_its_bytes_get_the_same_verdict_near_the_limit() {
    let as_text = registry("{}");
    let as_bytes = registry("{}");
    let frame: JsString =
        js(r#""{\"topic\":\"attacker.observed\",\"x\":\"" + "é".repeat(40000) + "\"}""#)
            .unchecked_into();
    assert_eq!(frame.length(), 40_036);
    let text = frame.as_string().unwrap();
    assert_eq!(text.len(), 80_036);
    m(&as_text, "ingest", &[frame.into()]);
    m(
        &as_bytes,
        "ingest",
        &[Uint8Array::from(text.as_bytes()).into()],
    );
    assert_eq!(rejected(&as_text, "too_large"), 1.0, "as a string");
    assert_eq!(rejected(&as_bytes, "too_large"), 1.0, "as bytes");
    // Just under the limit in bytes, both ignore it.
    let fits: JsString =
        js(r#""{\"topic\":\"attacker.observed\",\"x\":\"" + "é".repeat(32700) + "\"}""#)
            .unchecked_into();
    let fits_text = fits.as_string().unwrap();
    assert!(fits_text.len() <= 65_536);
    m(&as_text, "ingest", &[fits.into()]);
    m(
        &as_bytes,
        "ingest",
        &[Uint8Array::from(fits_text.as_bytes()).into()],
    );
    assert_eq!(
        get(&m(&as_text, "stats", &[]), "ignored").as_f64(),
        Some(1.0)
    );
    assert_eq!(
        get(&m(&as_bytes, "stats", &[]), "ignored").as_f64(),
        Some(1.0)
    );
}

/// Item 9 of the shell issue: a custom clock that calls `snapshot()` ran
/// while the registry was mutably borrowed, which panicked and (with
/// `panic = "abort"`) killed the instance.
#[wasm_bindgen_test]
fn a_clock_that_calls_back_into_the_registry_is_safe() {
    js("globalThis.__reentrant = { reg: null, calls: 0 }");
    let reg = registry(
        // The guard stops the clock's own calls (snapshot() reads the clock)
        // from recursing forever.
        "{clock: { monoMs() { const r = globalThis.__reentrant; if (r.reg && !r.busy) { r.busy = true; r.calls++; try { r.reg.snapshot(); r.reg.stats(); r.reg.connection(); } finally { r.busy = false; } } return 1000; }, wallMs: () => 1764190000000 }}",
    );
    Reflect::set(&js("globalThis.__reentrant"), &"reg".into(), &reg).unwrap();
    assert!(ingest(&reg, &beat("api", r#","pid":1"#)));
    assert!(ingest(&reg, &beat("bus", r#","pid":2"#)));
    assert_eq!(status_of(&reg, "api"), "ok");
    assert!(js("globalThis.__reentrant.calls").as_f64().unwrap() >= 2.0);
    // The clock ran after each frame was copied in, and its snapshot()
    // wrote extras through the same buffer: the frames must be intact.
    assert_eq!(
        get(&get(&row(&reg, "bus"), "extra"), "pid").as_f64(),
        Some(2.0)
    );
    assert_eq!(get(&m(&reg, "stats", &[]), "accepted").as_f64(), Some(2.0));
}

/// Item 2 of the shell issue: a listener that calls `stop()` on the
/// "connecting" event left a socket open and a timer armed.
#[wasm_bindgen_test]
async fn stop_from_a_connecting_listener_leaves_nothing_behind() {
    let before = counts();
    let reg = registry("{}");
    Reflect::set(&js("globalThis"), &"__stopper".into(), &reg).unwrap();
    let listener: Function = js(
        "(r) => { const c = globalThis.__stopper.connection(); if (r === 'connection' && c.state === 'connecting') globalThis.__stopper.stop(); }",
    )
    .unchecked_into();
    m(&reg, "onChange", &[listener.into()]);
    // Nothing listens there: the attempt would fail and retry forever.
    m(&reg, "start", &["ws://127.0.0.1:9/bus".into()]);
    assert_eq!(
        get(&m(&reg, "connection", &[]), "state")
            .as_string()
            .as_deref(),
        Some("closed")
    );
    assert_eq!(counts(), before, "no socket and no timer left after stop()");
    sleep(100).await;
    // Page-wide counts: other tests' timers may fire meanwhile, but nothing
    // of this registry's may appear.
    let (sockets, timers) = counts();
    assert!(sockets <= before.0 && timers <= before.1, "{:?}", counts());
    assert_eq!(
        get(&m(&reg, "connection", &[]), "state")
            .as_string()
            .as_deref(),
        Some("closed")
    );
}

#[wasm_bindgen_test]
fn start_checks_its_urls_and_options() {
    let reg = registry("{}");
    let err = |args: &str| -> (String, String) {
        Reflect::set(&js("globalThis"), &"__r".into(), &reg).unwrap();
        let e = js(&format!("(() => {{ try {{ globalThis.__r.start({args}); return null; }} catch (e) {{ return e; }} }})()"));
        assert!(!e.is_null(), "start({args}) was accepted");
        (
            get(&e, "name").as_string().unwrap(),
            get(&e, "message").as_string().unwrap(),
        )
    };
    let cases = [
        ("[]", "TypeError", "start(urls) needs at least one URL"),
        ("42", "TypeError", "needs a ws://, wss://, http:// or https:// URL (got 42)"),
        ("['ws://a/', 'ftp://b/']", "TypeError", "(got \"ftp://b/\")"),
        ("'ws://a/', {pingInterval: 5}", "TypeError", "unknown start option \"pingInterval\"; the options are protocol, token, tokenProvider, user, pass, backoff, pingIntervalMs, pongTimeoutMs (got 5)"),
        ("'ws://a/', {protocol: 'mqtt'}", "TypeError", "protocol must be \"gateway\" or \"nats\" (got \"mqtt\")"),
        ("'ws://a/', {protocol: 5}", "TypeError", "protocol must be \"gateway\" or \"nats\" (got 5)"),
        ("'ws://a/', {backoff: {maxMs: 100}}", "RangeError", "backoff.maxMs must be at least backoff.initialMs"),
        ("'ws://a/', {token: 5}", "TypeError", "token must be a string (got 5)"),
        ("'ws://a/', {token: 't', tokenProvider: () => 't'}", "TypeError", "give token or tokenProvider, not both"),
        ("'ws://a/', {tokenProvider: 't'}", "TypeError", "tokenProvider must be a function (got \"t\")"),
        ("'ws://a/', {user: 'u'}", "TypeError", "user and pass are for protocol \"nats\""),
        ("'ws://a/', {pingIntervalMs: 0}", "RangeError", "pingIntervalMs must be a finite number greater than 0 (got 0)"),
        ("'ws://a/', {pongTimeoutMs: '5'}", "TypeError", "pongTimeoutMs must be a finite number greater than 0 (got \"5\")"),
        ("'ws://a/', {backoff: {initialMs: -1}}", "RangeError", "backoff.initialMs must be a finite number greater than 0 (got -1)"),
        ("'ws://a/', {backoff: {initialMs: 100, maxMs: 50}}", "RangeError", "backoff.maxMs must be at least backoff.initialMs"),
        ("'ws://a/', {backoff: {jitter: 1}}", "TypeError", "unknown backoff option \"jitter\""),
        ("'ws://a/', 7", "TypeError", "start options must be an object (got 7)"),
    ];
    for (args, name, needle) in cases {
        let (got_name, message) = err(args);
        assert_eq!(got_name, name, "start({args}): {message}");
        assert!(message.starts_with("WorkerRegistry: "), "{message}");
        assert!(
            message.contains(needle),
            "start({args}): {message:?} lacks {needle:?}"
        );
    }
    assert_eq!(
        get(&m(&reg, "connection", &[]), "state")
            .as_string()
            .as_deref(),
        Some("idle"),
        "a refused start() starts nothing"
    );
}
