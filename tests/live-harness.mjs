// Runs the browser tests (wasm-pack test --headless --chrome) against real
// servers: two dev gateways (one open, one requiring a token) and a
// nats-server, all on loopback. The tests learn the URLs at compile time
// (option_env!) and drive restarts through this harness's small HTTP API.
// Everything started here is stopped when the run ends, pass or fail.
import { spawn } from "node:child_process";
import { createServer } from "node:http";
import { once } from "node:events";
import { freePort, gatewayPublish, natsPublish, startGateway, startNats, ROOT } from "./support/procs.mjs";

const TOKEN = "s3cret";
const PUBLISHER = "pub-token";
const common = ["--admin", "--allow-origin", "*", "--publisher-token", PUBLISHER];

const gateways = {
  open: await startGateway(common),
  auth: await startGateway([...common, "--token", TOKEN]),
};
const nats = await startNats();

async function body(req) {
  let text = "";
  for await (const chunk of req) text += chunk;
  return text ? JSON.parse(text) : {};
}

// POST /gw/<open|auth>/<stop|start|kill|pause|resume|publish>
// POST /nats/<stop|start|publish>
const api = createServer(async (req, res) => {
  res.setHeader("Access-Control-Allow-Origin", "*");
  res.setHeader("Access-Control-Allow-Headers", "content-type");
  if (req.method === "OPTIONS") return res.end();
  const [, target, name, action] = req.url.split("/");
  try {
    if (target === "gw" && gateways[name]) {
      const gw = gateways[name];
      if (action === "stop") await gw.stop();
      else if (action === "kill") await gw.kill();
      else if (action === "start") await gw.start();
      // SIGSTOP: the process holds its sockets open but answers nothing,
      // as a half-open connection or a hung server looks from outside.
      else if (action === "pause") gw.child.kill("SIGSTOP");
      else if (action === "resume") gw.child.kill("SIGCONT");
      else if (action === "publish") {
        const { topic, payload } = await body(req);
        await gatewayPublish(gw, PUBLISHER, topic, payload);
      } else throw new Error(`unknown action ${action}`);
    } else if (target === "nats") {
      if (name === "stop") await nats.stop();
      else if (name === "start") await nats.start();
      else if (name === "publish") {
        const { subject, body: payload } = await body(req);
        await natsPublish(nats, subject, payload);
      } else throw new Error(`unknown action ${name}`);
    } else throw new Error(`unknown target ${req.url}`);
    res.end("ok");
  } catch (e) {
    res.statusCode = 500;
    res.end(String(e?.stack ?? e));
  }
});
const apiPort = await freePort();
api.listen(apiPort, "127.0.0.1");
await once(api, "listening");

const env = {
  ...process.env,
  WR_HARNESS_URL: `http://127.0.0.1:${apiPort}`,
  WR_GATEWAY_URL: gateways.open.url,
  WR_GATEWAY_HTTP: gateways.open.http,
  WR_AUTH_GATEWAY_URL: gateways.auth.url,
  WR_AUTH_GATEWAY_HTTP: gateways.auth.http,
  WR_GATEWAY_TOKEN: TOKEN,
  WR_NATS_URL: nats.url,
  // The headless runner gives the whole suite, not each test, 20 s by
  // default; the live tests alone take about that on two busy cores.
  WASM_BINDGEN_TEST_TIMEOUT: process.env.WASM_BINDGEN_TEST_TIMEOUT ?? "300",
};
console.log(`live-harness: gateways ${gateways.open.url} and ${gateways.auth.url} (token), nats ${nats.url}, control ${env.WR_HARNESS_URL}`);

// The live tests are marked #[ignore] (a bare `wasm-pack test` must not
// pass them unrun); with the servers up, they are included. Arguments go to
// the test runner: `node tests/live-harness.mjs nats` runs the tests whose
// names contain "nats".
const args = ["test", "--headless", "--chrome", "--", "--", "--include-ignored", ...process.argv.slice(2)];
const child = spawn("wasm-pack", args, { cwd: ROOT, env, stdio: "inherit" });
const [code] = await once(child, "exit");

for (const gw of Object.values(gateways)) {
  if (gw.child?.signalCode === null) gw.child.kill("SIGCONT");
  await gw.stop();
}
await nats.cleanup();
api.close();
process.exit(code ?? 1);
