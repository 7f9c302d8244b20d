import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Connection, liveReader, subscribeUsage, type LiveState, type ReachState, type StreamSource } from './live';

describe('liveReader', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('reads once for a burst of notices, soon after the first', async () => {
    const read = vi.fn(async () => 1);
    const apply = vi.fn();
    const r = liveReader(read, apply, undefined, 150);
    r.soon();
    r.soon();
    vi.advanceTimersByTime(100);
    r.soon();
    expect(read).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(60);
    expect(read).toHaveBeenCalledTimes(1);
    expect(apply).toHaveBeenCalledWith(1);
  });

  it('keeps reading under a steady flow of notices', async () => {
    const read = vi.fn(async () => 1);
    const r = liveReader(read, () => {}, undefined, 150);
    for (let i = 0; i < 20; i++) {
      r.soon();
      await vi.advanceTimersByTimeAsync(50);
    }
    expect(read.mock.calls.length).toBeGreaterThanOrEqual(6);
    r.stop();
  });

  it('applies only the latest read when an older one answers last', async () => {
    let resolveFirst: (v: string) => void = () => {};
    const read = vi
      .fn<() => Promise<string>>()
      .mockImplementationOnce(() => new Promise((r) => (resolveFirst = r)))
      .mockImplementationOnce(async () => 'new');
    const apply = vi.fn();
    const r = liveReader(read, apply);
    const first = r.now();
    await r.now();
    resolveFirst('old');
    await first;
    expect(apply.mock.calls).toEqual([['new']]);
  });

  it('reports a failed read and nothing after stop', async () => {
    const fail = vi.fn();
    const apply = vi.fn();
    const r = liveReader(async () => {
      throw new Error('down');
    }, apply, fail);
    await r.now();
    expect(fail).toHaveBeenCalledOnce();
    r.soon();
    r.stop();
    await vi.advanceTimersByTimeAsync(500);
    expect(fail).toHaveBeenCalledOnce();
    expect(apply).not.toHaveBeenCalled();
  });
});

describe('Connection', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  function conn(answers: boolean[]) {
    const probe = vi.fn(async () => answers.shift() ?? false);
    const c = new Connection({ probe, delays: [1000, 3000] });
    const seen: ReachState[] = [];
    c.subscribe((s) => seen.push(s));
    return { c, probe, seen };
  }

  it('goes offline when a failure is confirmed by a probe, and online when a later probe answers', async () => {
    const { c, probe, seen } = conn([false, false, true]);
    c.lost();
    await vi.advanceTimersByTimeAsync(0);
    expect(c.state).toBe('offline');
    await vi.advanceTimersByTimeAsync(999);
    expect(probe).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(probe).toHaveBeenCalledTimes(2);
    expect(c.state).toBe('offline');
    await vi.advanceTimersByTimeAsync(3000); // backs off to the last delay
    expect(probe).toHaveBeenCalledTimes(3);
    expect(seen).toEqual(['online', 'checking', 'offline', 'online']);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(probe).toHaveBeenCalledTimes(3); // no probing once online
  });

  it('stays online when the probe answers at once (a passing hiccup)', async () => {
    const { c, seen } = conn([true]);
    c.lost();
    await vi.advanceTimersByTimeAsync(0);
    expect(seen).toEqual(['online', 'checking', 'online']);
  });

  it('many failures at once make one probe and one change', async () => {
    const { c, probe, seen } = conn([false]);
    c.lost();
    c.lost();
    c.lost();
    await vi.advanceTimersByTimeAsync(0);
    expect(probe).toHaveBeenCalledTimes(1);
    expect(seen).toEqual(['online', 'checking', 'offline']);
  });

  it('something that reached tokenjar ends probing at once', async () => {
    const { c, probe } = conn([false, false, false]);
    c.lost();
    await vi.advanceTimersByTimeAsync(0);
    c.reached();
    expect(c.state).toBe('online');
    await vi.advanceTimersByTimeAsync(10_000);
    expect(probe).toHaveBeenCalledTimes(1);
  });

  it('a rejected probe counts as unreachable; retryNow probes without waiting', async () => {
    const probe = vi
      .fn<() => Promise<boolean>>()
      .mockRejectedValueOnce(new TypeError('Failed to fetch'))
      .mockResolvedValueOnce(true);
    const c = new Connection({ probe, delays: [60_000] });
    c.lost();
    await vi.advanceTimersByTimeAsync(0);
    expect(c.state).toBe('offline');
    c.retryNow();
    await vi.advanceTimersByTimeAsync(0);
    expect(c.state).toBe('online');
  });
});

class FakeStream implements StreamSource {
  readyState = 0;
  onopen: ((e: Event) => void) | null = null;
  onerror: ((e: Event) => void) | null = null;
  closed = false;
  handlers: Record<string, (e: Event) => void> = {};
  addEventListener(type: string, f: (e: Event) => void) {
    this.handlers[type] = f;
  }
  close() {
    this.closed = true;
    this.readyState = 2;
  }
  open() {
    this.readyState = 1;
    this.onopen?.(new Event('open'));
  }
  fail(readyState: 0 | 2) {
    this.readyState = readyState;
    this.onerror?.(new Event('error'));
  }
}

describe('subscribeUsage', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  function follow() {
    const streams: FakeStream[] = [];
    const states: LiveState[] = [];
    const conn = { lost: vi.fn(), reached: vi.fn() };
    const events: unknown[] = [];
    const stop = subscribeUsage(
      '/s',
      (e) => events.push(e),
      (s) => states.push(s),
      undefined,
      conn,
      () => {
        const s = new FakeStream();
        streams.push(s);
        return s;
      },
    );
    return { streams, states, conn, events, stop };
  }

  it('reports the stream state as it really is: connecting, live, reconnecting, live', () => {
    const { streams, states, conn } = follow();
    expect(states).toEqual(['connecting']);
    streams[0].open();
    expect(states.at(-1)).toBe('live');
    expect(conn.reached).toHaveBeenCalledTimes(1);
    streams[0].fail(0); // the browser retries by itself
    expect(states.at(-1)).toBe('reconnecting');
    expect(conn.lost).toHaveBeenCalledTimes(1);
    streams[0].open();
    expect(states).toEqual(['connecting', 'live', 'reconnecting', 'live']);
    expect(streams).toHaveLength(1);
  });

  it('a stream that never opened and was closed for good is offline, then opened again after a pause', async () => {
    const { streams, states } = follow();
    streams[0].fail(2);
    expect(states.at(-1)).toBe('offline');
    expect(streams[0].closed).toBe(true);
    await vi.advanceTimersByTimeAsync(2000);
    expect(streams).toHaveLength(2);
    streams[1].open();
    expect(states.at(-1)).toBe('live');
  });

  it('passes events on and stops for good when stopped', async () => {
    const { streams, events, stop, states } = follow();
    streams[0].open();
    streams[0].handlers.usage(new MessageEvent('usage', { data: '{"id":7}' }));
    streams[0].handlers.usage(new MessageEvent('usage', { data: 'not json' }));
    expect(events).toEqual([{ id: 7 }]);
    stop();
    expect(streams[0].closed).toBe(true);
    const n = states.length;
    streams[0].fail(2);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(streams).toHaveLength(1);
    expect(states).toHaveLength(n);
  });
});
