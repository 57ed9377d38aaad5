#!/usr/bin/env python3
# Writes the committed seed corpora, fuzz/corpus/<target>/<name>, in each
# target's input layout (see the comments at the top of fuzz_targets/*.rs).
# Run from anywhere: python3 fuzz/seeds.py (it replaces the seed files).
import os
import shutil
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
T = 1764190000.5


def beat(worker, ts=T, extra="", head='"v":1,"id":"ab12",', tail=""):
    return (
        '{%s"topic":"system.%s.health","type":"health","ts":%s,'
        '"payload":{"worker":"%s","ts":%s%s}%s}' % (head, worker, ts, worker, ts, extra, tail)
    ).encode()


# --- frame: [setup] then ops [ctl][len u16 le][body] -------------------------
INGEST, NATS, RECORD = 0, 1, 2
CLOCK = {"none": 0, "1s": 1, "30s": 2, "100s": 3, "wall-back": 4, "sleep": 5, "back": 6, "1ms": 7}


def op(kind, body, clock="none", worker=0):
    ctl = kind | CLOCK[clock] << 2 | worker << 5
    return bytes([ctl]) + struct.pack("<H", len(body)) + body


def nats_op(subject, body, clock="none"):
    subject = subject.encode() if isinstance(subject, str) else subject
    return op(NATS, bytes([len(subject)]) + subject + body, clock)


def record_op(worker, payload, ts_choice=0, clock="none"):
    return op(RECORD, bytes([ts_choice]) + payload, clock, worker)


def setup(allowlist=0, max_frame=0, window=0):
    return bytes([allowlist | max_frame << 2 | window << 4])


BARE = b'{"worker":"api","ts":1764190000.5,"pid":42,"realism":{"llm_enabled":true}}'
FRAME = {
    "live-beat": setup() + op(INGEST, beat("api", extra=',"pid":42,"realism":{"llm_enabled":true,"llm_breaker_state":"closed"},"note":null')),
    "beats-then-stale": setup() + op(INGEST, beat("api")) + op(INGEST, beat("bus"), "30s") + op(INGEST, beat("updater"), "100s"),
    "retained-then-older": setup()
    + op(INGEST, beat("api", tail=',"retained":true,"age":12.5'))
    + op(INGEST, beat("api", tail=',"retained":true,"age":400'), "1s")
    + op(INGEST, beat("api", tail=',"retained":false,"age":-1'), "1ms"),
    "clock-games": setup(window=1) + op(INGEST, beat("api"), "wall-back") + op(INGEST, beat("bus"), "sleep") + op(INGEST, beat("api"), "back"),
    "other-topic-bad-tail": setup() + op(INGEST, b'{"v":1,"topic":"attacker.observed","payload":{"broken"'),
    "control-frames": setup() + op(INGEST, b'{"op":"pong"}') + op(INGEST, b'{"op":"error","message":"unauthorized"}'),
    "rejects": setup()
    + op(INGEST, b'{"topic":')
    + op(INGEST, b"[1,2]")
    + op(INGEST, b'{"v":2,"topic":"system.api.health"}')
    + op(INGEST, b'{"v":1,"payload":{}}')
    + op(INGEST, b'{"topic":"system.intruder.health"}')
    + op(INGEST, b'{"topic":"system.api.health","payload":[1]}')
    + op(INGEST, b'{"topic":"system.api.health","payload":{"ts":"abc"}}')
    + op(INGEST, b'{"topic":"system.api.health","payload":{},"retained":true,"age":1e999}'),
    "duplicates": setup()
    + op(INGEST, b'{"topic":"system.api.health","topic":"system.bus.health","payload":{}}')
    + op(INGEST, b'{"topic":"system.api.health","payload":{"a":1,"a":2}}')
    + op(INGEST, b'{"topic":"system.api.health","payload":{"t\\u0073":1,"ts":2}}'),
    "escapes-and-unicode": setup(allowlist=2)
    + op(INGEST, '{"\\u0074opic":"system.\\u0430pi.health","payload":{"\\u0077orker":"x","n":"\\ud800","é":"€"}}'.encode())
    + op(INGEST, '{"topic":"system.ａｐｉ.health","payload":{"__proto__":{"x":1}}}'.encode()),
    "too-large-small-limit": setup(max_frame=1) + op(INGEST, beat("api", extra=',"pad":"' + "x" * 80 + '"')),
    "invalid-utf8": setup() + op(INGEST, b'{"topic":"system.api.health","payload":{"x":"\xff\xc0\xaf\xed\xa0\x80"}}'),
    "nats-bare": setup() + nats_op("system.api.health", BARE) + nats_op("system.bus.health", b"{}", "1s"),
    "nats-envelope": setup() + nats_op("system.bus.health", beat("bus")) + nats_op("system.intruder.health", b"{}"),
    "nats-other-subject": setup() + nats_op("attacker.observed", b"not json at all") + nats_op("system..health", b"{}"),
    "nats-body-topic": setup() + nats_op("system.api.health", b'{"topic":"attacker.observed","payload":{"ts":1}}'),
    # The first crash the fuzzer found: a `topic` inside a NATS body stopped the read.
    "nats-body-topic-then-garbage": setup() + nats_op("system.bus.health", b'{"v":1,"payload":2,"topic":"x.y"} trailing'),
    "nats-bad-bodies": setup() + nats_op("system.api.health", b'{"ts":"NaN"}') + nats_op("system.api.health", b"[]") + nats_op("system.api.health", b'{"payload":5}'),
    "record": setup() + record_op(0, BARE) + record_op(1, b'{"ts":"12.5"}', 7) + record_op(7, b"{}") + record_op(0, b"{}", 4) + record_op(0, b"[1]"),
    "mixed": setup(allowlist=1, max_frame=2)
    + op(INGEST, beat("api"))
    + nats_op("system.bus.health", b'{"v":1,"payload":{"ts":"1764190000"},"retained":true,"age":3}', "30s")
    + record_op(1, b'{"ok":true}', 0, "sleep")
    + op(INGEST, b'  {"topic" : "system.api.health" , "payload" : null}  ', "100s"),
    "deep": setup() + op(INGEST, b'{"topic":"system.api.health","payload":{"a":' + b"[" * 126 + b"]" * 126 + b"}}"),
}

# --- nats: [cut 1][cut 2][limit] stream --------------------------------------
INFO = b'INFO {"server_id":"x","version":"2.10.0","max_payload":1048576,"headers":true}\r\n'


def msg(subject, sid, body, reply=None, verb=b"MSG"):
    head = verb + b" " + subject + b" " + sid + b" " + ((reply + b" ") if reply else b"")
    return head + str(len(body)).encode() + b"\r\n" + body + b"\r\n"


def hmsg(subject, sid, headers, body):
    return (
        b"HMSG %s %s %d %d\r\n" % (subject, sid, len(headers), len(headers) + len(body))
        + headers
        + body
        + b"\r\n"
    )


HDRS = b"NATS/1.0\r\nX-Trace: 1\r\n\r\n"
NATS = {
    "handshake": INFO + b"+OK\r\nPING\r\nPONG\r\n",
    "msgs": INFO + msg(b"system.api.health", b"1", BARE) + msg(b"system.bus.health", b"2", beat("bus"), b"_INBOX.x"),
    "hmsg": hmsg(b"system.api.health", b"1", HDRS, BARE) + hmsg(b"system.api.health", b"1", HDRS, b""),
    "err": b"-ERR 'Authorization Violation'\r\n",
    "err-unquoted": b"-ERR Stale Connection\r\n",
    "lowercase-tabs": b"ping\r\n\tmsg\tsystem.api.health 1\t2\r\n{}\r\npong\n",
    "empty-body": msg(b"a.b", b"9", b""),
    "partial-tail": INFO + msg(b"system.api.health", b"1", BARE)[:-7],
    "too-large": msg(b"system.api.health", b"1", b"x" * 100),
    "bad-size": b"MSG system.api.health 1 12a\r\n",
    "no-crlf-after": b"MSG a 1 2\r\nabXY",
    "hmsg-headers-longer": b"HMSG a 1 10 5\r\n",
    "unknown-op": b"PING\r\nHELLO\r\n",
    "empty-line": b"\r\n",
    "many-args": b"MSG a b c d e f\r\n",
    "long-line": b"INFO " + b"x" * 4200 + b"\r\n",
}
NATS_CUTS = [(128, 64, 0), (1, 254, 1), (200, 30, 3), (77, 77, 2)]

# --- json: the text itself ---------------------------------------------------
JSON = {
    "beat": beat("api"),
    "scalars": b'[0,-0,1.5e-3,1E+9,true,false,null,"",{}]',
    "numbers-hard": b"[9007199254740993,1e23,4.9e-324,1.7976931348623157e308,1e999,-1e-999,123456789012345678901234567890]",
    "number-alone": b"1764190000.123456",
    "numeric-string-loose": b" +.5e3 ",
    "escapes": b'"a\\u00e9\\n\\"\\\\\\/\\b\\f\\r\\t\\ud834\\udd1e"',
    "lone-surrogate": b'"\\ud800 \\udc00 \\ud800\\u0041"',
    "utf8": '"é€𝄞"'.encode(),
    "bad-utf8": b'["\xc3", "\xed\xa0\x80", "\xc0\xaf", "\xf4\x90\x80\x80"]',
    "bom": b"\xef\xbb\xbf{}",
    "depth-128": b"[" * 128 + b"]" * 128,
    "depth-129": b"[" * 129 + b"]" * 129,
    "objects-deep": b'{"a":' * 127 + b"1" + b"}" * 127,
    "trailing-comma": b'{"a":1,}',
    "control-char": b'"a\x01b"',
    "whitespace": b' \t\r\n{ "a" : [ 1 , 2 ] }\n',
    "invalid-mix": b'{"a" 1, b: tru, "c": 01, "d": 1., "e": .5}',
}


# --- decnet: [cut 1][cut 2] then a DECNET bus byte stream --------------------
def dframe(verb, args="", body=b""):
    header = verb + (" " + args if args else "")
    return header.encode() + b"\n" + struct.pack(">I", len(body)) + body


DECNET = {
    "evt": dframe("EVT", "system.api.health", beat("api", head='"v":1,"id":"' + "ab" * 16 + '",')),
    "session": dframe("HELLO", "worker-gateway") + dframe("SUB", "system.*.health") + dframe("UNSUB", "attacker.>") + dframe("BYE"),
    "crlf-padded": b"SUB   system.*.health  \r\n\x00\x00\x00\x00" + dframe("EVT", "a.b", b"{}"),
    "header-4096": b"A" * 4096 + b"\n\x00\x00\x00\x00",
    "header-4097": b"A" * 4097 + b"\n\x00\x00\x00\x00",
    "body-too-large": b"PUB a\n\x00\x10\x00\x01",
    "body-at-limit-header": b"PUB a\n\x00\x10\x00\x00{",
    "nul-in-header": b"EVT system.api.health\x00\n\x00\x00\x00\x02{}",
    "empty-verb": b" EVT a\n\x00\x00\x00\x00",
    "bad-ts": dframe("EVT", "system.api.health", beat("api", ts='"abc"')),
    "truncated": dframe("EVT", "system.api.health", beat("api"))[:-7],
}


def write(target, files):
    d = os.path.join(HERE, "corpus", target)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    for name, data in files.items():
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)


write("frame", FRAME)
nats_files = {}
for i, (name, stream) in enumerate(NATS.items()):
    a, b, limit = NATS_CUTS[i % len(NATS_CUTS)]
    nats_files[name] = bytes([a, b, limit]) + stream
write("nats", nats_files)
write("json", JSON)
write("decnet", {name: bytes([90, 180]) + stream for name, stream in DECNET.items()})
total = sum(
    os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(os.path.join(HERE, "corpus")) for f in fs
)
print(f"seeds: {len(FRAME)} frame, {len(NATS)} nats, {len(JSON)} json, {len(DECNET)} decnet, {total} bytes")
