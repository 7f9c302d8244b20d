// Filters kept in the URL query string, so every view can be bookmarked.

import type { UsageEvent, UsageFilters, UsageSort } from './api';
import { isYmd, rangeFor, rangeFromQuery, rangeToQuery, ymdInZone, type RangeContext, type RangePreset, type RangeSelection } from './range';

/** The filter names other than the range, as in the API and in the URL. */
export const FILTER_NAMES = ['app', 'model', 'provider', 'usageType', 'project', 'source', 'modality', 'member'] as const;
export type FilterName = (typeof FILTER_NAMES)[number];

/** One choice in a filter menu. */
export interface Option {
  value: string;
  label: string;
}

export interface ViewState {
  range: RangeSelection;
  filters: Partial<Record<FilterName, string>>;
  sort: UsageSort;
}

export const SORTS: UsageSort[] = ['-at', 'at', '-credits', 'credits', '-totalTokens', 'totalTokens'];

export function readViewState(q: URLSearchParams, fallback: RangePreset = '30d'): ViewState {
  const filters: Partial<Record<FilterName, string>> = {};
  for (const k of FILTER_NAMES) {
    const v = q.get(k);
    if (v) filters[k] = v;
  }
  const s = q.get('sort') as UsageSort | null;
  return { range: rangeFromQuery(q, fallback), filters, sort: s && SORTS.includes(s) ? s : '-at' };
}

/** The API filters of a view: the range resolved to from/to plus every non-empty filter. */
export function toApiFilters(v: ViewState, ctx: RangeContext): UsageFilters {
  const out: UsageFilters = { ...rangeFor(v.range, ctx) };
  for (const k of FILTER_NAMES) {
    const val = v.filters[k];
    if (val) out[k] = val;
  }
  return out;
}

/** URL query patch for a changed range (undefined removes a key). */
export function rangePatch(sel: RangeSelection): Record<string, string | undefined> {
  return rangeToQuery(sel);
}

/** Does a live event fall within the filters? Bare dates are compared in the instance time zone. */
export function matchesFilters(ev: UsageEvent, f: UsageFilters, timeZone: string): boolean {
  const at = Date.parse(ev.at);
  if (f.from) {
    if (isYmd(f.from)) {
      if (ymdInZone(new Date(at), timeZone) < f.from) return false;
    } else if (at < Date.parse(f.from)) return false;
  }
  if (f.to) {
    if (isYmd(f.to)) {
      if (ymdInZone(new Date(at), timeZone) > f.to) return false;
    } else if (at > Date.parse(f.to)) return false;
  }
  if (f.app && String(ev.appId ?? '') !== f.app && (ev.appSlug ?? '') !== f.app) return false;
  if (f.model && (ev.model ?? '') !== f.model) return false;
  if (f.provider && (ev.provider ?? '') !== f.provider) return false;
  if (f.usageType && (ev.usageType ?? '') !== f.usageType) return false;
  if (f.project && (ev.project ?? '') !== f.project) return false;
  if (f.modality && (ev.modality ?? '') !== f.modality) return false;
  if (f.member && String(ev.userId) !== f.member) return false;
  if (f.source) {
    if (f.source === 'personal') {
      if (String(ev.billingSource) !== 'personal') return false;
    } else if (String(ev.delegationId ?? '') !== f.source && String(ev.billingSource) !== f.source) return false;
  }
  return true;
}

/** Where a live event goes in a list sorted by `sort`; -1 when it belongs after the loaded rows. */
export function insertIndex(list: UsageEvent[], ev: UsageEvent, sort: UsageSort, complete: boolean): number {
  const desc = sort.startsWith('-');
  const key = sort.replace('-', '') as 'at' | 'credits' | 'totalTokens';
  const val = (e: UsageEvent): number =>
    key === 'at' ? Date.parse(e.at) : key === 'credits' ? Number(e.credits) : Number(e.totalTokens ?? 0);
  const v = val(ev);
  for (let i = 0; i < list.length; i++) {
    const w = val(list[i]);
    if (desc ? v > w || (v === w && ev.id > list[i].id) : v < w || (v === w && ev.id < list[i].id)) return i;
  }
  return complete ? list.length : -1;
}

/** URL query patch that clears every filter (the range stays). */
export function clearPatch(): Record<string, undefined> {
  const p: Record<string, undefined> = {};
  for (const k of FILTER_NAMES) p[k] = undefined;
  return p;
}

/** Adds the next page of a list to the items shown, leaving out those shown already (a new event can shift a page). */
export function appendPage<T extends { id: unknown }>(items: T[], page: T[] | undefined): T[] {
  const seen = new Set(items.map((i) => i.id));
  return [...items, ...(page ?? []).filter((i) => !seen.has(i.id))];
}
