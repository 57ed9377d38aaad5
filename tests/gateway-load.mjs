// Load test of the dev gateway: N concurrent WebSocket subscribers, the
// gateway's memory (RSS) idle, loaded and after a burst, a stuck client closed
// with 4408 while the others keep receiving, and a publish flood shed.
//
//   node tests/gateway-load.mjs [--clients 1000] [--publish-rate 200] [--rss-limit-mib 200]
//   (quick: --clients 200; the release gateway is used if built, else debug)
import { existsSync, readFileSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { Worker } from "node:worker_threads";
import WebSocket from "ws";
import { ROOT, startGateway, waitFor } from "./support/procs.mjs";

// ---- arguments ----------------------------------------------------------
const argv = process.argv.slice(2);
const opts = { clients: 1000, publishRate: 100, rssLimitMiB: 200 };
const names = { "--clients": "clients", "--publish-rate": "publishRate", "--rss-limit-mib": "rssLimitMiB" };
for (let i = 0; i < argv.length; i += 2) {
  const key = names[argv[i]];
  const value = Number(argv[i + 1]);
  if (!key || !Number.isInteger(value) || value < 1) {
    console.error(`gateway-load: bad argument ${argv[i]} ${argv[i + 1] ?? ""}\n` +
      "usage: node tests/gateway-load.mjs [--clients N] [--publish-rate N] [--rss-limit-mib N]");
    process.exit(2);
  }
  opts[key] = value;
}

const TOKEN = "load-publisher";
const QUEUE = 256;
// Publishes/s per connection. The gateway's bucket lets 2 x RATE through at
// once, but never more than half the queue, so that a publisher within its
// rate cannot fill the queue of a subscriber that reads.
const RATE = opts.publishRate;
const BUCKET = Math.max(1, Math.min(2 * RATE, QUEUE / 2));
const BURST = Math.min(200, BUCKET); // one burst, within the queue and the rate bucket
const BEAT_EVERY_MS = 50; // the beats everybody keeps receiving while one client is stuck
const BULK_PUBLISHERS = 3; // publishers filling the stuck client's buffers
const FLOOD_MS = 2000; // how long the flood publisher sends as fast as it can
const MiB = 2 ** 20;
const fmt = (b) => `${(b / MiB).toFixed(1)} MiB`;
const log = (...a) => console.log("gateway-load:", ...a);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const failures = [];
const check = (ok, message) => { if (!ok) { failures.push(message); log("CHECK FAILED:", message); } return ok; };

// ---- open files -----------------------------------------------------------
// Each client is a socket in this process. The gateway raises its own limit;
// ours is whatever the caller's shell gave us.
function openFileLimit() {
  const m = /^Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)/m.exec(readFileSync("/proc/self/limits", "utf8"));
  const n = (x) => (x === "unlimited" ? Infinity : Number(x));
  return m ? { soft: n(m[1]), hard: n(m[2]) } : { soft: Infinity, hard: Infinity };
}
const limit = openFileLimit();
if (limit.soft < 2.5 * opts.clients) {
  const fits = Math.floor(limit.soft / 2.5);
  log(`WARNING: the open-file limit of this process is ${limit.soft} (hard ${limit.hard}), below 2.5 x ${opts.clients} clients; ` +
    `running with ${fits} clients instead. Raise it first for the full run: ulimit -n $(ulimit -Hn)`);
  if (fits < 10) { console.error("gateway-load: FAILED: the open-file limit is too low to run at all"); process.exit(1); }
  opts.clients = fits;
}
const N = opts.clients;

// ---- the gateway binary: release if built, else debug -----------------------
function pickBinary() {
  if (process.env.WR_GATEWAY_BIN) return process.env.WR_GATEWAY_BIN;
  const release = join(ROOT, "target/release/worker-gateway");
  const debug = join(ROOT, "target/debug/worker-gateway");
  return existsSync(release) ? release : debug;
}
process.env.WR_GATEWAY_BIN = pickBinary();

/** VmRSS of the gateway, in bytes. */
function rss(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return Number(m[1]) * 1024;
}

// ---- clients ----------------------------------------------------------------
const SUB = JSON.stringify({ op: "sub", sid: 1, pattern: "system.*.health" });
const PING = JSON.stringify({ op: "ping" });
// Topics of the phases; each client counts what it receives on each.
const TOPICS = { burst: "system.burst.health", beat: "system.beat.health", flood: "system.flood.health", bulk: "load.stuck.bulk" };

/** A subscriber: connects, subscribes, and resolves once the gateway
 * answered a ping sent after the sub (frames are handled in order). With
 * `token` it authenticates instead of subscribing (a publisher). */
function subscriber(url, id, token) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    const c = { id, ws, burst: 0, beat: 0, flood: 0, bulk: 0, pongs: 0, errors: 0, close: null };
    ws.on("open", () => {
      ws.send(token ? JSON.stringify({ op: "auth", token }) : SUB);
      ws.send(PING);
    });
    ws.on("message", (data) => {
      // Buffer.indexOf on the topic: cheap enough for a million frames.
      if (data.indexOf(TOPICS.beat) >= 0) c.beat++;
      else if (data.indexOf(TOPICS.flood) >= 0) c.flood++;
      else if (data.indexOf(TOPICS.burst) >= 0) c.burst++;
      else if (data.indexOf(TOPICS.bulk) >= 0) c.bulk++;
      else if (data.indexOf('"op":"pong"') >= 0) { if (++c.pongs === 1) resolve(c); c.onPong?.(); }
      else if (data.indexOf('"op":"error"') >= 0) c.errors++;
    });
    ws.on("close", (code) => { c.close = code; });
    ws.on("error", (e) => reject(new Error(`client ${id}: ${e.message}`)));
  });
}

/** Resolves at the client's next pong: everything it sent before is handled. */
function roundTrip(c) {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`client ${c.id}: no pong within 10 s`)), 10000);
    c.onPong = () => { clearTimeout(t); c.onPong = null; resolve(); };
    c.ws.send(PING);
  });
}

/** A publisher: authenticated with the publisher token, counting the
 * gateway's error frames (rate-limit notices). */
async function publisher(url, name) {
  const p = await subscriber(url, name, TOKEN);
  p.pub = (topic, payload) => p.ws.send(JSON.stringify({ op: "pub", topic, payload }));
  return p;
}

/** Polls until `done()` (true), or `hopeless()` or `ms` pass (false): a
 * client that was closed will never catch up, so there is no point waiting. */
async function settle(done, hopeless, ms) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (done()) return true;
    if (hopeless()) return false;
    await sleep(50);
  }
  return done();
}

/** Resolves with the worker's next message, or rejects after `ms`. */
function nextMessage(worker, ms) {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`the flood worker did not answer within ${ms} ms`)), ms);
    const done = (f) => (v) => { clearTimeout(t); worker.off("message", onMessage); worker.off("error", onError); f(v); };
    const onMessage = done(resolve);
    const onError = done(reject);
    worker.once("message", onMessage);
    worker.once("error", onError);
  });
}

/**
 * The flood publisher, in a worker thread: a tight send loop on the main
 * thread would stop the N subscribers from reading, and the gateway would
 * rightly close them all as slow consumers. It connects and authenticates
 * (posts "ready"), floods on "go" (respecting its own socket's buffer, so it
 * is the gateway that is flooded, not this process's memory), then posts
 * { sent, seconds, errors } once the gateway has answered a ping sent after
 * the last frame.
 */
function floodWorker(url) {
  const body = ({ url, token, frame, ms, wsPath }) => {
    const { parentPort } = require("node:worker_threads");
    const WebSocket = require(wsPath);
    const ws = new WebSocket(url, { perMessageDeflate: false });
    let errors = 0;
    let onPong = () => parentPort.postMessage("ready");
    ws.on("message", (d) => {
      if (d.indexOf('"op":"pong"') >= 0) onPong?.();
      else if (d.indexOf('"op":"error"') >= 0) errors++;
    });
    ws.on("open", () => { ws.send(JSON.stringify({ op: "auth", token })); ws.send('{"op":"ping"}'); });
    parentPort.once("message", async () => {
      let sent = 0;
      const t0 = Date.now();
      while (Date.now() - t0 < ms) {
        for (let k = 0; k < 500; k++) { ws.send(frame); sent++; }
        while (ws.bufferedAmount > 1 << 20) await new Promise((r) => setTimeout(r, 1));
        await new Promise((r) => setImmediate(r));
      }
      const seconds = (Date.now() - t0) / 1000;
      onPong = () => { parentPort.postMessage({ sent, seconds, errors }); ws.close(); parentPort.close(); };
      ws.send('{"op":"ping"}');
    });
  };
  const frame = JSON.stringify({ op: "pub", topic: TOPICS.flood, payload: { worker: "flood", seq: 0 } });
  const wsPath = createRequire(import.meta.url).resolve("ws");
  return new Worker(`(${body})(require("node:worker_threads").workerData)`, {
    eval: true,
    workerData: { url, token: TOKEN, frame, ms: FLOOD_MS, wsPath },
  });
}

// ---- run ----------------------------------------------------------------------
const t0 = Date.now();
const figures = {};
let gw;
const clients = [];
const pubs = [];
try {
  const bin = process.env.WR_GATEWAY_BIN;
  log(`gateway ${bin} (built ${statSync(bin).mtime.toISOString()}), --queue ${QUEUE} --publish-rate ${RATE}; ${N} clients; open-file limit ${limit.soft}`);
  gw = await startGateway(["--admin", "--queue", String(QUEUE), "--publisher-token", TOKEN, "--publish-rate", String(RATE),
    "--allow-subscribe", "load.>"]);
  const pid = gw.child.pid;
  await sleep(300);
  figures.idle = rss(pid);
  log(`idle: RSS ${fmt(figures.idle)}`);

  // 1. N subscribers, opened in batches so the listen backlog never overflows.
  const tc = Date.now();
  for (let i = 0; i < N; i += 100) {
    const batch = [];
    for (let j = i; j < Math.min(N, i + 100); j++) batch.push(subscriber(gw.url, j));
    clients.push(...(await Promise.all(batch)));
  }
  figures.connectMs = Date.now() - tc;
  let s = await gw.stats();
  check(s.connections === N && s.subscriptions === N, `after connecting: ${s.connections} connections and ${s.subscriptions} subscriptions at the gateway, expected ${N} each`);
  await sleep(300);
  figures.connected = rss(pid);
  log(`${N} clients connected and subscribed in ${figures.connectMs} ms: RSS ${fmt(figures.connected)} (${((figures.connected - figures.idle) / N / 1024).toFixed(1)} KiB per client)`);

  // 2. A burst to everyone: BURST beats on one topic, well within the queue
  // and the publisher's bucket, so nothing may be dropped.
  const burstPub = await publisher(gw.url, "burst-publisher");
  pubs.push(burstPub);
  const tb = Date.now();
  for (let i = 0; i < BURST; i++) burstPub.pub(TOPICS.burst, { worker: "burst", seq: i, ts: Date.now() / 1000 });
  await roundTrip(burstPub);
  await waitFor(() => clients.every((c) => c.burst === BURST), 30000, `every client to receive the ${BURST}-frame burst`)
    .catch(() => check(false, `burst: ${clients.filter((c) => c.burst !== BURST).length} clients did not receive all ${BURST} frames (e.g. ${JSON.stringify(clients.find((c) => c.burst !== BURST)?.burst)})`));
  figures.burstMs = Date.now() - tb;
  figures.burst = rss(pid);
  s = await gw.stats();
  check(s.shed === 0 && s.dropped_clients === 0, `burst: shed ${s.shed}, dropped_clients ${s.dropped_clients}, expected 0 and 0`);
  log(`burst of ${BURST} frames to ${N} clients (${BURST * N} deliveries) received by all in ${figures.burstMs} ms: RSS ${fmt(figures.burst)}`);

  // 3. A stuck client. It stops reading (its socket paused) while bulk
  // publishers send near-4 KiB frames on a topic only it subscribes to,
  // within the rate limit (so nothing is shed): the gateway's socket buffers
  // and then its QUEUE-frame queue fill, and it must be closed with 4408.
  // Meanwhile beats on system.beat.health go to everybody, and every other
  // client must get every one of them. (The bulk goes to the stuck client
  // alone: the few MiB of kernel buffers it takes to fill, sent to all N,
  // would be gigabytes.)
  const stuck = clients[0];
  stuck.ws.send(JSON.stringify({ op: "sub", sid: 2, pattern: "load.stuck.>" }));
  await roundTrip(stuck);
  stuck.ws._socket.pause();
  const beatPub = await publisher(gw.url, "beat-publisher");
  pubs.push(beatPub);
  const bulkPubs = [];
  for (let k = 0; k < BULK_PUBLISHERS; k++) bulkPubs.push(await publisher(gw.url, `bulk-publisher-${k}`));
  pubs.push(...bulkPubs);
  let beatsSent = 0;
  const beating = setInterval(() => beatPub.pub(TOPICS.beat, { worker: "beat", seq: beatsSent++ }), BEAT_EVERY_MS);
  const pad = "x".repeat(3900);
  let bulkSent = 0;
  const bulk = (count) => {
    for (const p of bulkPubs) for (let k = 0; k < count; k++) p.pub(TOPICS.bulk, { seq: bulkSent++, pad });
  };
  // Each bulk publisher: three quarters of its bucket at once, then 0.9 x
  // RATE per second, which its bucket sustains.
  const ts = Date.now();
  bulk(Math.floor(0.75 * BUCKET));
  const bulking = setInterval(() => bulk(Math.max(1, Math.floor((0.9 * RATE) / 10))), 100);
  try {
    await waitFor(async () => (await gw.stats()).dropped_clients >= 1, 60000, "the stuck client to be dropped");
  } catch {
    check(false, `slow consumer: not dropped after ${bulkSent} bulk frames (${fmt(bulkSent * 4000)}) in ${Date.now() - ts} ms`);
  }
  clearInterval(bulking);
  figures.stuckMs = Date.now() - ts;
  figures.bulkSent = bulkSent;
  // Read again: what was buffered arrives, then the close frame with its code.
  stuck.ws._socket.resume();
  await waitFor(() => stuck.close !== null, 10000, "the stuck client's close").catch(() => {});
  check(stuck.close === 4408, `slow consumer: the stuck client was closed with ${stuck.close}, expected 4408`);
  // The beats go on a little after the kick, then every other client must
  // have every beat.
  await sleep(500);
  clearInterval(beating);
  await roundTrip(beatPub);
  const others = clients.filter((c) => c !== stuck);
  if (!(await settle(() => others.every((c) => c.beat === beatsSent), () => others.some((c) => c.close !== null), 20000))) {
    check(false, `slow consumer: ${others.filter((c) => c.beat !== beatsSent).length} other clients missed beats (expected ${beatsSent})`);
  }
  check(others.every((c) => c.close === null), `slow consumer: ${others.filter((c) => c.close !== null).length} other clients were closed`);
  s = await gw.stats();
  check(s.dropped_clients === 1, `slow consumer: dropped_clients ${s.dropped_clients}, expected 1`);
  check(s.shed === 0, `slow consumer: shed ${s.shed}, expected 0 (the bulk publishers stayed under the rate)`);
  figures.afterStuck = rss(pid);
  figures.beatsSent = beatsSent;
  log(`stuck client closed with ${stuck.close} after ${bulkSent} bulk frames (${figures.stuckMs} ms); ${others.length} others got all ${beatsSent} beats; RSS ${fmt(figures.afterStuck)}`);

  // 4. A flood: one publisher (in a worker thread) sends as fast as it can
  // for FLOOD_MS, far beyond the rate. The excess must be shed at the door
  // (never queued); what the bucket lets through reaches every client;
  // nobody else is dropped.
  const worker = floodWorker(gw.url);
  await nextMessage(worker, 10000); // connected and authenticated
  const before = await gw.stats();
  let maxRss = rss(pid);
  const sampler = setInterval(() => { maxRss = Math.max(maxRss, rss(pid)); }, 50);
  worker.postMessage("go");
  // { sent, seconds, errors }, once the gateway answered a ping sent after
  // the last flood frame: it has read them all.
  const flood = await nextMessage(worker, FLOOD_MS + 30000);
  const floodSent = flood.sent;
  figures.floodSeconds = flood.seconds;
  const after = await gw.stats();
  const shed = after.shed - before.shed;
  const accepted = after.published - before.published;
  if (!(await settle(() => others.every((c) => c.flood === accepted), () => others.some((c) => c.close !== null), 60000))) {
    check(false, `flood: ${others.filter((c) => c.flood !== accepted).length} clients did not receive all ${accepted} accepted frames`);
  }
  clearInterval(sampler);
  figures.afterFlood = rss(pid);
  figures.maxFlood = Math.max(maxRss, figures.afterFlood);
  const elapsed = figures.floodSeconds + 1; // + the round trip
  check(shed + accepted === floodSent, `flood: shed ${shed} + accepted ${accepted} != sent ${floodSent}`);
  check(accepted <= BUCKET + RATE * elapsed + 10, `flood: ${accepted} publishes accepted in ${figures.floodSeconds.toFixed(1)} s, more than the rate allows (${RATE}/s, burst ${BUCKET})`);
  check(shed >= 0.5 * floodSent, `flood: only ${shed} of ${floodSent} shed: the flood was not far beyond the rate`);
  check(flood.errors <= Math.ceil(elapsed) + 1, `flood: ${flood.errors} rate-limit error frames, expected at most one per second`);
  check(others.every((c) => c.close === null), `flood: ${others.filter((c) => c.close !== null).length} clients were closed`);
  let end;
  await waitFor(async () => (end = await gw.stats()).connections === others.length + pubs.length, 5000, "connections").catch(() => {});
  check(end.dropped_clients === 1 && end.connections === others.length + pubs.length,
    `flood: dropped_clients ${end.dropped_clients} (expected 1), connections ${end.connections} (expected ${others.length + pubs.length})`);
  log(`flood: ${floodSent} publishes in ${figures.floodSeconds.toFixed(1)} s (${Math.round(floodSent / figures.floodSeconds)}/s), ` +
    `${shed} shed, ${accepted} accepted and delivered to all ${others.length} clients; RSS max ${fmt(figures.maxFlood)}, after ${fmt(figures.afterFlood)}`);

  // 5. Bounded memory throughout.
  const rssLimit = opts.rssLimitMiB * MiB;
  for (const [what, value] of Object.entries({ idle: figures.idle, connected: figures.connected, burst: figures.burst, afterStuck: figures.afterStuck, maxFlood: figures.maxFlood, afterFlood: figures.afterFlood })) {
    check(value < rssLimit, `RSS ${what} ${fmt(value)} is over the ${opts.rssLimitMiB} MiB limit`);
  }

  console.log("\ngateway-load: figures");
  console.log(`  gateway            ${bin.replace(ROOT + "/", "")}, --queue ${QUEUE}, --publish-rate ${RATE} (burst ${BUCKET})`);
  console.log(`  clients            ${N} subscribed to system.*.health, connected in ${figures.connectMs} ms`);
  console.log(`  RSS idle           ${fmt(figures.idle)}`);
  console.log(`  RSS, N connected   ${fmt(figures.connected)} (${((figures.connected - figures.idle) / N / 1024).toFixed(1)} KiB per client)`);
  console.log(`  RSS after burst    ${fmt(figures.burst)} (${BURST} frames x ${N} clients, all received, ${figures.burstMs} ms)`);
  console.log(`  slow consumer      closed with ${stuck.close} after ${figures.bulkSent} ~4 KiB frames (${figures.stuckMs} ms); dropped_clients ${end.dropped_clients}; ${others.length} others got all ${figures.beatsSent} beats meanwhile; RSS ${fmt(figures.afterStuck)}`);
  console.log(`  flood              ${floodSent} publishes in ${figures.floodSeconds.toFixed(1)} s; shed ${shed}, accepted ${accepted} (each delivered to ${others.length} clients); ${flood.errors} rate-limit notices`);
  console.log(`  RSS flood          max ${fmt(figures.maxFlood)} during, ${fmt(figures.afterFlood)} after (limit ${opts.rssLimitMiB} MiB)`);
  console.log(`  gateway stats      ${JSON.stringify(end)}`);
  console.log(`  duration           ${((Date.now() - t0) / 1000).toFixed(1)} s`);
} catch (e) {
  failures.push(`the load test could not complete: ${e.stack ?? e}`);
} finally {
  for (const c of [...clients, ...pubs]) c.ws.terminate();
  await gw?.stop().catch(() => {});
}

if (failures.length) {
  console.error(`\ngateway-load: FAILED (${failures.length} check(s)):\n  - ${failures.join("\n  - ")}`);
  process.exit(1);
}
console.log(`\ngateway-load: passed in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
