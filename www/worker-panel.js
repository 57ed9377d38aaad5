// <worker-panel>: the Workers panel, a dependency-free custom element.
// It knows only the registry's public shape (snapshot, connection, stats,
// onChange, okWindowSeconds, and history when there is one) and renders
// untrusted strings as text, never HTML.

const STATUS_WORDS = { ok: "OK", stale: "STALE", unknown: "UNKNOWN" };
const STATUS_TONES = { ok: "good", stale: "bad", unknown: "off" };
const BREAKER_TONES = { closed: "good", half_open: "warn", "half-open": "warn", open: "bad" };

// Extras come from whoever published the beat: cap what one row can show.
const MAX_CHIPS = 16;
const CHIP_CHARS = 48;
const FULL_CHARS = 1000;
const NEST_DEPTH = 3;

// The first beats after a registry is attached or the bus comes back
// (retained replays) turn many rows ok at once; announcing each would only be
// noise after "Bus connection restored". Likewise rows going stale while the
// bus is away are the banner's news, not theirs.
const QUIET_MS = 3000;

// Ticks in a row's heartbeat strip: the strip spans this many cadences, so
// a missed beat is a visible gap. Narrow layouts show fewer (see STYLE).
const STRIP_SLOTS = 30;
const STRIP_SLOTS_NARROW = 12;

// `sort="problems"`: stale first, then late, then never seen, then ok.
const PROBLEM_RANK = { stale: 0, late: 1, unknown: 2, ok: 3 };

// ---------------------------------------------------------------------------
// Formatting: pure functions, exported for tests and for other dashboards.

/** `12s ago`, `3m ago`, `2h ago`, `4d ago`, or `—` when never seen. */
export function formatAgo(seconds) {
  if (typeof seconds !== "number" || !Number.isFinite(seconds)) return "—";
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86400)}d ago`;
}

/** `m:ss`, rounded up so that `0:00` means "now". */
export function formatCountdown(seconds) {
  const s = Math.max(0, Math.ceil(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

/** `30 s`, `0.5 s`, `5 min`: for the header. */
export function formatSeconds(seconds) {
  if (seconds >= 120 && seconds % 60 === 0) return `${seconds / 60} min`;
  return `${+seconds.toFixed(3)} s`;
}

/** `45 s`, `12 min 3 s`, `2 h 5 min`, `3 d 4 h`: a duration, two units at most. */
export function formatDuration(seconds) {
  if (typeof seconds !== "number" || !Number.isFinite(seconds)) return String(seconds);
  if (seconds < 0) return `-${formatDuration(-seconds)}`;
  if (seconds < 10) return `${+seconds.toFixed(1)} s`;
  const s = Math.round(seconds);
  const pair = (a, ua, b, ub) => (b > 0 ? `${a} ${ua} ${b} ${ub}` : `${a} ${ua}`);
  if (s < 60) return `${s} s`;
  if (s < 3600) return pair(Math.floor(s / 60), "min", s % 60, "s");
  if (s < 86400) return pair(Math.floor(s / 3600), "h", Math.floor((s % 3600) / 60), "min");
  return pair(Math.floor(s / 86400), "d", Math.floor((s % 86400) / 3600), "h");
}

/**
 * The panel's own reading of well-known extras: `uptime_s` and other `*_s`
 * keys as durations, large numbers with separators. `undefined` for the
 * rest, which are shown as they are.
 */
export function formatExtra(key, value) {
  if (typeof value !== "number" || !Number.isFinite(value)) return undefined;
  if (key.endsWith("_s")) return formatDuration(value);
  if (Math.abs(value) >= 10000) return value.toLocaleString("en-US", { maximumFractionDigits: 2 });
  return undefined;
}

/** `every ~30 s, silent 75 s`: the late cue's text. */
export function lateText(cadence, silent) {
  return `every ~${formatDuration(cadence)}, silent ${formatDuration(silent)}`;
}

function formatNumber(value, exact) {
  if (exact || Number.isInteger(value)) return String(value);
  return String(+value.toFixed(2));
}

/**
 * One extra value as compact text: nested objects as `k=v, k=v`, arrays as
 * `[a, b]`. `exact` keeps full number precision (for the title).
 */
export function compactValue(value, exact = false, depth = 0) {
  if (value === null) return "null";
  switch (typeof value) {
    case "string": return value;
    case "number": return formatNumber(value, exact);
    case "boolean": return String(value);
    case "object": break;
    default: return String(value);
  }
  if (depth >= NEST_DEPTH) return Array.isArray(value) ? "[…]" : "{…}";
  if (Array.isArray(value)) {
    return `[${value.map((v) => compactValue(v, exact, depth + 1)).join(", ")}]`;
  }
  const inner = Object.keys(value)
    .map((k) => `${k}=${compactValue(value[k], exact, depth + 1)}`)
    .join(", ");
  return depth === 0 ? inner : `{${inner}}`;
}

function truncate(text, max) {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/**
 * Whether a ConnectionStatus means beats can arrive: `bus_connected` when the
 * registry says it (false while the gateway's own bus link is down), else
 * an open connection.
 */
export function isOnline(conn) {
  if (!conn) return false;
  if (typeof conn.bus_connected === "boolean") return conn.bus_connected && conn.upstream !== "down";
  return conn.state === "open" && conn.upstream !== "down";
}

/**
 * The banner for a ConnectionStatus, or null when the bus is connected.
 * `everOpen`: the panel has seen this registry connected before.
 * `offlineSeconds`: how long the bus has been away, as far as the panel saw.
 */
export function bannerFor(conn, everOpen = false, offlineSeconds = null) {
  if (!conn || isOnline(conn)) return null;
  const error = typeof conn.last_error === "string" ? conn.last_error : "";
  const retry = conn.state === "backoff" && typeof conn.next_retry_ms === "number"
    ? `RECONNECTING in ${Math.max(1, Math.ceil(conn.next_retry_ms / 1000))}s`
    : null;
  const since = typeof offlineSeconds === "number" && Number.isFinite(offlineSeconds)
    ? `for ${formatDuration(Math.max(1, Math.floor(offlineSeconds)))} · `
    : "";
  if (error.startsWith("unauthorized")) {
    return { tone: "bad", label: "UNAUTHORIZED", detail: retry ?? "the bus refused this dashboard's credentials" };
  }
  if (conn.state === "idle") {
    return { tone: "off", label: "NOT CONNECTED", detail: "the registry has not been started" };
  }
  if (conn.state === "connecting" && !everOpen && !conn.attempts) {
    return { tone: "off", label: "CONNECTING", detail: "to the bus…" };
  }
  if (conn.state === "open" && conn.upstream === "down") {
    // The gateway knows how long its bus has been away, even from before
    // this page opened.
    const down = typeof conn.upstream_for_s === "number"
      ? `for ${formatDuration(Math.max(1, Math.floor(conn.upstream_for_s)))} · `
      : since;
    return { tone: "bad", label: "BUS OFFLINE", detail: `${down}the gateway has lost its link to the bus` };
  }
  const detail = retry ?? (conn.state === "closed" ? "stopped" : "reconnecting…");
  return { tone: "bad", label: "BUS OFFLINE", detail: since + detail };
}

// ---------------------------------------------------------------------------
// DOM helpers: every update writes only when the text actually differs, and
// keeps the text node, so selections and focus survive re-renders.

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function setText(node, text) {
  const first = node.firstChild;
  if (first !== null && first === node.lastChild && first.nodeType === Node.TEXT_NODE) {
    if (first.data !== text) first.data = text;
  } else if (node.textContent !== text) {
    node.textContent = text;
  }
}

function setAttr(node, name, value) {
  if (value === null || value === undefined) {
    if (node.hasAttribute(name)) node.removeAttribute(name);
  } else if (node.getAttribute(name) !== value) {
    node.setAttribute(name, value);
  }
}

function setHidden(node, hidden) {
  if (node.hidden !== hidden) node.hidden = hidden;
}

const STYLE = `
:host {
  --wp-bg: #ffffff; --wp-fg: #1f2328; --wp-muted: #59636e; --wp-border: #d1d9e0;
  --wp-rule: #e8ecf0; --wp-head: #f6f8fa; --wp-chip: #f6f8fa; --wp-focus: #0969da;
  --wp-good: #1a7f37; --wp-good-bg: #dafbe1; --wp-warn: #9a6700; --wp-warn-bg: #fff8c5;
  --wp-bad: #cf222e; --wp-bad-bg: #ffebe9; --wp-off: #59636e; --wp-off-bg: #eff2f5;
  --wp-strip: #f6f8fa; --wp-tick: #1a7f37; --wp-tick-old: #8c959f;
  --wp-button: #f6f8fa; --wp-button-hover: #eaeef2;
  display: block; container-type: inline-size; color: var(--wp-fg);
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", sans-serif;
}
@media (prefers-color-scheme: dark) {
  :host {
    --wp-bg: #151b23; --wp-fg: #e6edf3; --wp-muted: #9198a1; --wp-border: #3d444d;
    --wp-rule: #262c36; --wp-head: #1b222c; --wp-chip: #212830; --wp-focus: #4493f8;
    --wp-good: #3fb950; --wp-good-bg: rgba(46, 160, 67, 0.18); --wp-warn: #d29922; --wp-warn-bg: rgba(187, 128, 9, 0.2);
    --wp-bad: #ff7b72; --wp-bad-bg: rgba(248, 81, 73, 0.17); --wp-off: #9198a1; --wp-off-bg: rgba(145, 152, 161, 0.14);
    --wp-strip: #0d1117; --wp-tick: #3fb950; --wp-tick-old: #656c76;
    --wp-button: #212830; --wp-button-hover: #2a313c;
  }
}
[hidden] { display: none !important; }
[data-tone="good"] { --fg: var(--wp-good); --bg: var(--wp-good-bg); }
[data-tone="warn"] { --fg: var(--wp-warn); --bg: var(--wp-warn-bg); }
[data-tone="bad"] { --fg: var(--wp-bad); --bg: var(--wp-bad-bg); }
[data-tone="off"], [data-tone="neutral"] { --fg: var(--wp-off); --bg: var(--wp-off-bg); }
:focus-visible { outline: 2px solid var(--wp-focus); outline-offset: 1px; }
.sr-only {
  position: absolute; width: 1px; height: 1px; margin: -1px; padding: 0; border: 0;
  overflow: hidden; clip-path: inset(50%); white-space: nowrap;
}
.panel {
  background: var(--wp-bg); border: 1px solid var(--wp-border); border-radius: 12px; overflow: hidden;
}
header {
  display: flex; flex-wrap: wrap; align-items: center; justify-content: space-between;
  gap: 8px 16px; padding: 14px 16px 12px;
}
h2 { margin: 0; font-size: 16px; font-weight: 600; letter-spacing: -0.01em; }
.cadence { margin: 2px 0 0; font-size: 13px; color: var(--wp-muted); }
.summary { display: flex; flex-wrap: wrap; gap: 6px; margin: 0; padding: 0; list-style: none; }
.count {
  padding: 2px 9px; border-radius: 999px; font-size: 12px; font-weight: 600;
  color: var(--fg); background: var(--bg); font-variant-numeric: tabular-nums; white-space: nowrap;
}
.banner {
  display: flex; flex-wrap: wrap; align-items: baseline; gap: 2px 10px; padding: 9px 16px;
  border-top: 1px solid var(--wp-border); color: var(--fg); background: var(--bg); font-size: 13px;
}
.banner .label { font-weight: 700; letter-spacing: 0.05em; }
.banner .detail { font-variant-numeric: tabular-nums; }
.empty { margin: 0; padding: 16px; color: var(--wp-muted); border-top: 1px solid var(--wp-border); }
table { width: 100%; border-collapse: collapse; }
thead th {
  padding: 7px 16px; text-align: left; white-space: nowrap; font-size: 11px; font-weight: 600;
  letter-spacing: 0.06em; text-transform: uppercase; color: var(--wp-muted);
  background: var(--wp-head); border-top: 1px solid var(--wp-border); border-bottom: 1px solid var(--wp-border);
}
tbody th, tbody td { padding: 10px 16px; text-align: left; vertical-align: top; border-top: 1px solid var(--wp-rule); }
tbody tr:first-child > * { border-top: 0; }
.status { width: 1%; white-space: nowrap; }
.pill {
  display: inline-flex; align-items: center; gap: 6px; padding: 1px 9px 1px 7px; border-radius: 999px;
  font-size: 11px; font-weight: 700; letter-spacing: 0.05em; line-height: 18px;
  color: var(--fg); background: var(--bg); white-space: nowrap;
}
.dot { flex: none; width: 8px; height: 8px; border-radius: 50%; background: currentColor; }
tr[data-status="unknown"] .dot { background: transparent; box-shadow: inset 0 0 0 1.5px currentColor; }
tr[data-status="stale"] .dot { border-radius: 2px; }
.name {
  width: 1%; white-space: nowrap; font: 600 13px/20px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
}
.seen { width: 1%; white-space: nowrap; font-variant-numeric: tabular-nums; line-height: 20px; }
.ago, .countdown { display: block; }
.countdown { font-size: 12px; line-height: 16px; color: var(--wp-muted); }
tr[data-status="unknown"] .ago { color: var(--wp-muted); }
tr[data-status="stale"] .ago { color: var(--wp-bad); font-weight: 600; }
.details { display: flex; flex-wrap: wrap; align-items: center; gap: 4px 6px; min-width: 0; }
.badge {
  display: inline-flex; align-items: center; gap: 5px; padding: 0 7px; border-radius: 6px;
  font-size: 11px; font-weight: 700; line-height: 20px; letter-spacing: 0.03em; white-space: nowrap;
  color: var(--fg); background: var(--bg);
}
.badge .state { font-weight: 600; }
.badge .state::before { content: "·"; margin-right: 5px; color: var(--wp-muted); }
.chips { display: contents; margin: 0; padding: 0; list-style: none; }
.chip {
  max-width: 100%; padding: 0 6px; border: 1px solid var(--wp-border); border-radius: 6px;
  background: var(--wp-chip); font: 12px/18px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
  overflow-wrap: anywhere;
}
.chip .key { color: var(--wp-muted); }
.chip.more { color: var(--wp-muted); }
.chip:not([data-truncated]) .short { display: none; }
.chip[data-truncated] .full {
  position: absolute; width: 1px; height: 1px; overflow: hidden; clip-path: inset(50%); white-space: nowrap;
}
.chip[data-truncated]:focus .full { position: static; width: auto; height: auto; clip-path: none; white-space: normal; }
.chip[data-truncated]:focus .short { display: none; }
.chip[data-truncated], .chip[title] { cursor: help; }
.beats { width: 26%; min-width: 140px; }
.strip {
  --slots: ${STRIP_SLOTS}; position: relative; display: block; height: 20px; overflow: hidden;
  border-radius: 4px; background: var(--wp-strip); box-shadow: inset -2px 0 0 var(--wp-border);
}
/* The ticks' box always spans ${STRIP_SLOTS} cadences, anchored at "now" on the right: wider
   than the strip where fewer slots show. Ticks and the shift are plain percentages of it. */
.ticks {
  position: absolute; top: 0; bottom: 0; right: 0; width: calc(100% * ${STRIP_SLOTS} / var(--slots));
  will-change: transform;
}
.tick { position: absolute; top: 3px; bottom: 3px; width: 3px; border-radius: 1.5px; background: var(--wp-tick); }
tr[data-late] .tick { background: var(--wp-warn); }
tr[data-status="stale"] .tick { background: var(--wp-tick-old); }
.late-mark {
  display: inline-block; margin-left: 6px; padding: 0 7px; border-radius: 999px; font-size: 11px; font-weight: 700;
  letter-spacing: 0.05em; line-height: 18px; color: var(--wp-warn); background: var(--wp-warn-bg);
  box-shadow: inset 0 0 0 1px var(--wp-warn);
}
tr[data-late] .countdown { color: var(--wp-warn); }
.actions { width: 1%; white-space: nowrap; }
.actions[hidden], th.actions[hidden] { display: none; }
.action-buttons { display: flex; flex-wrap: wrap; gap: 6px; }
button.action {
  font: inherit; font-size: 12px; font-weight: 600; line-height: 18px; padding: 2px 10px; border-radius: 6px;
  color: var(--wp-fg); background: var(--wp-button); border: 1px solid var(--wp-border); cursor: pointer;
}
button.action:hover { background: var(--wp-button-hover); }
button.action[aria-busy="true"] { cursor: progress; color: var(--wp-muted); }
.action-msg { display: block; margin-top: 4px; font-size: 12px; color: var(--wp-bad); }
.action-msg[data-ok] { color: var(--wp-muted); }
.tools { display: flex; flex-wrap: wrap; align-items: center; gap: 6px; }
.empty strong { color: var(--wp-fg); }
footer {
  padding: 7px 16px; font-size: 12px; color: var(--wp-muted); background: var(--wp-head);
  border-top: 1px solid var(--wp-border); font-variant-numeric: tabular-nums;
}
@container (max-width: 620px) {
  header { padding: 12px; }
  .banner, .empty, footer { padding-left: 12px; padding-right: 12px; }
  thead { position: absolute; width: 1px; height: 1px; overflow: hidden; clip-path: inset(50%); }
  tbody tr {
    display: grid; grid-template-columns: auto minmax(9ch, 1fr) auto;
    grid-template-areas: "status name seen" "beats beats beats" "details details details" "actions actions actions";
    align-items: start; gap: 6px 10px; padding: 10px 12px; border-top: 1px solid var(--wp-rule);
  }
  tbody tr:first-child { border-top: 1px solid var(--wp-border); }
  tbody th, tbody td, .status, .name, .seen { padding: 0; border: 0; width: auto; }
  .status { grid-area: status; }
  .name { grid-area: name; overflow: hidden; text-overflow: ellipsis; }
  .seen { grid-area: seen; text-align: right; white-space: normal; }
  .extra { grid-area: details; }
  .extra[data-empty] { display: none; }
  .beats { grid-area: beats; width: auto; min-width: 0; }
  .beats[data-empty] { display: none; }
  .actions { grid-area: actions; width: auto; }
  .strip { --slots: ${STRIP_SLOTS_NARROW}; }
  .tick:nth-child(n + ${STRIP_SLOTS_NARROW + 1}) { display: none; }
}
`;

// ---------------------------------------------------------------------------

/**
 * `<worker-panel>`: set `registry` to a WorkerRegistry (or anything with the
 * same shape) and, optionally, `interval` to the heartbeat cadence in seconds.
 * `actions`, `bulkActions` and `formatExtra` are properties; `sort` and
 * `hide-unknown` are attributes reflected as properties.
 */
export class WorkerPanel extends HTMLElement {
  static get observedAttributes() { return ["interval", "sort", "hide-unknown"]; }

  #registry = null;
  #unsubscribe = null;
  #timer = 0;
  #frame = 0;
  #quietUntil = 0;
  #everOpen = false;
  #wasOpen = null;
  #offlineSince = null;
  #broken = false;
  #revealUnknown = false;
  #actions = [];
  #bulkActions = [];
  #bulkButtons = new Map(); // action id -> { button, pending }
  #formatExtra = null;
  #rows = new Map(); // worker name -> the DOM nodes of its row
  #ui;

  constructor() {
    super();
    const root = this.attachShadow({ mode: "open" });
    const style = document.createElement("style");
    style.textContent = STYLE;
    root.append(style, this.#build());
  }

  /** The registry shown: `snapshot()`, `connection()`, `stats()`, `onChange()`, `history()`. */
  get registry() { return this.#registry; }
  set registry(registry) {
    if (registry === this.#registry) return;
    this.#unsubscribeNow();
    this.#registry = registry ?? null;
    this.#quietUntil = performance.now() + QUIET_MS;
    this.#everOpen = false;
    this.#wasOpen = null;
    this.#offlineSince = null;
    this.#broken = false;
    for (const row of this.#rows.values()) {
      row.status = undefined;
      row.late = undefined;
    }
    if (this.isConnected) this.#subscribe();
    this.#renderNow();
  }

  /** Heartbeat cadence in seconds (header text only), or null. */
  get interval() {
    const value = Number(this.getAttribute("interval"));
    return this.hasAttribute("interval") && Number.isFinite(value) && value > 0 ? value : null;
  }
  set interval(value) {
    if (value === null || value === undefined) this.removeAttribute("interval");
    else this.setAttribute("interval", String(value));
  }

  /** Row order: "allowlist" (the default) or "problems" (stale, late, unknown, then ok). */
  get sort() { return this.getAttribute("sort") === "problems" ? "problems" : "allowlist"; }
  set sort(value) {
    if (value === "problems") this.setAttribute("sort", "problems");
    else this.removeAttribute("sort");
  }

  /** Hide workers never heard from, behind a "show N never seen" toggle. */
  get hideUnknown() { return this.hasAttribute("hide-unknown"); }
  set hideUnknown(value) { this.toggleAttribute("hide-unknown", Boolean(value)); }

  /** Per-row buttons: `[{ id, label, when?(row) }]`; none by default. */
  get actions() { return this.#actions; }
  set actions(value) {
    this.#actions = checkActions(value, "actions");
    this.#schedule();
  }

  /** Header buttons such as "Start all": `[{ id, label }]`. */
  get bulkActions() { return this.#bulkActions; }
  set bulkActions(value) {
    this.#bulkActions = checkActions(value, "bulkActions");
    this.#renderBulk();
  }

  /** `(key, value) => string | undefined`: how an extra is shown; undefined falls back to the panel's own. */
  get formatExtra() { return this.#formatExtra; }
  set formatExtra(value) {
    this.#formatExtra = typeof value === "function" ? value : null;
    for (const row of this.#rows.values()) row.extra = undefined;
    this.#schedule();
  }

  /**
   * Ends the pending state of an action's button: `worker` null for a bulk
   * action. `{ ok: false, message }` shows the message in the row and
   * announces it; `{ ok: true, message }` announces it.
   */
  settle(worker, action, { ok = true, message } = {}) {
    const text = typeof message === "string" && message !== "" ? truncate(message, 200) : null;
    let label = action;
    let msgNode = null;
    if (worker === null || worker === undefined) {
      const b = this.#bulkButtons.get(action);
      if (b === undefined) return;
      setPending(b, false);
      label = b.label;
      msgNode = this.#ui.bulkMsg;
    } else {
      const row = this.#rows.get(String(worker));
      const b = row?.buttons.get(action);
      if (b === undefined) return;
      setPending(b, false);
      label = `${b.label} ${worker}`;
      msgNode = row.actionMsg;
    }
    setText(msgNode, text ?? "");
    setHidden(msgNode, text === null);
    setAttr(msgNode, "data-ok", ok ? "" : null);
    if (text !== null || !ok) {
      setText(this.#ui.live, ok ? `${label}: ${text}` : `${label} failed${text ? `: ${text}` : ""}`);
    }
  }

  /** Renders now instead of at the next animation frame. */
  refresh() {
    this.#renderNow();
  }

  connectedCallback() {
    // A property set before this element was upgraded shadows the accessor.
    for (const prop of ["registry", "interval", "sort", "hideUnknown", "actions", "bulkActions", "formatExtra"]) {
      if (Object.prototype.hasOwnProperty.call(this, prop)) {
        const value = this[prop];
        delete this[prop];
        this[prop] = value;
      }
    }
    this.#subscribe();
    this.#renderNow();
  }

  disconnectedCallback() {
    this.#unsubscribeNow();
  }

  attributeChangedCallback() {
    this.#schedule();
  }

  #subscribe() {
    if (this.#unsubscribe || !this.#registry) return;
    let off;
    try {
      off = this.#registry.onChange(() => this.#schedule());
    } catch {
      off = null; // a freed registry: the render says so
    }
    this.#unsubscribe = typeof off === "function" ? off : () => {};
    this.#timer = setInterval(() => this.#schedule(), 1000);
  }

  #unsubscribeNow() {
    if (this.#unsubscribe) {
      const off = this.#unsubscribe;
      this.#unsubscribe = null;
      try {
        off();
      } catch {
        // the registry is gone already
      }
    }
    clearInterval(this.#timer);
    this.#timer = 0;
    cancelAnimationFrame(this.#frame);
    this.#frame = 0;
  }

  // A burst of thousands of beats becomes one render per frame.
  #schedule() {
    if (this.#frame !== 0 || !this.isConnected) return;
    this.#frame = requestAnimationFrame(() => {
      this.#frame = 0;
      this.#renderNow();
    });
  }

  #build() {
    const ui = {};
    const panel = el("section", "panel");
    panel.setAttribute("aria-labelledby", "wp-title");

    const header = el("header");
    const heading = el("div");
    const title = el("h2", null, "Workers");
    title.id = "wp-title";
    ui.cadence = el("p", "cadence");
    heading.append(title, ui.cadence);
    ui.tools = el("div", "tools");
    ui.summary = el("ul", "summary");
    ui.summary.setAttribute("aria-label", "Summary");
    ui.counts = {};
    for (const status of ["ok", "late", "stale", "unknown"]) {
      const count = el("li", "count");
      count.dataset.tone = status === "late" ? "warn" : STATUS_TONES[status];
      ui.counts[status] = count;
      ui.summary.append(count);
    }
    ui.toggle = el("button", "action toggle");
    ui.toggle.type = "button";
    ui.toggle.hidden = true;
    ui.toggle.addEventListener("click", () => {
      this.#revealUnknown = !this.#revealUnknown;
      this.#renderNow();
    });
    ui.bulk = el("div", "action-buttons bulk");
    ui.bulk.hidden = true;
    ui.bulkMsg = el("span", "action-msg");
    ui.bulkMsg.hidden = true;
    ui.tools.append(ui.summary, ui.toggle, ui.bulk, ui.bulkMsg);
    header.append(heading, ui.tools);

    // Not a live region itself: its countdown changes every second. The
    // polite region below says "Bus connection lost" once instead.
    ui.banner = el("div", "banner");
    ui.bannerLabel = el("strong", "label");
    ui.bannerDetail = el("span", "detail");
    ui.banner.append(ui.bannerLabel, ui.bannerDetail);
    ui.banner.hidden = true;

    ui.empty = el("p", "empty");

    // Explicit roles keep the table a table for assistive technology when
    // the narrow layout turns its rows into grids.
    ui.table = el("table");
    ui.table.setAttribute("role", "table");
    const caption = el("caption", "sr-only",
      "Worker health: status, time since the last heartbeat, recent heartbeats, and details");
    const thead = el("thead");
    thead.setAttribute("role", "rowgroup");
    const headRow = el("tr");
    headRow.setAttribute("role", "row");
    for (const label of ["Status", "Worker", "Last seen", "Heartbeats", "Details", "Actions"]) {
      const th = el("th", null, label);
      th.scope = "col";
      th.setAttribute("role", "columnheader");
      headRow.append(th);
    }
    ui.beatsHead = headRow.children[3];
    ui.beatsHead.className = "beats";
    ui.actionsHead = headRow.children[5];
    ui.actionsHead.className = "actions";
    ui.actionsHead.hidden = true;
    thead.append(headRow);
    ui.body = el("tbody");
    ui.body.setAttribute("role", "rowgroup");
    ui.table.append(caption, thead, ui.body);

    ui.footer = el("footer");
    ui.diag = el("span", "diag");
    ui.footer.append(ui.diag);

    ui.live = el("div", "sr-only");
    ui.live.setAttribute("role", "status");
    ui.live.setAttribute("aria-live", "polite");
    ui.live.setAttribute("aria-atomic", "true");

    panel.append(header, ui.banner, ui.empty, ui.table, ui.footer, ui.live);
    this.#ui = ui;
    this.#panel = panel;
    return panel;
  }

  #panel;

  // What the panel shows instead of the table: a sentence, or null.
  #showNotice(notice) {
    const ui = this.#ui;
    setHidden(ui.empty, notice === null);
    setHidden(ui.table, notice !== null);
    setAttr(this.#panel, "aria-busy", notice?.busy ? "true" : null);
    if (notice === null) return;
    setText(ui.empty, notice.text);
    setHidden(ui.summary, true);
    setHidden(ui.toggle, true);
    setHidden(ui.banner, true);
  }

  #renderNow() {
    const ui = this.#ui;
    const registry = this.#registry;
    if (registry === null) {
      this.#renderHeader(null, []);
      this.#showNotice({ text: "Loading workers…", busy: true });
      setHidden(ui.footer, true);
      return;
    }

    let okWindow = null;
    let rows = [];
    let conn = null;
    let stats = null;
    // A registry that was freed under us throws: say so instead of a stale table.
    try {
      okWindow = typeof registry.okWindowSeconds === "number" ? registry.okWindowSeconds : null;
      rows = registry.snapshot() ?? [];
      conn = registry.connection?.() ?? null;
      stats = registry.stats?.() ?? null;
    } catch (error) {
      if (!this.#broken) console.error("worker-panel: cannot read the registry", error);
      this.#broken = true;
      this.#showNotice({
        text: "This registry has been released (free() was called), so there is nothing to show. Attach a new one to panel.registry.",
      });
      setHidden(ui.footer, true);
      return;
    }
    this.#broken = false;
    const histories = this.#histories(registry, rows);
    const messages = [];
    if (conn !== null && conn.state === "idle" && rows.every((r) => r.status === "unknown")) {
      this.#renderHeader(okWindow, rows, histories);
      this.#showNotice({
        text: "Not connected: this registry was not started with a bus URL (registry.start(url)), so no heartbeats can arrive.",
      });
      this.#renderStats(stats);
      return;
    }
    this.#showNotice(null);
    setHidden(ui.summary, false);
    this.#renderHeader(okWindow, rows, histories);
    const online = this.#renderBanner(conn, messages);
    this.#renderRows(rows, histories, okWindow, online, messages);
    this.#renderStats(stats);
    if (messages.length > 0) setText(ui.live, messages.join(". "));
  }

  // history(name) of every row, or nulls for a registry without it.
  #histories(registry, rows) {
    if (typeof registry.history !== "function") return rows.map(() => null);
    return rows.map((r) => {
      try {
        const h = registry.history(r.name);
        return h !== null && typeof h === "object" && Array.isArray(h.beats) ? h : null;
      } catch {
        return null;
      }
    });
  }

  #renderHeader(okWindow, rows, histories = []) {
    const ui = this.#ui;
    const parts = [];
    if (this.interval !== null) parts.push(`Heartbeat every ${formatSeconds(this.interval)}`);
    if (okWindow !== null) parts.push(`ok within ${formatSeconds(okWindow)}`);
    setText(ui.cadence, parts.join(" · "));
    setHidden(ui.cadence, parts.length === 0);
    const counts = { ok: 0, late: 0, stale: 0, unknown: 0 };
    rows.forEach((row, i) => {
      if (row.status in counts) counts[row.status] += 1;
      if (row.status === "ok" && histories[i]?.late === true) counts.late += 1;
    });
    for (const status of ["ok", "late", "stale", "unknown"]) {
      setText(ui.counts[status], `${counts[status]} ${status}`);
      setHidden(ui.counts[status], counts[status] === 0);
    }
    const hiding = this.hideUnknown && counts.unknown > 0;
    setHidden(ui.toggle, !hiding);
    if (hiding) {
      setText(ui.toggle, `${this.#revealUnknown ? "hide" : "show"} ${counts.unknown} never seen`);
      setAttr(ui.toggle, "aria-pressed", this.#revealUnknown ? "true" : "false");
    }
  }

  #renderBulk() {
    const ui = this.#ui;
    const wanted = new Set(this.#bulkActions.map((a) => a.id));
    for (const [id, b] of this.#bulkButtons) {
      if (!wanted.has(id)) {
        b.button.remove();
        this.#bulkButtons.delete(id);
      }
    }
    for (const action of this.#bulkActions) {
      let b = this.#bulkButtons.get(action.id);
      if (b === undefined) {
        b = makeButton(action, null);
        this.#bulkButtons.set(action.id, b);
      }
      b.label = action.label;
      if (!b.pending) setText(b.button, action.label);
      ui.bulk.append(b.button);
    }
    setHidden(ui.bulk, this.#bulkActions.length === 0);
  }

  #renderBanner(conn, messages) {
    const ui = this.#ui;
    const open = conn !== null && isOnline(conn);
    if (open) this.#everOpen = true;
    if (conn !== null && this.#wasOpen !== null && open !== this.#wasOpen) {
      messages.push(open ? "Bus connection restored" : "Bus connection lost");
      if (open) this.#quietUntil = performance.now() + QUIET_MS;
    }
    if (conn !== null) this.#wasOpen = open;
    if (open || conn === null) this.#offlineSince = null;
    else if (this.#offlineSince === null && this.#everOpen) this.#offlineSince = performance.now();
    const offlineFor = this.#offlineSince === null ? null : (performance.now() - this.#offlineSince) / 1000;
    const banner = bannerFor(conn, this.#everOpen, offlineFor);
    setHidden(ui.banner, banner === null);
    if (banner !== null) {
      setAttr(ui.banner, "data-tone", banner.tone);
      setText(ui.bannerLabel, banner.label);
      setText(ui.bannerDetail, banner.detail);
    }
    return conn === null || open;
  }

  #renderStats(stats) {
    const diag = this.#ui.diag;
    setHidden(this.#ui.footer, stats === null);
    if (stats === null) return;
    const rejected = Object.entries(stats.rejected ?? {}).filter(([, n]) => n > 0);
    const refused = rejected.reduce((sum, [, n]) => sum + n, 0);
    setText(diag, `accepted ${count(stats.accepted)} · ignored ${count(stats.ignored)} · rejected ${count(refused)}`);
    const why = rejected.map(([reason, n]) => `${reason} ${count(n)}`).join(", ");
    setAttr(diag, "title", `superseded ${count(stats.superseded)}${why ? `; rejected: ${why}` : ""}`);
  }

  #renderRows(rows, histories, okWindow, online, messages) {
    const body = this.#ui.body;
    const quiet = { ok: performance.now() < this.#quietUntil, stale: !online };
    const hasActions = this.#actions.length > 0;
    setHidden(this.#ui.actionsHead, !hasActions);
    setHidden(this.#ui.beatsHead, histories.every((h) => h === null));
    let order = rows.map((status, i) => i);
    if (this.sort === "problems") {
      const rank = (i) => {
        const st = rows[i].status;
        const key = st === "ok" && histories[i]?.late === true ? "late" : st;
        return PROBLEM_RANK[key] ?? PROBLEM_RANK.unknown;
      };
      order = order.sort((a, b) => rank(a) - rank(b) || a - b);
    }
    const hideUnknown = this.hideUnknown && !this.#revealUnknown;
    const seen = new Set();
    let previous = null;
    for (const i of order) {
      const status = rows[i];
      const name = String(status.name);
      seen.add(name);
      let row = this.#rows.get(name);
      if (row === undefined) {
        row = this.#createRow(name);
        this.#rows.set(name, row);
      }
      // Move a row only when it is out of place, so focus inside it stays.
      const expected = previous === null ? body.firstChild : previous.tr.nextSibling;
      if (expected !== row.tr) body.insertBefore(row.tr, expected);
      previous = row;
      this.#updateRow(row, status, histories[i], okWindow, quiet, messages);
      setHidden(row.tr, hideUnknown && row.status === "unknown");
      setHidden(row.actionsCell, !hasActions);
      if (hasActions || row.buttons.size > 0) this.#updateActions(row, status);
    }
    for (const [name, row] of this.#rows) {
      if (!seen.has(name)) {
        row.tr.remove();
        this.#rows.delete(name);
      }
    }
  }

  #createRow(name) {
    const tr = el("tr");
    tr.setAttribute("role", "row");
    tr.dataset.worker = name;
    const statusCell = el("td", "status");
    statusCell.setAttribute("role", "cell");
    const pill = el("span", "pill");
    const dot = el("span", "dot");
    dot.setAttribute("aria-hidden", "true");
    const word = el("span", "word");
    pill.append(dot, word);
    const lateMark = el("span", "late-mark", "LATE");
    lateMark.hidden = true;
    statusCell.append(pill, lateMark);
    const nameCell = el("th", "name", name);
    nameCell.scope = "row";
    nameCell.setAttribute("role", "rowheader");
    const seenCell = el("td", "seen");
    seenCell.setAttribute("role", "cell");
    const ago = el("span", "ago");
    const countdown = el("span", "countdown");
    seenCell.append(ago, countdown);
    const beatsCell = el("td", "beats");
    beatsCell.setAttribute("role", "cell");
    const strip = el("span", "strip");
    strip.setAttribute("role", "img");
    const ticks = el("span", "ticks");
    strip.append(ticks);
    beatsCell.append(strip);
    const extraCell = el("td", "extra");
    extraCell.setAttribute("role", "cell");
    const details = el("div", "details");
    const badge = el("span", "badge");
    badge.hidden = true;
    const badgeMain = el("span", "main");
    const badgeState = el("span", "state");
    badge.append(badgeMain, badgeState);
    const list = el("ul", "chips");
    details.append(badge, list);
    extraCell.append(details);
    const actionsCell = el("td", "actions");
    actionsCell.setAttribute("role", "cell");
    actionsCell.hidden = true;
    const buttons = el("div", "action-buttons");
    const actionMsg = el("span", "action-msg");
    actionMsg.hidden = true;
    actionsCell.append(buttons, actionMsg);
    tr.append(statusCell, nameCell, seenCell, beatsCell, extraCell, actionsCell);
    return {
      tr, pill, word, lateMark, seenCell, ago, countdown, beatsCell, strip, ticks, tickNodes: [],
      extraCell, details, badge, badgeMain, badgeState, list, actionsCell, buttonBox: buttons, actionMsg,
      buttons: new Map(), chips: new Map(), more: null,
      status: undefined, late: undefined, extra: undefined, signature: undefined, stripKey: undefined,
    };
  }

  #updateRow(row, status, history, okWindow, quiet, messages) {
    const state = status.status in STATUS_WORDS ? status.status : "unknown";
    const name = row.tr.dataset.worker;
    const late = state === "ok" && history?.late === true;
    if (row.status !== undefined && row.status !== state) {
      if (state === "stale" && !quiet.stale) messages.push(`${name} is now stale`);
      else if (state === "ok" && !quiet.ok) {
        messages.push(row.status === "stale" ? `${name} is ok again` : `${name} is now ok`);
      } else if (state === "unknown") messages.push(`${name} is now unknown`);
    }
    if (row.late === false && late && !quiet.stale) messages.push(`${name} is late`);
    row.status = state;
    row.late = late;
    setAttr(row.tr, "data-status", state);
    setAttr(row.tr, "data-late", late ? "" : null);
    setAttr(row.pill, "data-tone", STATUS_TONES[state]);
    setText(row.word, STATUS_WORDS[state]);
    setHidden(row.lateMark, !late);

    const since = typeof status.seconds_since === "number" ? status.seconds_since : null;
    setText(row.ago, state === "unknown" ? "—" : formatAgo(since));
    setAttr(row.seenCell, "title", state === "unknown" ? "No heartbeat received yet" : beatTitle(status.last_heartbeat_ts));
    const counting = state === "ok" && okWindow !== null && since !== null;
    setHidden(row.countdown, !(counting || late));
    if (late) setText(row.countdown, lateText(history.cadence_s, since ?? 0));
    else if (counting) setText(row.countdown, `stale in ${formatCountdown(okWindow - since)}`);

    // The row changed (a beat, a turn): a pending action is answered.
    const signature = `${state}|${late}|${status.last_heartbeat_ts}`;
    if (row.signature !== undefined && row.signature !== signature) {
      for (const b of row.buttons.values()) setPending(b, false);
      setHidden(row.actionMsg, true);
    }
    row.signature = signature;

    this.#updateStrip(row, history, okWindow);

    const extra = status.extra !== null && typeof status.extra === "object" ? status.extra : {};
    if (extra !== row.extra) {
      row.extra = extra;
      this.#updateBadge(row, extra.realism);
      this.#updateChips(row, extra);
      setAttr(row.extraCell, "data-empty", Object.keys(extra).length === 0 ? "" : null);
    }
  }

  // The heartbeat strip: one tick per beat, placed by its age in units of
  // the cadence, right edge "now". Ticks are placed relative to the newest
  // beat and the whole set is shifted by its age, so a re-render between
  // beats writes one transform.
  #updateStrip(row, history, okWindow) {
    const beats = history?.beats ?? [];
    setHidden(row.beatsCell, history === null);
    setAttr(row.beatsCell, "data-empty", beats.length === 0 ? "" : null);
    if (history === null) return;
    // Two significant digits: a cadence that wobbles by milliseconds does
    // not move every tick.
    const unit = Number(positiveOr(history.cadence_s, this.interval, okWindow !== null ? okWindow / 3 : null, 30).toPrecision(2));
    const shown = Math.min(beats.length, STRIP_SLOTS);
    const newest = shown > 0 ? beats[0] : 0;
    // Same beats, same unit: only the shift moves.
    const key = `${shown}|${unit}|${shown > 0 ? (beats[shown - 1] - newest).toFixed(3) : ""}`;
    if (key !== row.stripKey) {
      row.stripKey = key;
      const now = Date.now();
      const nodes = row.tickNodes;
      while (nodes.length < shown) {
        const tick = el("span", "tick");
        nodes.push(tick);
        row.ticks.append(tick);
      }
      while (nodes.length > shown) nodes.pop().remove();
      for (let i = 0; i < shown; i++) {
        nodes[i].style.right = `${(((beats[i] - newest) / unit) * (100 / STRIP_SLOTS)).toFixed(3)}%`;
        setAttr(nodes[i], "title", `Heartbeat at ${clockTime(now - beats[i] * 1000)}`);
      }
      const every = typeof history.cadence_s === "number" ? `, about every ${formatDuration(history.cadence_s)}` : "";
      setAttr(row.strip, "aria-label", shown === 0
        ? "No heartbeats yet"
        : `${beats.length} recent heartbeat${beats.length === 1 ? "" : "s"}${every}`);
    }
    // A transform: moving the ticks costs no layout.
    const shift = `translateX(-${((newest / unit) * (100 / STRIP_SLOTS)).toFixed(3)}%)`;
    if (row.shift !== shift) {
      row.shift = shift;
      row.ticks.style.transform = shift;
    }
  }

  #updateActions(row, status) {
    const visible = new Set();
    let view = null; // the row as when() sees it: the snapshot row plus `late`
    for (const action of this.#actions) {
      let show = true;
      if (typeof action.when === "function") {
        try {
          view ??= { ...status, late: row.late === true };
          show = Boolean(action.when(view));
        } catch (error) {
          console.error(`worker-panel: actions "${action.id}" when() threw`, error);
          show = false;
        }
      }
      if (!show) continue;
      visible.add(action.id);
      let b = row.buttons.get(action.id);
      if (b === undefined) {
        b = makeButton(action, row.tr.dataset.worker);
        row.buttons.set(action.id, b);
      }
      b.label = action.label;
      if (!b.pending) setText(b.button, action.label);
      setAttr(b.button, "aria-label", `${action.label} ${row.tr.dataset.worker}`);
    }
    let previous = null;
    for (const action of this.#actions) {
      const b = row.buttons.get(action.id);
      if (b === undefined) continue;
      if (!visible.has(action.id)) {
        // Keep a pending button until it is answered, so focus is not lost.
        if (!b.pending) {
          b.button.remove();
          row.buttons.delete(action.id);
        }
        continue;
      }
      const expected = previous === null ? row.buttonBox.firstChild : previous.nextSibling;
      if (expected !== b.button) row.buttonBox.insertBefore(b.button, expected);
      previous = b.button;
    }
    for (const [id, b] of row.buttons) {
      if (!this.#actions.some((a) => a.id === id)) {
        b.button.remove();
        row.buttons.delete(id);
      }
    }
  }

  #updateBadge(row, realism) {
    if (realism === null || typeof realism !== "object" || Array.isArray(realism)) {
      setHidden(row.badge, true);
      return;
    }
    setHidden(row.badge, false);
    if (realism.llm_enabled === false) {
      setAttr(row.badge, "data-tone", "off");
      setText(row.badgeMain, "LLM OFF");
      setHidden(row.badgeState, true);
      setAttr(row.badge, "title", "LLM disabled");
      return;
    }
    const backend = typeof realism.llm_backend === "string" && realism.llm_backend !== ""
      ? truncate(realism.llm_backend, 24)
      : "LLM ON";
    const breaker = typeof realism.llm_breaker_state === "string" ? realism.llm_breaker_state : null;
    setText(row.badgeMain, backend);
    setHidden(row.badgeState, breaker === null);
    if (breaker !== null) setText(row.badgeState, truncate(breaker.replace(/_/g, "-"), 24));
    const tone = breaker === null ? "neutral" : (BREAKER_TONES[breaker] ?? "neutral");
    setAttr(row.badge, "data-tone", tone);
    const model = typeof realism.llm_model === "string" ? ` (${truncate(realism.llm_model, 200)})` : "";
    const about = breaker === null ? "" : `, circuit breaker ${truncate(breaker, 200)}`;
    setAttr(row.badge, "title", `LLM backend ${truncate(String(realism.llm_backend ?? "unnamed"), 200)}${model}${about}`);
  }

  #updateChips(row, extra) {
    const keys = Object.keys(extra);
    const shown = keys.slice(0, MAX_CHIPS);
    const keep = new Set(shown);
    for (const [key, chip] of row.chips) {
      if (!keep.has(key)) {
        chip.li.remove();
        row.chips.delete(key);
      }
    }
    let previous = null;
    for (const key of shown) {
      let chip = row.chips.get(key);
      if (chip === undefined) {
        chip = makeChip(key);
        row.chips.set(key, chip);
      }
      fillChip(chip, key, extra[key], this.#formatExtra);
      const expected = previous === null ? row.list.firstChild : previous.li.nextSibling;
      if (expected !== chip.li) row.list.insertBefore(chip.li, expected);
      previous = chip;
    }
    const hiddenKeys = keys.length - shown.length;
    if (hiddenKeys > 0) {
      if (row.more === null) row.more = el("li", "chip more");
      setText(row.more, `+${hiddenKeys} more`);
      setAttr(row.more, "title", truncate(keys.slice(MAX_CHIPS).join(", "), FULL_CHARS));
      if (row.more !== row.list.lastChild) row.list.append(row.more);
    } else if (row.more !== null) {
      row.more.remove();
      row.more = null;
    }
  }
}

function count(n) {
  return typeof n === "number" && Number.isFinite(n) ? n.toLocaleString("en-US") : "0";
}

function beatTitle(ts) {
  if (typeof ts !== "number" || !Number.isFinite(ts)) return null;
  const date = new Date(ts * 1000);
  return Number.isNaN(date.getTime()) ? null : `Worker timestamp ${date.toISOString()}`;
}

function makeChip(key) {
  const li = el("li", "chip");
  const keyEl = el("span", "key", `${truncate(key, 40)}: `);
  const short = el("span", "value short");
  short.setAttribute("aria-hidden", "true");
  const full = el("span", "value full");
  li.append(keyEl, short, full);
  return { li, short, full, value: undefined };
}

function fillChip(chip, key, value, formatter) {
  if (chip.value === value && chip.formatter === formatter && value !== null && typeof value === "object") return;
  chip.value = value;
  chip.formatter = formatter;
  const raw = truncate(compactValue(value, true), FULL_CHARS);
  let shown = null;
  if (formatter !== null) {
    try {
      const custom = formatter(key, value);
      if (typeof custom === "string") shown = custom;
    } catch (error) {
      console.error("worker-panel: formatExtra threw", error);
    }
  }
  shown ??= formatExtra(key, value) ?? null;
  const full = shown === null ? raw : truncate(shown, FULL_CHARS);
  const short = truncate(shown ?? compactValue(value, false), CHIP_CHARS);
  const truncated = short !== full;
  setText(chip.full, full);
  setText(chip.short, truncated ? short : "");
  setAttr(chip.li, "data-truncated", truncated ? "" : null);
  // A truncated chip can be focused to read it whole (and hovered for a title).
  setAttr(chip.li, "tabindex", truncated ? "0" : null);
  // The raw value stays one hover away when the chip shows it formatted.
  const title = shown !== null && shown !== raw ? `${key}: ${raw}` : truncated ? `${key}: ${full}` : null;
  setAttr(chip.li, "title", title);
}

// Checks `actions` / `bulkActions`: an array of { id, label, when? }.
function checkActions(value, what) {
  if (value === null || value === undefined) return [];
  if (!Array.isArray(value)) throw new TypeError(`worker-panel: ${what} must be an array of { id, label }`);
  return value.map((a, i) => {
    if (a === null || typeof a !== "object" || typeof a.id !== "string" || a.id === "" || typeof a.label !== "string") {
      throw new TypeError(`worker-panel: ${what}[${i}] must be { id: string, label: string, when?: (row) => boolean }`);
    }
    if (a.when !== undefined && typeof a.when !== "function") {
      throw new TypeError(`worker-panel: ${what}[${i}].when must be a function`);
    }
    return Object.freeze({ id: a.id, label: a.label, when: a.when });
  });
}

// A button that dispatches `worker-action` and waits for settle().
function makeButton(action, worker) {
  const button = el("button", "action", action.label);
  button.type = "button";
  button.dataset.action = action.id;
  const b = { button, label: action.label, pending: false };
  button.addEventListener("click", () => {
    if (b.pending) return;
    setPending(b, true);
    button.dispatchEvent(new CustomEvent("worker-action", {
      bubbles: true,
      composed: true,
      detail: { action: action.id, worker },
    }));
  });
  return b;
}

// Pending: the button keeps its place and focus, says it is busy, and
// ignores clicks until answered.
function setPending(b, pending) {
  b.pending = pending;
  setAttr(b.button, "aria-busy", pending ? "true" : null);
  setAttr(b.button, "aria-disabled", pending ? "true" : null);
  setText(b.button, pending ? `${b.label}…` : b.label);
}

function positiveOr(...values) {
  for (const v of values) if (typeof v === "number" && Number.isFinite(v) && v > 0) return v;
  return 1;
}

// `14:03:07`, local time: a tick's tooltip.
function clockTime(ms) {
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? "unknown time" : d.toTimeString().slice(0, 8);
}

if (!customElements.get("worker-panel")) customElements.define("worker-panel", WorkerPanel);
