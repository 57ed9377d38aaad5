//! Fuzz target `nats`: a byte stream through `nats::Parser` whole, cut in two
//! and cut in three at fuzzer-chosen points; every way must report the same
//! operations and the same error, as WebSocket frames may cut it anywhere.
#![no_main]

use libfuzzer_sys::fuzz_target;
use worker_registry::nats::{self, Op, ParseError, Parser};

// Input layout: [cut 1] [cut 2] [max_payload] [stream...]. The cuts are
// fractions (n/255) of the stream's length; max_payload is one of LIMITS.

const LIMITS: [usize; 4] = [1 << 20, 64, 0, 4096];

/// An owned copy of an operation, so events from different feeds compare.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Owned {
    Info(Vec<u8>),
    Msg(Vec<u8>, Vec<u8>, Vec<u8>),
    Ping,
    Pong,
    Ok,
    Err(Vec<u8>),
}

fn own(op: Op<'_>) -> Owned {
    match op {
        Op::Info(j) => Owned::Info(j.to_vec()),
        Op::Msg {
            subject,
            sid,
            payload,
        } => Owned::Msg(subject.to_vec(), sid.to_vec(), payload.to_vec()),
        Op::Ping => Owned::Ping,
        Op::Pong => Owned::Pong,
        Op::Ok => Owned::Ok,
        Op::Err(m) => Owned::Err(m.to_vec()),
    }
}

/// What a feed saw: the operations, the first error, and the bytes still
/// held back at the end.
type Seen = (Vec<Owned>, Option<ParseError>, usize);

fn feed(chunks: &[&[u8]], max_payload: usize) -> Seen {
    let mut p = Parser::new(max_payload);
    let mut ops = Vec::new();
    let mut error = None;
    for chunk in chunks {
        let r = p.feed(chunk, |op| {
            if let Op::Msg { payload, .. } = &op {
                assert!(payload.len() <= max_payload, "a message over the limit");
            }
            if let Op::Info(info) = &op {
                let _ = nats::info_max_payload(info);
            }
            ops.push(own(op));
        });
        match (r, &error) {
            (Err(e), None) => error = Some(e),
            // Once failed, the parser stays failed with the same error.
            (Err(e), Some(first)) => assert_eq!(&e, first, "a failed parser changed its error"),
            (Ok(()), Some(first)) => panic!("a failed parser ({first:?}) accepted more"),
            (Ok(()), None) => {}
        }
    }
    let pending = if error.is_some() { 0 } else { p.pending() };
    if error.is_some() {
        assert_eq!(p.pending(), 0, "a failed parser holds nothing");
    }
    (ops, error, pending)
}

fuzz_target!(|data: &[u8]| {
    let [a, b, limit, stream @ ..] = data else {
        return;
    };
    let max_payload = LIMITS[usize::from(limit & 3)];
    let at = |n: u8| stream.len() * usize::from(n) / 255;
    let whole = feed(&[stream], max_payload);
    assert!(whole.2 <= stream.len());

    let cut = at(*a);
    let (x, y) = stream.split_at(cut);
    let two = feed(&[x, y], max_payload);
    assert_eq!(whole, two, "cut at {cut}");

    let (lo, hi) = (at(*a).min(at(*b)), at(*a).max(at(*b)));
    let three = feed(
        &[&stream[..lo], &stream[lo..hi], &stream[hi..]],
        max_payload,
    );
    assert_eq!(whole, three, "cut at {lo} and {hi}");

    // Small streams: also one byte at a time, the worst a socket can do.
    if stream.len() <= 64 {
        let bytes: Vec<&[u8]> = stream.chunks(1).collect();
        assert_eq!(whole, feed(&bytes, max_payload), "byte by byte");
    }
});
