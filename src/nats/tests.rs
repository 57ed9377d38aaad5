//! The NATS parser against a corpus, fed whole and cut at every boundary.

use super::*;

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

fn feed_chunks(chunks: &[&[u8]]) -> Result<Vec<Owned>, ParseError> {
    let mut p = Parser::new(1 << 20);
    let mut out = Vec::new();
    for c in chunks {
        p.feed(c, |op| out.push(own(op)))?;
    }
    assert_eq!(p.pending(), 0, "everything complete was consumed");
    Ok(out)
}

const BEAT: &[u8] = br#"{"worker":"api","ts":1764190000.5,"pid":42}"#;

fn corpus() -> Vec<(Vec<u8>, Owned)> {
    let env = br#"{"v":1,"id":"ab","topic":"system.bus.health","type":"health","ts":1.5,"payload":{"worker":"bus","ts":1.5}}"#;
    let msg = |subject: &str, sid: &str, reply: Option<&str>, body: &[u8]| {
        let mut line = format!("MSG {subject} {sid} ");
        if let Some(r) = reply {
            line.push_str(r);
            line.push(' ');
        }
        line.push_str(&format!("{}\r\n", body.len()));
        let mut bytes = line.into_bytes();
        bytes.extend_from_slice(body);
        bytes.extend_from_slice(b"\r\n");
        (bytes, Owned::Msg(subject.into(), sid.into(), body.to_vec()))
    };
    let hmsg = {
        let headers = b"NATS/1.0\r\nX-Trace: 1\r\n\r\n";
        let mut bytes = format!(
            "HMSG system.api.health 1 {} {}\r\n",
            headers.len(),
            headers.len() + BEAT.len()
        )
        .into_bytes();
        bytes.extend_from_slice(headers);
        bytes.extend_from_slice(BEAT);
        bytes.extend_from_slice(b"\r\n");
        (
            bytes,
            Owned::Msg(b"system.api.health".to_vec(), b"1".to_vec(), BEAT.to_vec()),
        )
    };
    vec![
        (
            br#"INFO {"server_id":"x","version":"2.9.10","max_payload":1048576}"#
                .iter()
                .chain(b"\r\n")
                .copied()
                .collect(),
            Owned::Info(br#"{"server_id":"x","version":"2.9.10","max_payload":1048576}"#.to_vec()),
        ),
        (b"PING\r\n".to_vec(), Owned::Ping),
        (b"PONG\r\n".to_vec(), Owned::Pong),
        (b"+OK\r\n".to_vec(), Owned::Ok),
        (
            b"-ERR 'Permissions Violation for Subscription to \"system.bus.health\"'\r\n".to_vec(),
            Owned::Err(b"Permissions Violation for Subscription to \"system.bus.health\"".to_vec()),
        ),
        msg("system.api.health", "1", None, BEAT),
        msg("system.bus.health", "2", Some("_INBOX.abc"), env),
        msg("system.api.health", "1", None, b""),
        msg(
            "attacker.observed",
            "1",
            None,
            b"\r\n in the body \r\nMSG x 1 3\r\n",
        ),
        hmsg,
        (b"ping\r\n".to_vec(), Owned::Ping),
        (
            b"MSG  system.api.health\t1   2\r\n{}\r\n".to_vec(),
            Owned::Msg(b"system.api.health".to_vec(), b"1".to_vec(), b"{}".to_vec()),
        ),
    ]
}

fn whole_stream() -> (Vec<u8>, Vec<Owned>) {
    let mut bytes = Vec::new();
    let mut ops = Vec::new();
    for (b, op) in corpus() {
        bytes.extend_from_slice(&b);
        ops.push(op);
    }
    (bytes, ops)
}

#[test]
fn every_operation_parses_alone() {
    for (bytes, op) in corpus() {
        assert_eq!(feed_chunks(&[&bytes]).unwrap(), vec![op]);
    }
}

#[test]
fn every_two_way_split_gives_the_same_events() {
    let (stream, expected) = whole_stream();
    for cut in 0..=stream.len() {
        let got = feed_chunks(&[&stream[..cut], &stream[cut..]]).unwrap();
        assert_eq!(got, expected, "cut at {cut}");
    }
}

#[test]
fn every_three_way_split_gives_the_same_events() {
    for (bytes, op) in corpus() {
        for a in 0..=bytes.len() {
            for b in a..=bytes.len() {
                let got = feed_chunks(&[&bytes[..a], &bytes[a..b], &bytes[b..]]).unwrap();
                assert_eq!(got, vec![op.clone()], "cuts at {a}, {b}");
            }
        }
    }
    // And across operation boundaries, on a shorter stream.
    let (stream, expected) = whole_stream();
    let stream = &stream[..];
    for a in (0..=stream.len()).step_by(3) {
        for b in (a..=stream.len()).step_by(5) {
            let got = feed_chunks(&[&stream[..a], &stream[a..b], &stream[b..]]).unwrap();
            assert_eq!(got, expected, "cuts at {a}, {b}");
        }
    }
}

#[test]
fn sixteen_messages_in_one_frame() {
    let mut frame = Vec::new();
    let mut expected = Vec::new();
    for i in 0..16 {
        let body = format!(r#"{{"worker":"api","ts":{i}}}"#);
        frame.extend_from_slice(
            format!("MSG system.api.health 1 {}\r\n{body}\r\n", body.len()).as_bytes(),
        );
        expected.push(Owned::Msg(
            b"system.api.health".to_vec(),
            b"1".to_vec(),
            body.into_bytes(),
        ));
        if i % 5 == 0 {
            frame.extend_from_slice(b"PING\r\n");
            expected.push(Owned::Ping);
        }
    }
    assert_eq!(feed_chunks(&[&frame]).unwrap(), expected);
    // Also cut at every boundary: any split of a packed frame.
    for cut in 0..=frame.len() {
        assert_eq!(
            feed_chunks(&[&frame[..cut], &frame[cut..]]).unwrap(),
            expected,
            "cut at {cut}"
        );
    }
}

#[test]
fn messages_over_4_kib_arrive_whole_across_4096_byte_frames() {
    let pad = "x".repeat(10_000);
    let body = format!(r#"{{"worker":"api","ts":1,"pad":"{pad}"}}"#);
    let mut stream = format!(
        "MSG system.api.health 1 {}\r\n{body}\r\nPING\r\n",
        body.len()
    )
    .into_bytes();
    stream.extend_from_slice(b"PONG\r\n");
    let expected = vec![
        Owned::Msg(
            b"system.api.health".to_vec(),
            b"1".to_vec(),
            body.clone().into_bytes(),
        ),
        Owned::Ping,
        Owned::Pong,
    ];
    // As nats-server sends it to browsers: 4096-byte frames.
    let frames: Vec<&[u8]> = stream.chunks(4096).collect();
    assert_eq!(feed_chunks(&frames).unwrap(), expected);
    for cut in (0..=stream.len()).step_by(7) {
        assert_eq!(
            feed_chunks(&[&stream[..cut], &stream[cut..]]).unwrap(),
            expected,
            "cut at {cut}"
        );
    }
}

#[test]
fn limits_are_protocol_errors() {
    let mut p = Parser::new(100);
    let err = p
        .feed(b"MSG system.api.health 1 101\r\n", |_| {})
        .unwrap_err();
    assert_eq!(
        err,
        ParseError::PayloadTooLarge {
            size: 101,
            limit: 100
        }
    );
    assert!(err.message().contains("101 bytes exceeds the limit of 100"));
    // A failed parser stays failed: the stream position is lost.
    assert!(p.feed(b"PING\r\n", |_| {}).is_err());

    let mut p = Parser::new(1 << 20);
    let long = vec![b'A'; 5000];
    assert_eq!(p.feed(&long, |_| {}).unwrap_err(), ParseError::LineTooLong);
    // A long line split across frames is caught as soon as it passes 4 KiB.
    let mut p = Parser::new(1 << 20);
    p.feed(b"INFO ", |_| {}).unwrap();
    p.feed(&vec![b' '; 3000], |_| {}).unwrap();
    assert_eq!(
        p.feed(&vec![b' '; 3000], |_| {}).unwrap_err(),
        ParseError::LineTooLong
    );

    let mut p = Parser::new(1 << 20);
    p.limit_payload(10);
    assert_eq!(p.max_payload(), 10);
    assert!(matches!(
        p.feed(b"MSG a 1 11\r\n", |_| {}),
        Err(ParseError::PayloadTooLarge { .. })
    ));
}

#[test]
fn malformed_lines_are_rejected_with_a_reason() {
    let cases: [(&[u8], &str); 9] = [
        (b"HELLO\r\n", "unknown operation"),
        (b"\r\n", "empty line"),
        (b"MSG system.api.health\r\n", "wrong number of arguments"),
        (b"MSG a b c d e f\r\n", "too many arguments"),
        (b"MSG a 1 -5\r\n", "not a number"),
        (b"MSG a 1 x\r\n", "not a number"),
        (b"MSG a 1 99999999999999999\r\n", "not a number"),
        (b"HMSG a 1 10 5\r\n", "headers are longer"),
        (b"MSG a 1 2\r\nabcd\r\n", "not followed by CRLF"),
    ];
    for (input, why) in cases {
        let mut p = Parser::new(1 << 20);
        let err = p.feed(input, |_| {}).unwrap_err();
        assert!(
            err.message().contains(why),
            "{:?}: {}",
            String::from_utf8_lossy(input),
            err.message()
        );
    }
}

#[test]
fn info_tells_the_servers_payload_limit() {
    assert_eq!(
        info_max_payload(br#"{"server_id":"x","max_payload":1048576,"headers":true}"#),
        Some(1048576)
    );
    assert_eq!(info_max_payload(br#"{"server_id":"x"}"#), None);
    assert_eq!(info_max_payload(b"not json"), None);
}

#[test]
fn the_handshake_connects_subscribes_twice_and_pings() {
    let h = handshake(&Credentials::default());
    let lines: Vec<&str> = h.split("\r\n").collect();
    assert!(lines[0].starts_with("CONNECT {"));
    let connect: serde_json::Value = serde_json::from_str(&lines[0][8..]).unwrap();
    assert_eq!(connect["lang"], "rust-wasm");
    assert_eq!(connect["verbose"], false);
    assert_eq!(connect["headers"], false);
    assert_eq!(connect["version"], env!("CARGO_PKG_VERSION"));
    assert!(connect.get("user").is_none());
    assert_eq!(
        &lines[1..],
        [
            "SUB system.*.health 1",
            "SUB system.bus.health 2",
            "PING",
            ""
        ]
    );

    let h = handshake(&Credentials {
        user: Some("dash\"board".into()),
        pass: Some("p\\w".into()),
        token: None,
    });
    let connect: serde_json::Value =
        serde_json::from_str(&h.split("\r\n").next().unwrap()[8..]).unwrap();
    assert_eq!(connect["user"], "dash\"board");
    assert_eq!(connect["pass"], "p\\w");
    let h = handshake(&Credentials {
        token: Some("s3cret".into()),
        ..Credentials::default()
    });
    assert!(h.contains(r#""auth_token":"s3cret""#));
}
