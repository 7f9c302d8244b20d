// Pure helpers that turn aggregate replies into chart series (credits summed as millicredits).

import type { AggregateItem } from './api';
import { fromMilli, KIND_LABELS, sumMilli, toMilli } from './format';
import { daysBetween } from './range';

export const KIND_COLORS = {
  subscription: '#3b6fd8',
  addon: '#1f9d8a',
  event: '#d08a1a',
  debt: '#c9372c',
} as const;

export const PALETTE = ['#3b6fd8', '#1f9d8a', '#d08a1a', '#8b5cf6', '#db2777', '#0891b2', '#65a30d', '#c2410c', '#64748b'];

export type KindKey = keyof typeof KIND_COLORS;
export const KIND_KEYS: KindKey[] = ['event', 'subscription', 'addon', 'debt'];

export interface Series {
  labels: string[];
  keys: string[];
  datasets: { key: string; label: string; color: string; data: number[] }[];
}

/** The member's own credits, whatever bucket paid, where they stand beside what allowances paid. */
export const OWN_COLOR = '#475569';

/** Colours of the "paid by an allowance" series, apart from the bucket kinds' colours. */
export const PAID_BY_COLORS = ['#8b5cf6', '#db2777', '#0891b2', '#65a30d', '#64748b'];

/**
 * One series per allowance that paid part of the items (own usage by day or month), keyed
 * `paidBy:<delegation id>`: those credits came from the granter's buckets, not the member's.
 */
export function paidBySeries(items: AggregateItem[], keys: string[]): Series['datasets'] {
  const byKey = new Map(items.map((i) => [i.key, i]));
  const sources = new Map<string, string>();
  for (const i of items) for (const p of i.paidBy ?? []) if (!sources.has(p.source)) sources.set(p.source, p.label);
  return [...sources].map(([source, label], n) => ({
    key: `paidBy:${source}`,
    label: `Paid by ${label}`,
    color: PAID_BY_COLORS[n % PAID_BY_COLORS.length],
    data: keys.map((k) => fromMilli(toMilli(byKey.get(k)?.paidBy?.find((p) => p.source === source)?.credits ?? 0))),
  }));
}

/** Daily credits per bucket kind, then per allowance that paid, for every day of the range (missing days are 0). */
export function dailyByKind(items: AggregateItem[], from?: string, to?: string): Series {
  const keys = items.map((i) => i.key).sort();
  const start = from ?? keys[0];
  const end = to ?? keys[keys.length - 1];
  const days = start && end ? daysBetween(start, end) : [];
  const byKey = new Map(items.map((i) => [i.key, i]));
  return {
    labels: days,
    keys: days,
    datasets: [
      ...KIND_KEYS.map((k) => ({
        key: k,
        label: KIND_LABELS[k],
        color: KIND_COLORS[k],
        data: days.map((d) => fromMilli(toMilli(byKey.get(d)?.kinds?.[k] ?? 0))),
      })),
      ...paidBySeries(items, days),
    ],
  };
}

/**
 * Credits used per month and the monthly credits of each month, for the given months (oldest first).
 * `credits` is what the member's own credits paid; `paidBy` what each allowance paid for them.
 */
export function monthly(
  items: AggregateItem[],
  months: string[],
  currentMonthlyCredits?: number | null,
): { credits: number[]; monthlyCredits: (number | null)[]; paidBy: Series['datasets'] } {
  const byKey = new Map(items.map((i) => [i.key, i]));
  const last = months[months.length - 1];
  const paid = (i: AggregateItem | undefined) => sumMilli((i?.paidBy ?? []).map((p) => p.credits));
  return {
    credits: months.map((m) => fromMilli(toMilli(byKey.get(m)?.credits ?? 0) - paid(byKey.get(m)))),
    // The API calls a cycle's monthly credits `allowance`.
    monthlyCredits: months.map((m) => {
      const a = byKey.get(m)?.allowance;
      if (a !== undefined && a !== null) return fromMilli(toMilli(a));
      if (m === last && currentMonthlyCredits !== undefined && currentMonthlyCredits !== null) return fromMilli(toMilli(currentMonthlyCredits));
      return null;
    }),
    paidBy: paidBySeries(items, months),
  };
}

/** The n largest items by credits, the rest summed into "Other". */
export function topN(items: AggregateItem[], n = 8): { label: string; credits: number; requests: number }[] {
  const sorted = [...items].sort((a, b) => toMilli(b.credits) - toMilli(a.credits) || b.requests - a.requests);
  const out = sorted.slice(0, n).map((i) => ({
    label: i.label || i.key || '(none)',
    credits: fromMilli(toMilli(i.credits)),
    requests: i.requests,
  }));
  const rest = sorted.slice(n);
  if (rest.length) {
    out.push({
      label: `Other (${rest.length})`,
      credits: fromMilli(rest.reduce((s, i) => s + toMilli(i.credits), 0)),
      requests: rest.reduce((s, i) => s + i.requests, 0),
    });
  }
  return out;
}

/** Personal against delegated credits, from a by=source aggregate. */
export function personalVsDelegated(items: AggregateItem[]): { personal: number; delegated: number; requests: [number, number] } {
  let p = 0;
  let d = 0;
  let pr = 0;
  let dr = 0;
  for (const i of items) {
    // Personal usage has the key "personal" (or "0", no delegation) in a by=source aggregate.
    if (i.key === 'personal' || i.key === '0' || i.key === '' || i.key === null) {
      p += toMilli(i.credits);
      pr += i.requests;
    } else {
      d += toMilli(i.credits);
      dr += i.requests;
    }
  }
  return { personal: fromMilli(p), delegated: fromMilli(d), requests: [pr, dr] };
}

/** Per-key rows sorted by credits (then label), each with its share of the total in percent. */
export function rankedShares(items: AggregateItem[]): { key: string; label: string; requests: number; tokens: number; credits: number; share: number }[] {
  const total = items.reduce((s, i) => s + Math.max(0, toMilli(i.credits)), 0);
  return [...items]
    .sort((a, b) => toMilli(b.credits) - toMilli(a.credits) || (a.label || a.key).localeCompare(b.label || b.key))
    .map((i) => ({
      key: i.key,
      label: i.label || i.key || '(none)',
      requests: i.requests,
      tokens: i.tokens,
      credits: fromMilli(toMilli(i.credits)),
      share: total > 0 ? (Math.max(0, toMilli(i.credits)) / total) * 100 : 0,
    }));
}

/** Total credits per day for every day of the range (missing days are 0). */
export function dailyTotals(items: AggregateItem[], from?: string, to?: string): { days: string[]; credits: number[] } {
  const keys = items.map((i) => i.key).sort();
  const start = from ?? keys[0];
  const end = to ?? keys[keys.length - 1];
  const days = start && end ? daysBetween(start, end) : [];
  const byKey = new Map(items.map((i) => [i.key, i]));
  return { days, credits: days.map((d) => fromMilli(toMilli(byKey.get(d)?.credits ?? 0))) };
}
