//! Pure: what the gateway relays for one upstream event: the envelope with
//! the topic the bus routed on (never the body's `topic`), or a bare
//! heartbeat payload (`nats pub` from a shell) wrapped in an envelope.

use serde_json::Value;

use crate::frame::{default_kind, envelope};

/// Why an upstream body was not relayed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BadBody {
    NotJson,
    NotObject,
}

impl std::fmt::Display for BadBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            BadBody::NotJson => "body is not JSON",
            BadBody::NotObject => "body is not a JSON object",
        })
    }
}

/// The envelope to relay for `body` received on `topic`. `id` and `now`
/// (unix seconds) are used only when a bare payload must be wrapped. The
/// payload is passed through as it is, however malformed its fields: the
/// registry judges it and counts the reason.
pub fn relay(topic: &str, body: &[u8], id: u64, now: f64) -> Result<String, BadBody> {
    let value: Value = serde_json::from_slice(body).map_err(|_| BadBody::NotJson)?;
    let Value::Object(mut obj) = value else {
        return Err(BadBody::NotObject);
    };
    if !matches!(obj.get("payload"), Some(Value::Object(_))) {
        return Ok(envelope(id, topic, default_kind(topic), now, &obj));
    }
    if obj.get("topic").and_then(Value::as_str) == Some(topic) {
        // Already right: relay the bytes as they came. They are valid JSON,
        // so valid UTF-8.
        if let Ok(text) = std::str::from_utf8(body) {
            return Ok(text.trim().to_owned());
        }
    }
    obj.insert("topic".into(), Value::String(topic.to_owned()));
    Ok(Value::Object(obj).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(s: &str) -> Value {
        serde_json::from_str(s).expect("json")
    }

    #[test]
    fn envelope_with_the_right_topic_passes_unchanged() {
        let body = r#"{"v":1,"id":"ab","topic":"system.api.health","type":"health","ts":2.5,"payload":{"worker":"api","ts":"abc"}}"#;
        assert_eq!(
            relay("system.api.health", body.as_bytes(), 0, 9.0).as_deref(),
            Ok(body)
        );
    }

    #[test]
    fn the_routed_topic_wins_over_the_body() {
        let body = br#"{"v":1,"id":"ab","topic":"system.evil.health","type":"health","ts":2.5,"payload":{"worker":"api"}}"#;
        let out = json(&relay("system.api.health", body, 0, 9.0).expect("relayed"));
        assert_eq!(out["topic"], "system.api.health");
        assert_eq!(out["id"], "ab");
        assert_eq!(out["ts"], 2.5);
    }

    #[test]
    fn a_bare_payload_is_wrapped() {
        let out = relay(
            "system.api.health",
            br#"{"worker":"api","ts":1.5}"#,
            0xab,
            9.0,
        )
        .expect("relayed");
        let v = json(&out);
        assert_eq!(v["type"], "health");
        assert_eq!(v["ts"], 9.0);
        assert_eq!(v["payload"], json(r#"{"worker":"api","ts":1.5}"#));
    }

    #[test]
    fn non_objects_are_refused() {
        assert_eq!(relay("a", b"nope", 0, 0.0), Err(BadBody::NotJson));
        assert_eq!(relay("a", b"", 0, 0.0), Err(BadBody::NotJson));
        assert_eq!(relay("a", b"[1]", 0, 0.0), Err(BadBody::NotObject));
    }
}
