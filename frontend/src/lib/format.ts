// Formatting helpers. Credits are handled as integer millicredits whenever they are added up,
// so that no float error ever reaches the screen (0.1 + 0.2 shows as 0.3).

import type { BucketKind } from './api';

/** Millicredits: an integer number of thousandths of a credit. */
export type Milli = number;

/** Writes a finite number as a plain decimal (no exponent) so its digits can be read exactly. */
function plainDecimal(n: number): string {
  if (!Number.isFinite(n)) throw new RangeError(`not a finite number: ${n}`);
  const s = String(n);
  if (!/e/i.test(s)) return s;
  if (Math.abs(n) < 1) return n.toFixed(6); // tiny values: only the first 4 decimals matter
  throw new RangeError(`credits out of range: ${n}`);
}

/**
 * Parses credits (a JSON number or a decimal string) into integer millicredits, exactly: the decimal
 * digits are read as written, never multiplied as a float. More than 3 decimals round half away from zero.
 */
export function toMilli(v: number | string | null | undefined): Milli {
  if (v === null || v === undefined) return 0;
  const s = typeof v === 'number' ? plainDecimal(v) : v.trim();
  if (s === '') return 0;
  const m = /^([+-])?(\d*)(?:\.(\d*))?$/.exec(s);
  if (!m || (m[2] === '' && (m[3] ?? '') === '')) throw new RangeError(`not a decimal: ${v}`);
  const neg = m[1] === '-';
  const frac = m[3] ?? '';
  let milli = Number(m[2] || '0') * 1000 + Number((frac + '000').slice(0, 3));
  if (frac.length > 3 && frac.charCodeAt(3) >= 53 /* '5' */) milli += 1;
  if (!Number.isSafeInteger(milli)) throw new RangeError(`credits out of range: ${v}`);
  return neg && milli !== 0 ? -milli : milli;
}

/** Millicredits back to a JSON credits number (the nearest double to the 3-decimal value). */
export function fromMilli(m: Milli): number {
  return m / 1000;
}

/** Sums credits exactly through millicredits; returns millicredits. */
export function sumMilli(values: Iterable<number | string | null | undefined>): Milli {
  let total = 0;
  for (const v of values) total += toMilli(v);
  return total;
}

/** Adds credit amounts exactly and returns credits. */
export function addCredits(...values: (number | string | null | undefined)[]): number {
  return fromMilli(sumMilli(values));
}

/** Parses what a person typed as a credit amount. Returns an error message or the credits number. */
export function parseCreditsInput(
  s: string,
  opts: { allowZero?: boolean; allowNegative?: boolean } = {},
): { ok: true; credits: number } | { ok: false; error: string } {
  const t = s.trim().replace(/[,_\s]/g, '');
  if (t === '') return { ok: false, error: 'Enter an amount of credits' };
  if (!/^[+-]?(\d+(\.\d*)?|\.\d+)$/.test(t)) return { ok: false, error: 'Use a number such as 12.5' };
  const frac = t.split('.')[1] ?? '';
  if (frac.length > 3) return { ok: false, error: 'Credits have at most 3 decimals' };
  let m: Milli;
  try {
    m = toMilli(t);
  } catch {
    return { ok: false, error: 'That amount is too large' };
  }
  if (m < 0 && !opts.allowNegative) return { ok: false, error: 'The amount cannot be negative' };
  if (m === 0 && !opts.allowZero) return { ok: false, error: 'The amount must be more than 0' };
  return { ok: true, credits: fromMilli(m) };
}

const separatorCache = new Map<string, { group: Intl.NumberFormat; decimal: string }>();
function separators(locale?: string) {
  const key = locale ?? '';
  let s = separatorCache.get(key);
  if (!s) {
    const group = new Intl.NumberFormat(locale, { maximumFractionDigits: 0, useGrouping: true });
    const decimal =
      new Intl.NumberFormat(locale).formatToParts(1.5).find((p) => p.type === 'decimal')?.value ?? '.';
    s = { group, decimal };
    separatorCache.set(key, s);
  }
  return s;
}

export interface CreditFormat {
  /** Show "+" before positive amounts. */
  sign?: boolean;
  /** Always show at least this many decimals (0–3). */
  minDecimals?: number;
  locale?: string;
}

/** Formats millicredits: thousands separators, up to 3 decimals, trailing zeros dropped. */
export function formatMilli(m: Milli, opts: CreditFormat = {}): string {
  if (!Number.isSafeInteger(m)) throw new RangeError(`not an integer number of millicredits: ${m}`);
  const { group, decimal } = separators(opts.locale);
  const neg = m < 0;
  const a = Math.abs(m);
  const whole = Math.floor(a / 1000);
  let frac = String(a % 1000).padStart(3, '0').replace(/0+$/, '');
  const min = Math.max(0, Math.min(3, opts.minDecimals ?? 0));
  while (frac.length < min) frac += '0';
  const sign = neg ? '-' : opts.sign && m > 0 ? '+' : '';
  return sign + group.format(whole) + (frac ? decimal + frac : '');
}

/** Formats credits as the API sends them. */
export function formatCredits(v: number | string | null | undefined, opts: CreditFormat = {}): string {
  return formatMilli(toMilli(v), opts);
}

/** Integers (requests, tokens) with thousands separators. */
export function formatInt(n: number | null | undefined, locale?: string): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '—';
  return new Intl.NumberFormat(locale, { maximumFractionDigits: 0 }).format(n);
}

/** A USD cost, up to 6 decimals. */
export function formatUsd(n: number | null | undefined, locale?: string): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '—';
  return new Intl.NumberFormat(locale, {
    style: 'currency',
    currency: 'USD',
    minimumFractionDigits: 2,
    maximumFractionDigits: 6,
  }).format(n);
}

/** Milliseconds as "850 ms" or "2.4 s". */
export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}

// ---- dates (shown in the viewer's time zone unless one is given: pages pass the instance's) ----

export interface DateFormat {
  timeZone?: string;
  locale?: string;
}

function toDate(v: string | number | Date): Date {
  return v instanceof Date ? v : new Date(v);
}

export function formatDateTime(v: string | number | Date | null | undefined, o: DateFormat = {}): string {
  if (v === null || v === undefined || v === '') return '—';
  const d = toDate(v);
  if (Number.isNaN(d.getTime())) return String(v);
  return new Intl.DateTimeFormat(o.locale, { dateStyle: 'medium', timeStyle: 'short', timeZone: o.timeZone }).format(d);
}

export function formatDateTimeLong(v: string | number | Date | null | undefined, o: DateFormat = {}): string {
  if (v === null || v === undefined || v === '') return '—';
  const d = toDate(v);
  if (Number.isNaN(d.getTime())) return String(v);
  return new Intl.DateTimeFormat(o.locale, {
    dateStyle: 'medium',
    timeStyle: 'medium',
    timeZone: o.timeZone,
  }).format(d);
}

export function formatDate(v: string | number | Date | null | undefined, o: DateFormat = {}): string {
  if (v === null || v === undefined || v === '') return '—';
  const d = toDate(v);
  if (Number.isNaN(d.getTime())) return String(v);
  return new Intl.DateTimeFormat(o.locale, { dateStyle: 'medium', timeZone: o.timeZone }).format(d);
}

/**
 * A period [start, end) as "Nov 1, 2026 – Nov 30, 2026": the end is exclusive, so its last day is
 * shown. Cycle boundaries are midnights in the instance's time zone; pass it, or a viewer elsewhere
 * sees the day before ("Oct 31 – Nov 30" for a Berlin instance seen from UTC).
 */
export function formatPeriod(
  start: string | number | Date | null | undefined,
  end: string | number | Date | null | undefined,
  o: DateFormat = {},
): string {
  const last = end === null || end === undefined || end === '' ? end : new Date(toDate(end).getTime() - 1);
  return `${formatDate(start, o)} – ${formatDate(last, o)}`;
}

/**
 * Days and times on the pages are the instance's (the zone "Today" and the cycles are counted in).
 * When the viewer's own zone differs, a page says so once; null when they are the same.
 */
export function timeZoneNote(instanceZone: string, viewerZone: string, now = new Date()): string | null {
  const offset = (tz: string) => new Intl.DateTimeFormat('en-US', { timeZone: tz, timeZoneName: 'longOffset' }).format(now).split(' ').pop();
  if (instanceZone === viewerZone || offset(instanceZone) === offset(viewerZone)) return null;
  return `Times are in ${instanceZone.replace(/_/g, ' ')} time, the time zone this jar counts days in.`;
}

/** A YYYY-MM-DD day key as a short label ("Nov 3"); the key is a calendar day, so UTC is used. */
export function formatDayKey(ymd: string, locale?: string): string {
  const d = new Date(`${ymd}T00:00:00Z`);
  if (Number.isNaN(d.getTime())) return ymd;
  return new Intl.DateTimeFormat(locale, { month: 'short', day: 'numeric', timeZone: 'UTC' }).format(d);
}

/** A YYYY-MM month key as a label ("Nov 2026"). */
export function formatMonthKey(ym: string, locale?: string): string {
  const d = new Date(`${ym}-01T00:00:00Z`);
  if (Number.isNaN(d.getTime())) return ym;
  return new Intl.DateTimeFormat(locale, { month: 'short', year: 'numeric', timeZone: 'UTC' }).format(d);
}

/** Whole days from now until the instant, rounded up (0 = later today or already past today). */
export function daysUntil(v: string | Date, now: Date): number {
  const ms = toDate(v).getTime() - now.getTime();
  return Math.ceil(ms / 86_400_000);
}

/** "expires in 3 days", "expires within a day", "expired". */
export function expiryText(v: string | Date, now: Date): string {
  const ms = toDate(v).getTime() - now.getTime();
  if (ms <= 0) return 'expired';
  const d = daysUntil(v, now);
  if (d <= 1) return 'expires within a day';
  return `expires in ${d} days`;
}

/** True when an expiry is at most `days` days away (and not already past). */
export function expiresSoon(v: string | Date | null | undefined, now: Date, days = 7): boolean {
  if (!v) return false;
  const ms = toDate(v).getTime() - now.getTime();
  return ms > 0 && ms <= days * 86_400_000;
}

// ---- labels ----

export const KIND_LABELS: Record<BucketKind | 'debt', string> = {
  subscription: 'Monthly',
  addon: 'Recharge',
  event: 'Limited-time',
  debt: 'Debt',
};

export function kindLabel(kind: string | null | undefined): string {
  if (!kind) return '—';
  return (KIND_LABELS as Record<string, string>)[kind] ?? kind;
}

export const ACTION_LABELS: Record<string, string> = {
  usage: 'Usage',
  grant: 'Grant',
  topup: 'Top-up',
  refresh: 'Monthly refresh',
  expire: 'Expired',
  refund: 'Refund',
  debt: 'Debt',
};

export function actionLabel(a: string): string {
  return ACTION_LABELS[a] ?? a;
}

/** Two letters for an avatar-like badge. */
export function initials(name: string): string {
  const parts = name.trim().split(/\s+/).filter(Boolean);
  if (parts.length === 0) return '?';
  if (parts.length === 1) return parts[0].slice(0, 2).toUpperCase();
  return (parts[0][0] + parts[parts.length - 1][0]).toUpperCase();
}

/** A usage type as people read it: "token_usage" → "Token usage". Unknown words stay as they are. */
export function usageTypeLabel(t: string | null | undefined): string {
  if (!t) return '—';
  const words = t.replace(/[_-]+/g, ' ').trim();
  if (!words) return t;
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** A date and time for long lists: the year only when it is not the current one ("Nov 3, 9:01 PM"). */
export function formatDateTimeShort(v: string | number | Date | null | undefined, o: DateFormat & { now?: Date } = {}): string {
  if (v === null || v === undefined || v === '') return '—';
  const d = toDate(v);
  if (Number.isNaN(d.getTime())) return String(v);
  const year = (x: Date) => new Intl.DateTimeFormat('en-US', { year: 'numeric', timeZone: o.timeZone }).format(x);
  const sameYear = year(d) === year(o.now ?? new Date());
  return new Intl.DateTimeFormat(o.locale, {
    month: 'short',
    day: 'numeric',
    year: sameYear ? undefined : 'numeric',
    hour: 'numeric',
    minute: '2-digit',
    timeZone: o.timeZone,
  }).format(d);
}

/** What an `estimated` gateway charge means, for its badge. */
export const ESTIMATED_HELP =
  'The provider never said what this request used (the app left early or the reply was cut off), so it was charged an estimate from the text sent and received.';

/** A gateway price in USD per million tokens (or per image). */
export function formatPrice(usd: number | null | undefined, unit = 'per 1M tokens'): string {
  if (usd === null || usd === undefined || !Number.isFinite(usd)) return '—';
  return `$${usd} ${unit}`;
}
