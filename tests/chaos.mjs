// Chaos test: a headless page keeps a WorkerRegistry connected while its
// server (the dev gateway, or nats-server) is restarted N times with random
// downtime; afterwards nothing may have leaked and the backoff must jitter.
//
//   node tests/chaos.mjs [--restarts 100] [--transport gateway|nats|both|decnet|nats-cluster[,...]] [--max-down-ms 3000]
//
// Two more modes restart what is behind the gateway, not the gateway: the
// page stays connected to a gateway bridging a DECNET bus daemon (the test
// double, `decnet`) or a three-node NATS cluster (`nats-cluster`), while the
// daemon, or one node at a time, is restarted. The page's socket must never
// drop, and after each restart beats sent after it must reach the page.
//
// Each restart takes the server down one of three ways: a clean stop
// (SIGTERM: the server says goodbye, 1001), a crash (SIGKILL: the kernel
// closes the sockets), or a hang (SIGSTOP for the downtime, then SIGKILL:
// sockets stay half-open and only the registry's keepalive and connect
// deadlines notice). Most restarts wait for the page to reconnect before the
// next outage; some strike again while it is still reconnecting.
import { join } from "node:path";
import {
  ROOT, freePort, launchBrowser, startDecnetBus, startGateway, startNats, startNatsCluster, waitFor,
} from "./support/procs.mjs";
import { serveStatic } from "./support/static.mjs";

// ---- arguments ----------------------------------------------------------
const TRANSPORTS = ["gateway", "nats", "both", "decnet", "nats-cluster"];
const argv = process.argv.slice(2);
const opts = { restarts: 100, transport: "both", maxDownMs: 3000 };
for (let i = 0; i < argv.length; i++) {
  const [name, value] = [argv[i], argv[i + 1]];
  if (name === "--restarts" && Number.isInteger(Number(value)) && Number(value) >= 1) opts.restarts = Number(value);
  else if (name === "--transport" && value?.split(",").every((t) => TRANSPORTS.includes(t))) opts.transport = value;
  else if (name === "--max-down-ms" && Number(value) >= 0) opts.maxDownMs = Number(value);
  else {
    console.error(`chaos: bad argument ${name} ${value ?? ""}\n` +
      "usage: node tests/chaos.mjs [--restarts N] [--transport gateway|nats|both|decnet|nats-cluster[,...]] [--max-down-ms MS]");
    process.exit(2);
  }
  i++;
}

// The registry's settings: a small backoff and a fast keepalive, so a
// restart is noticed and healed within seconds.
// maxMs 1000 rather than a longer one: more reconnect delays per outage
// (about four in a 1.5 s outage) give the jitter check enough samples even
// in a quick run.
const BACKOFF = { initialMs: 100, maxMs: 1000 };
const PING_MS = 1000;
const PONG_MS = 1000;
const OK_WINDOW_S = 2; // rows turn stale during an outage and must come back
const INTERVAL_S = 0.5; // the simulated fleet's beat period
// After a restart the page must be open again within the longest backoff,
// one connect deadline and some slack for a busy 2-core machine.
const REOPEN_MS = BACKOFF.maxMs + PONG_MS + 5000;
const SETTLE_MS = 3000; // after the last restart, before the final checks
const ALLOWLIST = ["api", "bus", "collector", "profiler", "sniffer", "prober", "mutator", "agent", "forwarder", "updater"];
// updater never starts; forwarder beats on (--silent-after is set huge).
const EXPECT_OK = ALLOWLIST.filter((n) => n !== "updater");
const FLEET = ["--simulate", "--interval", String(INTERVAL_S), "--silent-after", "1000000"];

const log = (...a) => console.log("chaos:", ...a);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const pick = (weights) => {
  let x = Math.random() * Object.values(weights).reduce((a, b) => a + b, 0);
  for (const [k, w] of Object.entries(weights)) if ((x -= w) < 0) return k;
  return Object.keys(weights)[0];
};

// ---- the page -----------------------------------------------------------
// One registry, every connection change recorded; the first change into
// `backoff` after each attempt records the delay drawn (next_retry_ms, read
// synchronously in the listener) and the attempt number it was drawn for.
const PAGE = `<!doctype html><meta charset="utf-8"><title>chaos</title><link rel="icon" href="data:,">
<script type="module">
import init, { WorkerRegistry, debugCounts } from "/pkg/index.js";
await init();
const reg = new WorkerRegistry({ okWindowSeconds: ${OK_WINDOW_S} });
const chaos = { reg, debugCounts, changes: [], backoffs: [], opens: 0, beats: 0, statusEvents: 0, state: "idle" };
reg.onChange((what) => {
  if (what === "beat") { chaos.beats++; return; }
  if (what === "status") { chaos.statusEvents++; return; }
  const c = reg.connection();
  chaos.changes.push({ t: Date.now(), state: c.state, attempts: c.attempts, next: c.next_retry_ms, error: c.last_error });
  if (c.state === "backoff" && chaos.state !== "backoff") {
    chaos.backoffs.push({ attempts: c.attempts, delay: c.next_retry_ms, error: c.last_error });
  }
  if (c.state === "open" && chaos.state !== "open") chaos.opens++;
  chaos.state = c.state;
});
window.chaos = chaos;
</script>`;

// ---- a transport: the server the registry talks to, and how to hurt it --
async function gatewayTransport() {
  // A fixed port, so every restart keeps the URL the page uses.
  const port = await freePort();
  const gw = await startGateway([...FLEET, "--admin", "--allow-origin", "*"], { port });
  return {
    name: "gateway",
    url: gw.url,
    startOptions: {},
    pid: () => gw.child.pid,
    stop: () => gw.stop(),
    kill: () => gw.kill(),
    start: () => gw.start(),
    /** The gateway's own view: exactly our one socket and its two subs. */
    async serverCheck(expectConnections) {
      const want = expectConnections ? { connections: 1, subscriptions: 2 } : { connections: 0, subscriptions: 0 };
      let s;
      await waitFor(async () => {
        s = await gw.stats();
        return s.connections === want.connections && s.subscriptions === want.subscriptions;
      }, 5000, `gateway /admin/stats connections == ${want.connections} and subscriptions == ${want.subscriptions}`)
        .catch(() => { throw new Error(`gateway /admin/stats: ${JSON.stringify(s)}, expected ${JSON.stringify(want)}`); });
      return `gateway: connections ${s.connections}, subscriptions ${s.subscriptions} (total_connections ${s.total_connections} since its last start)`;
    },
    cleanup: () => gw.stop(),
  };
}

async function natsTransport() {
  const nats = await startNats({ monitor: true });
  // The fleet comes from a second process, publishing into NATS as the
  // publisher user; async-nats reconnects on its own after each restart.
  const { user, pass } = nats.users.publisher;
  const fleet = await startGateway([...FLEET, "--nats-publish", `nats://127.0.0.1:${nats.port}`, "--nats-user", user, "--nats-pass", pass]);
  const { user: duser, pass: dpass } = nats.users.dashboard;
  return {
    name: "nats",
    url: nats.url,
    startOptions: { protocol: "nats", user: duser, pass: dpass },
    pid: () => nats.child.pid,
    stop: () => nats.stop(),
    kill: () => nats.kill(),
    start: () => nats.start(),
    /** nats-server's own view (/connz): one dashboard client with its two subs. */
    async serverCheck(expectConnections) {
      let mine;
      await waitFor(async () => {
        const connz = await (await fetch(`${nats.monitorUrl}/connz?auth=1&subs=1`)).json();
        mine = (connz.connections ?? []).filter((c) => c.authorized_user === duser);
        return expectConnections ? mine.length === 1 && mine[0].subscriptions_list?.length === 2 : mine.length === 0;
      }, 5000, "nats-server /connz").catch(() => {
        throw new Error(`nats-server /connz: dashboard connections ${JSON.stringify(mine?.map((c) => ({ kind: c.type ?? c.kind, subs: c.subscriptions_list })))}, expected ${expectConnections ? "one with 2 subscriptions" : "none"}`);
      });
      return `nats-server: dashboard connections ${mine.length}${mine.length ? `, subscriptions ${JSON.stringify(mine[0].subscriptions_list)}` : ""}`;
    },
    cleanup: async () => { await fleet.stop(); await nats.cleanup(); },
  };
}

// ---- behind the gateway: the upstream bus restarted ----------------------
async function decnetUpstream() {
  const bus = await startDecnetBus({ healthInterval: 1 });
  const gw = await startGateway([...FLEET, "--upstream", bus.upstream, "--admin", "--allow-origin", "*"]);
  return {
    name: "decnet",
    gw,
    /** Restarts the daemon: a clean stop or a crash (stale socket file). */
    async restart(mode, downMs) {
      if (mode === "stop") await bus.stop();
      else await bus.kill();
      await sleep(downMs);
      await bus.start();
      return "the daemon";
    },
    /** After every daemon start, the gateway held its pattern exactly once. */
    finalCheck(starts) {
      const subs = bus.count("SUB worker-gateway system.*.health");
      return subs === starts ? null : `the daemon saw ${subs} SUBs of system.*.health for ${starts} starts`;
    },
    cleanup: async () => { await gw.stop(); await bus.cleanup(); },
  };
}

async function natsClusterUpstream() {
  const cluster = await startNatsCluster();
  const gw = await startGateway([...FLEET, "--upstream", cluster.urls, "--admin", "--allow-origin", "*"]);
  return {
    name: "nats-cluster",
    gw,
    /** Restarts one node, at random: the gateway fails over to the others. */
    async restart(mode, downMs) {
      const node = cluster.nodes[Math.floor(Math.random() * cluster.nodes.length)];
      if (mode === "stop") await node.stop();
      else await node.kill();
      await sleep(downMs);
      await node.start();
      return `node ${node.name}`;
    },
    finalCheck: () => null,
    cleanup: async () => { await gw.stop(); await cluster.cleanup(); },
  };
}

async function runUpstream(browser, server, upstream) {
  const t0 = Date.now();
  const failures = [];
  const check = (ok, message) => { if (!ok) failures.push(message); return ok; };
  const page = await browser.newPage();
  const pageErrors = [];
  page.on("pageerror", (e) => { pageErrors.push(String(e)); log("PAGE ERROR:", String(e)); });
  await page.goto(`${server.url}/`);
  await page.waitForFunction(() => window.chaos !== undefined, null, { timeout: 15000 });
  const options = { backoff: BACKOFF, pingIntervalMs: PING_MS, pongTimeoutMs: PONG_MS };
  await page.evaluate(([url, o]) => window.chaos.reg.start(url, o), [upstream.gw.url, options]);
  await waitFor(async () => (await page.evaluate(() => window.chaos.opens)) >= 1, 10000, "the page's connection");
  // Every allowlisted worker but updater has a beat sent after `since`.
  const freshSince = (since, ms) => waitFor(async () => {
    const rows = await page.evaluate(() => window.chaos.reg.snapshot());
    return EXPECT_OK.every((name) => {
      const r = rows.find((x) => x.name === name);
      return r && r.status === "ok" && r.last_heartbeat_ts * 1000 > since;
    });
  }, ms, "beats sent after the restart").then(() => true, () => false);
  check(await freshSince(0, 15000), "the fleet never reached the page");
  log(`${upstream.name}: page connected to ${upstream.gw.url}; ${opts.restarts} restarts behind the gateway`);

  const recover = [];
  let sawDown = 0;
  for (let i = 1; i <= opts.restarts; i++) {
    const mode = pick({ stop: 1, kill: 1 });
    const down = Math.round(300 + Math.random() * Math.min(opts.maxDownMs, 2000));
    const downAt = Date.now();
    const restarting = upstream.restart(mode, down);
    // The gateway tells the truth while its bus is away (the DECNET daemon
    // is its only upstream; a cluster has other nodes to fail over to).
    if (upstream.name === "decnet") {
      const wasDown = await waitFor(async () => (await upstream.gw.stats()).upstream.state === "down", 2000, "upstream down")
        .then(() => true, () => false);
      if (check(wasDown, `restart ${i}: /admin/stats never said the upstream was down`)) sawDown++;
    }
    const what = await restarting;
    const back = Date.now();
    const fresh = await freshSince(back, 15000);
    check(fresh, `restart ${i} (${mode} ${what}): no fresh beats within 15 s of the restart`);
    recover.push(Date.now() - back);
    log(`${upstream.name}: restart ${String(i).padStart(3)}/${opts.restarts}: ${mode.padEnd(4)} ${what}, down ${back - downAt} ms, fresh beats ${Date.now() - back} ms later`);
  }

  const data = await page.evaluate(() => ({ opens: window.chaos.opens, state: window.chaos.reg.connection(), stats: window.chaos.reg.stats() }));
  check(data.opens === 1, `the page's socket dropped: ${data.opens} opens, expected 1 (upstream loss is not the client's fault)`);
  check(data.state.state === "open", `connection() at the end: ${JSON.stringify(data.state)}`);
  const stats = await upstream.gw.stats();
  check(stats.upstream.state === "up", `gateway upstream at the end: ${JSON.stringify(stats.upstream)}`);
  check(stats.connections === 1 && stats.subscriptions === 2, `gateway: ${stats.connections} connections, ${stats.subscriptions} subscriptions; expected 1 and 2`);
  const final = upstream.finalCheck(opts.restarts + 1);
  if (final) failures.push(final);
  check(pageErrors.length === 0, `${pageErrors.length} page error(s), first: ${pageErrors[0]}`);
  await page.evaluate(() => window.chaos.reg.stop());
  await page.close();

  const sorted = [...recover].sort((a, b) => a - b);
  console.log(`\nchaos: ${upstream.name} figures`);
  console.log(`  restarts           ${opts.restarts} behind the gateway; the page's socket opened ${data.opens} time(s)`);
  console.log(`  fresh beats after  median ${sorted[Math.floor(sorted.length / 2)] ?? 0} ms, max ${sorted.at(-1) ?? 0} ms (after the restart)`);
  console.log(`  gateway upstream   ${JSON.stringify(stats.upstream)}; relayed ${stats.relayed}${upstream.name === "decnet" ? `; said down ${sawDown}/${opts.restarts} times` : ""}`);
  console.log(`  registry           ${data.stats.accepted} beats accepted`);
  console.log(`  duration           ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return failures.map((f) => `${upstream.name}: ${f}`);
}

// ---- the run of one transport --------------------------------------------
async function run(browser, server, transport) {
  const t0 = Date.now();
  const failures = [];
  const check = (ok, message) => { if (!ok) failures.push(message); return ok; };
  const page = await browser.newPage();
  const pageErrors = [];
  const consoleErrors = [];
  let networkNoise = 0;
  page.on("pageerror", (e) => { pageErrors.push(String(e)); log("PAGE ERROR:", String(e)); });
  page.on("console", (m) => {
    if (m.type() !== "error") return;
    // Chromium itself logs every refused or failed WebSocket handshake as a
    // console error ("WebSocket connection to '<url>' failed: ..."). While the
    // server is down that is expected, and it is not the page speaking:
    // those lines are counted apart. Anything else fails the run.
    if (m.text().startsWith(`WebSocket connection to '${new URL(transport.url).href}' failed:`)) networkNoise++;
    else { consoleErrors.push(m.text()); log("CONSOLE ERROR:", m.text()); }
  });
  await page.goto(`${server.url}/`);
  await page.waitForFunction(() => window.chaos !== undefined, null, { timeout: 15000 });
  const options = { ...transport.startOptions, backoff: BACKOFF, pingIntervalMs: PING_MS, pongTimeoutMs: PONG_MS };
  await page.evaluate(([url, o]) => window.chaos.reg.start(url, o), [transport.url, options]);
  const opens = () => page.evaluate(() => window.chaos.opens);
  await waitFor(async () => (await opens()) >= 1, 10000, `the first ${transport.name} connection`);
  log(`${transport.name}: connected to ${transport.url}; ${opts.restarts} restarts, downtime 0–${opts.maxDownMs} ms`);

  // ---- the restarts ----
  const modes = { stop: 0, kill: 0, freeze: 0 };
  let totalDown = 0;
  let waited = 0;
  let lastRestartAt = 0;
  const reopenTimes = [];
  for (let i = 1; i <= opts.restarts; i++) {
    const mode = pick({ stop: 4, kill: 4, freeze: 2 });
    modes[mode]++;
    const down = Math.round(Math.random() * opts.maxDownMs);
    const before = await opens();
    const downAt = Date.now();
    if (mode === "stop") await transport.stop();
    else if (mode === "kill") await transport.kill();
    else process.kill(transport.pid(), "SIGSTOP");
    await sleep(Math.max(0, downAt + down - Date.now()));
    if (mode === "freeze") await transport.kill();
    await transport.start();
    lastRestartAt = Date.now();
    totalDown += lastRestartAt - downAt;
    // Mostly let the page reconnect before the next outage; sometimes strike
    // again while it is still backing off or handshaking.
    let note;
    if (i < opts.restarts && i % 20 !== 0 && Math.random() < 0.2) {
      const up = Math.round(Math.random() * 300);
      await sleep(up);
      note = `struck again after ${up} ms`;
    } else {
      try {
        await page.waitForFunction((n) => window.chaos.opens > n && window.chaos.state === "open", before,
          { polling: 20, timeout: REOPEN_MS });
      } catch {
        const c = await page.evaluate(() => window.chaos.reg.connection());
        throw new Error(`restart ${i} (${mode}): the page did not reconnect within ${REOPEN_MS} ms of the server being back; connection(): ${JSON.stringify(c)}`);
      }
      const reopen = Date.now() - lastRestartAt;
      reopenTimes.push(reopen);
      waited++;
      // Every 20th restart (never in a quick run) the server stays up past
      // the 10 s after which the registry resets its attempt count, so the
      // full run also draws delays at the small attempt numbers again.
      const up = i % 20 === 0 && i < opts.restarts ? 10_500 : Math.round(Math.random() * 600);
      await sleep(up);
      note = `reopened after ${reopen} ms, up ${up} ms`;
    }
    log(`${transport.name}: restart ${String(i).padStart(3)}/${opts.restarts}: ${mode.padEnd(6)} down ${String(lastRestartAt - downAt).padStart(4)} ms, ${note}`);
  }

  // ---- settle, then the final checks ----
  log(`${transport.name}: settling ${SETTLE_MS} ms after the last restart`);
  await page.waitForFunction(() => window.chaos.state === "open", null, { polling: 20, timeout: REOPEN_MS })
    .catch(() => failures.push("the page is not open after the last restart"));
  await sleep(SETTLE_MS);

  // Every row where the fleet puts it, from beats sent after the last restart
  // (their payload ts is the publisher's clock, on this machine): for NATS
  // this also proves the fleet's own client got back to the restarted server.
  let rows;
  const fresh = await waitFor(async () => {
    rows = await page.evaluate(() => window.chaos.reg.snapshot());
    return EXPECT_OK.every((name) => {
      const r = rows.find((x) => x.name === name);
      return r && r.status === "ok" && r.last_heartbeat_ts * 1000 > lastRestartAt;
    });
  }, 15000, "fresh rows").then(() => true, () => false);
  check(rows.map((r) => r.name).join() === ALLOWLIST.join(), `rows are not the allowlist in order: ${rows.map((r) => r.name)}`);
  check(fresh, "rows not ok with beats sent after the last restart: " +
    rows.filter((r) => r.name !== "updater" && !(r.status === "ok" && r.last_heartbeat_ts * 1000 > lastRestartAt))
      .map((r) => `${r.name} ${r.status} (last ts ${r.last_heartbeat_ts}, restart at ${lastRestartAt / 1000})`).join(", "));
  const updater = rows.find((r) => r.name === "updater");
  check(updater?.status === "unknown" && updater.last_heartbeat_ts === null, `updater should be unknown: ${JSON.stringify(updater)}`);

  // Leaks, while open: one socket; timers = status + ping + pong deadline.
  // Sampled for a couple of ping periods, since the timers come and go.
  let maxSockets = 0;
  let minSockets = Infinity;
  let maxTimers = 0;
  for (let k = 0; k < 25; k++) {
    const c = await page.evaluate(() => window.chaos.debugCounts());
    maxSockets = Math.max(maxSockets, c.sockets);
    minSockets = Math.min(minSockets, c.sockets);
    maxTimers = Math.max(maxTimers, c.timers);
    await sleep(100);
  }
  const state = await page.evaluate(() => window.chaos.reg.connection());
  check(state.state === "open" && state.bus_connected, `connection() at the end: ${JSON.stringify(state)}`);
  check(minSockets === 1 && maxSockets === 1, `debugCounts while open: sockets ${minSockets}..${maxSockets}, expected exactly 1`);
  check(maxTimers <= 3, `debugCounts while open: up to ${maxTimers} timers, expected at most 3 (status, ping, pong)`);
  let serverView = "";
  try { serverView = await transport.serverCheck(true); } catch (e) { failures.push(e.message); }

  // stop(): nothing left, and nothing wakes up later (two keepalive periods).
  const afterStop = await page.evaluate(async () => {
    await window.chaos.reg.stop();
    const now = window.chaos.debugCounts();
    const changes = window.chaos.changes.length;
    await new Promise((r) => setTimeout(r, 2500));
    return { now, later: window.chaos.debugCounts(), state: window.chaos.reg.connection().state, newChanges: window.chaos.changes.length - changes };
  });
  check(afterStop.now.sockets === 0 && afterStop.now.timers === 0 && afterStop.later.sockets === 0 && afterStop.later.timers === 0,
    `debugCounts after stop(): ${JSON.stringify(afterStop.now)}, 2.5 s later ${JSON.stringify(afterStop.later)}; expected 0 and 0`);
  check(afterStop.state === "closed" && afterStop.newChanges === 0,
    `after stop(): state ${afterStop.state}, ${afterStop.newChanges} connection change(s) later`);
  try { await transport.serverCheck(false); } catch (e) { failures.push(`after stop(): ${e.message}`); }

  // ---- jitter: each delay over its ceiling should be uniform on [0, 1) ----
  const data = await page.evaluate(() => ({
    backoffs: window.chaos.backoffs, opens: window.chaos.opens, beats: window.chaos.beats,
    statusEvents: window.chaos.statusEvents, changes: window.chaos.changes.length, stats: window.chaos.reg.stats(),
  }));
  await page.close();
  const jitter = analyseJitter(data.backoffs);
  failures.push(...jitter.failures);
  check(data.opens - 1 >= waited, `only ${data.opens - 1} reconnects observed, but ${waited} restarts waited for one`);
  check(pageErrors.length === 0, `${pageErrors.length} page error(s), first: ${pageErrors[0]}`);
  check(consoleErrors.length === 0, `${consoleErrors.length} console error(s), first: ${consoleErrors[0]}`);

  // ---- figures ----
  const errorsSeen = {};
  for (const b of data.backoffs) {
    const key = (b.error ?? "none").replace(/\d+ ms/, "N ms");
    errorsSeen[key] = (errorsSeen[key] ?? 0) + 1;
  }
  const sorted = [...reopenTimes].sort((a, b) => a - b);
  const pct = (p) => sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] : 0;
  console.log(`\nchaos: ${transport.name} figures`);
  console.log(`  restarts done      ${opts.restarts} (clean stop ${modes.stop}, SIGKILL ${modes.kill}, SIGSTOP then SIGKILL ${modes.freeze}); ${opts.restarts - waited} struck while reconnecting`);
  console.log(`  total downtime     ${(totalDown / 1000).toFixed(1)} s (mean ${(totalDown / opts.restarts).toFixed(0)} ms)`);
  console.log(`  reconnects         ${data.opens - 1} observed; ${data.backoffs.length} backoffs; ${data.changes} connection changes`);
  console.log(`  time to reopen     median ${pct(0.5)} ms, p90 ${pct(0.9)} ms, max ${sorted.at(-1) ?? 0} ms (after the server was back; limit ${REOPEN_MS} ms)`);
  console.log(`  why it reconnected ${Object.entries(errorsSeen).map(([k, v]) => `${v}× "${k}"`).join(", ")}`);
  console.log(`  beats              ${data.beats} recorded (${data.stats.accepted} accepted, ${data.stats.rejected.unknown_worker} intruder beats refused); ${data.statusEvents} ok→stale turns`);
  console.log(`  reconnect delays   ${jitter.text}`);
  console.log(`  final counts       while open: sockets ${maxSockets}, timers ≤ ${maxTimers}; after stop(): sockets ${afterStop.later.sockets}, timers ${afterStop.later.timers}`);
  console.log(`  server view        ${serverView}`);
  console.log(`  console            ${pageErrors.length} page errors, ${consoleErrors.length} console errors (${networkNoise} Chromium "WebSocket connection failed" lines while the server was down, not counted)`);
  console.log(`  duration           ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return failures.map((f) => `${transport.name}: ${f}`);
}

/**
 * Checks the recorded delays for full jitter: the ratio delay / ceiling,
 * ceiling = min(maxMs, initialMs * 2^(attempts - 1)), must spread over [0, 1)
 * uniformly. A fixed step gives ratios of 1, "equal jitter" [0.5, 1), a bit
 * of noise on a step [0.9, 1): all fail the lower-third test. Each third
 * must hold 20 % of the delays, or, in a small sample, as many as a uniform
 * draw reaches but for a 1-in-1000 chance; with the Kolmogorov–Smirnov bound
 * (alpha = 0.001), a true uniform draw does not fail by chance.
 */
function analyseJitter(backoffs) {
  const failures = [];
  const ceiling = (a) => Math.min(BACKOFF.maxMs, BACKOFF.initialMs * 2 ** (a - 1));
  const ratios = backoffs.map((b) => b.delay / ceiling(b.attempts));
  const n = ratios.length;
  if (n < 12) return { failures: [`only ${n} reconnect delays recorded: too few to judge the jitter`], text: `${n} delays` };
  // next_retry_ms is rounded to whole ms, so a draw just under the ceiling
  // can read as exactly the ceiling.
  const outside = backoffs.filter((b, i) => !(ratios[i] >= 0 && b.delay <= ceiling(b.attempts) + 0.5));
  if (outside.length) failures.push(`${outside.length} delays outside [0, ceiling]: ${JSON.stringify(outside.slice(0, 5))}`);
  const low = ratios.filter((r) => r < 0.33).length / n;
  const high = ratios.filter((r) => r > 0.66).length / n;
  const need = Math.min(Math.ceil(0.2 * n), binomialFloor(n, 0.33, 0.001)) / n;
  const pc = (x) => `${(x * 100).toFixed(0)} %`;
  if (low < need) failures.push(`only ${pc(low)} of delays below 0.33 of their ceiling (need ${pc(need)}): not full jitter`);
  if (high < need) failures.push(`only ${pc(high)} of delays above 0.66 of their ceiling (need ${pc(need)}): not full jitter`);
  const distinct = new Set(ratios.map((r) => r.toFixed(3))).size;
  if (distinct < n / 2) failures.push(`only ${distinct} distinct delay ratios among ${n}: a fixed step, not jitter`);
  const sorted = [...ratios].sort((a, b) => a - b);
  const ks = Math.max(...sorted.map((r, i) => Math.max((i + 1) / n - Math.min(r, 1), Math.min(r, 1) - i / n)));
  const ksLimit = 1.95 / Math.sqrt(n);
  if (ks > ksLimit) failures.push(`delay ratios are not uniform: Kolmogorov–Smirnov D = ${ks.toFixed(3)} > ${ksLimit.toFixed(3)}`);

  // A histogram of the ratios in tenths, and the ratios by attempt number.
  const bins = new Array(10).fill(0);
  for (const r of ratios) bins[Math.min(9, Math.floor(r * 10))]++;
  const widest = Math.max(...bins);
  const lines = bins.map((c, i) => `      ${(i / 10).toFixed(1)}–${((i + 1) / 10).toFixed(1)} ${String(c).padStart(4)} ${"#".repeat(Math.round((c / widest) * 40))}`);
  const groups = {};
  for (let i = 0; i < n; i++) {
    const a = backoffs[i].attempts;
    const key = ceiling(a) >= BACKOFF.maxMs ? `${Math.ceil(Math.log2(BACKOFF.maxMs / BACKOFF.initialMs)) + 1}+` : String(a);
    (groups[key] ??= []).push(ratios[i]);
  }
  const byAttempt = Object.entries(groups)
    .sort((a, b) => parseInt(a[0]) - parseInt(b[0]))
    .map(([k, rs]) => `attempt ${k} (ceiling ${ceiling(parseInt(k))} ms): n=${rs.length}, mean ratio ${(rs.reduce((a, b) => a + b, 0) / rs.length).toFixed(2)}`);
  const text = `${n} delays, ratio to ceiling: ${pc(low)} < 0.33, ${pc(high)} > 0.66 (need ${pc(need)} each), ` +
    `${distinct} distinct, min ${sorted[0].toFixed(3)}, max ${sorted.at(-1).toFixed(3)}, KS D ${ks.toFixed(3)} (limit ${ksLimit.toFixed(3)})\n` +
    `    by attempt: ${byAttempt.join("; ")}\n    histogram of delay / ceiling:\n${lines.join("\n")}`;
  return { failures, text };
}

/** The largest k with P(Binomial(n, p) < k) <= alpha. */
function binomialFloor(n, p, alpha) {
  // pmf in log space: (1-p)^n underflows for large n.
  let logPmf = n * Math.log(1 - p);
  let cdf = 0;
  for (let k = 0; k <= n; k++) {
    const next = cdf + Math.exp(logPmf);
    if (next > alpha) return k;
    cdf = next;
    logPmf += Math.log((n - k) / (k + 1)) + Math.log(p / (1 - p));
  }
  return n;
}

// ---- main -----------------------------------------------------------------
const started = Date.now();
const failures = [];
let browser, server;
const transports = [];
try {
  server = await serveStatic({ "/pkg": join(ROOT, "pkg") }, {
    "/": (req, res) => { res.setHeader("Content-Type", "text/html; charset=utf-8"); res.end(PAGE); },
  });
  browser = await launchBrowser();
  const which = opts.transport.split(",").flatMap((t) => (t === "both" ? ["gateway", "nats"] : [t]));
  for (const name of which) {
    log(`--- transport ${name} ---`);
    if (name === "decnet" || name === "nats-cluster") {
      const upstream = name === "decnet" ? await decnetUpstream() : await natsClusterUpstream();
      transports.push(upstream);
      try {
        failures.push(...(await runUpstream(browser, server, upstream)));
      } finally {
        await upstream.cleanup().catch(() => {});
      }
      continue;
    }
    const transport = name === "gateway" ? await gatewayTransport() : await natsTransport();
    transports.push(transport);
    try {
      failures.push(...(await run(browser, server, transport)));
    } finally {
      await transport.cleanup().catch(() => {});
    }
  }
} catch (e) {
  failures.push(`the chaos run could not complete: ${e.stack ?? e}`);
} finally {
  for (const t of transports) await t.cleanup().catch(() => {});
  await browser?.close().catch(() => {});
  await server?.close().catch(() => {});
}

if (failures.length) {
  console.error(`\nchaos: FAILED (${failures.length} check(s)) after ${((Date.now() - started) / 1000).toFixed(0)} s:\n  - ${failures.join("\n  - ")}`);
  process.exit(1);
}
console.log(`\nchaos: passed in ${((Date.now() - started) / 1000).toFixed(0)} s`);
