// Types of `worker-registry/panel`: the <worker-panel> custom element.
import type { BeatHistory, ChangeReason, ConnectionStatus, RegistryStats, WorkerStatus } from "../pkg/index.js";

/** What the panel needs from a registry: a WorkerRegistry has all of it. */
export interface PanelRegistry {
  snapshot(): WorkerStatus[];
  connection(): ConnectionStatus;
  stats(): RegistryStats;
  onChange(callback: (reason: ChangeReason) => void): () => void;
  /** Shown in the header and used for the "stale in m:ss" countdown. */
  readonly okWindowSeconds?: number;
  /** The heartbeat strip and the LATE cue; without it the strip column is hidden. */
  history?(name: string): BeatHistory | null;
}

/** What the connection banner says, or null when the bus is connected. */
export interface PanelBanner {
  tone: "bad" | "off";
  label: "UNAUTHORIZED" | "NOT CONNECTED" | "CONNECTING" | "BUS OFFLINE";
  detail: string;
}

/** A button per row (`actions`) or in the header (`bulkActions`). */
export interface PanelAction {
  /** Sent as `detail.action` of the `worker-action` event. */
  id: string;
  /** The button's text; its accessible name adds the worker ("Stop api"). */
  label: string;
  /** Per-row actions only: show the button for this row (its snapshot row, plus `late`)? Default: always. */
  when?(row: WorkerStatus & { late: boolean }): boolean;
}

/** `detail` of the `worker-action` event; `worker` is null for a bulk action. */
export interface WorkerActionDetail {
  action: string;
  worker: string | null;
}

/** How the host answers an action: ends the button's pending state. */
export interface ActionResult {
  /** Default true. false shows `message` in the row and announces it. */
  ok?: boolean;
  message?: string;
}

/**
 * `<worker-panel>`: renders a registry's snapshot as an accessible table,
 * re-rendering in place on `onChange` (at most once per frame) and once a
 * second for ages. Importing this module defines the element.
 *
 * Each row: status (and an amber LATE marker when the worker is ok but
 * silent for more than `lateFactor` x its cadence, with "every ~30 s,
 * silent 75 s"), last seen and the countdown to stale, a heartbeat strip
 * (the last beats as ticks on a time axis ending at now; fewer ticks at
 * narrow widths), extras as chips, and the configured action buttons.
 *
 * Before a registry is set it says it is loading; for a registry that was
 * never started with a URL (and has heard nothing), or was freed, it
 * explains instead of showing an empty table.
 *
 * Events: `worker-action` (bubbling, composed) with a {@link WorkerActionDetail}
 * when an action button is pressed; the button stays pending until
 * `settle()` or until that row changes (a beat, a status or late turn).
 *
 * Theme, with these custom properties (on the element or an ancestor;
 * the defaults follow `prefers-color-scheme`):
 *
 * | property | what it colours |
 * |---|---|
 * | `--wp-bg` | the panel's background |
 * | `--wp-fg` | text |
 * | `--wp-muted` | secondary text: the header line, column titles, countdowns |
 * | `--wp-border` | the panel's outline and section rules |
 * | `--wp-rule` | lines between rows |
 * | `--wp-head` | column titles' and footer's background |
 * | `--wp-chip` | extras chips' background |
 * | `--wp-focus` | the keyboard focus ring |
 * | `--wp-good`, `--wp-good-bg` | OK: text and background |
 * | `--wp-warn`, `--wp-warn-bg` | LATE and warnings (a half-open breaker): text and background |
 * | `--wp-bad`, `--wp-bad-bg` | STALE, offline, errors: text and background |
 * | `--wp-off`, `--wp-off-bg` | UNKNOWN, not connected: text and background |
 * | `--wp-strip` | the heartbeat strip's background |
 * | `--wp-tick` | a beat of an ok row (a late row's are `--wp-warn`) |
 * | `--wp-tick-old` | a beat of a stale row |
 * | `--wp-button`, `--wp-button-hover` | action buttons' background, at rest and hovered |
 */
export class WorkerPanel extends HTMLElement {
  /** The registry shown; setting it subscribes (and unsubscribes the old one). */
  registry: PanelRegistry | null;
  /** Heartbeat cadence in seconds, for the header; reflects the `interval` attribute. */
  interval: number | null;
  /** Row order; reflects the `sort` attribute. "problems": stale, late, unknown, then ok, each in allowlist order. */
  sort: "allowlist" | "problems";
  /** Hide rows never heard from behind a "show N never seen" toggle; reflects `hide-unknown`. */
  hideUnknown: boolean;
  /** Per-row buttons. None by default, and then no actions column. Throws a TypeError for a malformed list. */
  actions: readonly PanelAction[];
  /** Header buttons such as "Start all" (`when` is ignored). */
  bulkActions: readonly PanelAction[];
  /**
   * Formats an extra for its chip; return undefined for the panel's own
   * reading (`uptime_s` and other `*_s` keys as durations, large numbers
   * with separators). The raw value stays in the chip's tooltip.
   */
  formatExtra: ((key: string, value: unknown) => string | undefined) | null;
  /** Answers an action: `worker` null for a bulk action. */
  settle(worker: string | null, action: string, result?: ActionResult): void;
  /** Renders now rather than at the next animation frame. */
  refresh(): void;
  static readonly observedAttributes: string[];
  connectedCallback(): void;
  disconnectedCallback(): void;
  attributeChangedCallback(): void;
}

/** `12s ago`, `3m ago`, `2h ago`, `4d ago`, or `—` for null. */
export function formatAgo(seconds: number | null): string;
/** `m:ss`, rounded up. */
export function formatCountdown(seconds: number): string;
/** `30 s`, `0.5 s`, `5 min`. */
export function formatSeconds(seconds: number): string;
/** `4.3 s`, `45 s`, `12 min 3 s`, `2 h 5 min`, `3 d 4 h`. */
export function formatDuration(seconds: number): string;
/** The panel's reading of an extra (durations, separators), or undefined to show it as it is. */
export function formatExtra(key: string, value: unknown): string | undefined;
/** `every ~30 s, silent 75 s`. */
export function lateText(cadenceSeconds: number, silentSeconds: number): string;
/** An extra value as compact text (`k=v, k=v` for objects). */
export function compactValue(value: unknown, exact?: boolean): string;
/** Whether beats can arrive: `bus_connected`, and the gateway's link to the bus not down. */
export function isOnline(connection: ConnectionStatus | null): boolean;
/**
 * The banner for a connection status; `everOpen`: it was connected before;
 * `offlineSeconds`: how long the bus has been away ("for 1 min 5 s").
 */
export function bannerFor(
  connection: ConnectionStatus | null,
  everOpen?: boolean,
  offlineSeconds?: number | null,
): PanelBanner | null;

declare global {
  interface HTMLElementTagNameMap {
    "worker-panel": WorkerPanel;
  }
  interface HTMLElementEventMap {
    "worker-action": CustomEvent<WorkerActionDetail>;
  }
}
