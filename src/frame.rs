//! Decoding one frame into what the registry needs from it, applying the ten
//! acceptance rules of the contract in order; the first failure names the
//! [`Reason`]. Pure: bytes in, a verdict out, no clock and no allocation once
//! the scratch buffers have grown.

use crate::json::{self, Halt, Kind, Scanner, Span, StrSpan};
use crate::topic;

/// Why a frame was refused. The order is the order the rules are checked in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    TooLarge,
    NotJson,
    NotObject,
    UnsupportedVersion,
    BadTopic,
    UnknownWorker,
    BadPayload,
    BadTs,
    BadAge,
}

impl Reason {
    pub const ALL: [Reason; 9] = [
        Reason::TooLarge,
        Reason::NotJson,
        Reason::NotObject,
        Reason::UnsupportedVersion,
        Reason::BadTopic,
        Reason::UnknownWorker,
        Reason::BadPayload,
        Reason::BadTs,
        Reason::BadAge,
    ];

    /// The name `stats().rejected` uses for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::TooLarge => "too_large",
            Reason::NotJson => "not_json",
            Reason::NotObject => "not_object",
            Reason::UnsupportedVersion => "unsupported_version",
            Reason::BadTopic => "bad_topic",
            Reason::UnknownWorker => "unknown_worker",
            Reason::BadPayload => "bad_payload",
            Reason::BadTs => "bad_ts",
            Reason::BadAge => "bad_age",
        }
    }
}

/// One top-level key of interest: how often it appeared and its last value.
/// A key that appears twice is ambiguous (a gateway and the registry might
/// each read a different one), so the rule that reads it refuses the frame.
#[derive(Debug, Clone, Copy, Default)]
struct Slot {
    count: u8,
    span: Option<Span>,
    escaped_string: bool,
}

impl Slot {
    fn set(&mut self, span: Span, escaped_string: bool) {
        self.count = self.count.saturating_add(1);
        self.span = Some(span);
        self.escaped_string = escaped_string;
    }
}

/// The top-level members the rules look at, found in one validating pass.
#[derive(Debug, Default)]
pub struct Envelope {
    op: Slot,
    v: Slot,
    topic: Slot,
    payload: Slot,
    retained: Slot,
    age: Slot,
    /// The whole frame's span, used as the payload of a bare NATS message.
    whole: Option<Span>,
    /// The topic was read, and is not a health topic: the scan stopped there.
    ignored: bool,
    /// The payload's members were collected into the scratch while scanning.
    collected: bool,
}

/// Scratch space reused from frame to frame, so decoding does not allocate.
#[derive(Default)]
pub struct Scratch {
    /// Decoded (unescaped) text, e.g. a key or topic written with `\u` escapes.
    text: Vec<u8>,
    /// Decoded payload keys, end to end; `keys` holds their ranges.
    arena: Vec<u8>,
    keys: Vec<(u32, u32)>,
    /// Payload members to keep in `extra`: from a key's opening quote to the
    /// end of its value.
    keep: Vec<(u32, u32)>,
    /// The payload's `ts` value (the last one, if repeated).
    ts: Option<Span>,
}

impl Scratch {
    fn clear_payload(&mut self) {
        self.arena.clear();
        self.keys.clear();
        self.keep.clear();
        self.ts = None;
    }
}

/// How to read a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// A bus envelope: `{"topic": ..., "payload": {...}}`.
    Envelope,
    /// A NATS message body read as an envelope: the subject already decided
    /// the topic, so a `topic` inside does not stop the read (it would skip
    /// the rules for whatever follows it).
    Message,
    /// A bare payload object (a NATS body without envelope, `record()`).
    Bare,
}

/// Rules 2 and 3: the frame is JSON, and a JSON object. Also finds the keys
/// the later rules read, and collects the payload's members in the same pass.
///
/// The topic decides first: once a top-level `topic` has been read and is not
/// a health topic, nothing after it is read and the frame is ignored (a frame
/// on another topic is not the registry's to judge; most of the bus's traffic
/// is such frames). Keys before the topic still count: an `op` makes it a
/// control frame, a `v` other than 1 is refused.
pub fn scan(bytes: &[u8], scratch: &mut Scratch, shape: Shape) -> Result<Envelope, Reason> {
    let mut s = Scanner::new(bytes);
    s.skip_ws();
    if s.bytes.get(s.pos) != Some(&b'{') {
        return match json::validate(bytes) {
            Ok(_) => Err(Reason::NotObject),
            Err(_) => Err(Reason::NotJson),
        };
    }
    scratch.clear_payload();
    let mut env = Envelope::default();
    let start = s.pos;
    let walked = if shape == Shape::Bare {
        env.collected = true;
        s.walk_object(0, &mut |sc, key| collect_member(sc, key, 1, scratch))
    } else {
        let topic_first = shape == Shape::Envelope;
        s.walk_object(0, &mut |sc, key| {
            envelope_member(sc, key, &mut env, scratch, topic_first)
        })
    };
    match walked {
        Ok(()) => {}
        Err(Halt::Stop) => {
            env.ignored = true;
            return Ok(env);
        }
        Err(Halt::Invalid) => return Err(Reason::NotJson),
    }
    if !s.at_end() {
        return Err(Reason::NotJson);
    }
    env.whole = Some(Span {
        kind: Kind::Object,
        start,
        end: s.pos,
    });
    Ok(env)
}

/// The top-level keys the rules read.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Key {
    Op,
    V,
    Topic,
    Payload,
    Retained,
    Age,
}

impl Envelope {
    fn slot(&mut self, key: Key) -> &mut Slot {
        match key {
            Key::Op => &mut self.op,
            Key::V => &mut self.v,
            Key::Topic => &mut self.topic,
            Key::Payload => &mut self.payload,
            Key::Retained => &mut self.retained,
            Key::Age => &mut self.age,
        }
    }
}

/// One top-level member of an envelope.
fn envelope_member(
    sc: &mut Scanner<'_>,
    key: StrSpan,
    env: &mut Envelope,
    scratch: &mut Scratch,
    topic_first: bool,
) -> Result<(), Halt> {
    let raw = &sc.bytes[key.start..key.end];
    let key = match key_name(raw, key.escaped, &mut scratch.text) {
        Some(b"op") => Key::Op,
        Some(b"v") => Key::V,
        Some(b"topic") => Key::Topic,
        Some(b"payload") => Key::Payload,
        Some(b"retained") => Key::Retained,
        Some(b"age") => Key::Age,
        _ => {
            sc.value(1)?;
            return Ok(());
        }
    };
    let value =
        if key == Key::Payload && env.payload.count == 0 && sc.bytes.get(sc.pos) == Some(&b'{') {
            // Collect the payload while validating it: one pass over the frame.
            let start = sc.pos;
            sc.walk_object(1, &mut |sc, key| collect_member(sc, key, 2, scratch))?;
            env.collected = true;
            Span {
                kind: Kind::Object,
                start,
                end: sc.pos,
            }
        } else {
            sc.value(1)?
        };
    let escaped = value.kind == Kind::String && sc.bytes[value.start..value.end].contains(&b'\\');
    env.slot(key).set(value, escaped);
    let first_topic = topic_first && key == Key::Topic && env.topic.count == 1;
    if first_topic && env.op.count == 0 && check_version(sc.bytes, env).is_ok() {
        if let Some(topic) = topic_text(sc.bytes, env, &mut scratch.text) {
            if topic::health_worker(topic).is_none() {
                return Err(Halt::Stop);
            }
        }
    }
    Ok(())
}

/// One member of a payload: validated, its key kept for the duplicate check,
/// `ts` noted, and everything but `worker` and `ts` kept as `extra`.
fn collect_member(
    sc: &mut Scanner<'_>,
    key: StrSpan,
    depth: u32,
    scratch: &mut Scratch,
) -> Result<(), Halt> {
    let from = scratch.arena.len() as u32;
    let raw = &sc.bytes[key.start..key.end];
    if key.escaped {
        json::unescape(raw, &mut scratch.text);
        scratch.arena.extend_from_slice(&scratch.text);
    } else {
        scratch.arena.extend_from_slice(raw);
    }
    scratch.keys.push((from, scratch.arena.len() as u32));
    let value = sc.value(depth)?;
    match &scratch.arena[from as usize..] {
        b"ts" => scratch.ts = Some(value),
        b"worker" => {}
        _ => scratch
            .keep
            .push(((key.start - 1) as u32, value.end as u32)),
    }
    Ok(())
}

/// The topic's text, unescaped if need be, when it is a single string.
fn topic_text<'a>(bytes: &'a [u8], env: &Envelope, buf: &'a mut Vec<u8>) -> Option<&'a [u8]> {
    let sp = match (env.topic.count, env.topic.span) {
        (1, Some(sp)) if sp.kind == Kind::String => sp,
        _ => return None,
    };
    let content = &bytes[sp.start + 1..sp.end - 1];
    if env.topic.escaped_string {
        json::unescape(content, buf);
        Some(buf.as_slice())
    } else {
        Some(content)
    }
}

/// The key as bytes when it is short enough to be one the rules read.
fn key_name<'k>(raw: &'k [u8], escaped: bool, buf: &'k mut Vec<u8>) -> Option<&'k [u8]> {
    if !escaped {
        return (raw.len() <= 8).then_some(raw);
    }
    // "\u0074opic" is "topic": decode, but only keys that could be short.
    if raw.len() > 8 * 6 {
        return None;
    }
    json::unescape(raw, buf);
    Some(buf.as_slice())
}

/// What the head of an event says, before the allowlist is consulted.
#[derive(Debug, PartialEq, Eq)]
pub enum Head<'a> {
    /// A transport control frame (`{"op": ...}`): not an event, not counted.
    Control,
    /// A topic of another shape: counted as ignored.
    Ignored,
    Rejected(Reason),
    /// A health topic; the worker name, byte for byte as the bus wrote it.
    Health(&'a [u8]),
}

/// Rules 4 to 6 for a gateway frame: `v`, `topic`, and the topic's shape.
pub fn head<'a>(bytes: &'a [u8], env: &Envelope, scratch: &'a mut Scratch) -> Head<'a> {
    if env.ignored {
        return Head::Ignored;
    }
    if env.op.count > 0 {
        return Head::Control;
    }
    if let Err(r) = check_version(bytes, env) {
        return Head::Rejected(r);
    }
    match topic_text(bytes, env, &mut scratch.text) {
        None => Head::Rejected(Reason::BadTopic),
        Some(topic) => match topic::health_worker(topic) {
            Some(name) => Head::Health(name),
            None => Head::Ignored,
        },
    }
}

/// Rule 4 for a NATS body that is an envelope (it has a `payload`).
pub fn envelope_version(bytes: &[u8], env: &Envelope) -> Result<(), Reason> {
    if is_bare(env) {
        Ok(())
    } else {
        check_version(bytes, env)
    }
}

/// Rule 4: `v`, if present, equals 1.
fn check_version(bytes: &[u8], env: &Envelope) -> Result<(), Reason> {
    match (env.v.count, env.v.span) {
        (0, _) => Ok(()),
        // `1` as written by every gateway, without parsing; `1.0` or `1e0`
        // are parsed.
        (1, Some(sp))
            if sp.kind == Kind::Number
                && (&bytes[sp.start..sp.end] == b"1"
                    || json::finite_f64(&bytes[sp.start..sp.end]) == Some(1.0)) =>
        {
            Ok(())
        }
        _ => Err(Reason::UnsupportedVersion),
    }
}

/// What a gateway control frame asks of the connection.
#[derive(Debug, Clone, PartialEq)]
pub enum Control {
    /// `{"op":"error","message":...}`: a client frame was refused.
    Error(String),
    /// `{"op":"status","upstream":"up"|"down","since":<s>}`: the gateway's
    /// own link to the bus, and how long it has been in that state.
    Status { up: bool, since_s: f64 },
    /// `pong`, or an op this client does not act on.
    Other,
}

/// Reads a gateway control frame (one with an `op`).
pub fn control(bytes: &[u8]) -> Control {
    let mut s = Scanner::new(bytes);
    let (mut op, mut message, mut upstream, mut since) = (None, None, None, 0.0);
    let mut buf = Vec::new();
    let read = s.members(0, &mut |sc, key, value| {
        let k = &sc.bytes[key.start..key.end];
        if k == b"since" && value.kind == Kind::Number {
            since = json::finite_f64(&sc.bytes[value.start..value.end])
                .filter(|s| *s >= 0.0)
                .unwrap_or(0.0);
            return;
        }
        if value.kind != Kind::String {
            return;
        }
        json::unescape(&sc.bytes[value.start + 1..value.end - 1], &mut buf);
        match k {
            b"op" => op = Some(buf.clone()),
            b"message" => message = Some(json::text(&buf)),
            b"upstream" => upstream = Some(buf.clone()),
            _ => {}
        }
    });
    if read.is_err() {
        return Control::Other;
    }
    match (op.as_deref(), upstream.as_deref()) {
        (Some(b"error"), _) => Control::Error(message.unwrap_or_default()),
        (Some(b"status"), Some(b"up")) => Control::Status {
            up: true,
            since_s: since,
        },
        (Some(b"status"), Some(b"down")) => Control::Status {
            up: false,
            since_s: since,
        },
        _ => Control::Other,
    }
}

/// What an accepted frame contributes to the registry.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Beat {
    /// `payload.ts`, when present.
    pub ts: Option<f64>,
    /// Seconds the beat was already old on arrival (`age` of a retained frame).
    pub age: f64,
}

/// Rules 8 to 10 for a gateway frame: `payload`, `payload.ts`, `age`.
/// On success the payload members to keep as `extra` are in `scratch`.
pub fn body(bytes: &[u8], env: &Envelope, scratch: &mut Scratch) -> Result<Beat, Reason> {
    match (env.payload.count, env.payload.span) {
        (0, _) => scratch.clear_payload(),
        (1, Some(sp)) if sp.kind == Kind::Null => scratch.clear_payload(),
        (1, Some(sp)) if sp.kind == Kind::Object && env.collected => {}
        _ => return Err(Reason::BadPayload),
    }
    let ts = payload_ts(bytes, scratch)?;
    let age = retained_age(bytes, env)?;
    Ok(Beat { ts, age })
}

/// Rules 8 and 9 for a NATS message, whose subject already named the worker,
/// and for a payload given to `record`: a bare payload object (such as
/// `{"worker":"api","ts":1764190000.5}`) scanned with [`Shape::Bare`], or for
/// NATS a bus envelope (it has a `payload` member).
pub fn bare_body(bytes: &[u8], env: &Envelope, scratch: &mut Scratch) -> Result<Beat, Reason> {
    if env.payload.count > 0 {
        // An envelope: `"payload": null` is accepted here as on a gateway.
        check_version(bytes, env)?;
        return body(bytes, env, scratch);
    }
    if !env.collected {
        return Err(Reason::BadPayload);
    }
    Ok(Beat {
        ts: payload_ts(bytes, scratch)?,
        age: 0.0,
    })
}

/// Whether a NATS body scanned as an envelope turned out to be bare (it has
/// no `payload`), so it must be read again as a payload.
pub fn is_bare(env: &Envelope) -> bool {
    env.payload.count == 0
}

/// Rule 10: on a frame marked `"retained": true`, `age` is a finite number
/// >= 0. Elsewhere `age` is not read.
fn retained_age(bytes: &[u8], env: &Envelope) -> Result<f64, Reason> {
    match (env.retained.count, env.retained.span) {
        (0, _) => return Ok(0.0),
        (1, Some(sp)) if sp.kind == Kind::True => {}
        (1, _) => return Ok(0.0),
        _ => return Err(Reason::BadAge),
    }
    match (env.age.count, env.age.span) {
        (1, Some(sp)) if sp.kind == Kind::Number => {
            match json::finite_f64(&bytes[sp.start..sp.end]) {
                Some(a) if a >= 0.0 => Ok(a),
                _ => Err(Reason::BadAge),
            }
        }
        _ => Err(Reason::BadAge),
    }
}

/// Rules 8 and 9 on the collected payload: duplicate keys are refused
/// (`bad_payload`), and `ts` must be a number (`bad_ts`).
fn payload_ts(bytes: &[u8], scratch: &mut Scratch) -> Result<Option<f64>, Reason> {
    if has_duplicate(&scratch.arena, &mut scratch.keys) {
        return Err(Reason::BadPayload);
    }
    match scratch.ts {
        None => Ok(None),
        Some(v) => parse_ts(bytes, v).map(Some).ok_or(Reason::BadTs),
    }
}

/// Rule 9: a finite number, or a string that parses as one.
fn parse_ts(bytes: &[u8], v: Span) -> Option<f64> {
    match v.kind {
        Kind::Number => json::finite_f64(&bytes[v.start..v.end]),
        Kind::String => {
            let content = &bytes[v.start + 1..v.end - 1];
            if content.contains(&b'\\') {
                let mut buf = Vec::new();
                json::unescape(content, &mut buf);
                json::finite_f64(&buf)
            } else {
                json::finite_f64(content)
            }
        }
        _ => None,
    }
}

/// Whether two of the keys are equal. Payloads usually have a handful of
/// keys, where comparing all pairs is fastest; many keys are sorted first so
/// a hostile payload of thousands of keys stays fast. A shell sort, because
/// the standard library's sort is several kilobytes of wasm.
fn has_duplicate(arena: &[u8], keys: &mut [(u32, u32)]) -> bool {
    let key = |k: (u32, u32)| &arena[k.0 as usize..k.1 as usize];
    if keys.len() <= 16 {
        return keys
            .iter()
            .enumerate()
            .any(|(i, &a)| keys[i + 1..].iter().any(|&b| key(a) == key(b)));
    }
    // Ciura's gaps, extended by x2.25.
    let mut gap = 1;
    while gap * 9 / 4 < keys.len() {
        gap = gap * 9 / 4 + 1;
    }
    loop {
        for i in gap..keys.len() {
            let k = keys[i];
            let mut j = i;
            while j >= gap && key(keys[j - gap]) > key(k) {
                keys[j] = keys[j - gap];
                j -= gap;
            }
            keys[j] = k;
        }
        if gap == 1 {
            break;
        }
        gap = (gap * 4 / 9).max(1);
    }
    keys.windows(2).any(|w| key(w[0]) == key(w[1]))
}

/// Writes the kept payload members as one JSON object: the row's `extra`.
pub fn write_extra(bytes: &[u8], scratch: &Scratch, out: &mut Vec<u8>) {
    out.clear();
    out.push(b'{');
    for (i, &(from, to)) in scratch.keep.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(&bytes[from as usize..to as usize]);
    }
    out.push(b'}');
}
