import { describe, expect, it } from 'vitest';
import { createPager, pagerState, type PageReply } from './pager';

type Row = { id: number; q: string };

/** A fetch whose answers the test releases by hand, in any order. */
function controlled() {
  const calls: { q: string; cursor: string | undefined; resolve: (p: PageReply<Row>) => void; reject: (e: unknown) => void }[] = [];
  const fetchFor = (q: string) => (cursor: string | undefined) =>
    new Promise<PageReply<Row>>((resolve, reject) => calls.push({ q, cursor, resolve, reject }));
  return { calls, fetchFor };
}

const rows = (q: string, from: number, n: number): Row[] => Array.from({ length: n }, (_, i) => ({ id: from + i, q }));

describe('pager', () => {
  it('loads a first page, then appends the next with its cursor', async () => {
    const s = pagerState<Row>();
    const p = createPager(s);
    const { calls, fetchFor } = controlled();
    const first = p.load(fetchFor('a'));
    calls[0].resolve({ items: rows('a', 1, 2), nextCursor: 'c1' });
    expect(await first).toBe(true);
    expect(s.items.map((r) => r.id)).toEqual([1, 2]);
    expect(s.loading).toBe(false);
    const more = p.more();
    expect(calls[1].cursor).toBe('c1');
    calls[1].resolve({ items: rows('a', 2, 2), nextCursor: null });
    await more;
    expect(s.items.map((r) => r.id)).toEqual([1, 2, 3]); // the repeated row is kept once
    expect(s.nextCursor).toBeNull();
  });

  it('drops a "load more" answer of the old filter that arrives after the filter changed', async () => {
    const s = pagerState<Row>();
    const p = createPager(s);
    const { calls, fetchFor } = controlled();
    const a = p.load(fetchFor('a'));
    calls[0].resolve({ items: rows('a', 1, 2), nextCursor: 'a-next' });
    await a;
    const more = p.more(); // asked under filter a
    const b = p.load(fetchFor('b')); // the filter changes before it answers
    calls[2].resolve({ items: rows('b', 10, 1), nextCursor: null });
    await b;
    calls[1].resolve({ items: rows('a', 3, 2), nextCursor: 'a-more' }); // the old page arrives late
    await more;
    expect(s.items).toEqual(rows('b', 10, 1));
    expect(s.nextCursor).toBeNull();
    expect(s.loadingMore).toBe(false);
  });

  it('drops a first page of an old filter that answers after the new one', async () => {
    const s = pagerState<Row>();
    const p = createPager(s);
    const { calls, fetchFor } = controlled();
    const a = p.load(fetchFor('a'));
    const b = p.load(fetchFor('b'));
    calls[1].resolve({ items: rows('b', 5, 1), nextCursor: 'b-next' });
    expect(await b).toBe(true);
    calls[0].resolve({ items: rows('a', 1, 3), nextCursor: 'a-next' });
    expect(await a).toBe(false);
    expect(s.items).toEqual(rows('b', 5, 1));
    expect(s.nextCursor).toBe('b-next');
    // "load more" now asks the new query, never the old one.
    p.more();
    expect(calls[2].q).toBe('b');
    expect(calls[2].cursor).toBe('b-next');
  });

  it('keeps an error of the current query, and drops one of an old query', async () => {
    const s = pagerState<Row>();
    const p = createPager(s);
    const { calls, fetchFor } = controlled();
    const a = p.load(fetchFor('a'));
    const b = p.load(fetchFor('b'));
    calls[0].reject(new Error('old'));
    await a;
    expect(s.error).toBeNull();
    calls[1].reject(new Error('new'));
    await b;
    expect((s.error as Error).message).toBe('new');
    expect(s.loading).toBe(false);
  });
});
