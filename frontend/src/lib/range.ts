// Date range presets. Every function takes "now" and the time zone as arguments, so it is testable.
// Bare dates (YYYY-MM-DD) are what the API reads in the instance time zone: `from` is the start of that
// day and `to` the end of it, so a range is given as two calendar days in that zone.

export type RangePreset = 'today' | '7d' | '30d' | '90d' | 'cycle' | 'custom' | 'all';

export const RANGE_PRESETS: { id: RangePreset; label: string }[] = [
  { id: 'today', label: 'Today' },
  { id: '7d', label: 'Last 7 days' },
  { id: '30d', label: 'Last 30 days' },
  { id: '90d', label: 'Last 90 days' },
  { id: 'cycle', label: 'Current cycle' },
  { id: 'custom', label: 'Custom' },
  { id: 'all', label: 'All time' },
];

export const DEFAULT_PRESET: RangePreset = '30d';

export interface DateRange {
  from?: string;
  to?: string;
}

export interface RangeSelection {
  preset: RangePreset;
  /** Only for custom. */
  from?: string;
  to?: string;
}

export interface RangeContext {
  now: Date;
  timeZone: string;
  /** The current billing cycle, if known (from GET /settings). */
  cycle?: { start: string; end: string } | null;
}

export function isPreset(s: string | null | undefined): s is RangePreset {
  return RANGE_PRESETS.some((p) => p.id === s);
}

const YMD = /^(\d{4})-(\d{2})-(\d{2})$/;

export function isYmd(s: string | null | undefined): s is string {
  if (!s) return false;
  const m = YMD.exec(s);
  if (!m) return false;
  const d = new Date(Date.UTC(+m[1], +m[2] - 1, +m[3]));
  return d.getUTCFullYear() === +m[1] && d.getUTCMonth() === +m[2] - 1 && d.getUTCDate() === +m[3];
}

export function isYm(s: string | null | undefined): s is string {
  return !!s && /^\d{4}-(0[1-9]|1[0-2])$/.test(s);
}

/** The calendar day (YYYY-MM-DD) of an instant in a time zone. */
export function ymdInZone(at: Date, timeZone: string): string {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
  }).formatToParts(at);
  const get = (t: string) => parts.find((p) => p.type === t)?.value ?? '';
  return `${get('year')}-${get('month')}-${get('day')}`;
}

function ymdToUtc(ymd: string): Date {
  const m = YMD.exec(ymd);
  if (!m) throw new RangeError(`not a date: ${ymd}`);
  return new Date(Date.UTC(+m[1], +m[2] - 1, +m[3]));
}

function utcToYmd(d: Date): string {
  return d.toISOString().slice(0, 10);
}

/** Calendar arithmetic on YYYY-MM-DD (no time zone involved). */
export function addDays(ymd: string, n: number): string {
  const d = ymdToUtc(ymd);
  d.setUTCDate(d.getUTCDate() + n);
  return utcToYmd(d);
}

/** YYYY-MM plus n months. */
export function addMonths(ym: string, n: number): string {
  const [y, m] = ym.split('-').map(Number);
  const idx = y * 12 + (m - 1) + n;
  const yy = Math.floor(idx / 12);
  const mm = (idx % 12) + 1;
  return `${String(yy).padStart(4, '0')}-${String(mm).padStart(2, '0')}`;
}

/** The month (YYYY-MM) of now in a time zone. */
export function currentMonth(now: Date, timeZone: string): string {
  return ymdInZone(now, timeZone).slice(0, 7);
}

/** The last day (YYYY-MM-DD) of a month. */
export function lastDayOfMonth(ym: string): string {
  return addDays(`${addMonths(ym, 1)}-01`, -1);
}

/** Every day from `from` to `to`, both included, at most `max` days (the most recent ones). */
export function daysBetween(from: string, to: string, max = 400): string[] {
  const out: string[] = [];
  if (from > to) return out;
  let d = to;
  while (d >= from && out.length < max) {
    out.push(d);
    d = addDays(d, -1);
  }
  return out.reverse();
}

/** The n months ending with the current one, oldest first. */
export function lastMonths(now: Date, timeZone: string, n: number): string[] {
  const cur = currentMonth(now, timeZone);
  const out: string[] = [];
  for (let i = n - 1; i >= 0; i--) out.push(addMonths(cur, -i));
  return out;
}

/** Resolves a selection into the `from`/`to` query values. */
export function rangeFor(sel: RangeSelection, ctx: RangeContext): DateRange {
  const today = ymdInZone(ctx.now, ctx.timeZone);
  const back = (days: number): DateRange => ({ from: addDays(today, -(days - 1)), to: today });
  switch (sel.preset) {
    case 'today':
      return { from: today, to: today };
    case '7d':
      return back(7);
    case '30d':
      return back(30);
    case '90d':
      return back(90);
    case 'cycle': {
      const c = ctx.cycle;
      if (c && !Number.isNaN(Date.parse(c.start)) && !Number.isNaN(Date.parse(c.end))) {
        // The cycle end is the start of the next cycle: its last day is the day of the instant before.
        return {
          from: ymdInZone(new Date(c.start), ctx.timeZone),
          to: ymdInZone(new Date(Date.parse(c.end) - 1), ctx.timeZone),
        };
      }
      const month = today.slice(0, 7);
      return { from: `${month}-01`, to: lastDayOfMonth(month) };
    }
    case 'custom': {
      let from = isYmd(sel.from) ? sel.from : undefined;
      let to = isYmd(sel.to) ? sel.to : undefined;
      if (from && to && from > to) [from, to] = [to, from];
      const r: DateRange = {};
      if (from) r.from = from;
      if (to) r.to = to;
      return r;
    }
    case 'all':
      return {};
  }
}

/** Reads the range from the URL query (`range`, plus `from`/`to` for custom). */
export function rangeFromQuery(q: URLSearchParams, fallback: RangePreset = DEFAULT_PRESET): RangeSelection {
  const r = q.get('range');
  if (isPreset(r)) {
    if (r === 'custom') return { preset: r, from: q.get('from') ?? undefined, to: q.get('to') ?? undefined };
    return { preset: r };
  }
  // A bookmark with only from/to is a custom range.
  if (isYmd(q.get('from')) || isYmd(q.get('to'))) {
    return { preset: 'custom', from: q.get('from') ?? undefined, to: q.get('to') ?? undefined };
  }
  return { preset: fallback };
}

/** The URL query values of a range selection; keys with undefined are to be removed. */
export function rangeToQuery(sel: RangeSelection): { range: string; from: string | undefined; to: string | undefined } {
  if (sel.preset === 'custom') return { range: 'custom', from: sel.from || undefined, to: sel.to || undefined };
  return { range: sel.preset, from: undefined, to: undefined };
}

export function presetLabel(p: RangePreset): string {
  return RANGE_PRESETS.find((x) => x.id === p)?.label ?? p;
}
