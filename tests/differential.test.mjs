// host.js judges a string on another topic without copying it into wasm
// memory (`otherTopic`); the registry judges bytes in Rust. The two must
// agree on every frame: the same verdict, the same reason, including the
// frame-size rule near maxFrameBytes, where UTF-16 units and UTF-8 bytes
// differ. Random and mutated frames, each fed once as a string and once as
// its UTF-8 bytes to twin registries, compared frame by frame.
//
//   node --test tests/differential.test.mjs
//   WR_DIFF_FRAMES=1000000 WR_DIFF_SEED=7 node --test tests/differential.test.mjs
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "./support/procs.mjs";

const FRAMES = Number(process.env.WR_DIFF_FRAMES ?? 100_000);
const SEED = Number(process.env.WR_DIFF_SEED ?? Date.now() % 1_000_000);

const mod = await import(join(ROOT, "pkg/index.js"));
mod.initSync({ module: readFileSync(join(ROOT, "pkg/worker_registry_bg.wasm")) });

// A small, seeded generator: a failure names the seed that reproduces it.
function rng(seed) {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 4294967296;
  };
}

const pieces = {
  heads: ['', '"v":1,', '"v":1.0,', '"v":2,', '"v":"1",', '"v":1,"v":1,', '"id":"ab12",', '"id":"a\\"b",',
    '"n":-1.5e3,', '"n":01,', '"b":true,', '"b":nul,', '"o":{},', '"a":[1],', '"op":"pong",',
    '"\\u0074opic":"system.api.health",', '"x":"\u0001",', ' "s" : "t" ,', '"é":"ü",', '"x":"\ud800",'],
  topics: ['"attacker.observed"', '"system.api.health"', '"system.intruder.health"', '"system..health"',
    '"System.api.health"', '"system.api.health.x"', '"attack\\u0065r.observed"', '7', 'null',
    '"system.a.b.health"', '"x"', '"système.api.health"', '"system.bus.health"', '"attacker.\u00e9vent"'],
  tails: ['', ',"payload":{"worker":"api","ts":1}', ',"payload":{"broken"', ',"v":2', ',"topic":"system.api.health"',
    ',"payload":[]', ',"op":"x"', ',"payload":null', ',"retained":true,"age":3', ',"retained":true,"age":-1'],
  pads: ["", "x", "é", "€", "😀", "\ud800"],
};

function pick(r, list) {
  return list[Math.floor(r() * list.length)];
}

// One frame: a composed envelope, sometimes padded towards the size limit
// with characters of 1 to 4 UTF-8 bytes, sometimes mutated at random.
function frame(r, max) {
  const pad = pick(r, pieces.pads);
  const padding = pad && r() < 0.5 ? `"pad":"${pad.repeat(Math.floor(r() * (max / 2)))}",` : "";
  let f = "{" + pick(r, pieces.heads) + (r() < 0.3 ? padding : "") + '"topic":' + pick(r, pieces.topics) +
    (r() < 0.3 ? "," + padding.slice(0, -1) : "") + pick(r, pieces.tails) + "}";
  if (f.endsWith(",}")) f = f.slice(0, -2) + "}";
  const mutations = r() < 0.4 ? 1 + Math.floor(r() * 3) : 0;
  for (let i = 0; i < mutations; i++) {
    const at = Math.floor(r() * (f.length + 1));
    const kind = r();
    const ch = pick(r, ['"', "{", "}", ",", ":", "\\", " ", "é", "\ud83d", "a", "1", "."]);
    if (kind < 0.4) f = f.slice(0, at) + ch + f.slice(at);
    else if (kind < 0.8) f = f.slice(0, at) + f.slice(at + 1);
    else f = f.slice(0, at) + ch + f.slice(at + 1);
  }
  return f;
}

test(`strings and their bytes get the same verdict (${FRAMES} frames, seed ${SEED})`, () => {
  const encoder = new TextEncoder();
  const clock = { monoMs: () => 1000, wallMs: () => 1764190000000 };
  let compared = 0;
  // A small limit makes the size rule matter often; the default one is the
  // common case.
  for (const max of [300, 65536]) {
    const r = rng(SEED + max);
    const asText = new mod.WorkerRegistry({ maxFrameBytes: max, clock });
    const asBytes = new mod.WorkerRegistry({ maxFrameBytes: max, clock });
    let before = JSON.stringify(asText.stats());
    for (let i = 0; i < FRAMES / 2; i++) {
      const f = frame(r, max);
      const a = asText.ingest(f);
      const b = asBytes.ingest(encoder.encode(f));
      const sa = JSON.stringify(asText.stats());
      const sb = JSON.stringify(asBytes.stats());
      if (a !== b || sa !== sb) {
        assert.fail(`frame ${i} (maxFrameBytes ${max}, seed ${SEED}) judged differently:\n` +
          `  frame: ${JSON.stringify(f.length > 300 ? f.slice(0, 300) + "…" : f)}\n` +
          `  string: ${a} ${sa}\n  bytes:  ${b} ${sb}\n  before: ${before}`);
      }
      before = sa;
      compared++;
    }
    const stats = asText.stats();
    // The mix must exercise every path, or agreement proves little.
    assert.ok(stats.ignored > FRAMES / 40, `ignored: ${stats.ignored}`);
    assert.ok(stats.accepted > FRAMES / 400, `accepted: ${stats.accepted}`);
    assert.ok(stats.rejected.not_json > FRAMES / 40, `not_json: ${stats.rejected.not_json}`);
    if (max === 300) assert.ok(stats.rejected.too_large > FRAMES / 100, `too_large: ${stats.rejected.too_large}`);
    asText.free();
    asBytes.free();
  }
  assert.equal(compared, FRAMES);
});
