//! Oracles shared by the fuzz targets: JSON validity as serde_json sees it,
//! plus the nesting depth the registry bounds (serde_json's `IgnoredAny`
//! checks syntax only, with no depth limit and no surrogate or range check).
#![allow(dead_code)] // each target uses its own part

use serde::de::IgnoredAny;

/// The registry's nesting limit (`json::MAX_DEPTH`).
pub const MAX_DEPTH: usize = worker_registry::json::MAX_DEPTH as usize;

/// The deepest container nesting in `bytes`, strings skipped. Exact for valid
/// JSON; for anything else some number, which is enough: a text that is not
/// JSON is refused whatever its depth.
pub fn depth(bytes: &[u8]) -> usize {
    let (mut depth, mut max, mut in_string, mut escape) = (0usize, 0usize, false, false);
    for &b in bytes {
        if in_string {
            if escape {
                escape = false;
            } else if b == b'\\' {
                escape = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                max = max.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

/// Whether `bytes` is one JSON value (RFC 8259, UTF-8) nested at most
/// [`MAX_DEPTH`] levels, by serde_json. Lone surrogate escapes and numbers
/// out of f64 range are valid JSON and are valid here.
pub fn valid_json(bytes: &[u8]) -> bool {
    match std::str::from_utf8(bytes) {
        Ok(text) => serde_json::from_str::<IgnoredAny>(text).is_ok() && depth(bytes) <= MAX_DEPTH,
        Err(_) => false,
    }
}

/// Whether `bytes` is a JSON object by the same oracle.
pub fn valid_json_object(bytes: &[u8]) -> bool {
    bytes.trim_ascii_start().first() == Some(&b'{') && valid_json(bytes)
}
