// Types of `worker-registry/panel`: the <worker-panel> custom element.
import type { ChangeReason, ConnectionStatus, RegistryStats, WorkerStatus } from "../pkg/index.js";

/** What the panel needs from a registry: a WorkerRegistry has all of it. */
export interface PanelRegistry {
  snapshot(): WorkerStatus[];
  connection(): ConnectionStatus;
  stats(): RegistryStats;
  onChange(callback: (reason: ChangeReason) => void): () => void;
  /** Shown in the header and used for the "stale in m:ss" countdown. */
  readonly okWindowSeconds?: number;
}

/** What the connection banner says, or null when the bus is connected. */
export interface PanelBanner {
  tone: "bad" | "off";
  label: "UNAUTHORIZED" | "NOT CONNECTED" | "CONNECTING" | "BUS OFFLINE";
  detail: string;
}

/**
 * `<worker-panel>`: renders a registry's snapshot as an accessible table,
 * re-rendering in place on `onChange` (at most once per frame) and once a
 * second for ages. Importing this module defines the element.
 */
export class WorkerPanel extends HTMLElement {
  /** The registry shown; setting it subscribes (and unsubscribes the old one). */
  registry: PanelRegistry | null;
  /** Heartbeat cadence in seconds, for the header; reflects the `interval` attribute. */
  interval: number | null;
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
/** An extra value as compact text (`k=v, k=v` for objects). */
export function compactValue(value: unknown, exact?: boolean): string;
/** The banner for a connection status; `everOpen`: it was connected before. */
export function bannerFor(connection: ConnectionStatus | null, everOpen?: boolean): PanelBanner | null;

declare global {
  interface HTMLElementTagNameMap {
    "worker-panel": WorkerPanel;
  }
}
