import { describe, expect, it } from 'vitest';
import type { AggregateItem } from './api';
import { dailyByKind, dailyTotals, monthly, personalVsDelegated, rankedShares, topN } from './charts';

function item(key: string, credits: number, extra: Partial<AggregateItem> = {}): AggregateItem {
  return { key, label: key, requests: 1, credits, tokens: 0, kinds: { subscription: 0, addon: credits, event: 0, debt: 0 }, ...extra };
}

describe('charts', () => {
  it('fills missing days with zero', () => {
    const s = dailyByKind([item('2026-11-02', 0.3)], '2026-11-01', '2026-11-03');
    expect(s.labels).toEqual(['2026-11-01', '2026-11-02', '2026-11-03']);
    expect(s.datasets.find((d) => d.key === 'addon')?.data).toEqual([0, 0.3, 0]);
  });
  it('uses the item keys when the range is open', () => {
    expect(dailyByKind([item('2026-11-05', 1), item('2026-11-03', 1)]).labels).toEqual(['2026-11-03', '2026-11-04', '2026-11-05']);
    expect(dailyByKind([]).labels).toEqual([]);
  });
  it('puts the current monthly credits on the last month', () => {
    const m = monthly([item('2026-10', 5, { allowance: 100 })], ['2026-10', '2026-11'], 200);
    expect(m).toEqual({ credits: [5, 0], monthlyCredits: [100, 200], paidBy: [] });
  });
  it("shows what an allowance paid as its own series, never as the member's buckets", () => {
    const paid = { paidBy: [{ source: '7', label: "Mum's allowance", credits: 0.2 }] };
    const day = { ...item('2026-11-02', 0.3, paid), kinds: { subscription: 0, addon: 0, event: 0.1, debt: 0 } };
    const s = dailyByKind([day], '2026-11-01', '2026-11-02');
    expect(s.datasets.map((d) => d.label)).toEqual(['Limited-time', 'Monthly', 'Recharge', 'Debt', "Paid by Mum's allowance"]);
    expect(s.datasets.find((d) => d.key === 'paidBy:7')?.data).toEqual([0, 0.2]);
    expect(s.datasets.find((d) => d.key === 'event')?.data).toEqual([0, 0.1]);
    const m = monthly([item('2026-11', 0.3, paid)], ['2026-10', '2026-11']);
    expect(m.credits).toEqual([0, 0.1]);
    expect(m.paidBy.map((d) => [d.label, d.data])).toEqual([["Paid by Mum's allowance", [0, 0.2]]]);
  });
  it('sums the rest into Other exactly', () => {
    const t = topN([item('a', 5), item('b', 0.1), item('c', 0.2), item('d', 3)], 2);
    expect(t.map((x) => x.label)).toEqual(['a', 'd', 'Other (2)']);
    expect(t[2].credits).toBe(0.3);
  });
  it('takes key 0 (no delegation) as personal', () => {
    expect(personalVsDelegated([item('0', 2), item('7', 1)]).personal).toBe(2);
  });
  it('splits personal from delegated', () => {
    expect(personalVsDelegated([item('personal', 1.1), item('7', 0.1), item('9', 0.2)])).toEqual({
      personal: 1.1,
      delegated: 0.3,
      requests: [1, 2],
    });
  });
});

describe('granted charts', () => {
  it('ranks grantees by credits with exact shares', () => {
    const r = rankedShares([item('7', 0.1, { label: 'Ada' }), item('8', 0.3, { label: 'Alan' }), item('9', 0.1, { label: 'Aaron' })]);
    expect(r.map((x) => x.label)).toEqual(['Alan', 'Aaron', 'Ada']);
    expect(r[0].share).toBeCloseTo(60, 10);
    expect(r.reduce((s, x) => s + x.share, 0)).toBeCloseTo(100, 10);
    expect(rankedShares([item('1', 0)])[0].share).toBe(0);
  });
  it('fills missing days of the daily totals with zero', () => {
    expect(dailyTotals([item('2026-11-02', 0.1), item('2026-11-02x', 1)], '2026-11-01', '2026-11-03')).toEqual({
      days: ['2026-11-01', '2026-11-02', '2026-11-03'],
      credits: [0, 0.1, 0],
    });
  });
});
