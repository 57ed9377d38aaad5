//! Pure incremental codec for DECNET's UNIX-socket bus (docs/decnet-bus.md):
//! bytes in, whole frames out however they were split, and the encoder.
//! It checks framing only; what a verb or a body means is the driver's.

use std::fmt;

/// Longest header line, without its LF (and without a CR before the LF).
pub const MAX_HEADER: usize = 4096;

/// Largest body: 1 MiB.
pub const MAX_BODY: usize = 1 << 20;

/// One decoded frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The text before the first space of the header line.
    pub verb: String,
    /// The rest of the header line, trimmed; empty when there is none.
    pub args: String,
    /// Empty or, by the protocol, a JSON object (not checked here).
    pub body: Vec<u8>,
}

/// Why a byte stream is not DECNET framing. Any of these ends the
/// connection: after a framing error the stream cannot be resynchronised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// No LF within the first `MAX_HEADER` bytes of a header line.
    HeaderTooLong,
    /// A header byte outside printable ASCII (a CR just before the LF
    /// excepted).
    HeaderNotAscii(u8),
    /// A header line with nothing before its first space.
    EmptyVerb,
    /// A body length above `MAX_BODY`.
    BodyTooLarge(u32),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::HeaderTooLong => write!(f, "header line longer than {MAX_HEADER} bytes"),
            Error::HeaderNotAscii(b) => write!(f, "header byte 0x{b:02x} is not printable ASCII"),
            Error::EmptyVerb => write!(f, "header line has no verb"),
            Error::BodyTooLarge(n) => write!(f, "body of {n} bytes is over {MAX_BODY}"),
        }
    }
}

impl std::error::Error for Error {}

/// Where the decoder is within the current frame.
#[derive(Debug)]
enum State {
    /// Looking for the LF; `scanned` bytes of the line are known not to be
    /// one, so a header fed a byte at a time is scanned once, not n² times.
    Header { scanned: usize },
    /// Header done, waiting for the 4 length bytes.
    Length { verb: String, args: String },
    /// Waiting for `len` body bytes.
    Body {
        verb: String,
        args: String,
        len: usize,
    },
}

/// The incremental decoder: `feed` bytes as they arrive, then call
/// `next_frame` until it returns `Ok(None)`.
#[derive(Debug)]
pub struct Decoder {
    buf: Vec<u8>,
    /// Start of the unconsumed bytes in `buf`; consumed bytes are dropped in
    /// one move once they are the larger part, not after every frame.
    pos: usize,
    state: State,
    /// Set by the first error; the stream is dead from then on.
    failed: Option<Error>,
}

impl Default for Decoder {
    fn default() -> Decoder {
        Decoder::new()
    }
}

impl Decoder {
    pub fn new() -> Decoder {
        Decoder {
            buf: Vec::new(),
            pos: 0,
            state: State::Header { scanned: 0 },
            failed: None,
        }
    }

    /// Appends bytes read from the socket.
    pub fn feed(&mut self, bytes: &[u8]) {
        if self.failed.is_some() {
            return;
        }
        if self.pos > 0 && self.pos >= self.buf.len() / 2 {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// Bytes fed but not yet returned as part of a frame.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// The next whole frame, `Ok(None)` when more bytes are needed, or the
    /// framing error (returned again on every later call).
    pub fn next_frame(&mut self) -> Result<Option<Frame>, Error> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        match self.step() {
            Err(e) => {
                self.failed = Some(e.clone());
                self.buf = Vec::new();
                self.pos = 0;
                Err(e)
            }
            ok => ok,
        }
    }

    fn step(&mut self) -> Result<Option<Frame>, Error> {
        loop {
            let rest = &self.buf[self.pos..];
            match &mut self.state {
                State::Header { scanned } => {
                    let Some(nl) = rest[*scanned..].iter().position(|&b| b == b'\n') else {
                        // The line may still end in CR LF: MAX_HEADER + 1
                        // bytes without an LF are not yet too many.
                        if rest.len() > MAX_HEADER + 1 {
                            return Err(Error::HeaderTooLong);
                        }
                        *scanned = rest.len();
                        return Ok(None);
                    };
                    let end = *scanned + nl;
                    let line = rest[..end].strip_suffix(b"\r").unwrap_or(&rest[..end]);
                    if line.len() > MAX_HEADER {
                        return Err(Error::HeaderTooLong);
                    }
                    let (verb, args) = parse_header(line)?;
                    self.pos += end + 1;
                    self.state = State::Length { verb, args };
                }
                State::Length { verb, args } => {
                    let Some(bytes) = rest.get(..4) else {
                        return Ok(None);
                    };
                    let len = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
                    if len as usize > MAX_BODY {
                        return Err(Error::BodyTooLarge(len));
                    }
                    self.pos += 4;
                    self.state = State::Body {
                        verb: std::mem::take(verb),
                        args: std::mem::take(args),
                        len: len as usize,
                    };
                }
                State::Body { verb, args, len } => {
                    let Some(body) = rest.get(..*len) else {
                        return Ok(None);
                    };
                    let frame = Frame {
                        verb: std::mem::take(verb),
                        args: std::mem::take(args),
                        body: body.to_vec(),
                    };
                    self.pos += *len;
                    self.state = State::Header { scanned: 0 };
                    return Ok(Some(frame));
                }
            }
        }
    }
}

/// Splits a header line into verb and trimmed args.
fn parse_header(line: &[u8]) -> Result<(String, String), Error> {
    if let Some(&bad) = line.iter().find(|&&b| !(0x20..=0x7e).contains(&b)) {
        return Err(Error::HeaderNotAscii(bad));
    }
    // Printable ASCII is UTF-8, so this never fails; the fallback keeps the
    // no-panic promise without an unwrap.
    let text = std::str::from_utf8(line).map_err(|_| Error::HeaderNotAscii(0))?;
    let (verb, args) = text.split_once(' ').unwrap_or((text, ""));
    if verb.is_empty() {
        return Err(Error::EmptyVerb);
    }
    Ok((verb.to_owned(), args.trim().to_owned()))
}

/// Encodes one frame. The caller passes args without whitespace other than
/// the separating space (topics and patterns have none) and a body of at
/// most `MAX_BODY` bytes; a longer body is an error rather than a frame the
/// daemon would close the connection on.
pub fn encode(verb: &str, args: &str, body: &[u8]) -> Result<Vec<u8>, Error> {
    if body.len() > MAX_BODY {
        return Err(Error::BodyTooLarge(
            u32::try_from(body.len()).unwrap_or(u32::MAX),
        ));
    }
    let header_len = verb.len() + usize::from(!args.is_empty()) + args.len();
    if header_len > MAX_HEADER {
        return Err(Error::HeaderTooLong);
    }
    let mut out = Vec::with_capacity(header_len + 5 + body.len());
    out.extend_from_slice(verb.as_bytes());
    if !args.is_empty() {
        out.push(b' ');
        out.extend_from_slice(args.as_bytes());
    }
    out.push(b'\n');
    // Fits: checked against MAX_BODY above.
    out.extend_from_slice(&(body.len() as u32).to_be_bytes());
    out.extend_from_slice(body);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(verb: &str, args: &str, body: &[u8]) -> Frame {
        Frame {
            verb: verb.into(),
            args: args.into(),
            body: body.to_vec(),
        }
    }

    /// Feeds `input` in the given pieces and collects every frame, or the
    /// first error.
    fn decode_pieces(pieces: &[&[u8]]) -> Result<Vec<Frame>, Error> {
        let mut d = Decoder::new();
        let mut out = Vec::new();
        for piece in pieces {
            d.feed(piece);
            while let Some(f) = d.next_frame()? {
                out.push(f);
            }
        }
        Ok(out)
    }

    fn stream() -> (Vec<u8>, Vec<Frame>) {
        let body = br#"{"v":1,"id":"ab","topic":"system.api.health","type":"health","ts":1.5,"payload":{"worker":"api","ts":1.4}}"#;
        let mut bytes = Vec::new();
        bytes.extend(encode("EVT", "system.api.health", body).expect("encodes"));
        bytes.extend(encode("BYE", "", b"").expect("encodes"));
        // A CR before the LF, padded args and a one-byte body.
        bytes.extend(b"SUB   system.*.health  \r\n\x00\x00\x00\x01x");
        let frames = vec![
            frame("EVT", "system.api.health", body),
            frame("BYE", "", b""),
            frame("SUB", "system.*.health", b"x"),
        ];
        (bytes, frames)
    }

    #[test]
    fn decodes_whole_input() {
        let (bytes, frames) = stream();
        assert_eq!(decode_pieces(&[&bytes]), Ok(frames));
    }

    #[test]
    fn split_at_every_byte_gives_the_same_frames() {
        let (bytes, frames) = stream();
        for cut in 0..=bytes.len() {
            let (a, b) = bytes.split_at(cut);
            assert_eq!(decode_pieces(&[a, b]), Ok(frames.clone()), "cut at {cut}");
        }
        let singles: Vec<&[u8]> = bytes.chunks(1).collect();
        assert_eq!(decode_pieces(&singles), Ok(frames));
    }

    #[test]
    fn header_limit_is_exact() {
        let at_limit = "a".repeat(MAX_HEADER);
        let bytes = encode(&at_limit, "", b"").expect("encodes");
        assert_eq!(
            decode_pieces(&[&bytes]).map(|f| f.len()),
            Ok(1),
            "4096 bytes fit"
        );
        let mut with_cr = at_limit.clone().into_bytes();
        with_cr.extend(b"\r\n\0\0\0\0");
        assert_eq!(decode_pieces(&[&with_cr]).map(|f| f.len()), Ok(1));

        let over = format!("{at_limit}a\n\0\0\0\0");
        assert_eq!(decode_pieces(&[over.as_bytes()]), Err(Error::HeaderTooLong));
        // Without an LF the error comes as soon as no LF can end the line
        // in time, not after waiting forever.
        let endless = vec![b'a'; MAX_HEADER + 2];
        assert_eq!(decode_pieces(&[&endless]), Err(Error::HeaderTooLong));
        assert_eq!(decode_pieces(&[&endless[..MAX_HEADER + 1]]), Ok(vec![]));
        assert_eq!(
            encode(&at_limit, "x", b""),
            Err(Error::HeaderTooLong),
            "the encoder refuses what the decoder would"
        );
    }

    #[test]
    fn body_limit_is_exact() {
        let mut ok = b"PUB a\n".to_vec();
        ok.extend((MAX_BODY as u32).to_be_bytes());
        let mut d = Decoder::new();
        d.feed(&ok);
        assert_eq!(d.next_frame(), Ok(None), "waits for the 1 MiB body");

        let mut over = b"PUB a\n".to_vec();
        over.extend((MAX_BODY as u32 + 1).to_be_bytes());
        assert_eq!(
            decode_pieces(&[&over]),
            Err(Error::BodyTooLarge(MAX_BODY as u32 + 1))
        );
        assert_eq!(
            decode_pieces(&[b"PUB a\n\xff\xff\xff\xff"]),
            Err(Error::BodyTooLarge(u32::MAX))
        );
        let big = vec![b' '; MAX_BODY + 1];
        assert!(encode("PUB", "a", &big).is_err());
    }

    #[test]
    fn malformed_headers_are_named() {
        assert_eq!(decode_pieces(&[b" EVT a\n\0\0\0\0"]), Err(Error::EmptyVerb));
        assert_eq!(decode_pieces(&[b"\n\0\0\0\0"]), Err(Error::EmptyVerb));
        assert_eq!(
            decode_pieces(&[b"EVT a\tb\n\0\0\0\0"]),
            Err(Error::HeaderNotAscii(b'\t'))
        );
        assert_eq!(
            decode_pieces(&[b"EVT \xc3\xa9\n\0\0\0\0"]),
            Err(Error::HeaderNotAscii(0xc3))
        );
        assert_eq!(
            decode_pieces(&[b"EVT a\r\r\n\0\0\0\0"]),
            Err(Error::HeaderNotAscii(b'\r')),
            "only one CR, just before the LF, is tolerated"
        );
    }

    #[test]
    fn an_error_is_final() {
        let mut d = Decoder::new();
        d.feed(b"\n");
        assert_eq!(d.next_frame(), Err(Error::EmptyVerb));
        d.feed(b"BYE\n\0\0\0\0");
        assert_eq!(d.next_frame(), Err(Error::EmptyVerb));
        assert_eq!(d.buffered(), 0, "nothing kept after the stream died");
    }

    #[test]
    fn consumed_bytes_do_not_pile_up() {
        let one = encode("EVT", "a.b", b"{}").expect("encodes");
        let mut d = Decoder::new();
        for _ in 0..10_000 {
            d.feed(&one);
            assert!(d.next_frame().expect("valid").is_some());
        }
        assert!(d.buf.len() <= 2 * one.len(), "buffer is {}", d.buf.len());
    }
}
