#!/usr/bin/env python3
"""A test double of DECNET's bus daemon, written from docs/decnet-bus.md alone.

One UNIX stream socket, the framing of that page (an ASCII header line, a
u32 big-endian body length, the body), NATS wildcards, at-most-once delivery
with a drop-oldest queue of 1024 frames per subscriber, no echo to the
publisher, envelopes rebuilt on PUB, and the daemon's own heartbeat on
system.bus.health. Standard library only.

    python3 tests/decnet_bus.py --socket /tmp/bus.sock [--health-interval 10]

stdout, one line each, flushed (tests read them):
    decnet-bus listening on PATH      first line, once the socket accepts
    HELLO <client>                    a client named itself
    SUB <client> <pattern>            a pattern newly held by a client
    UNSUB <client> <pattern>
    CLOSE <client> <reason>           a connection ended
    DROP <client> <n>                 frames dropped for a slow subscriber so far

Test hook, not part of DECNET: SIGUSR1 sends every connected client a
malformed frame (a header line with a NUL byte), the frame a bridge must
survive. SIGTERM and SIGINT remove the socket file and exit 0.
"""

import argparse
import asyncio
import collections
import grp
import json
import os
import signal
import stat
import struct
import sys
import time
import uuid

MAX_HEADER = 4096
MAX_BODY = 1 << 20
QUEUE = 1024


def say(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def matches(pattern, topic):
    """NATS wildcards: `*` is one non-empty token, `>` one or more trailing."""
    p = pattern.split(".")
    t = topic.split(".")
    for i, tok in enumerate(p):
        if tok == ">":
            return len(t) > i
        if i >= len(t):
            return False
        if tok != "*" and tok != t[i]:
            return False
    return len(p) == len(t)


def encode(verb, args, body=b""):
    header = verb + (" " + args if args else "")
    return header.encode("ascii") + b"\n" + struct.pack(">I", len(body)) + body


class Malformed(Exception):
    pass


class Client:
    def __init__(self, bus, reader, writer, number):
        self.bus = bus
        self.reader = reader
        self.writer = writer
        self.name = f"client-{number}"
        self.patterns = set()
        # deque(maxlen) drops from the left on append: the oldest frame.
        self.queue = collections.deque(maxlen=QUEUE)
        self.wake = asyncio.Event()
        self.dropped = 0
        self.closed = False

    def deliver(self, frame):
        if self.closed:
            return
        if len(self.queue) == QUEUE:
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                say(f"DROP {self.name} {self.dropped}")
        self.queue.append(frame)
        self.wake.set()

    async def write_loop(self):
        try:
            while not self.closed:
                await self.wake.wait()
                self.wake.clear()
                while self.queue:
                    self.writer.write(self.queue.popleft())
                    # Blocks while the peer does not read; meanwhile new
                    # frames pile up in the deque, which drops the oldest.
                    await self.writer.drain()
        except (ConnectionError, OSError):
            self.closed = True

    async def read_frame(self):
        try:
            line = await self.reader.readuntil(b"\n")
        except asyncio.LimitOverrunError:
            raise Malformed("header line too long")
        except asyncio.IncompleteReadError as e:
            if e.partial:
                raise Malformed("connection ended inside a header")
            return None
        line = line[:-1]
        if line.endswith(b"\r"):
            line = line[:-1]
        if len(line) > MAX_HEADER:
            raise Malformed("header line too long")
        try:
            text = line.decode("ascii")
        except UnicodeDecodeError:
            raise Malformed("header is not ASCII")
        if any(not (0x20 <= ord(c) <= 0x7E) for c in text):
            raise Malformed("header has a control character")
        verb, _, args = text.partition(" ")
        if not verb:
            raise Malformed("no verb")
        try:
            (length,) = struct.unpack(">I", await self.reader.readexactly(4))
            if length > MAX_BODY:
                raise Malformed("body too large")
            body = await self.reader.readexactly(length)
        except asyncio.IncompleteReadError:
            raise Malformed("connection ended inside a frame")
        return verb, args.strip(), body

    async def serve(self):
        writer_task = asyncio.create_task(self.write_loop())
        reason = "closed by the client"
        try:
            while True:
                frame = await self.read_frame()
                if frame is None:
                    break
                verb, args, body = frame
                if verb == "HELLO":
                    if args:
                        self.name = args
                    say(f"HELLO {self.name}")
                elif verb == "SUB":
                    if not args or any(ch.isspace() for ch in args):
                        raise Malformed("SUB needs one pattern")
                    if args not in self.patterns:
                        self.patterns.add(args)
                        say(f"SUB {self.name} {args}")
                elif verb == "UNSUB":
                    if args in self.patterns:
                        self.patterns.discard(args)
                        say(f"UNSUB {self.name} {args}")
                elif verb == "PUB":
                    self.bus.publish(self, args, body)
                elif verb == "BYE":
                    reason = "BYE"
                    break
                else:
                    # EVT from a client, or a verb nobody knows.
                    raise Malformed(f"unexpected verb {verb}")
        except Malformed as e:
            reason = f"malformed: {e}"
        except (ConnectionError, OSError) as e:
            reason = f"error: {e}"
        self.closed = True
        self.wake.set()
        writer_task.cancel()
        self.bus.clients.discard(self)
        try:
            self.writer.close()
        except OSError:
            pass
        say(f"CLOSE {self.name} {reason}")


class Bus:
    def __init__(self):
        self.clients = set()
        self.started = time.monotonic()
        self.count = 0

    def publish(self, sender, topic, body):
        if not topic or any(ch.isspace() for ch in topic) or "*" in topic or ">" in topic:
            raise Malformed("PUB needs a concrete topic")
        try:
            given = json.loads(body) if body else {}
        except ValueError:
            raise Malformed("PUB body is not JSON")
        if not isinstance(given, dict):
            raise Malformed("PUB body is not an object")
        payload = given.get("payload", {})
        kind = given.get("type", "event")
        self.emit(topic, kind, payload, sender)

    def emit(self, topic, kind, payload, sender=None):
        # The daemon's own id and ts, whatever the publisher sent.
        envelope = {
            "v": 1,
            "id": uuid.uuid4().hex,
            "topic": topic,
            "type": kind,
            "ts": time.time(),
            "payload": payload,
        }
        frame = encode("EVT", topic, json.dumps(envelope).encode())
        for client in list(self.clients):
            if client is sender:
                continue
            if any(matches(p, topic) for p in client.patterns):
                client.deliver(frame)

    def garble(self):
        for client in list(self.clients):
            client.deliver(b"EVT system.api.health\x00\n\x00\x00\x00\x02{}")

    async def heartbeat(self, interval):
        while True:
            await asyncio.sleep(interval)
            now = time.time()
            self.emit(
                "system.bus.health",
                "bus.health",
                {"pid": os.getpid(), "uptime_sec": round(time.monotonic() - self.started, 3), "ts": now},
            )


async def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--socket", required=True, help="the UNIX socket path to listen on")
    parser.add_argument("--health-interval", type=float, default=10.0, help="seconds between system.bus.health beats")
    args = parser.parse_args()

    bus = Bus()

    async def accept(reader, writer):
        bus.count += 1
        client = Client(bus, reader, writer, bus.count)
        bus.clients.add(client)
        try:
            await client.serve()
        except asyncio.CancelledError:
            pass  # the daemon is stopping

    # A daemon that restarts removes its old socket file and makes a new one.
    try:
        os.unlink(args.socket)
    except FileNotFoundError:
        pass
    server = await asyncio.start_unix_server(accept, path=args.socket, limit=MAX_HEADER + 2)
    os.chmod(args.socket, stat.S_IRUSR | stat.S_IWUSR | stat.S_IRGRP | stat.S_IWGRP)
    try:
        os.chown(args.socket, -1, grp.getgrnam("decnet").gr_gid)
    except (KeyError, PermissionError):
        pass

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    loop.add_signal_handler(signal.SIGUSR1, bus.garble)
    heart = asyncio.create_task(bus.heartbeat(args.health_interval))
    say(f"decnet-bus listening on {args.socket}")
    await stop.wait()
    heart.cancel()
    server.close()
    try:
        os.unlink(args.socket)
    except FileNotFoundError:
        pass


if __name__ == "__main__":
    asyncio.run(main())
