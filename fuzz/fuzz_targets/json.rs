//! Fuzz target `json`: the registry's JSON scanner against serde_json (validity,
//! string unescaping) and its number parser against the standard library's.
#![no_main]

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use worker_registry::json::{self, Kind};

fuzz_target!(|data: &[u8]| {
    // Validity. serde_json's IgnoredAny checks syntax and UTF-8 only, so lone
    // surrogate escapes (`"\ud800"`) and `1e999` are valid to both, as JSON
    // says; the depth limit is the registry's own (`common::depth`).
    let ours = json::validate(data);
    assert_eq!(
        ours.is_ok(),
        common::valid_json(data),
        "validate disagrees with serde_json on {:?}",
        String::from_utf8_lossy(data)
    );
    if let Ok(span) = ours {
        let trimmed = data.trim_ascii();
        assert_eq!(
            &data[span.start..span.end],
            trimmed,
            "the span is the value"
        );
        // A string: unescaped as serde_json decodes it (unless it holds a
        // lone surrogate, which a Rust string cannot).
        if span.kind == Kind::String {
            let mut out = Vec::new();
            json::unescape(&data[span.start + 1..span.end - 1], &mut out);
            match serde_json::from_slice::<String>(data) {
                Ok(s) => assert_eq!(out, s.as_bytes(), "unescape"),
                // Syntax passed, so a hex escape error is a lone surrogate.
                Err(e) => assert!(
                    e.to_string().contains("surrogate") || e.to_string().contains("hex escape"),
                    "serde_json refused a string the scanner took: {e}"
                ),
            }
        }
        // A number: parsed as the standard library parses it.
        if span.kind == Kind::Number {
            let text = std::str::from_utf8(trimmed).unwrap();
            let std = text.parse::<f64>().unwrap();
            let got = json::finite_f64(trimmed);
            match std.is_finite() {
                true => assert_eq!(got.map(f64::to_bits), Some(std.to_bits()), "{text}"),
                false => assert_eq!(got, None, "{text}"),
            }
        }
    }

    // Loose numeric strings (`payload.ts` as a string): the standard parser's
    // grammar without inf/nan, finite values only.
    if let Ok(text) = std::str::from_utf8(data) {
        let t = text.trim_ascii();
        let std = t.parse::<f64>().ok().filter(|v| {
            v.is_finite()
                && !t
                    .bytes()
                    .any(|b| b.is_ascii_alphabetic() && b != b'e' && b != b'E')
        });
        assert_eq!(
            json::finite_f64(data).map(f64::to_bits),
            std.map(f64::to_bits),
            "finite_f64({text:?})"
        );
    } else {
        assert_eq!(json::finite_f64(data), None, "not UTF-8, not a number");
    }
});
