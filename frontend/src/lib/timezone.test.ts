import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { matchesFilters } from './filters';
import { formatDate, formatDateTime, formatDateTimeLong, formatDateTimeShort, formatPeriod, timeZoneNote } from './format';
import { rangeFor, ymdInZone } from './range';
import type { UsageEvent } from './api';

// The viewer is in Los Angeles; the jar counts days in Auckland. At 12:30 UTC on Dec 6 it is
// already 01:30 on Dec 7 in Auckland, and still 04:30 on Dec 6 in Los Angeles.
const INSTANCE = 'Pacific/Auckland';
const at = '2026-12-06T12:30:00Z';
const now = new Date('2026-12-06T13:00:00Z');
let saved: string | undefined;
// The test runs in Node, which reads the default zone from TZ; the app's types know no Node.
const env = (globalThis as unknown as { process: { env: Record<string, string | undefined> } }).process.env;

beforeAll(() => {
  saved = env.TZ;
  env.TZ = 'America/Los_Angeles';
});
afterAll(() => {
  if (saved === undefined) delete env.TZ;
  else env.TZ = saved;
});

describe('one time zone, the instance’s', () => {
  it('the viewer really is elsewhere', () => {
    expect(Intl.DateTimeFormat().resolvedOptions().timeZone).toBe('America/Los_Angeles');
    // Without the instance zone, the row would read Dec 6: the bug ("Today Dec 6" listed a "Dec 7" row).
    expect(formatDateTimeShort(at, { now, locale: 'en-US' })).toBe('Dec 6, 4:30 AM');
  });
  it('"Today" and a row of today agree on the day', () => {
    const today = rangeFor({ preset: 'today' }, { now, timeZone: INSTANCE });
    expect(today).toEqual({ from: '2026-12-07', to: '2026-12-07' });
    expect(formatDateTimeShort(at, { now, timeZone: INSTANCE, locale: 'en-US' })).toBe('Dec 7, 1:30 AM');
    expect(ymdInZone(new Date(at), INSTANCE)).toBe(today.from);
    const ev = { at, model: '', provider: '', usageType: '', project: '', modality: '' } as unknown as UsageEvent;
    expect(matchesFilters(ev, today, INSTANCE)).toBe(true);
    expect(matchesFilters(ev, { from: '2026-12-06', to: '2026-12-06' }, INSTANCE)).toBe(false);
  });
  it('a cycle is shown with its own first and last day', () => {
    // December 2026 in Auckland (UTC+13) starts at 11:00 UTC on Nov 30.
    expect(formatPeriod('2026-11-30T11:00:00Z', '2026-12-31T11:00:00Z', { timeZone: INSTANCE, locale: 'en-US' })).toBe(
      'Dec 1, 2026 – Dec 31, 2026',
    );
  });
  it('the ledger, a request’s details and the granted pages give the instance’s day too', () => {
    // LedgerRow (title), UsageDetail (Time), Invites and EditAllowance pass the instance's zone.
    expect(formatDateTime(at, { timeZone: INSTANCE, locale: 'en-US' })).toBe('Dec 7, 2026, 1:30 AM');
    expect(formatDateTimeLong(at, { timeZone: INSTANCE, locale: 'en-US' })).toBe('Dec 7, 2026, 1:30:00 AM');
    expect(formatDate(at, { timeZone: INSTANCE, locale: 'en-US' })).toBe('Dec 7, 2026');
    expect(formatDate(at, { locale: 'en-US' })).toBe('Dec 6, 2026');
  });
  it('says which zone the times are in only when the viewer’s differs', () => {
    expect(timeZoneNote(INSTANCE, 'America/Los_Angeles', now)).toBe(
      'Times are in Pacific/Auckland time, the time zone this jar counts days in.',
    );
    expect(timeZoneNote(INSTANCE, INSTANCE, now)).toBeNull();
    expect(timeZoneNote('Etc/UTC', 'UTC', now)).toBeNull();
  });
});
