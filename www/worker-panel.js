// <worker-panel>: the Workers panel, a dependency-free custom element.
// It knows only the registry's public shape (snapshot, connection, stats,
// onChange, okWindowSeconds) and renders untrusted strings as text, never HTML.

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
 * The banner for a ConnectionStatus, or null when the bus is connected.
 * `everOpen`: the panel has seen this registry connected before.
 * `upstreamDownFor`: seconds this panel has seen the gateway's own link to
 * the bus down (`upstream: "down"`) while the page's socket is open.
 */
export function bannerFor(conn, everOpen = false, upstreamDownFor = null) {
  if (conn && conn.state === "open" && conn.upstream === "down") {
    const since = typeof upstreamDownFor === "number" ? `for ${formatAgo(upstreamDownFor).replace(/ ago$/, "")} · ` : "";
    return { tone: "bad", label: "BUS OFFLINE", detail: `${since}the gateway is reconnecting to it` };
  }
  if (!conn || conn.state === "open" || conn.bus_connected === true) return null;
  const error = typeof conn.last_error === "string" ? conn.last_error : "";
  const retry = conn.state === "backoff" && typeof conn.next_retry_ms === "number"
    ? `RECONNECTING in ${Math.max(1, Math.ceil(conn.next_retry_ms / 1000))}s`
    : null;
  if (error.startsWith("unauthorized")) {
    return { tone: "bad", label: "UNAUTHORIZED", detail: retry ?? "the bus refused this dashboard's credentials" };
  }
  if (conn.state === "idle") {
    return { tone: "off", label: "NOT CONNECTED", detail: "the registry has not been started" };
  }
  if (conn.state === "connecting" && !everOpen && !conn.attempts) {
    return { tone: "off", label: "CONNECTING", detail: "to the bus…" };
  }
  const detail = retry ?? (conn.state === "closed" ? "stopped" : "reconnecting…");
  return { tone: "bad", label: "BUS OFFLINE", detail };
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
  display: block; container-type: inline-size; color: var(--wp-fg);
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", sans-serif;
}
@media (prefers-color-scheme: dark) {
  :host {
    --wp-bg: #151b23; --wp-fg: #e6edf3; --wp-muted: #9198a1; --wp-border: #3d444d;
    --wp-rule: #262c36; --wp-head: #1b222c; --wp-chip: #212830; --wp-focus: #4493f8;
    --wp-good: #3fb950; --wp-good-bg: rgba(46, 160, 67, 0.18); --wp-warn: #d29922; --wp-warn-bg: rgba(187, 128, 9, 0.2);
    --wp-bad: #ff7b72; --wp-bad-bg: rgba(248, 81, 73, 0.17); --wp-off: #9198a1; --wp-off-bg: rgba(145, 152, 161, 0.14);
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
.chip[data-truncated] { cursor: help; }
footer {
  padding: 7px 16px; font-size: 12px; color: var(--wp-muted); background: var(--wp-head);
  border-top: 1px solid var(--wp-border); font-variant-numeric: tabular-nums;
}
@container (max-width: 620px) {
  header { padding: 12px; }
  .banner, .empty, footer { padding-left: 12px; padding-right: 12px; }
  thead { position: absolute; width: 1px; height: 1px; overflow: hidden; clip-path: inset(50%); }
  tbody tr {
    display: grid; grid-template-columns: auto minmax(0, 1fr) auto;
    grid-template-areas: "status name seen" "details details details";
    align-items: start; gap: 6px 10px; padding: 10px 12px; border-top: 1px solid var(--wp-rule);
  }
  tbody tr:first-child { border-top: 1px solid var(--wp-border); }
  tbody th, tbody td, .status, .name, .seen { padding: 0; border: 0; width: auto; }
  .status { grid-area: status; }
  .name { grid-area: name; overflow: hidden; text-overflow: ellipsis; }
  .seen { grid-area: seen; text-align: right; }
  .extra { grid-area: details; }
  .extra[data-empty] { display: none; }
}
`;

// ---------------------------------------------------------------------------

/**
 * `<worker-panel>`: set `registry` to a WorkerRegistry (or anything with the
 * same shape) and, optionally, `interval` to the heartbeat cadence in seconds.
 */
export class WorkerPanel extends HTMLElement {
  static get observedAttributes() { return ["interval"]; }

  #registry = null;
  #unsubscribe = null;
  #timer = 0;
  #frame = 0;
  #quietUntil = 0;
  #everOpen = false;
  #wasOpen = null;
  #upstreamDownAt = null; // performance.now() when upstream "down" was first seen
  #broken = false;
  #rows = new Map(); // worker name -> the DOM nodes of its row
  #ui;

  constructor() {
    super();
    const root = this.attachShadow({ mode: "open" });
    const style = document.createElement("style");
    style.textContent = STYLE;
    root.append(style, this.#build());
  }

  /** The registry shown: `snapshot()`, `connection()`, `stats()`, `onChange()`. */
  get registry() { return this.#registry; }
  set registry(registry) {
    if (registry === this.#registry) return;
    this.#unsubscribeNow();
    this.#registry = registry ?? null;
    this.#quietUntil = performance.now() + QUIET_MS;
    this.#everOpen = false;
    this.#wasOpen = null;
    this.#upstreamDownAt = null;
    this.#broken = false;
    for (const row of this.#rows.values()) row.status = undefined;
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

  connectedCallback() {
    // A property set before this element was upgraded shadows the accessor.
    for (const prop of ["registry", "interval"]) {
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
    const off = this.#registry.onChange(() => this.#schedule());
    this.#unsubscribe = typeof off === "function" ? off : () => {};
    this.#timer = setInterval(() => this.#schedule(), 1000);
  }

  #unsubscribeNow() {
    if (this.#unsubscribe) {
      const off = this.#unsubscribe;
      this.#unsubscribe = null;
      off();
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
    ui.summary = el("ul", "summary");
    ui.summary.setAttribute("aria-label", "Summary");
    ui.counts = {};
    for (const status of ["ok", "stale", "unknown"]) {
      const count = el("li", "count");
      count.dataset.tone = STATUS_TONES[status];
      ui.counts[status] = count;
      ui.summary.append(count);
    }
    header.append(heading, ui.summary);

    // Not a live region itself: its countdown changes every second. The
    // polite region below says "Bus connection lost" once instead.
    ui.banner = el("div", "banner");
    ui.bannerLabel = el("strong", "label");
    ui.bannerDetail = el("span", "detail");
    ui.banner.append(ui.bannerLabel, ui.bannerDetail);
    ui.banner.hidden = true;

    ui.empty = el("p", "empty", "No registry attached.");

    // Explicit roles keep the table a table for assistive technology when
    // the narrow layout turns its rows into grids.
    ui.table = el("table");
    ui.table.setAttribute("role", "table");
    const caption = el("caption", "sr-only", "Worker health: status, time since the last heartbeat, and details");
    const thead = el("thead");
    thead.setAttribute("role", "rowgroup");
    const headRow = el("tr");
    headRow.setAttribute("role", "row");
    for (const label of ["Status", "Worker", "Last seen", "Details"]) {
      const th = el("th", null, label);
      th.scope = "col";
      th.setAttribute("role", "columnheader");
      headRow.append(th);
    }
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
    return panel;
  }

  #renderNow() {
    const ui = this.#ui;
    const registry = this.#registry;
    setHidden(ui.empty, registry !== null);
    setHidden(ui.table, registry === null);
    setHidden(ui.summary, registry === null);

    let okWindow = null;
    let rows = [];
    let conn = null;
    let stats = null;
    if (registry !== null) {
      // A registry that was freed under us throws: keep the last rendering.
      try {
        okWindow = typeof registry.okWindowSeconds === "number" ? registry.okWindowSeconds : null;
        rows = registry.snapshot() ?? [];
        conn = registry.connection?.() ?? null;
        stats = registry.stats?.() ?? null;
      } catch (error) {
        if (!this.#broken) console.error("worker-panel: cannot read the registry", error);
        this.#broken = true;
        return;
      }
    }
    this.#renderHeader(okWindow, rows);
    const messages = [];
    const online = this.#renderBanner(conn, messages);
    this.#renderRows(rows, okWindow, online, messages);
    this.#renderStats(stats);
    if (messages.length > 0) setText(ui.live, messages.join(". "));
  }

  #renderHeader(okWindow, rows) {
    const ui = this.#ui;
    const parts = [];
    if (this.interval !== null) parts.push(`Heartbeat every ${formatSeconds(this.interval)}`);
    if (okWindow !== null) parts.push(`ok within ${formatSeconds(okWindow)}`);
    setText(ui.cadence, parts.join(" · "));
    setHidden(ui.cadence, parts.length === 0);
    const counts = { ok: 0, stale: 0, unknown: 0 };
    for (const row of rows) if (row.status in counts) counts[row.status] += 1;
    for (const status of ["ok", "stale", "unknown"]) {
      setText(ui.counts[status], `${counts[status]} ${status}`);
      setHidden(ui.counts[status], counts[status] === 0);
    }
  }

  #renderBanner(conn, messages) {
    const ui = this.#ui;
    // The page's socket may be open while the gateway has lost the bus
    // behind it: that is offline too.
    const upstreamDown = conn !== null && conn.state === "open" && conn.upstream === "down";
    if (!upstreamDown) this.#upstreamDownAt = null;
    else if (this.#upstreamDownAt === null) this.#upstreamDownAt = performance.now();
    const open = conn !== null && !upstreamDown && (conn.state === "open" || conn.bus_connected === true);
    if (open) this.#everOpen = true;
    if (conn !== null && this.#wasOpen !== null && open !== this.#wasOpen) {
      messages.push(open ? "Bus connection restored" : "Bus connection lost");
      if (open) this.#quietUntil = performance.now() + QUIET_MS;
    }
    if (conn !== null) this.#wasOpen = open;
    const downFor = this.#upstreamDownAt === null ? null : (performance.now() - this.#upstreamDownAt) / 1000;
    const banner = bannerFor(conn, this.#everOpen, downFor);
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

  #renderRows(rows, okWindow, online, messages) {
    const body = this.#ui.body;
    const quiet = { ok: performance.now() < this.#quietUntil, stale: !online };
    const seen = new Set();
    let previous = null;
    for (const status of rows) {
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
      this.#updateRow(row, status, okWindow, quiet, messages);
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
    statusCell.append(pill);
    const nameCell = el("th", "name", name);
    nameCell.scope = "row";
    nameCell.setAttribute("role", "rowheader");
    const seenCell = el("td", "seen");
    seenCell.setAttribute("role", "cell");
    const ago = el("span", "ago");
    const countdown = el("span", "countdown");
    seenCell.append(ago, countdown);
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
    tr.append(statusCell, nameCell, seenCell, extraCell);
    return {
      tr, pill, word, seenCell, ago, countdown, extraCell, details, badge, badgeMain, badgeState, list,
      chips: new Map(), more: null, status: undefined, extra: undefined,
    };
  }

  #updateRow(row, status, okWindow, quiet, messages) {
    const state = status.status in STATUS_WORDS ? status.status : "unknown";
    if (row.status !== undefined && row.status !== state) {
      const name = row.tr.dataset.worker;
      if (state === "stale" && !quiet.stale) messages.push(`${name} is now stale`);
      else if (state === "ok" && !quiet.ok) {
        messages.push(row.status === "stale" ? `${name} is ok again` : `${name} is now ok`);
      } else if (state === "unknown") messages.push(`${name} is now unknown`);
    }
    row.status = state;
    setAttr(row.tr, "data-status", state);
    setAttr(row.pill, "data-tone", STATUS_TONES[state]);
    setText(row.word, STATUS_WORDS[state]);

    const since = typeof status.seconds_since === "number" ? status.seconds_since : null;
    setText(row.ago, state === "unknown" ? "—" : formatAgo(since));
    setAttr(row.seenCell, "title", state === "unknown" ? "No heartbeat received yet" : beatTitle(status.last_heartbeat_ts));
    const counting = state === "ok" && okWindow !== null && since !== null;
    setHidden(row.countdown, !counting);
    if (counting) setText(row.countdown, `stale in ${formatCountdown(okWindow - since)}`);

    const extra = status.extra !== null && typeof status.extra === "object" ? status.extra : {};
    if (extra !== row.extra) {
      row.extra = extra;
      this.#updateBadge(row, extra.realism);
      this.#updateChips(row, extra);
      setAttr(row.extraCell, "data-empty", Object.keys(extra).length === 0 ? "" : null);
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
      fillChip(chip, key, extra[key]);
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

function fillChip(chip, key, value) {
  if (chip.value === value && value !== null && typeof value === "object") return;
  chip.value = value;
  const full = truncate(compactValue(value, true), FULL_CHARS);
  const short = truncate(compactValue(value, false), CHIP_CHARS);
  const truncated = short !== full;
  setText(chip.full, full);
  setText(chip.short, truncated ? short : "");
  setAttr(chip.li, "data-truncated", truncated ? "" : null);
  // A truncated chip can be focused to read it whole (and hovered for a title).
  setAttr(chip.li, "tabindex", truncated ? "0" : null);
  setAttr(chip.li, "title", truncated ? `${key}: ${full}` : null);
}

if (!customElements.get("worker-panel")) customElements.define("worker-panel", WorkerPanel);
