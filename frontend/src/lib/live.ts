// Live usage events over Server-Sent Events (GET /api/v1/usage/stream, event name "usage").

import type { UsageEvent } from './api';

export type LiveState = 'connecting' | 'live' | 'offline';

export function subscribeUsage(
  url: string,
  onEvent: (ev: UsageEvent) => void,
  onState: (s: LiveState) => void = () => {},
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
  return () => es.close();
}
