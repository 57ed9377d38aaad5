//! Pure protocol frames: decoding one client text frame into a request, and
//! encoding what the gateway sends (bus envelopes, retained replays, pong,
//! errors). No I/O here, so every refusal message is unit-tested.

use serde::Serialize;
use serde_json::{Map, Value};

/// Largest client frame the gateway reads (docs/protocol.md, "Limits").
pub const MAX_CLIENT_FRAME: usize = 4096;

/// A request decoded from one client frame.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientFrame {
    Auth {
        token: String,
    },
    Sub {
        sid: i64,
        pattern: String,
    },
    Unsub {
        sid: i64,
    },
    Ping,
    Pub {
        topic: String,
        payload: Map<String, Value>,
        kind: Option<String>,
    },
}

impl ClientFrame {
    /// Decodes a text frame; the error is the message for the error frame.
    pub fn parse(text: &str) -> Result<ClientFrame, String> {
        let value: Value =
            serde_json::from_str(text).map_err(|e| format!("frame is not valid JSON: {e}"))?;
        let Value::Object(mut obj) = value else {
            return Err("frame must be a JSON object".into());
        };
        let op = match obj.get("op") {
            Some(Value::String(op)) => op.clone(),
            Some(_) => return Err("\"op\" must be a string".into()),
            None => return Err("frame has no \"op\"; clients send control frames only".into()),
        };
        match op.as_str() {
            "auth" => Ok(ClientFrame::Auth {
                token: string_field(&mut obj, "auth", "token")?,
            }),
            "sub" => Ok(ClientFrame::Sub {
                sid: sid_field(&obj, "sub")?,
                pattern: string_field(&mut obj, "sub", "pattern")?,
            }),
            "unsub" => Ok(ClientFrame::Unsub {
                sid: sid_field(&obj, "unsub")?,
            }),
            "ping" => Ok(ClientFrame::Ping),
            "pub" => {
                let topic = string_field(&mut obj, "pub", "topic")?;
                let payload = match obj.remove("payload") {
                    Some(Value::Object(p)) => p,
                    _ => return Err("pub needs an object \"payload\"".into()),
                };
                let kind = match obj.remove("type") {
                    None | Some(Value::Null) => None,
                    Some(Value::String(t)) => Some(t),
                    Some(_) => return Err("pub \"type\" must be a string".into()),
                };
                Ok(ClientFrame::Pub {
                    topic,
                    payload,
                    kind,
                })
            }
            other => Err(format!(
                "unknown op {other:?} (expected auth, sub, unsub, ping or pub)"
            )),
        }
    }
}

fn string_field(obj: &mut Map<String, Value>, op: &str, key: &str) -> Result<String, String> {
    match obj.remove(key) {
        Some(Value::String(s)) => Ok(s),
        _ => Err(format!("{op} needs a string {key:?}")),
    }
}

fn sid_field(obj: &Map<String, Value>, op: &str) -> Result<i64, String> {
    obj.get("sid")
        .and_then(Value::as_i64)
        .ok_or_else(|| format!("{op} needs an integer \"sid\""))
}

/// The bus envelope, field order as in docs/contract.md.
#[derive(Serialize)]
struct Envelope<'a> {
    v: u8,
    id: &'a str,
    topic: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
    ts: f64,
    payload: &'a Map<String, Value>,
}

/// The envelope type of a topic when the publisher names none.
pub fn default_kind(topic: &str) -> &'static str {
    if topic.ends_with(".health") {
        "health"
    } else {
        "event"
    }
}

/// Serialises one bus envelope. `id` and `ts` come in as arguments so the
/// encoding is deterministic under test.
pub fn envelope(id: u64, topic: &str, kind: &str, ts: f64, payload: &Map<String, Value>) -> String {
    let id = format!("{id:016x}");
    let env = Envelope {
        v: 1,
        id: &id,
        topic,
        kind,
        ts,
        payload,
    };
    // Serialising a struct of strings, a float and a JSON map cannot fail;
    // the fallback only keeps the no-panic promise should that ever change.
    serde_json::to_string(&env).unwrap_or_else(|_| String::from("{}"))
}

/// A retained replay: the stored envelope plus `"retained":true,"age":<s>`.
/// The stored text always ends with `}` (it is a serialised object), so the
/// two fields are spliced in instead of parsing and re-encoding each replay.
pub fn retained(envelope: &str, age_secs: f64) -> String {
    let body = envelope.strip_suffix('}').unwrap_or(envelope);
    format!("{body},\"retained\":true,\"age\":{age_secs:.3}}}")
}

/// `{"op":"error","message":...}`.
pub fn error(message: &str) -> String {
    serde_json::json!({ "op": "error", "message": message }).to_string()
}

pub const PONG: &str = r#"{"op":"pong"}"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_every_op() {
        assert_eq!(
            ClientFrame::parse(r#"{"op":"sub","sid":3,"pattern":"system.>"}"#),
            Ok(ClientFrame::Sub {
                sid: 3,
                pattern: "system.>".into()
            })
        );
        assert_eq!(
            ClientFrame::parse(r#"{"op":"unsub","sid":3}"#),
            Ok(ClientFrame::Unsub { sid: 3 })
        );
        assert_eq!(
            ClientFrame::parse(r#"{"op":"ping"}"#),
            Ok(ClientFrame::Ping)
        );
        assert_eq!(
            ClientFrame::parse(r#"{"op":"auth","token":"t"}"#),
            Ok(ClientFrame::Auth { token: "t".into() })
        );
        let Ok(ClientFrame::Pub { topic, kind, .. }) =
            ClientFrame::parse(r#"{"op":"pub","topic":"a.b","payload":{"x":1},"type":"k"}"#)
        else {
            panic!("pub should decode");
        };
        assert_eq!((topic.as_str(), kind.as_deref()), ("a.b", Some("k")));
    }

    #[test]
    fn refusals_say_why() {
        let cases = [
            ("nope", "not valid JSON"),
            ("[1]", "JSON object"),
            (r#"{"x":1}"#, "no \"op\""),
            (r#"{"op":"dance"}"#, "unknown op"),
            (r#"{"op":"sub","pattern":"a"}"#, "integer \"sid\""),
            (r#"{"op":"sub","sid":1.5,"pattern":"a"}"#, "integer \"sid\""),
            (r#"{"op":"sub","sid":1}"#, "string \"pattern\""),
            (
                r#"{"op":"pub","topic":"a","payload":3}"#,
                "object \"payload\"",
            ),
            (r#"{"op":"auth"}"#, "string \"token\""),
        ];
        for (frame, want) in cases {
            let err = ClientFrame::parse(frame).expect_err(frame);
            assert!(err.contains(want), "{frame}: {err}");
        }
    }

    #[test]
    fn envelope_and_retained_are_valid_json() {
        let mut payload = Map::new();
        payload.insert("worker".into(), "api".into());
        let env = envelope(0xab, "system.api.health", "health", 1.5, &payload);
        assert!(env.starts_with(r#"{"v":1,"id":"00000000000000ab","topic":"system.api.health","type":"health","ts":1.5,"#));
        let replay: Value = serde_json::from_str(&retained(&env, 0.3004)).expect("json");
        assert_eq!(replay["retained"], true);
        assert_eq!(replay["age"].as_f64(), Some(0.3));
        assert_eq!(replay["payload"]["worker"], "api");
    }

    #[test]
    fn kinds() {
        assert_eq!(default_kind("system.api.health"), "health");
        assert_eq!(default_kind("attacker.observed"), "event");
    }
}
