//! A validating JSON scanner over UTF-8 bytes: it checks RFC 8259 syntax and
//! reports where values are, without building a tree or allocating.
//!
//! Why not serde_json: the registry drops most frames after reading one key
//! (`topic`), so a tree is wasted work, and the scanner is a fraction of the
//! code size in wasm. `tests` cross-checks it against serde_json.

/// Containers nested deeper than this are refused. The limit is serde_json's
/// own default; it bounds the recursion of whoever later walks an `extra`
/// (the JS side deep-freezes it).
pub const MAX_DEPTH: u32 = 128;

/// The scanner refused its input: bad syntax, bad UTF-8, or too deep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Invalid;

/// What kind of value starts at a position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Object,
    Array,
    String,
    Number,
    True,
    False,
    Null,
}

/// A value's place in the input: `start..end` covers the whole value,
/// quotes included for a string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub kind: Kind,
    pub start: usize,
    pub end: usize,
}

/// A string token's place: `start..end` is the content between the quotes,
/// still escaped; `escaped` says whether it holds any backslash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StrSpan {
    pub start: usize,
    pub end: usize,
    pub escaped: bool,
}

/// Bytes a string scan must look at: the quote, the backslash, control
/// characters (forbidden raw) and the first byte of any non-ASCII sequence.
static SPECIAL: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = i < 0x20 || i == b'"' as usize || i == b'\\' as usize || i >= 0x80;
        i += 1;
    }
    t
};

/// What the container walk does next.
enum Next {
    /// `pos` is at a `{` or `[` to enter.
    Open,
    /// An element just ended: expect `,` or the closing bracket.
    After,
    /// `pos` is at the closing bracket of the innermost container.
    Close,
}

/// A cursor over the input. Every method leaves `pos` just after what it
/// consumed, or returns [`Invalid`].
pub struct Scanner<'a> {
    pub bytes: &'a [u8],
    pub pos: usize,
}

impl<'a> Scanner<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Scanner { bytes, pos: 0 }
    }

    #[inline(always)]
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    #[inline(always)]
    pub fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    /// Consumes `b` (after white space) or fails.
    #[inline(always)]
    pub fn expect(&mut self, b: u8) -> Result<(), Invalid> {
        self.skip_ws();
        if self.peek() == Some(b) {
            self.pos += 1;
            Ok(())
        } else {
            Err(Invalid)
        }
    }

    /// True when only white space is left.
    pub fn at_end(&mut self) -> bool {
        self.skip_ws();
        self.pos == self.bytes.len()
    }

    /// Scans a string token whose opening quote is at `pos`.
    #[inline(always)]
    pub fn string(&mut self) -> Result<StrSpan, Invalid> {
        if self.peek() != Some(b'"') {
            return Err(Invalid);
        }
        self.pos += 1;
        let start = self.pos;
        let mut escaped = false;
        let mut non_ascii = false;
        let b = self.bytes;
        let mut i = self.pos;
        loop {
            // The common case is a run of plain ASCII: skip it in a tight loop.
            while i < b.len() && !SPECIAL[b[i] as usize] {
                i += 1;
            }
            match b.get(i) {
                None => return Err(Invalid),
                Some(b'"') => break,
                Some(b'\\') => {
                    escaped = true;
                    match b.get(i + 1) {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => i += 2,
                        Some(b'u') => {
                            let hex = b.get(i + 2..i + 6).ok_or(Invalid)?;
                            if !hex.iter().all(u8::is_ascii_hexdigit) {
                                return Err(Invalid);
                            }
                            i += 6;
                        }
                        _ => return Err(Invalid),
                    }
                }
                Some(&c) if c < 0x20 => return Err(Invalid),
                Some(_) => {
                    non_ascii = true;
                    i += 1;
                }
            }
        }
        // Validate UTF-8 once per string, and only for strings that need it.
        if non_ascii && core::str::from_utf8(&b[start..i]).is_err() {
            return Err(Invalid);
        }
        self.pos = i + 1;
        Ok(StrSpan {
            start,
            end: i,
            escaped,
        })
    }

    #[inline(always)]
    fn digits(&mut self) -> usize {
        let from = self.pos;
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
        self.pos - from
    }

    /// Scans a number by the JSON grammar: `-?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?`.
    #[inline(always)]
    fn number(&mut self) -> Result<(), Invalid> {
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(Invalid),
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if self.digits() == 0 {
                return Err(Invalid);
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            if self.digits() == 0 {
                return Err(Invalid);
            }
        }
        Ok(())
    }

    #[inline(always)]
    fn literal(&mut self, word: &[u8]) -> Result<(), Invalid> {
        if self.bytes[self.pos..].starts_with(word) {
            self.pos += word.len();
            Ok(())
        } else {
            Err(Invalid)
        }
    }

    /// Scans one complete value (after white space) and says where it is.
    /// `depth` is the nesting depth of the container holding it (0 at the
    /// top level). Containers are walked iteratively, so deep input costs
    /// no stack.
    pub fn value(&mut self, depth: u32) -> Result<Span, Invalid> {
        self.skip_ws();
        let start = self.pos;
        let kind = match self.peek().ok_or(Invalid)? {
            b'{' => {
                self.container(depth)?;
                Kind::Object
            }
            b'[' => {
                self.container(depth)?;
                Kind::Array
            }
            b'"' => {
                self.string()?;
                Kind::String
            }
            b't' => {
                self.literal(b"true")?;
                Kind::True
            }
            b'f' => {
                self.literal(b"false")?;
                Kind::False
            }
            b'n' => {
                self.literal(b"null")?;
                Kind::Null
            }
            _ => {
                self.number()?;
                Kind::Number
            }
        };
        Ok(Span {
            kind,
            start,
            end: self.pos,
        })
    }

    /// Walks the object or array at `pos` with an explicit stack: one bit per
    /// open container (1 = object), so the depth limit is also the stack size.
    fn container(&mut self, depth: u32) -> Result<(), Invalid> {
        let mut stack: u128 = 0;
        let mut open: u32 = 0;
        let mut next = Next::Open;
        loop {
            next = match next {
                Next::Open => {
                    let is_obj = self.peek() == Some(b'{');
                    if depth + open + 1 > MAX_DEPTH {
                        return Err(Invalid);
                    }
                    stack = (stack << 1) | is_obj as u128;
                    open += 1;
                    self.pos += 1;
                    self.skip_ws();
                    if self.peek() == Some(if is_obj { b'}' } else { b']' }) {
                        Next::Close
                    } else {
                        self.element(is_obj, depth + open)?
                    }
                }
                Next::After => {
                    self.skip_ws();
                    let is_obj = stack & 1 == 1;
                    match self.peek() {
                        Some(b',') => {
                            self.pos += 1;
                            self.element(is_obj, depth + open)?
                        }
                        Some(c) if c == if is_obj { b'}' } else { b']' } => Next::Close,
                        _ => return Err(Invalid),
                    }
                }
                Next::Close => {
                    self.pos += 1;
                    stack >>= 1;
                    open -= 1;
                    if open == 0 {
                        return Ok(());
                    }
                    Next::After
                }
            };
        }
    }

    /// One element of a container: a key and colon first in an object, then
    /// either the start of a nested container or a whole scalar.
    fn element(&mut self, in_obj: bool, depth: u32) -> Result<Next, Invalid> {
        self.skip_ws();
        if in_obj {
            self.string()?;
            self.expect(b':')?;
            self.skip_ws();
        }
        match self.peek() {
            Some(b'{' | b'[') => Ok(Next::Open),
            _ => {
                self.value(depth)?;
                Ok(Next::After)
            }
        }
    }

    /// Iterates over the members of the object whose `{` is at `pos`,
    /// calling `f(key, value)` for each. Nested values are validated.
    pub fn members(
        &mut self,
        depth: u32,
        f: &mut dyn FnMut(&Self, StrSpan, Span),
    ) -> Result<(), Invalid> {
        self.walk_object(depth, &mut |sc, key| {
            let value = sc.value(depth + 1)?;
            f(sc, key, value);
            Ok(())
        })
        .map_err(|_| Invalid)
    }

    /// Walks the object whose `{` is at `pos`: for each member, `f` gets the
    /// key and must consume the value itself (with [`Scanner::value`], or by
    /// walking it), which lets one pass both validate and collect. `f` may
    /// end the walk early with [`Halt::Stop`].
    pub fn walk_object(
        &mut self,
        depth: u32,
        f: &mut dyn FnMut(&mut Self, StrSpan) -> Result<(), Halt>,
    ) -> Result<(), Halt> {
        self.skip_ws();
        if self.peek() != Some(b'{') || depth + 1 > MAX_DEPTH {
            return Err(Halt::Invalid);
        }
        self.pos += 1;
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(());
        }
        loop {
            self.skip_ws();
            let key = self.string()?;
            self.expect(b':')?;
            self.skip_ws();
            f(self, key)?;
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(());
                }
                _ => return Err(Halt::Invalid),
            }
        }
    }
}

/// Why a walk ended before the end of its object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Halt {
    /// The input is not valid JSON.
    Invalid,
    /// The visitor has seen enough.
    Stop,
}

impl From<Invalid> for Halt {
    fn from(_: Invalid) -> Halt {
        Halt::Invalid
    }
}

/// Checks that `bytes` hold exactly one JSON value (surrounded by optional
/// white space).
pub fn validate(bytes: &[u8]) -> Result<Span, Invalid> {
    let mut s = Scanner::new(bytes);
    let span = s.value(0)?;
    if s.at_end() {
        Ok(span)
    } else {
        Err(Invalid)
    }
}

/// Decodes the content of a string token (between its quotes) into `out`,
/// which is cleared first. Escapes are resolved; a lone surrogate escape
/// becomes its WTF-8 encoding, so two different keys never decode alike.
/// The content must come from [`Scanner::string`] (already validated).
pub fn unescape(content: &[u8], out: &mut Vec<u8>) {
    out.clear();
    let mut i = 0;
    while i < content.len() {
        let c = content[i];
        if c != b'\\' {
            out.push(c);
            i += 1;
            continue;
        }
        let e = content.get(i + 1).copied().unwrap_or(b'\\');
        i += 2;
        let simple = match e {
            b'b' => 0x08,
            b'f' => 0x0c,
            b'n' => b'\n',
            b'r' => b'\r',
            b't' => b'\t',
            b'u' => 0,
            other => other,
        };
        if e != b'u' {
            out.push(simple);
            continue;
        }
        let hi = hex4(content, i);
        i += 4;
        let mut cp = hi;
        if (0xD800..0xDC00).contains(&hi) && content.get(i..i + 2) == Some(b"\\u") {
            let lo = hex4(content, i + 2);
            if (0xDC00..0xE000).contains(&lo) {
                cp = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
                i += 6;
            }
        }
        push_wtf8(cp, out);
    }
}

fn hex4(b: &[u8], at: usize) -> u32 {
    let mut v = 0;
    for k in 0..4 {
        let d = b.get(at + k).copied().unwrap_or(b'0');
        let n = match d {
            b'0'..=b'9' => d - b'0',
            b'a'..=b'f' => d - b'a' + 10,
            b'A'..=b'F' => d - b'A' + 10,
            _ => 0,
        };
        v = (v << 4) | n as u32;
    }
    v
}

/// UTF-8 encoding, extended to lone surrogates (WTF-8).
fn push_wtf8(cp: u32, out: &mut Vec<u8>) {
    if cp < 0x80 {
        out.push(cp as u8);
    } else if cp < 0x800 {
        out.extend_from_slice(&[0xC0 | (cp >> 6) as u8, 0x80 | (cp & 0x3F) as u8]);
    } else if cp < 0x10000 {
        out.extend_from_slice(&[
            0xE0 | (cp >> 12) as u8,
            0x80 | ((cp >> 6) & 0x3F) as u8,
            0x80 | (cp & 0x3F) as u8,
        ]);
    } else {
        out.extend_from_slice(&[
            0xF0 | (cp >> 18) as u8,
            0x80 | ((cp >> 12) & 0x3F) as u8,
            0x80 | ((cp >> 6) & 0x3F) as u8,
            0x80 | (cp & 0x3F) as u8,
        ]);
    }
}

/// Appends `s` to `out` as a JSON string literal, quotes included.
pub fn quote(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.push_str("\\u00");
                out.push(HEX[(c as usize) >> 4] as char);
                out.push(HEX[(c as usize) & 15] as char);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Parses a JSON number token (already validated) or a numeric string's
/// content as `f64`. Returns `None` for anything that is not a finite
/// decimal number: `"abc"`, `"NaN"`, `"Infinity"`, `1e999`. A numeric
/// *string* may be written loosely ("+5", ".5", "5.", surrounding spaces),
/// as the original's float() allowed.
pub fn finite_f64(text: &[u8]) -> Option<f64> {
    let t = text.trim_ascii();
    let d = Decimal::parse(t)?;
    let v = match d.exact() {
        Some(v) => v,
        None => slow_f64(core::str::from_utf8(t).ok()?)?,
    };
    v.is_finite().then_some(v)
}

/// A decimal number split into sign, significant digits and exponent.
struct Decimal {
    negative: bool,
    /// The first 19 significant digits.
    mantissa: u64,
    /// Significant digits beyond the 19 kept in `mantissa`.
    dropped: bool,
    /// The value is `mantissa * 10^exponent`.
    exponent: i64,
}

impl Decimal {
    /// `[+-]? (digits [. digits*]? | . digits) ([eE] [+-]? digits)?`, the
    /// grammar of both JSON numbers and the loose numeric strings.
    fn parse(t: &[u8]) -> Option<Decimal> {
        let mut d = Decimal {
            negative: t.first() == Some(&b'-'),
            mantissa: 0,
            dropped: false,
            exponent: 0,
        };
        let mut i = usize::from(matches!(t.first(), Some(b'-' | b'+')));
        let mut digits = 0u32;
        let mut seen = false;
        let mut fraction = false;
        loop {
            match t.get(i) {
                Some(&c @ b'0'..=b'9') => {
                    seen = true;
                    let digit = (c - b'0') as u64;
                    if d.mantissa == 0 && digit == 0 {
                        // Leading zeros are not significant.
                        d.exponent -= i64::from(fraction);
                    } else if digits < 19 {
                        d.mantissa = d.mantissa * 10 + digit;
                        digits += 1;
                        d.exponent -= i64::from(fraction);
                    } else {
                        d.dropped |= digit != 0;
                        d.exponent += i64::from(!fraction);
                    }
                }
                Some(b'.') if !fraction => fraction = true,
                _ => break,
            }
            i += 1;
        }
        if !seen {
            return None;
        }
        if let Some(b'e' | b'E') = t.get(i) {
            i += 1;
            let neg = t.get(i) == Some(&b'-');
            if matches!(t.get(i), Some(b'-' | b'+')) {
                i += 1;
            }
            let (mut e, mut n) = (0i64, 0);
            while let Some(&c @ b'0'..=b'9') = t.get(i) {
                e = (e * 10 + (c - b'0') as i64).min(1 << 40);
                n += 1;
                i += 1;
            }
            if n == 0 {
                return None;
            }
            d.exponent += if neg { -e } else { e };
        }
        (i == t.len()).then_some(d)
    }

    /// The value when one IEEE operation gives it exactly rounded: the
    /// mantissa and the power of ten are both exact in an f64 (Clinger's
    /// fast path). Heartbeat timestamps such as 1764190000.5 always are.
    fn exact(&self) -> Option<f64> {
        const POW10: [f64; 23] = [
            1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
            1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
        ];
        let m = if self.mantissa == 0 {
            0.0
        } else if self.dropped || self.mantissa > 1 << 53 || self.exponent.unsigned_abs() > 22 {
            return None;
        } else {
            let m = self.mantissa as f64;
            let p = POW10[self.exponent.unsigned_abs() as usize];
            if self.exponent < 0 {
                m / p
            } else {
                m * p
            }
        };
        Some(if self.negative { -m } else { m })
    }
}

/// The rare number the fast path cannot round exactly. In the browser the
/// engine's own correctly rounded parser does it (the text already passed
/// the grammar above, so `Number()` reads it the same way); this keeps
/// Rust's float-parsing tables, about 16 KB, out of the wasm.
#[cfg(target_arch = "wasm32")]
fn slow_f64(s: &str) -> Option<f64> {
    #[wasm_bindgen::prelude::wasm_bindgen]
    extern "C" {
        #[wasm_bindgen(js_name = Number)]
        fn js_number(s: &str) -> f64;
    }
    Some(js_number(s))
}

#[cfg(not(target_arch = "wasm32"))]
fn slow_f64(s: &str) -> Option<f64> {
    s.parse().ok()
}

/// Appends the decimal digits of `n` (no formatting machinery in the wasm).
pub fn push_u64(out: &mut String, mut n: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for &b in &buf[i..] {
        out.push(b as char);
    }
}

/// Text from the wire for a message: UTF-8 as it is, or a placeholder.
pub fn text(bytes: &[u8]) -> String {
    match core::str::from_utf8(bytes) {
        Ok(s) => s.into(),
        Err(_) => "(not UTF-8)".into(),
    }
}

/// Whether `haystack` contains `needle`, ignoring ASCII case.
pub fn contains_ignore_case(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> bool {
        validate(s.as_bytes()).is_ok()
    }

    #[test]
    fn accepts_what_json_allows() {
        for s in [
            "{}",
            "[]",
            " { } ",
            "0",
            "-0",
            "1.5e-3",
            "1E+9",
            "\"\"",
            "\"a\\u00e9\\n\\\"\"",
            "\"é€𝄞\"",
            "true",
            "false",
            "null",
            "[1,[2,[3,{}]],{\"a\":[]}]",
            "{\"a\":{\"b\":{\"c\":null}},\"d\":[true,false]}",
            "\"\\ud800\"",
        ] {
            assert!(ok(s), "{s}");
        }
    }

    #[test]
    fn refuses_what_json_does_not() {
        for s in [
            "",
            " ",
            "{",
            "}",
            "[1,]",
            "{\"a\":1,}",
            "{,}",
            "[,1]",
            "{\"a\"}",
            "{\"a\" 1}",
            "{a:1}",
            "01",
            "1.",
            ".5",
            "+1",
            "1e",
            "-",
            "NaN",
            "Infinity",
            "tru",
            "nul",
            "\"abc",
            "\"\\x\"",
            "\"\\u12g4\"",
            "\"a\nb\"",
            "\"\t\"",
            "[1] [2]",
            "{}x",
            "[1 2]",
            "{\"a\":1 \"b\":2}",
            "[}",
            "{]",
        ] {
            assert!(!ok(s), "{s:?}");
        }
    }

    #[test]
    fn refuses_invalid_utf8_in_strings() {
        assert!(validate(b"\"\xff\"").is_err());
        assert!(validate(b"\"\xc3\"").is_err());
        assert!(
            validate(b"\"\xed\xa0\x80\"").is_err(),
            "UTF-8 encoded surrogate"
        );
        assert!(validate(b"\"\xc0\xaf\"").is_err(), "overlong");
        assert!(
            validate(b"\xef\xbb\xbf{}").is_err(),
            "a byte-order mark is not JSON"
        );
    }

    #[test]
    fn depth_is_limited_without_recursion() {
        let at = |n: usize| "[".repeat(n) + &"]".repeat(n);
        assert!(ok(&at(MAX_DEPTH as usize)));
        assert!(!ok(&at(MAX_DEPTH as usize + 1)));
        // 5 000 levels must be refused, not overflow the stack.
        assert!(!ok(&at(5000)));
        let objs = "{\"a\":".repeat(5000) + "1" + &"}".repeat(5000);
        assert!(!ok(&objs));
    }

    #[test]
    fn members_reports_keys_and_values() {
        let src = br#" {"a": 1, "b\u0063": {"x": [1, 2]}, "s": "t"} "#;
        let mut s = Scanner::new(src);
        let mut seen = Vec::new();
        let mut scratch = Vec::new();
        s.members(0, &mut |sc, k, v| {
            unescape(&sc.bytes[k.start..k.end], &mut scratch);
            seen.push((
                String::from_utf8(scratch.clone()).unwrap(),
                String::from_utf8(sc.bytes[v.start..v.end].to_vec()).unwrap(),
                v.kind,
            ));
        })
        .unwrap();
        assert_eq!(
            seen,
            vec![
                ("a".into(), "1".into(), Kind::Number),
                ("bc".into(), "{\"x\": [1, 2]}".into(), Kind::Object),
                ("s".into(), "\"t\"".into(), Kind::String),
            ]
        );
    }

    #[test]
    fn unescape_resolves_pairs_and_keeps_lone_surrogates_distinct() {
        let mut out = Vec::new();
        unescape(br"\ud834\udd1e", &mut out);
        assert_eq!(out, "𝄞".as_bytes());
        unescape(br"a\/b\tc", &mut out);
        assert_eq!(out, b"a/b\tc");
        let mut lone = Vec::new();
        unescape(br"\ud800", &mut lone);
        assert_eq!(lone, b"\xed\xa0\x80");
    }

    #[test]
    fn quote_escapes_what_json_requires() {
        let mut out = String::new();
        quote("a\"b\\c\nd\u{1}é", &mut out);
        assert_eq!(out, r#""a\"b\\c\nd\u0001é""#);
        assert_eq!(
            serde_json::from_str::<String>(&out).unwrap(),
            "a\"b\\c\nd\u{1}é"
        );
    }

    #[test]
    fn small_helpers() {
        let mut s = String::new();
        for n in [0, 7, 10, 4408, u64::MAX] {
            s.clear();
            push_u64(&mut s, n);
            assert_eq!(s, n.to_string());
        }
        assert_eq!(text(b"ok \xff"), "(not UTF-8)");
        assert!(contains_ignore_case(
            b"-ERR 'Authorization Violation'",
            b"authorization"
        ));
        assert!(!contains_ignore_case(b"short", b"much longer needle"));
    }

    #[test]
    fn the_fast_path_rounds_exactly_like_the_standard_parser() {
        for t in [
            "0",
            "-0",
            "1",
            "1764190000.5",
            "1764190000.123456",
            "0.1",
            "0.3",
            "123456789012345678",
            "9007199254740993",
            "1e22",
            "1e23",
            "1.5e-7",
            "4.9e-324",
            "1.7976931348623157e308",
            "0.000000000000000000000000001",
            "12345678901234567890123",
            "+5",
            ".5",
            "5.",
            "00012.50",
        ] {
            let ours = finite_f64(t.as_bytes()).unwrap();
            let std: f64 = t.parse().unwrap();
            assert_eq!(ours.to_bits(), std.to_bits(), "{t}");
        }
        for bad in [
            "", ".", "-", "+", "e5", "1e", "1e+", "--1", "1.2.3", "0x10", "1_0", "inf", "NaN",
            "1 2",
        ] {
            assert_eq!(finite_f64(bad.as_bytes()), None, "{bad:?}");
        }
    }

    #[test]
    fn numbers_must_be_finite() {
        assert_eq!(finite_f64(b"1764190000.5"), Some(1764190000.5));
        assert_eq!(finite_f64(b"-3"), Some(-3.0));
        assert_eq!(finite_f64(b" 12 "), Some(12.0));
        for bad in [
            &b"1e999"[..],
            b"abc",
            b"NaN",
            b"Infinity",
            b"inf",
            b"",
            b"0x10",
            b"1_0",
        ] {
            assert_eq!(finite_f64(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }
}
