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
const CHANGES = ["beat", "status", "connection", "late"];
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

// The envelope as PROTOCOL.md writes it, {"v":1,"id":"<hex>","topic":"...",
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

// Options are JS objects, checked here where reading them is cheap; the
// bus's rules for worker names are checked in Rust (topic.rs).

function optionsObject(value, what, known) {
  if (value === undefined || value === null) return undefined;
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

function positive(o, key, fallback) {
  const v = o[key];
  if (v === undefined) return fallback;
  if (typeof v !== "number" || !Number.isFinite(v) || v <= 0) {
    throw optionError(typeof v === "number", key + " must be a finite number greater than 0", v);
  }
  return v;
}

function text(o, key) {
  const v = o[key];
  if (v !== undefined && typeof v !== "string") throw optionError(false, key + " must be a string", v);
  return v;
}

// new WorkerRegistry(options): [knownWorkers or undefined, okWindowSeconds,
// maxFrameBytes, clock or undefined, historyLength, lateFactor]. The defaults
// and the largest frame limit come from Rust (registry.rs), which owns them
// and checks the last two.
export function registryOptions(options, window, maxFrame, largestFrame) {
  const o = optionsObject(options, "WorkerRegistry",
    ["knownWorkers", "okWindowSeconds", "maxFrameBytes", "clock", "historyLength", "lateFactor"]);
  if (o === undefined) return [undefined, window, maxFrame, undefined];
  const names = o.knownWorkers;
  if (names !== undefined) {
    if (!Array.isArray(names)) throw optionError(false, "knownWorkers must be an array of worker names", names);
    names.forEach((n, i) => {
      if (typeof n !== "string") throw optionError(false, "knownWorkers[" + i + "] must be a string", n);
    });
  }
  const max = o.maxFrameBytes;
  if (max !== undefined && !(Number.isInteger(max) && max >= 1 && max <= largestFrame)) {
    throw optionError(typeof max === "number", "maxFrameBytes must be a whole number of bytes from 1 to " + largestFrame, max);
  }
  const clock = o.clock;
  if (clock !== undefined && (clock === null || typeof clock !== "object" || typeof clock.monoMs !== "function" || typeof clock.wallMs !== "function")) {
    throw optionError(false, "clock must be an object with monoMs() and wallMs() methods", clock);
  }
  return [names && names.slice(), positive(o, "okWindowSeconds", window), max ?? maxFrame, clock,
    o.historyLength, o.lateFactor];
}

// start(url, options): [protocol (0 gateway, 1 nats), token, tokenProvider,
// user, pass, backoff initialMs, backoff maxMs, pingIntervalMs, pongTimeoutMs].
// `defaults` holds the last four, from Rust (link.rs, backoff.rs).
export function connectOptions(options, defaults) {
  const [initialMs, maxMs, pingMs, pongMs] = defaults;
  const known = ["protocol", "token", "tokenProvider", "user", "pass", "backoff", "pingIntervalMs", "pongTimeoutMs"];
  const o = optionsObject(options, "start", known) ?? {};
  const protocol = o.protocol ?? "gateway";
  if (protocol !== "gateway" && protocol !== "nats") throw optionError(false, 'protocol must be "gateway" or "nats"', protocol);
  const token = text(o, "token");
  const user = text(o, "user");
  const pass = text(o, "pass");
  const provider = o.tokenProvider;
  if (provider !== undefined) {
    if (typeof provider !== "function") throw optionError(false, "tokenProvider must be a function", provider);
    if (token !== undefined) throw optionError(false, "give token or tokenProvider, not both", o);
  }
  if (protocol === "gateway" && (user !== undefined || pass !== undefined)) {
    throw optionError(false, 'user and pass are for protocol "nats"; the gateway takes a token', o);
  }
  const b = optionsObject(o.backoff, "backoff", ["initialMs", "maxMs"]) ?? {};
  const initial = positive(b, "initialMs", initialMs);
  const max = positive(b, "maxMs", Math.max(maxMs, initial));
  if (max < initial) throw optionError(true, "backoff.maxMs must be at least backoff.initialMs", b);
  return [protocol === "nats" ? 1 : 0, token, provider, user, pass, initial, max,
    positive(o, "pingIntervalMs", pingMs), positive(o, "pongTimeoutMs", pongMs)];
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
  // before anything is copied), -2 when it is neither text nor bytes, -4
  // when a string is on another topic (`probe`) and need not be copied.
  load(frame, max, probe) {
    if (typeof frame === "string") {
      if (frame.length > max) return -1;
      // Copying a string into wasm costs about as much as half a JSON.parse
      // of it; most of the bus's traffic is on other topics.
      if (probe && otherTopic(frame)) return -4;
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

  // history(name): the seconds-ago list is a view of wasm memory, copied
  // here; a NaN cadence is "none".
  history(i, beats, cadence, late) {
    return { name: this.names[i], beats: Array.from(beats), cadence_s: Number.isNaN(cadence) ? null : cadence, late };
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
