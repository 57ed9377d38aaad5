//! An incremental parser for the NATS client protocol, server to client:
//! bytes in (WebSocket frames cut anywhere), operations out. Pure.
//!
//! A protocol line or a message may span frames, and one frame may hold many
//! operations, so the parser keeps the unfinished tail of the stream and only
//! reports an operation once it is whole.

use crate::json::{self, Kind, Scanner};

/// Longest protocol line the client accepts (the server's own default
/// `max_control_line` is 4 KiB).
pub const MAX_LINE: usize = 4096;

/// One server operation. Slices borrow the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op<'a> {
    /// `INFO {json}`: the server's description of itself.
    Info(&'a [u8]),
    /// `MSG` or `HMSG` (headers dropped): an event on `subject`.
    Msg {
        subject: &'a [u8],
        sid: &'a [u8],
        payload: &'a [u8],
    },
    Ping,
    Pong,
    Ok,
    /// `-ERR 'message'`, without the quotes.
    Err(&'a [u8]),
}

/// Why the stream cannot be read any further. After one, the connection
/// must be dropped: the parser no longer knows where an operation starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    LineTooLong,
    PayloadTooLarge {
        size: usize,
        limit: usize,
    },
    /// A line the protocol does not allow, with what was wrong.
    BadLine(&'static str),
}

impl ParseError {
    pub fn message(&self) -> String {
        match self {
            ParseError::LineTooLong => {
                "nats protocol error: a control line is longer than 4096 bytes".into()
            }
            ParseError::PayloadTooLarge { size, limit } => {
                let mut m = String::from("nats protocol error: a message of ");
                json::push_u64(&mut m, *size as u64);
                m.push_str(" bytes exceeds the limit of ");
                json::push_u64(&mut m, *limit as u64);
                m
            }
            ParseError::BadLine(why) => {
                let mut m = String::from("nats protocol error: ");
                m.push_str(why);
                m
            }
        }
    }
}

/// The parser. Feed it frames in order; it calls back once per operation.
#[derive(Debug)]
pub struct Parser {
    /// The unfinished tail of the stream, when the last frame ended inside
    /// an operation.
    buf: Vec<u8>,
    max_payload: usize,
    failed: Option<ParseError>,
}

impl Parser {
    /// `max_payload` bounds a message body; lower it further with
    /// [`Parser::limit_payload`] once the server's INFO says its own limit.
    pub fn new(max_payload: usize) -> Self {
        Parser {
            buf: Vec::new(),
            max_payload,
            failed: None,
        }
    }

    pub fn limit_payload(&mut self, max: usize) {
        self.max_payload = self.max_payload.min(max);
    }

    pub fn max_payload(&self) -> usize {
        self.max_payload
    }

    /// Bytes held back waiting for the rest of an operation.
    pub fn pending(&self) -> usize {
        self.buf.len()
    }

    /// Feeds one chunk, calling `on` for every operation it completes.
    pub fn feed(&mut self, chunk: &[u8], mut on: impl FnMut(Op<'_>)) -> Result<(), ParseError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let max = self.max_payload;
        let result = if self.buf.is_empty() {
            // The common case: whole operations in one frame, no copying.
            let r = parse_all(chunk, max, &mut on);
            if let Ok(used) = r {
                self.buf.extend_from_slice(&chunk[used..]);
            }
            r
        } else {
            self.buf.extend_from_slice(chunk);
            let r = parse_all(&self.buf, max, &mut on);
            if let Ok(used) = r {
                self.buf.drain(..used);
            }
            r
        };
        match result {
            Ok(_) => Ok(()),
            Err(e) => {
                self.buf = Vec::new();
                self.failed = Some(e.clone());
                Err(e)
            }
        }
    }
}

/// Parses every complete operation in `data`; returns how many bytes they
/// took. An incomplete tail is left for the next frame.
fn parse_all(
    data: &[u8],
    max_payload: usize,
    on: &mut impl FnMut(Op<'_>),
) -> Result<usize, ParseError> {
    let mut pos = 0;
    while pos < data.len() {
        match parse_one(&data[pos..], max_payload)? {
            Some((op, used)) => {
                on(op);
                pos += used;
            }
            None => break,
        }
    }
    Ok(pos)
}

/// One operation at the start of `data`, with its length, or `None` when
/// `data` ends before the operation does.
fn parse_one(data: &[u8], max_payload: usize) -> Result<Option<(Op<'_>, usize)>, ParseError> {
    let Some(nl) = data.iter().take(MAX_LINE + 2).position(|&b| b == b'\n') else {
        return if data.len() > MAX_LINE + 1 {
            Err(ParseError::LineTooLong)
        } else {
            Ok(None)
        };
    };
    let line = &data[..nl];
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.len() > MAX_LINE {
        return Err(ParseError::LineTooLong);
    }
    let after = nl + 1;
    let (verb, args) = split_verb(line);
    let op = match verb {
        v if v.eq_ignore_ascii_case(b"MSG") || v.eq_ignore_ascii_case(b"HMSG") => {
            return parse_msg(v.len() == 4, args, &data[after..], max_payload)
                .map(|o| o.map(|(op, used)| (op, after + used)));
        }
        v if v.eq_ignore_ascii_case(b"PING") => Op::Ping,
        v if v.eq_ignore_ascii_case(b"PONG") => Op::Pong,
        v if v.eq_ignore_ascii_case(b"+OK") => Op::Ok,
        v if v.eq_ignore_ascii_case(b"-ERR") => Op::Err(unquote(args)),
        v if v.eq_ignore_ascii_case(b"INFO") => Op::Info(args),
        b"" => return Err(ParseError::BadLine("an empty line")),
        _ => return Err(ParseError::BadLine("an unknown operation")),
    };
    Ok(Some((op, after)))
}

fn is_space(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// Splits a line into its verb and the rest, trimmed.
fn split_verb(line: &[u8]) -> (&[u8], &[u8]) {
    let line = trim(line);
    match line.iter().position(|&b| is_space(b)) {
        Some(i) => (&line[..i], trim(&line[i..])),
        None => (line, &[]),
    }
}

fn trim(mut s: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = s {
        if !is_space(*first) {
            break;
        }
        s = rest;
    }
    while let [rest @ .., last] = s {
        if !is_space(*last) {
            break;
        }
        s = rest;
    }
    s
}

fn unquote(s: &[u8]) -> &[u8] {
    let s = trim(s);
    s.strip_prefix(b"'")
        .and_then(|s| s.strip_suffix(b"'"))
        .unwrap_or(s)
}

fn parse_size(s: &[u8]) -> Result<usize, ParseError> {
    if s.is_empty() || s.len() > 12 || !s.iter().all(u8::is_ascii_digit) {
        return Err(ParseError::BadLine("a message size that is not a number"));
    }
    Ok(s.iter().fold(0usize, |n, d| n * 10 + (d - b'0') as usize))
}

/// `MSG <subject> <sid> [reply-to] <#bytes>` or
/// `HMSG <subject> <sid> [reply-to] <#header bytes> <#total bytes>`,
/// followed by the body and CRLF.
fn parse_msg<'a>(
    headers: bool,
    args: &'a [u8],
    rest: &'a [u8],
    max_payload: usize,
) -> Result<Option<(Op<'a>, usize)>, ParseError> {
    let mut parts: [&[u8]; 5] = [&[]; 5];
    let mut n = 0;
    for part in args.split(|&b| is_space(b)).filter(|p| !p.is_empty()) {
        if n == parts.len() {
            return Err(ParseError::BadLine("a MSG line with too many arguments"));
        }
        parts[n] = part;
        n += 1;
    }
    let sizes = if headers { 2 } else { 1 };
    if n != 2 + sizes && n != 3 + sizes {
        return Err(ParseError::BadLine(
            "a MSG line with the wrong number of arguments",
        ));
    }
    let total = parse_size(parts[n - 1])?;
    let header_len = if headers {
        parse_size(parts[n - 2])?
    } else {
        0
    };
    if header_len > total {
        return Err(ParseError::BadLine(
            "an HMSG whose headers are longer than the message",
        ));
    }
    if total - header_len > max_payload {
        return Err(ParseError::PayloadTooLarge {
            size: total - header_len,
            limit: max_payload,
        });
    }
    if rest.len() < total + 2 {
        return Ok(None);
    }
    if &rest[total..total + 2] != b"\r\n" {
        return Err(ParseError::BadLine("a message not followed by CRLF"));
    }
    Ok(Some((
        Op::Msg {
            subject: parts[0],
            sid: parts[1],
            payload: &rest[header_len..total],
        },
        total + 2,
    )))
}

/// The server's `max_payload` from its INFO, if it says.
pub fn info_max_payload(info: &[u8]) -> Option<usize> {
    let mut s = Scanner::new(info);
    let mut found = None;
    s.members(0, &mut |sc, key, value| {
        if !key.escaped
            && &sc.bytes[key.start..key.end] == b"max_payload"
            && value.kind == Kind::Number
        {
            found = json::finite_f64(&sc.bytes[value.start..value.end]);
        }
    })
    .ok()?;
    found.filter(|v| *v >= 0.0).map(|v| v as usize)
}

/// Credentials for `CONNECT`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    pub token: Option<String>,
    pub user: Option<String>,
    pub pass: Option<String>,
}

/// What the client sends once the server's INFO arrives: `CONNECT`, the two
/// health subscriptions, and a `PING` whose `PONG` confirms the server
/// accepted all of it.
pub fn handshake(creds: &Credentials) -> String {
    let mut c = String::from(
        r#"CONNECT {"verbose":false,"pedantic":false,"protocol":1,"lang":"rust-wasm","version":""#,
    );
    c.push_str(env!("CARGO_PKG_VERSION"));
    c.push_str(r#"","headers":false"#);
    for (key, value) in [
        ("auth_token", &creds.token),
        ("user", &creds.user),
        ("pass", &creds.pass),
    ] {
        if let Some(v) = value {
            c.push_str(",\"");
            c.push_str(key);
            c.push_str("\":");
            json::quote(v, &mut c);
        }
    }
    c.push_str("}\r\nSUB system.*.health 1\r\nSUB system.bus.health 2\r\nPING\r\n");
    c
}

#[cfg(test)]
mod tests;
