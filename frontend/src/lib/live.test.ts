import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { liveReader } from './live';

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
