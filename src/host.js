// The JavaScript half of a WorkerRegistry: it copies frames into wasm memory,
// builds snapshot rows as plain objects, and calls onChange listeners.
// Each of these is cheaper on this side of the boundary than crossing it once
// per field from Rust. Names, codes and the number buffer's layout come from
// Rust (host.rs) in `tables`: nothing here is kept in step by hand.

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const EMPTY = Object.freeze({});

// Frames and bytes copied into wasm memory by every registry on the page:
// tests read them (debugCounts) to prove a refused frame was never copied.
let copies = 0;
let copiedBytes = 0;

export function copyCounts() {
  return [copies, copiedBytes];
}

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

// Sticky patterns for the tokens `otherTopic` reads; `test` moves
// `lastIndex` past a match without allocating.
const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const PLAIN_STRING = /"[^"\\\x00-\x1f]*"/y;
const LITERAL = /true|false|null/y;

function skipWs(s, i) {
  let c = s.charCodeAt(i);
  while (c === 32 || c === 10 || c === 13 || c === 9) c = s.charCodeAt(++i);
  return i;
}

function match(re, s, i) {
  re.lastIndex = i;
  return re.test(s) ? re.lastIndex : -1;
}

const CANONICAL = '{"v":1,"id":"';
const TOPIC_KEY = '","topic":"';
// The rest of a string literal up to its closing quote, when it holds no
// escape and no control character.
const PLAIN_TAIL = /[^"\\\x00-\x1f]*"/y;

// The index of the closing quote of a plain string whose content starts at
// `from`, or -1.
function plainEnd(s, from) {
  PLAIN_TAIL.lastIndex = from;
  return PLAIN_TAIL.test(s) ? PLAIN_TAIL.lastIndex - 1 : -1;
}

function isHealth(s, a, z) {
  return z - a > 14 && s.startsWith("system.", a) && s.startsWith(".health", z - 7) && s.indexOf(".", a + 7) === z - 7;
}

// The envelope in the field order of docs/protocol.md, {"v":1,"id":"<hex>","topic":"...",
// read with a few native string searches: 1 when its topic is another
// topic, -1 when it is a health topic, 0 when the frame starts otherwise.
function canonicalTopic(s) {
  if (!s.startsWith(CANONICAL)) return 0;
  const idEnd = plainEnd(s, CANONICAL.length);
  if (idEnd < 0 || !s.startsWith(TOPIC_KEY, idEnd)) return 0;
  const a = idEnd + TOPIC_KEY.length;
  const z = plainEnd(s, a);
  if (z < 0) return 0;
  return isHealth(s, a, z) ? -1 : 1;
}

// The topic decides first (see frame.rs): true when the frame's top-level
// keys, read up to the first `topic`, are plain and valid and that topic is
// not a health topic, so the frame is ignored without being copied into wasm
// memory. Anything unusual (an escape, a nested value, an `op`, a `v` other
// than a plain 1) answers false, and the registry reads the frame itself;
// tests check that both ways agree.
function otherTopic(s) {
  const fast = canonicalTopic(s);
  if (fast !== 0) return fast > 0;
  let i = skipWs(s, 0);
  if (s.charCodeAt(i) !== 123) return false;
  let versions = 0;
  for (;;) {
    i = skipWs(s, i + 1);
    const keyEnd = match(PLAIN_STRING, s, i);
    if (keyEnd < 0) return false;
    const keyLength = keyEnd - i - 2;
    const isTopic = keyLength === 5 && s.startsWith("topic", i + 1);
    const isVersion = keyLength === 1 && s.charCodeAt(i + 1) === 118;
    if (keyLength === 2 && s.startsWith("op", i + 1)) return false;
    i = skipWs(s, keyEnd);
    if (s.charCodeAt(i) !== 58) return false;
    i = skipWs(s, i + 1);
    const c = s.charCodeAt(i);
    let end;
    if (c === 34) {
      end = match(PLAIN_STRING, s, i);
      if (end < 0 || isVersion) return false;
      if (isTopic) {
        // The content is [i + 1, end - 1): system.<name>.health, one dot-free name.
        return !isHealth(s, i + 1, end - 1) && versions < 2;
      }
    } else if (isTopic) {
      return false;
    } else if (isVersion) {
      if (c !== 49) return false;
      end = match(NUMBER, s, i);
      if (end !== i + 1) return false;
    } else {
      end = match(c === 116 || c === 102 || c === 110 ? LITERAL : NUMBER, s, i);
      if (end < 0) return false;
    }
    if (isVersion) versions++;
    i = skipWs(s, end);
    if (s.charCodeAt(i) !== 44) return false;
  }
}

// How an option error shows the value it got.
export function describe(value) {
  if (typeof value === "string") return JSON.stringify(value);
  if (Array.isArray(value)) return "an array";
  if (value === null) return "null";
  if (typeof value === "object") return "an object";
  if (typeof value === "function") return "a function";
  return String(value);
}

// The constructor's and start()'s options are checked here, where a JS
// value's type is cheap to read, and handed to Rust as an object of named
// members, each undefined when not given (host.rs declares them). The rules
// that are the registry's own (worker names, historyLength, lateFactor) are
// checked in Rust, natively tested; the limits and defaults used here come
// from Rust too.

// An option error names the option and the rule, and shows what was given:
// a RangeError for a value of the right type, else a TypeError.
function optionError(range, message, got) {
  const text = "WorkerRegistry: " + message + " (got " + describe(got) + ")";
  return range ? new RangeError(text) : new TypeError(text);
}

// An options object's members, checked against the known names; undefined
// and null give none.
function members(value, what, known) {
  if (value === undefined || value === null) return {};
  if (typeof value !== "object" || Array.isArray(value)) {
    throw optionError(false, what + " options must be an object", value);
  }
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) {
      throw optionError(false, "unknown " + what + ' option "' + key + '"; the options are ' + known.join(", "), value[key]);
    }
  }
  return value;
}

function positive(o, key, name = key) {
  const v = o[key];
  if (v !== undefined && !(typeof v === "number" && v > 0 && v < Infinity)) {
    throw optionError(typeof v === "number", name + " must be a finite number greater than 0", v);
  }
  return v;
}

function typed(o, key, type, rule) {
  const v = o[key];
  if (v !== undefined && typeof v !== type) throw optionError(false, key + " must be " + rule, v);
  return v;
}

// new WorkerRegistry(options). `largestFrame`: the largest maxFrameBytes.
export function registryOptions(options, largestFrame) {
  const o = members(options, "WorkerRegistry", ["knownWorkers", "okWindowSeconds", "maxFrameBytes", "clock", "historyLength", "lateFactor"]);
  let names = o.knownWorkers;
  if (names !== undefined) {
    if (!Array.isArray(names)) throw optionError(false, "knownWorkers must be an array of worker names", names);
    // Array.from visits holes too, as undefined.
    names = Array.from(names, (n, i) => {
      if (typeof n !== "string") throw optionError(false, "knownWorkers[" + i + "] must be a string", n);
      return n;
    });
  }
  const max = o.maxFrameBytes;
  if (max !== undefined && !(Number.isInteger(max) && max >= 1 && max <= largestFrame)) {
    throw optionError(typeof max === "number", "maxFrameBytes must be a whole number of bytes from 1 to " + largestFrame, max);
  }
  const clock = o.clock;
  if (clock !== undefined && !(clock !== null && typeof clock === "object" && typeof clock.monoMs === "function" && typeof clock.wallMs === "function")) {
    throw optionError(false, "clock must be an object with monoMs() and wallMs() methods", clock);
  }
  return {
    knownWorkers: names, okWindowSeconds: positive(o, "okWindowSeconds"), maxFrameBytes: max, clock,
    historyLength: typed(o, "historyLength", "number", "a number"), lateFactor: typed(o, "lateFactor", "number", "a number"),
  };
}

// start(url, options). `initialMs` and `maxMs`: the backoff's defaults.
export function connectOptions(options, initialMs, maxMs) {
  const o = members(options, "start", ["protocol", "token", "tokenProvider", "user", "pass", "backoff", "pingIntervalMs", "pongTimeoutMs"]);
  const protocol = o.protocol ?? "gateway";
  if (protocol !== "gateway" && protocol !== "nats") throw optionError(false, 'protocol must be "gateway" or "nats"', protocol);
  const token = typed(o, "token", "string", "a string");
  const user = typed(o, "user", "string", "a string");
  const pass = typed(o, "pass", "string", "a string");
  const provider = typed(o, "tokenProvider", "function", "a function");
  if (provider !== undefined && token !== undefined) throw optionError(false, "give token or tokenProvider, not both", o);
  if (protocol === "gateway" && (user !== undefined || pass !== undefined)) {
    throw optionError(false, 'user and pass are for protocol "nats"; the gateway takes a token', o);
  }
  const b = members(o.backoff, "backoff", ["initialMs", "maxMs"]);
  const initial = positive(b, "initialMs", "backoff.initialMs") ?? initialMs;
  const max = positive(b, "maxMs", "backoff.maxMs") ?? Math.max(maxMs, initial);
  if (max < initial) throw optionError(true, "backoff.maxMs must be at least backoff.initialMs", b);
  return {
    nats: protocol === "nats", token, tokenProvider: provider, user, pass, initialMs: initial, maxMs: max,
    pingIntervalMs: positive(o, "pingIntervalMs"), pongTimeoutMs: positive(o, "pongTimeoutMs"),
  };
}

export class Host {
  // `tables` (host.rs): {changes, statuses, rowStride, tooLarge, notText,
  // ignored, maxFrameBytes, probeUnits}.
  constructor(memory, names, clock, tables) {
    this.memory = memory;
    this.names = names;
    this.clock = clock;
    this.t = tables;
    this.lastMono = 0;
    this.lastWall = 0;
    this.extras = names.map(() => EMPTY);
    this.listeners = new Set();
    this.u8 = null;
    this.f64 = null;
    // A text NATS message, encoded once and then copied in chunks.
    this.pending = null;
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

  // Copies a frame into the frame buffer and returns its length in bytes,
  // or one of Rust's codes instead: too large, not text or bytes, or (with
  // `probe`) a string on another topic that need not be copied at all.
  // maxFrameBytes is a limit in UTF-8 bytes, so a string and its bytes get
  // the same verdict: a string is refused unread only when even one byte per
  // unit is too many, and judged unread only when even three bytes per unit
  // fit (probeUnits); anything between is encoded and measured.
  load(frame, probe) {
    const t = this.t;
    if (typeof frame === "string") {
      const units = frame.length;
      if (units > t.maxFrameBytes) return t.tooLarge;
      // Copying a string into wasm costs about as much as half a JSON.parse
      // of it; most of the bus's traffic is on other topics.
      if (probe && units <= t.probeUnits && otherTopic(frame)) return t.ignored;
      this.views();
      // The buffer holds 3 bytes per allowed UTF-16 unit, the worst case,
      // so the whole string always fits; Rust measures the bytes.
      const n = encoder.encodeInto(frame, this.u8).written;
      copies++;
      copiedBytes += n;
      return n;
    }
    const bytes = asBytes(frame);
    if (bytes === null) return t.notText;
    if (bytes.byteLength > t.maxFrameBytes) return t.tooLarge;
    this.views();
    this.u8.set(bytes);
    copies++;
    copiedBytes += bytes.byteLength;
    return bytes.byteLength;
  }

  // The length in bytes of a transport message (NATS), copied afterwards in
  // chunks of the buffer's size with `chunk`: its size is the transport's
  // business, not maxFrameBytes'.
  size(frame) {
    if (typeof frame === "string") {
      this.pending = encoder.encode(frame);
      return this.pending.byteLength;
    }
    this.pending = asBytes(frame);
    return this.pending === null ? 0 : this.pending.byteLength;
  }

  chunk(offset) {
    this.views();
    const part = this.pending.subarray(offset, offset + this.frameCap);
    this.u8.set(part);
    copies++;
    copiedBytes += part.byteLength;
    if (offset + part.byteLength >= this.pending.byteLength) this.pending = null;
    return part.byteLength;
  }

  // A payload object given to record(), as JSON text in the frame buffer.
  // Returns the length, or a code: too large, or not text (it cannot be
  // serialised: a cycle, a BigInt; or it is not an object).
  loadPayload(payload) {
    if (payload === undefined || payload === null) return this.load("{}", false);
    if (typeof payload !== "object") return this.t.notText;
    let text;
    try {
      text = JSON.stringify(payload);
    } catch {
      return this.t.notText;
    }
    return this.load(text, false);
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
  // number buffer, `rowStride` numbers a row. A new array of new row objects
  // every call; `extra` objects are shared until their worker's next beat,
  // and frozen.
  rows(n) {
    this.views();
    const f = this.f64;
    const names = this.names;
    const extras = this.extras;
    const statuses = this.t.statuses;
    const stride = this.t.rowStride;
    const out = new Array(n);
    for (let i = 0, k = 0; i < n; i++, k += stride) {
      const status = f[k];
      out[i] = status === 0
        ? { name: names[i], status: statuses[0], last_heartbeat_ts: null, seconds_since: null, extra: EMPTY }
        : { name: names[i], status: statuses[status], last_heartbeat_ts: f[k + 1], seconds_since: f[k + 2], extra: extras[i] };
    }
    return out;
  }

  // Asks a tokenProvider for a token, and hands the answer (or the error)
  // to Rust as [generation, token, error]. Promise.resolve().then(...) makes
  // a provider that throws synchronously and one that rejects look alike,
  // and keeps the provider from running inside Rust's call.
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
    if (typeof url !== "string") return undefined;
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
    const reason = this.t.changes[code];
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

// A binary frame as bytes, or null when the value is neither bytes nor a
// buffer.
function asBytes(frame) {
  if (frame instanceof Uint8Array) return frame;
  if (frame instanceof ArrayBuffer) return new Uint8Array(frame);
  if (ArrayBuffer.isView(frame)) return new Uint8Array(frame.buffer, frame.byteOffset, frame.byteLength);
  return null;
}
