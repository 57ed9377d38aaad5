// Real processes for the JavaScript tests: the dev gateway, nats-server and
// headless Chromium, each started on loopback and stopped when the test ends.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync, mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = resolve(fileURLToPath(import.meta.url), "../../..");

/** A TCP port that was free a moment ago, on 127.0.0.1. */
export async function freePort() {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address();
  server.close();
  await once(server, "close");
  return port;
}

export function gatewayBinary() {
  const bin = process.env.WR_GATEWAY_BIN ?? join(ROOT, "target/debug/worker-gateway");
  if (!existsSync(bin)) {
    throw new Error(`worker-gateway is not built at ${bin}: run 'cargo build -p worker-gateway' (npm test does)`);
  }
  return bin;
}

const running = new Set();
function track(child) {
  running.add(child);
  child.once("exit", () => running.delete(child));
  return child;
}
// A failing test must not leave servers behind.
for (const signal of ["exit", "SIGINT", "SIGTERM"]) {
  process.once(signal, () => {
    for (const child of running) child.kill("SIGKILL");
    if (signal !== "exit") process.exit(130);
  });
}

async function stopChild(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 3000);
  await once(child, "exit");
  clearTimeout(timer);
}

/**
 * Starts worker-gateway with `args` on `port` (0: a free one) and resolves
 * once it printed its address. `restart()` starts it again on the same port.
 */
export async function startGateway(args = [], { port = 0 } = {}) {
  const bin = gatewayBinary();
  const gw = { port, args, child: null, output: "" };
  gw.start = async () => {
    const child = track(spawn(bin, ["--listen", `127.0.0.1:${gw.port}`, ...args], {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "pipe"],
    }));
    gw.child = child;
    let first = "";
    child.stderr.on("data", (d) => { gw.output += d; });
    const line = await new Promise((resolveLine, reject) => {
      child.stdout.on("data", (d) => {
        first += d;
        gw.output += d;
        const nl = first.indexOf("\n");
        if (nl >= 0) resolveLine(first.slice(0, nl));
      });
      child.once("exit", (code) => reject(new Error(`worker-gateway exited (${code}) before listening:\n${gw.output}`)));
    });
    const m = /^worker-gateway listening on http:\/\/127\.0\.0\.1:(\d+)$/.exec(line);
    if (!m) throw new Error(`unexpected first line from worker-gateway: ${line}`);
    gw.port = Number(m[1]);
    gw.http = `http://127.0.0.1:${gw.port}`;
    gw.url = `ws://127.0.0.1:${gw.port}/bus`;
    return gw;
  };
  gw.stop = async () => { if (gw.child) await stopChild(gw.child); };
  gw.kill = async () => {
    if (gw.child && gw.child.exitCode === null) {
      gw.child.kill("SIGKILL");
      await once(gw.child, "exit");
    }
  };
  gw.restart = async () => { await gw.stop(); return gw.start(); };
  gw.stats = async () => (await fetch(`${gw.http}/admin/stats`)).json();
  await gw.start();
  return gw;
}

export function natsBinary() {
  for (const p of [process.env.WR_NATS_SERVER, "/usr/sbin/nats-server", "/usr/bin/nats-server", "/usr/local/bin/nats-server"]) {
    if (p && existsSync(p)) return p;
  }
  throw new Error("nats-server is not installed: run 'apt-get install nats-server' (npm test's set-up does, as root)");
}

/**
 * Starts nats-server on loopback with a WebSocket listener and two users:
 * `dashboard` (may subscribe to the health subjects only, may not publish)
 * and `publisher` (may publish). `limited` may subscribe to system.*.health
 * only, so its SUB of system.bus.health is a permissions violation.
 * `kill()` ends it with SIGKILL; `start()` brings it back on the same ports.
 */
export async function startNats({ port = 0, wsPort = 0, allowedOrigins = [], monitor = false } = {}) {
  const nats = {
    port: port || (await freePort()),
    wsPort: wsPort || (await freePort()),
    dir: mkdtempSync(join(tmpdir(), "wr-nats-")),
    child: null,
    users: {
      dashboard: { user: "dashboard", pass: "dash-secret" },
      limited: { user: "limited", pass: "limited-secret" },
      publisher: { user: "publisher", pass: "pub-secret" },
    },
  };
  const origins = allowedOrigins.length ? `allowed_origins: ${JSON.stringify(allowedOrigins)}` : "";
  // `monitor: true` also serves nats-server's HTTP monitoring (/connz, /varz)
  // on loopback, at nats.monitorUrl.
  if (monitor) {
    nats.monitorPort = await freePort();
    nats.monitorUrl = `http://127.0.0.1:${nats.monitorPort}`;
  }
  const config = `
listen: 127.0.0.1:${nats.port}
${monitor ? `http: 127.0.0.1:${nats.monitorPort}` : ""}
websocket {
  host: 127.0.0.1
  port: ${nats.wsPort}
  no_tls: true
  same_origin: false
  ${origins}
}
authorization {
  users: [
    { user: "dashboard", password: "dash-secret",
      permissions: { subscribe: ["system.*.health", "system.bus.health"], publish: { deny: ">" } } }
    { user: "limited", password: "limited-secret",
      permissions: { subscribe: { allow: ["system.*.health"], deny: ["system.bus.health"] }, publish: { deny: ">" } } }
    { user: "publisher", password: "pub-secret",
      permissions: { publish: ["system.>", "attacker.>"], subscribe: { deny: ">" } } }
  ]
}
`;
  const file = join(nats.dir, "nats.conf");
  writeFileSync(file, config);
  nats.config = config;
  nats.url = `ws://127.0.0.1:${nats.wsPort}`;
  nats.start = async () => {
    const bin = natsBinary();
    const child = track(spawn(bin, ["-c", file], { stdio: ["ignore", "pipe", "pipe"] }));
    nats.child = child;
    let log = "";
    await new Promise((resolveReady, reject) => {
      const onData = (d) => {
        log += d;
        if (log.includes("Server is ready")) resolveReady();
      };
      child.stdout.on("data", onData);
      child.stderr.on("data", onData);
      child.once("exit", (code) => reject(new Error(`nats-server exited (${code}):\n${log}`)));
    });
    return nats;
  };
  nats.stop = async () => { if (nats.child) await stopChild(nats.child); };
  // SIGKILL: no goodbye to the clients, as a crashed server.
  nats.kill = async () => {
    if (nats.child && nats.child.exitCode === null && nats.child.signalCode === null) {
      nats.child.kill("SIGKILL");
      await once(nats.child, "exit");
    }
  };
  nats.restart = async () => { await nats.stop(); return nats.start(); };
  nats.cleanup = async () => { await nats.stop(); rmSync(nats.dir, { recursive: true, force: true }); };
  await nats.start();
  return nats;
}

/**
 * Publishes one event through a gateway as a client holding the publisher
 * token (`--publisher-token`), and waits for the gateway to have taken it.
 */
export async function gatewayPublish(gw, token, topic, payload) {
  const { default: WebSocket } = await import("ws");
  const ws = new WebSocket(gw.url);
  await once(ws, "open");
  ws.send(JSON.stringify({ op: "auth", token }));
  ws.send(JSON.stringify({ op: "pub", topic, payload }));
  ws.send(JSON.stringify({ op: "ping" }));
  await new Promise((resolve, reject) => {
    ws.on("message", (m) => {
      const frame = JSON.parse(m);
      if (frame.op === "pong") resolve();
      if (frame.op === "error") reject(new Error(frame.message));
    });
    ws.on("close", () => reject(new Error("closed before pong")));
  });
  ws.close();
}

/** Publishes `body` on `subject` as the publisher user, over plain NATS TCP. */
export async function natsPublish(nats, subject, body) {
  const { connect } = await import("node:net");
  const sock = connect(nats.port, "127.0.0.1");
  await once(sock, "connect");
  const { user, pass } = nats.users.publisher;
  const payload = Buffer.from(typeof body === "string" ? body : JSON.stringify(body));
  let answer = "";
  sock.on("data", (d) => { answer += d; });
  sock.write(`CONNECT {"verbose":false,"user":${JSON.stringify(user)},"pass":${JSON.stringify(pass)}}\r\n`);
  sock.write(`PUB ${subject} ${payload.length}\r\n`);
  sock.write(Buffer.concat([payload, Buffer.from("\r\nPING\r\n")]));
  const deadline = Date.now() + 5000;
  while (!answer.includes("PONG") && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  sock.destroy();
  if (answer.includes("-ERR")) throw new Error(`nats publish refused: ${answer}`);
  if (!answer.includes("PONG")) throw new Error("nats publish: no answer from the server");
}

export const CHROMIUM_ARGS = [
  "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
  "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-quic",
];

export function chromiumPath() {
  for (const p of [process.env.CHROMIUM, "/usr/bin/chromium", "/usr/bin/chromium-browser"]) {
    if (p && existsSync(p)) return p;
  }
  throw new Error("Chromium is not installed: run 'apt-get install chromium chromium-driver' (npm test's set-up does, as root)");
}

/**
 * Headless Chromium through playwright-core (which never downloads a browser).
 * `extraArgs` are appended to CHROMIUM_ARGS (e.g. `--js-flags=--expose-gc`).
 */
export async function launchBrowser(extraArgs = []) {
  const { chromium } = await import("playwright-core");
  return chromium.launch({ executablePath: chromiumPath(), args: [...CHROMIUM_ARGS, ...extraArgs], headless: true });
}

/** Polls `check` until it returns a truthy value or `ms` pass. */
export async function waitFor(check, ms = 10000, what = "condition") {
  const deadline = Date.now() + ms;
  let last;
  while (Date.now() < deadline) {
    try {
      last = await check();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what} (last: ${last})`);
}

/**
 * Starts the DECNET bus daemon double (tests/decnet_bus.py) on a UNIX
 * socket in its own temp dir. `lines` collects its stdout (HELLO, SUB,
 * UNSUB, CLOSE lines); `stop()` is SIGTERM (it removes its socket file),
 * `kill()` SIGKILL (the stale socket file stays, as after a crash), and
 * `start()` brings it back on the same path.
 */
export async function startDecnetBus({ healthInterval = 2 } = {}) {
  const bus = { dir: mkdtempSync(join(tmpdir(), "wr-decnet-")), child: null, lines: [] };
  bus.socket = join(bus.dir, "bus.sock");
  bus.upstream = `decnet:${bus.socket}`;
  bus.start = async () => {
    const child = track(spawn("python3", [join(ROOT, "tests/decnet_bus.py"), "--socket", bus.socket,
      "--health-interval", String(healthInterval)], { stdio: ["ignore", "pipe", "pipe"] }));
    bus.child = child;
    let out = "";
    let err = "";
    child.stderr.on("data", (d) => { err += d; });
    await new Promise((resolveReady, reject) => {
      child.stdout.on("data", (d) => {
        out += d;
        const parts = out.split("\n");
        out = parts.pop();
        for (const line of parts) {
          bus.lines.push(line);
          if (line.startsWith("decnet-bus listening on ")) resolveReady();
        }
      });
      child.once("exit", (code) => reject(new Error(`decnet_bus.py exited (${code}):\n${err}`)));
    });
    return bus;
  };
  bus.count = (line) => bus.lines.filter((l) => l === line).length;
  bus.stop = async () => { if (bus.child) await stopChild(bus.child); };
  bus.kill = async () => {
    if (bus.child && bus.child.exitCode === null && bus.child.signalCode === null) {
      bus.child.kill("SIGKILL");
      await once(bus.child, "exit");
    }
  };
  bus.cleanup = async () => { await bus.stop(); rmSync(bus.dir, { recursive: true, force: true }); };
  await bus.start();
  return bus;
}

/**
 * Starts a three-node nats-server cluster on loopback, routes between the
 * nodes and JetStream on each (its own store dir), no auth. `urls` is the
 * comma-separated list a gateway's --upstream takes; each node can be
 * `stop()`ped, `kill()`ed and `start()`ed again on the same ports.
 */
export async function startNatsCluster() {
  const dir = mkdtempSync(join(tmpdir(), "wr-nats-cluster-"));
  const routes = [await freePort(), await freePort(), await freePort()];
  const nodes = [];
  for (let i = 0; i < 3; i++) {
    const node = { name: `n${i}`, port: await freePort(), monitorPort: await freePort(), child: null };
    node.url = `nats://127.0.0.1:${node.port}`;
    const others = routes.filter((_, j) => j !== i).map((r) => `"nats-route://127.0.0.1:${r}"`);
    const file = join(dir, `n${i}.conf`);
    writeFileSync(file, `server_name: n${i}
listen: "127.0.0.1:${node.port}"
http: "127.0.0.1:${node.monitorPort}"
jetstream { store_dir: "${join(dir, `n${i}`)}" }
cluster { name: wr, listen: "127.0.0.1:${routes[i]}", routes: [${others.join(", ")}] }
`);
    node.start = async () => {
      const child = track(spawn(natsBinary(), ["-c", file], { stdio: ["ignore", "pipe", "pipe"] }));
      node.child = child;
      let log = "";
      await new Promise((resolveReady, reject) => {
        const onData = (d) => {
          log += d;
          if (log.includes("Server is ready")) resolveReady();
        };
        child.stdout.on("data", onData);
        child.stderr.on("data", onData);
        child.once("exit", (code) => reject(new Error(`nats-server ${node.name} exited (${code}):\n${log}`)));
      });
    };
    node.stop = async () => { if (node.child) await stopChild(node.child); };
    node.kill = async () => {
      if (node.child && node.child.exitCode === null && node.child.signalCode === null) {
        node.child.kill("SIGKILL");
        await once(node.child, "exit");
      }
    };
    nodes.push(node);
  }
  await Promise.all(nodes.map((n) => n.start()));
  return {
    nodes,
    urls: nodes.map((n) => n.url).join(","),
    cleanup: async () => {
      for (const n of nodes) await n.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A DECNET bus client on `socket`, as a worker is: `HELLO name`, then
 * `publish(topic, payload)` sends a PUB frame (the daemon rebuilds the
 * envelope); `close()` says BYE. Framing from docs/decnet-bus.md.
 */
export async function decnetClient(socket, name) {
  const { createConnection } = await import("node:net");
  const conn = createConnection(socket);
  await once(conn, "connect");
  const frame = (verb, args, body = "") => {
    const bytes = Buffer.from(body, "utf8");
    const len = Buffer.alloc(4);
    len.writeUInt32BE(bytes.length);
    return Buffer.concat([Buffer.from(`${verb}${args ? ` ${args}` : ""}\n`, "ascii"), len, bytes]);
  };
  conn.write(frame("HELLO", name));
  return {
    publish(topic, payload) {
      const type = topic.endsWith(".health") ? "health" : "event";
      return new Promise((resolve) => conn.write(frame("PUB", topic, JSON.stringify({ v: 1, type, payload })), resolve));
    },
    close() {
      conn.end(frame("BYE", ""));
    },
  };
}
