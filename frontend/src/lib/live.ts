// Live usage events over Server-Sent Events (GET /api/v1/usage/stream, event name "usage"), and
// "balance" notices (no content) when a gateway hold changed the caller's spending power.

import type { UsageEvent } from './api';

export type LiveState = 'connecting' | 'live' | 'offline';

export function subscribeUsage(
  url: string,
  onEvent: (ev: UsageEvent) => void,
  onState: (s: LiveState) => void = () => {},
  onBalance: () => void = () => {},
): () => void {
  if (typeof EventSource === 'undefined') {
    onState('offline');
    return () => {};
  }
  onState('connecting');
  const es = new EventSource(url, { withCredentials: true });
  es.onopen = () => onState('live');
  es.onerror = () => onState(es.readyState === EventSource.CLOSED ? 'offline' : 'connecting');
  es.addEventListener('usage', (m) => {
    try {
      onEvent(JSON.parse((m as MessageEvent<string>).data) as UsageEvent);
    } catch {
      /* ignore a malformed message */
    }
  });
  es.addEventListener('balance', () => onBalance());
  return () => es.close();
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
