//! Fuzz target `decnet`: a byte stream through the gateway's DECNET bus
//! codec whole, cut in two and cut in three at fuzzer-chosen points, and
//! byte by byte when short; every way must give the same frames and the
//! same error, since a UNIX socket read may end anywhere. Every frame keeps
//! the framing limits and encodes back to bytes that decode to itself.
#![no_main]

// The codec is pure and std-only: compiled in directly, so fuzzing it does
// not build the gateway's network stack under instrumentation.
#[path = "../../gateway/src/decnet.rs"]
#[allow(dead_code)]
mod decnet;

use decnet::{encode, Decoder, Error, Frame, MAX_BODY, MAX_HEADER};
use libfuzzer_sys::fuzz_target;

// Input layout: [cut 1] [cut 2] [stream...]; the cuts are fractions (n/255)
// of the stream's length.

fn feed(chunks: &[&[u8]]) -> (Vec<Frame>, Option<Error>, usize) {
    let mut d = Decoder::new();
    let mut frames = Vec::new();
    let mut error = None;
    for chunk in chunks {
        d.feed(chunk);
        loop {
            match d.next_frame() {
                Ok(Some(f)) => frames.push(f),
                Ok(None) => break,
                Err(e) => {
                    // Once failed, the decoder stays failed with that error.
                    assert_eq!(d.next_frame(), Err(e.clone()));
                    error.get_or_insert(e);
                    break;
                }
            }
        }
    }
    let pending = if error.is_some() { 0 } else { d.buffered() };
    (frames, error, pending)
}

fuzz_target!(|data: &[u8]| {
    let [a, b, stream @ ..] = data else {
        return;
    };
    let at = |n: u8| stream.len() * usize::from(n) / 255;
    let (x, y) = (at(*a).min(at(*b)), at(*a).max(at(*b)));

    let whole = feed(&[stream]);
    assert_eq!(feed(&[&stream[..x], &stream[x..]]), whole, "cut at {x}");
    assert_eq!(
        feed(&[&stream[..x], &stream[x..y], &stream[y..]]),
        whole,
        "cut at {x} and {y}"
    );
    if stream.len() <= 512 {
        let bytes: Vec<&[u8]> = stream.chunks(1).collect();
        assert_eq!(feed(&bytes), whole, "byte by byte");
    }

    for frame in &whole.0 {
        assert!(!frame.verb.is_empty() && !frame.verb.contains(' '));
        assert!(frame.verb.len() + 1 + frame.args.len() <= MAX_HEADER + 1);
        assert_eq!(frame.args.trim(), frame.args);
        assert!(frame.body.len() <= MAX_BODY);
        let bytes = encode(&frame.verb, &frame.args, &frame.body).expect("a decoded frame encodes");
        let (again, error, pending) = feed(&[&bytes]);
        assert_eq!((again.as_slice(), error, pending), (std::slice::from_ref(frame), None, 0));
    }
});
