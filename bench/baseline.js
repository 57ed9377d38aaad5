// The baseline: the registry's contract (docs/contract.md, sections 2 to 5) written in
// plain JavaScript, the way a good engineer would: JSON.parse, a Map, plain
// row objects. The benchmark checks it gives the same snapshots and counts
// as the wasm registry on the benchmark's frames before timing either.
//
// One rule it does not implement: JSON.parse keeps the last of duplicate
// keys where the wasm registry refuses the frame. The benchmark's frames
// have no duplicate keys.

const REASONS = ["too_large", "not_json", "not_object", "unsupported_version", "bad_topic",
  "unknown_worker", "bad_payload", "bad_ts", "bad_age"];
const EMPTY = Object.freeze({});
const decoder = new TextDecoder("utf-8", { fatal: true });
const encoder = new TextEncoder();

function deepFreeze(v) {
  if (v !== null && typeof v === "object") {
    for (const k of Object.keys(v)) deepFreeze(v[k]);
    Object.freeze(v);
  }
  return v;
}

function finiteTs(ts) {
  if (typeof ts === "number") return Number.isFinite(ts) ? ts : undefined;
  if (typeof ts === "string" && ts.trim() !== "") {
    const n = Number(ts);
    return Number.isFinite(n) ? n : undefined;
  }
  return undefined;
}

export class JsRegistry {
  constructor({ knownWorkers, okWindowSeconds = 90, maxFrameBytes = 65536, clock } = {}) {
    this.names = knownWorkers;
    this.index = new Map(knownWorkers.map((n, i) => [n, i]));
    this.window = okWindowSeconds;
    this.max = maxFrameBytes;
    this.clock = clock ?? { monoMs: () => performance.now(), wallMs: () => Date.now() };
    this.entries = new Array(knownWorkers.length).fill(null);
    this.accepted = 0;
    this.ignored = 0;
    this.superseded = 0;
    this.rejected = Object.fromEntries(REASONS.map((r) => [r, 0]));
  }

  reject(reason) {
    this.rejected[reason]++;
    return false;
  }

  ingest(frame) {
    let text = frame;
    if (typeof frame === "string") {
      if (frame.length > this.max) return this.reject("too_large");
      // Only a string that might exceed the limit once encoded is measured.
      if (frame.length * 3 > this.max && encoder.encode(frame).length > this.max) return this.reject("too_large");
    } else {
      if (frame.byteLength > this.max) return this.reject("too_large");
      try {
        text = decoder.decode(frame);
      } catch {
        return this.reject("not_json");
      }
    }
    let msg;
    try {
      msg = JSON.parse(text);
    } catch {
      return this.reject("not_json");
    }
    if (msg === null || typeof msg !== "object" || Array.isArray(msg)) return this.reject("not_object");
    if (Object.hasOwn(msg, "op")) return false;
    if (msg.v !== undefined && msg.v !== 1) return this.reject("unsupported_version");
    const topic = msg.topic;
    if (typeof topic !== "string") return this.reject("bad_topic");
    const parts = topic.split(".");
    if (parts.length !== 3 || parts[0] !== "system" || parts[2] !== "health" || parts[1] === "") {
      this.ignored++;
      return false;
    }
    const i = this.index.get(parts[1]);
    if (i === undefined) return this.reject("unknown_worker");
    const payload = msg.payload;
    if (payload !== undefined && payload !== null && (typeof payload !== "object" || Array.isArray(payload))) {
      return this.reject("bad_payload");
    }
    let ts;
    if (payload != null && payload.ts !== undefined) {
      ts = finiteTs(payload.ts);
      if (ts === undefined) return this.reject("bad_ts");
    }
    let age = 0;
    if (msg.retained === true) {
      age = msg.age;
      if (typeof age !== "number" || !Number.isFinite(age) || age < 0) return this.reject("bad_age");
    }
    const mono = this.clock.monoMs();
    const wall = this.clock.wallMs();
    const held = this.entries[i];
    if (held !== null && age > held.age + this.elapsed(held, mono, wall)) {
      this.superseded++;
      return false;
    }
    const extra = {};
    if (payload != null) {
      for (const k of Object.keys(payload)) if (k !== "worker" && k !== "ts") extra[k] = payload[k];
    }
    this.entries[i] = { ts: ts ?? wall / 1000, mono, wall, age, extra: deepFreeze(extra) };
    this.accepted++;
    return true;
  }

  elapsed(e, mono, wall) {
    return Math.max(mono - e.mono, wall - e.wall, 0) / 1000;
  }

  snapshot() {
    const mono = this.clock.monoMs();
    const wall = this.clock.wallMs();
    const rows = new Array(this.names.length);
    for (let i = 0; i < this.names.length; i++) {
      const e = this.entries[i];
      if (e === null) {
        rows[i] = { name: this.names[i], status: "unknown", last_heartbeat_ts: null, seconds_since: null, extra: EMPTY };
      } else {
        const since = e.age + this.elapsed(e, mono, wall);
        rows[i] = { name: this.names[i], status: since < this.window ? "ok" : "stale", last_heartbeat_ts: e.ts, seconds_since: since, extra: e.extra };
      }
    }
    return rows;
  }

  stats() {
    return { accepted: this.accepted, ignored: this.ignored, superseded: this.superseded, rejected: { ...this.rejected } };
  }
}
