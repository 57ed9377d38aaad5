// The JavaScript half of a WorkerRegistry: it copies frames into wasm memory,
// builds snapshot rows as plain objects, and calls onChange listeners.
// Each of these is cheaper on this side of the boundary than crossing it once
// per field from Rust.

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const REASONS = [
  "too_large", "not_json", "not_object", "unsupported_version", "bad_topic",
  "unknown_worker", "bad_payload", "bad_ts", "bad_age",
];
const CHANGES = ["beat", "status", "connection"];
const STATES = ["idle", "connecting", "open", "backoff", "closed"];
const EMPTY = Object.freeze({});

// Freezes an `extra` and everything in it. JSON.parse made it, so it is a tree
// (no cycles) at most 128 levels deep: the scanner refused deeper frames.
function deepFreeze(value) {
  if (value !== null && typeof value === "object") {
    for (const key of Object.keys(value)) deepFreeze(value[key]);
    Object.freeze(value);
  }
  return value;
}

// A listener or clock that throws must not break the registry; the error
// still reaches window.onerror like any uncaught one.
function report(error) {
  if (typeof reportError === "function") reportError(error);
  else console.error(error);
}

function describe(value) {
  if (typeof value === "string") return JSON.stringify(value);
  if (Array.isArray(value)) return "an array";
  if (value === null) return "null";
  if (typeof value === "object") return "an object";
  if (typeof value === "function") return "a function";
  return String(value);
}

// The error a constructor or start() option raises: it names the option and
// the rule, and shows what was given.
export function optionError(range, message, got) {
  const text = "WorkerRegistry: " + message + " (got " + describe(got) + ")";
  return range ? new RangeError(text) : new TypeError(text);
}

export function isArray(value) {
  return Array.isArray(value);
}

export class Host {
  constructor(memory, names, clock) {
    this.memory = memory;
    this.names = names;
    this.clock = clock;
    this.lastMono = 0;
    this.lastWall = 0;
    this.extras = names.map(() => EMPTY);
    this.listeners = new Set();
    this.u8 = null;
    this.f64 = null;
  }

  // Where Rust's frame buffer and number buffer are; views over them are
  // rebuilt whenever memory grows (growth detaches the old ArrayBuffer).
  bind(framePtr, frameCap, numPtr, numLen) {
    this.framePtr = framePtr;
    this.frameCap = frameCap;
    this.numPtr = numPtr;
    this.numLen = numLen;
    this.views();
  }

  views() {
    const buffer = this.memory.buffer;
    if (this.u8 === null || this.u8.buffer !== buffer) {
      this.u8 = new Uint8Array(buffer, this.framePtr, this.frameCap);
      this.f64 = new Float64Array(buffer, this.numPtr, this.numLen);
    }
  }

  // Copies a frame into the frame buffer. Returns its length in bytes, -1
  // when it is longer than `max` (a string is measured in UTF-16 units
  // before anything is copied), -2 when it is neither text nor bytes.
  load(frame, max) {
    if (typeof frame === "string") {
      if (frame.length > max) return -1;
      this.views();
      // The buffer holds 3 bytes per UTF-16 unit, the worst case, so the
      // whole string always fits.
      return encoder.encodeInto(frame, this.u8).written;
    }
    let bytes;
    if (frame instanceof Uint8Array) bytes = frame;
    else if (frame instanceof ArrayBuffer) bytes = new Uint8Array(frame);
    else if (ArrayBuffer.isView(frame)) bytes = new Uint8Array(frame.buffer, frame.byteOffset, frame.byteLength);
    else return -2;
    if (bytes.byteLength > max) return -1;
    this.views();
    this.u8.set(bytes);
    return bytes.byteLength;
  }

  // A payload object given to record(), as JSON text in the frame buffer.
  // Returns the length, -1 when too large, -3 when it cannot be serialised
  // (a cycle, a BigInt) or is not an object.
  loadPayload(payload, max) {
    if (payload === undefined || payload === null) return this.load("{}", max);
    if (typeof payload !== "object") return -3;
    let text;
    try {
      text = JSON.stringify(payload);
    } catch {
      return -3;
    }
    return this.load(text, max);
  }

  mono() {
    if (this.clock === undefined) return performance.now();
    return (this.lastMono = this.read("monoMs", this.lastMono));
  }

  wall() {
    if (this.clock === undefined) return Date.now();
    return (this.lastWall = this.read("wallMs", this.lastWall));
  }

  // A custom clock that throws or returns garbage keeps its last reading.
  read(method, last) {
    try {
      const value = Number(this.clock[method]());
      if (Number.isFinite(value)) return value;
      report(new TypeError("WorkerRegistry: clock." + method + "() returned " + describe(value)));
    } catch (error) {
      report(error);
    }
    return last;
  }

  // Row `i`'s extra changed: parse it from the JSON text Rust wrote into the
  // frame buffer. JSON.parse makes every key an own data property, so a key
  // "__proto__" stays a key and never replaces the object's prototype.
  setExtra(i, len) {
    this.views();
    let extra = EMPTY;
    if (len > 2) {
      try {
        extra = deepFreeze(JSON.parse(decoder.decode(this.u8.subarray(0, len))));
      } catch (error) {
        report(error);
      }
    }
    this.extras[i] = extra;
  }

  // The snapshot: Rust wrote [status, ts, seconds_since] per row into the
  // number buffer. A new array of new row objects every call; `extra` objects
  // are shared until their worker's next beat, and frozen.
  rows(n) {
    this.views();
    const f = this.f64;
    const names = this.names;
    const extras = this.extras;
    const out = new Array(n);
    for (let i = 0, k = 0; i < n; i++, k += 3) {
      const status = f[k];
      out[i] = status === 0
        ? { name: names[i], status: "unknown", last_heartbeat_ts: null, seconds_since: null, extra: EMPTY }
        : { name: names[i], status: status === 1 ? "ok" : "stale", last_heartbeat_ts: f[k + 1], seconds_since: f[k + 2], extra: extras[i] };
    }
    return out;
  }

  // stats(): Rust wrote accepted, ignored, superseded, then one count per reason.
  stats() {
    this.views();
    const f = this.f64;
    const rejected = {};
    for (let i = 0; i < REASONS.length; i++) rejected[REASONS[i]] = f[3 + i];
    return { accepted: f[0], ignored: f[1], superseded: f[2], rejected };
  }

  // connection(): Rust wrote state, attempts, next_retry_ms (-1 for none).
  connection(url, lastError) {
    this.views();
    const f = this.f64;
    const state = STATES[f[0]];
    return {
      state,
      bus_connected: state === "open",
      url: url === undefined ? null : url,
      attempts: f[1],
      last_error: lastError === undefined ? null : lastError,
      next_retry_ms: f[2] < 0 ? null : f[2],
    };
  }

  // Asks a tokenProvider for a token, and hands the answer (or the error)
  // to Rust as [generation, token, error]. Promise.resolve().then(...) makes
  // a provider that throws synchronously and one that rejects look alike.
  fetchToken(provider, generation, done) {
    Promise.resolve()
      .then(() => provider())
      .then(
        (token) => { if (!this.dead) done([generation, token, undefined]); },
        (error) => { if (!this.dead) done([generation, undefined, error === undefined ? null : error]); },
      );
  }

  // The URL a WebSocket will be opened with, or undefined if it cannot be
  // one. Relative URLs resolve against the page; http(s) becomes ws(s).
  checkUrl(url) {
    let parsed;
    try {
      parsed = new URL(url, globalThis.location?.href);
    } catch {
      return undefined;
    }
    if (parsed.protocol === "http:") parsed.protocol = "ws:";
    else if (parsed.protocol === "https:") parsed.protocol = "wss:";
    else if (parsed.protocol !== "ws:" && parsed.protocol !== "wss:") return undefined;
    return parsed.href;
  }

  // Resolves once `ws` has closed, or after `timeoutMs` if the server never
  // completes the close handshake. The listener and timer are released
  // either way.
  closeAndWait(ws, timeoutMs) {
    return new Promise((resolve) => {
      if (ws.readyState === WebSocket.CLOSED) return resolve();
      const done = () => {
        clearTimeout(timer);
        ws.removeEventListener("close", done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      ws.addEventListener("close", done);
    });
  }

  knownWorkers() {
    return this.names.slice();
  }

  subscribe(callback) {
    // A wrapper per subscription, so the same function subscribed twice is
    // two subscriptions, each removed by its own unsubscribe.
    const entry = { callback };
    this.listeners.add(entry);
    return () => {
      this.listeners.delete(entry);
    };
  }

  emit(code) {
    if (this.listeners.size === 0) return;
    const reason = CHANGES[code];
    // Set iteration skips entries deleted meanwhile, so a listener may
    // unsubscribe itself or another one while being called.
    for (const entry of this.listeners) {
      try {
        entry.callback(reason);
      } catch (error) {
        report(error);
      }
    }
  }

  // The registry was freed: drop listeners, and ignore token answers that
  // arrive afterwards.
  clear() {
    this.dead = true;
    this.listeners.clear();
  }
}
