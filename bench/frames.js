// The benchmark's frames: realistic bus envelopes of about 190 bytes, built
// deterministically so every run and both implementations see the same ones.

export const WORKERS = ["api", "bus", "collector", "profiler", "sniffer", "prober", "mutator", "agent", "forwarder", "updater"];

// A small seeded generator (mulberry32): the same frames on every run.
export function rng(seed) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const hex = (r) => Math.floor(r() * 2 ** 32).toString(16).padStart(8, "0");

function envelope(r, topic, type, payload) {
  const ts = 1764190000 + Math.floor(r() * 1e6) / 1000;
  return JSON.stringify({ v: 1, id: hex(r) + hex(r), topic, type, ts, payload: { ...payload, ts } });
}

export function beat(r, worker = WORKERS[Math.floor(r() * WORKERS.length)]) {
  return envelope(r, `system.${worker}.health`, "health", {
    worker, pid: 1000 + Math.floor(r() * 30000), uptime_s: Math.floor(r() * 1e6), queue_depth: Math.floor(r() * 50), version: "1.4.2",
  });
}

export function other(r) {
  return envelope(r, "attacker.observed", "observed", {
    src_ip: `203.0.113.${Math.floor(r() * 255)}`, port: 22 + Math.floor(r() * 10000), service: "ssh", session: hex(r), bytes: Math.floor(r() * 1e5),
  });
}

export function unknown(r) {
  const name = `intruder${Math.floor(r() * 1000)}`;
  return envelope(r, `system.${name}.health`, "health", { worker: name, pid: 1000 + Math.floor(r() * 30000), uptime_s: Math.floor(r() * 1e6), note: "rogue" });
}

export function malformed(r) {
  const b = beat(r);
  // Half with an unparseable ts (bad_ts), half cut short (not_json).
  return r() < 0.5 ? b.replace(/"ts":[0-9.]+}/, '"ts":"abc"}') : b.slice(0, 120);
}

/** `n` frames of one kind, or the realistic mix (70 % other topics, 20 %
 * beats, 5 % unknown workers, 5 % malformed), shuffled. */
export function pool(kind, n = 1024, seed = 7) {
  const r = rng(seed);
  const make = { beat, other, unknown, malformed };
  if (kind !== "mix") return Array.from({ length: n }, () => make[kind](r));
  const out = [];
  for (let i = 0; i < n; i++) {
    const k = i % 20;
    out.push(k < 14 ? other(r) : k < 18 ? beat(r) : k === 18 ? unknown(r) : malformed(r));
  }
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}
