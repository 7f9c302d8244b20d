// Live usage events over Server-Sent Events (GET /api/v1/usage/stream, event name "usage"), and
// "balance" notices (no content) when a gateway hold changed the caller's spending power.

import { API_BASE, type UsageEvent } from './api';

/**
 * What a live badge shows: `connecting` before the stream first opened, `live` while it is open,
 * `reconnecting` after it dropped (the browser or we retry), `offline` when tokenjar cannot be
 * reached or the stream cannot work here.
 */
export type LiveState = 'connecting' | 'live' | 'reconnecting' | 'offline';

/** Whether the dashboard can reach tokenjar: `checking` while a probe decides after a failure. */
export type ReachState = 'online' | 'checking' | 'offline';

export interface ConnectionOptions {
  /** Resolves true when tokenjar answered (any HTTP reply), false or a rejection when it did not. */
  probe: () => Promise<boolean>;
  /** Milliseconds before each further probe while offline; the last repeats. */
  delays?: number[];
  setTimer?: (f: () => void, ms: number) => unknown;
  clearTimer?: (t: unknown) => void;
}

/**
 * The dashboard's one view of whether tokenjar can be reached. Anything that failed to reach it
 * (a request, the live stream) calls `lost()`; a probe then decides, and while it keeps failing
 * the state is `offline` and probes go on, slower each time, until one answers (`online`).
 * Anything that did reach it calls `reached()`, which ends the probing at once.
 */
export class Connection {
  state: ReachState = 'online';
  private listeners = new Set<(s: ReachState) => void>();
  private timer: unknown;
  private attempt = 0;
  private probing = false;
  private readonly opts: Required<ConnectionOptions>;

  constructor(opts: ConnectionOptions) {
    this.opts = {
      delays: [1000, 2000, 4000, 8000],
      setTimer: (f, ms) => setTimeout(f, ms),
      clearTimer: (t) => clearTimeout(t as ReturnType<typeof setTimeout>),
      ...opts,
    };
  }

  /** Calls `f` with the state now and on every change; returns the unsubscribe. */
  subscribe(f: (s: ReachState) => void): () => void {
    this.listeners.add(f);
    f(this.state);
    return () => this.listeners.delete(f);
  }

  lost() {
    if (this.state === 'online') {
      this.set('checking');
      void this.check();
    }
  }

  reached() {
    this.opts.clearTimer(this.timer);
    this.timer = undefined;
    this.attempt = 0;
    this.set('online');
  }

  /** Probes now (the banner's "Try now"), unless a probe is already out. */
  retryNow() {
    if (this.state === 'online') return;
    this.opts.clearTimer(this.timer);
    this.timer = undefined;
    void this.check();
  }

  private async check() {
    if (this.probing) return;
    this.probing = true;
    let ok = false;
    try {
      ok = await this.opts.probe();
    } catch {
      ok = false;
    }
    this.probing = false;
    if (this.state === 'online') return; // something reached tokenjar meanwhile
    if (ok) {
      this.reached();
      return;
    }
    this.set('offline');
    const d = this.opts.delays;
    const ms = d[Math.min(this.attempt, d.length - 1)];
    this.attempt++;
    this.timer = this.opts.setTimer(() => {
      this.timer = undefined;
      void this.check();
    }, ms);
  }

  private set(s: ReachState) {
    if (s === this.state) return;
    this.state = s;
    for (const f of this.listeners) f(s);
  }
}

/** The dashboard's connection: probes the health check, which answers anyone. */
export const connection = new Connection({
  probe: async () => {
    const res = await fetch(`${API_BASE}/healthz`, { method: 'HEAD', cache: 'no-store', credentials: 'same-origin' });
    // A proxy in front of a stopped tokenjar answers 502-504 itself.
    return res.status < 502 || res.status > 504;
  },
});

/** What subscribeUsage needs of the browser's EventSource (a fake in tests). */
export interface StreamSource {
  readyState: number;
  onopen: ((e: Event) => void) | null;
  onerror: ((e: Event) => void) | null;
  addEventListener(type: string, f: (e: Event) => void): void;
  close(): void;
}

/** Milliseconds before opening a stream again that the browser closed for good; the last repeats. */
const REOPEN_DELAYS = [2000, 5000, 15000, 30000];
const CLOSED = 2;

/**
 * Follows the live stream and reports its real state through `onState`. The browser retries a
 * dropped stream by itself (`reconnecting`); one it closed for good (an error reply, say from a
 * proxy while tokenjar restarts) is opened again after a pause. Failures and successes also tell
 * the shared `conn`, so the whole dashboard knows when tokenjar cannot be reached.
 */
export function subscribeUsage(
  url: string,
  onEvent: (ev: UsageEvent) => void,
  onState: (s: LiveState) => void = () => {},
  onBalance: () => void = () => {},
  conn: Pick<Connection, 'lost' | 'reached'> = connection,
  open: (url: string) => StreamSource | null = openEventSource,
): () => void {
  let es: StreamSource | null = null;
  let wasLive = false;
  let stopped = false;
  let reopenTimer: ReturnType<typeof setTimeout> | undefined;
  let reopens = 0;

  function start() {
    es = open(url);
    if (!es) {
      onState('offline');
      return;
    }
    const mine = es;
    mine.onopen = () => {
      wasLive = true;
      reopens = 0;
      conn.reached();
      onState('live');
    };
    mine.onerror = () => {
      if (stopped) return;
      conn.lost();
      if (mine.readyState === CLOSED) {
        mine.close();
        onState(wasLive ? 'reconnecting' : 'offline');
        reopenTimer = setTimeout(start, REOPEN_DELAYS[Math.min(reopens++, REOPEN_DELAYS.length - 1)]);
      } else {
        onState(wasLive ? 'reconnecting' : 'connecting');
      }
    };
    mine.addEventListener('usage', (m) => {
      try {
        onEvent(JSON.parse((m as MessageEvent<string>).data) as UsageEvent);
      } catch {
        /* ignore a malformed message */
      }
    });
    mine.addEventListener('balance', () => onBalance());
  }

  onState('connecting');
  start();
  return () => {
    stopped = true;
    clearTimeout(reopenTimer);
    es?.close();
  };
}

function openEventSource(url: string): StreamSource | null {
  if (typeof EventSource === 'undefined') return null;
  return new EventSource(url, { withCredentials: true });
}

/**
 * Keeps a figure that the server only signals (GET /balance on a "balance" notice) fresh:
 * `soon()` reads it once `ms` after the first notice of a burst, however many came; `now()`
 * reads it at once. Only the latest read is applied, so a slow older reply never overwrites a newer one.
 */
export function liveReader<T>(
  read: () => Promise<T>,
  apply: (v: T) => void,
  fail: (e: unknown) => void = () => {},
  ms = 150,
): { now: () => Promise<void>; soon: () => void; stop: () => void } {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let seq = 0;
  let stopped = false;
  async function now() {
    clearTimeout(timer);
    timer = undefined;
    const mine = ++seq;
    try {
      const v = await read();
      if (mine === seq && !stopped) apply(v);
    } catch (e) {
      if (mine === seq && !stopped) fail(e);
    }
  }
  return {
    now,
    soon() {
      // The first notice of a burst sets the time; later ones ride along, so a steady flow of
      // notices (many requests at once) still reads every `ms`, never starves.
      if (stopped || timer !== undefined) return;
      timer = setTimeout(() => {
        timer = undefined;
        void now();
      }, ms);
    },
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
