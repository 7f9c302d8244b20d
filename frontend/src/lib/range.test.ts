import { describe, expect, it } from 'vitest';
import { addDays, addMonths, daysBetween, lastMonths, rangeFor, rangeFromQuery, rangeToQuery, ymdInZone } from './range';

// 2026-11-01 02:30 in Berlin is still 2026-10-31 in UTC and in New York.
const now = new Date('2026-11-01T01:30:00Z');

describe('ymdInZone', () => {
  it('takes the calendar day in the given zone', () => {
    expect(ymdInZone(now, 'Europe/Berlin')).toBe('2026-11-01');
    expect(ymdInZone(now, 'UTC')).toBe('2026-11-01');
    expect(ymdInZone(now, 'America/New_York')).toBe('2026-10-31');
  });
});

describe('rangeFor', () => {
  const ctx = { now, timeZone: 'Europe/Berlin' };
  it('today', () => {
    expect(rangeFor({ preset: 'today' }, ctx)).toEqual({ from: '2026-11-01', to: '2026-11-01' });
    expect(rangeFor({ preset: 'today' }, { now, timeZone: 'America/New_York' })).toEqual({ from: '2026-10-31', to: '2026-10-31' });
  });
  it('7, 30 and 90 days include today', () => {
    expect(rangeFor({ preset: '7d' }, ctx)).toEqual({ from: '2026-10-26', to: '2026-11-01' });
    expect(rangeFor({ preset: '30d' }, ctx)).toEqual({ from: '2026-10-03', to: '2026-11-01' });
    expect(rangeFor({ preset: '90d' }, ctx)).toEqual({ from: '2026-08-04', to: '2026-11-01' });
  });
  it('current cycle from the settings cycle, end exclusive', () => {
    const cycle = { start: '2026-10-31T23:00:00Z', end: '2026-11-30T23:00:00Z' };
    expect(rangeFor({ preset: 'cycle' }, { ...ctx, cycle })).toEqual({ from: '2026-11-01', to: '2026-11-30' });
  });
  it('current cycle without settings is the calendar month', () => {
    expect(rangeFor({ preset: 'cycle' }, ctx)).toEqual({ from: '2026-11-01', to: '2026-11-30' });
    expect(rangeFor({ preset: 'cycle' }, { now: new Date('2028-02-10T00:00:00Z'), timeZone: 'UTC' })).toEqual({
      from: '2028-02-01',
      to: '2028-02-29',
    });
  });
  it('custom keeps valid dates in order and drops bad ones', () => {
    expect(rangeFor({ preset: 'custom', from: '2026-10-05', to: '2026-10-01' }, ctx)).toEqual({ from: '2026-10-01', to: '2026-10-05' });
    expect(rangeFor({ preset: 'custom', from: '2026-02-30', to: '2026-10-01' }, ctx)).toEqual({ to: '2026-10-01' });
  });
  it('all time has no bounds', () => {
    expect(rangeFor({ preset: 'all' }, ctx)).toEqual({});
  });
});

describe('query round trip', () => {
  it('reads presets, custom ranges and bare from/to', () => {
    expect(rangeFromQuery(new URLSearchParams('range=7d&from=2020-01-01'))).toEqual({ preset: '7d' });
    expect(rangeFromQuery(new URLSearchParams('range=custom&from=2026-01-01&to=2026-01-31'))).toEqual({
      preset: 'custom',
      from: '2026-01-01',
      to: '2026-01-31',
    });
    expect(rangeFromQuery(new URLSearchParams('from=2026-01-01')).preset).toBe('custom');
    expect(rangeFromQuery(new URLSearchParams('range=bogus'), 'today')).toEqual({ preset: 'today' });
    expect(rangeToQuery({ preset: '30d' })).toEqual({ range: '30d', from: undefined, to: undefined });
  });
});

describe('calendar helpers', () => {
  it('adds days and months across boundaries', () => {
    expect(addDays('2026-12-31', 1)).toBe('2027-01-01');
    expect(addDays('2028-03-01', -1)).toBe('2028-02-29');
    expect(addMonths('2026-01', -1)).toBe('2025-12');
    expect(addMonths('2026-11', 14)).toBe('2028-01');
  });
  it('lists days and months', () => {
    expect(daysBetween('2026-10-30', '2026-11-02')).toEqual(['2026-10-30', '2026-10-31', '2026-11-01', '2026-11-02']);
    expect(daysBetween('2026-11-02', '2026-11-01')).toEqual([]);
    expect(daysBetween('2000-01-01', '2026-11-02', 3)).toEqual(['2026-10-31', '2026-11-01', '2026-11-02']);
    const months = lastMonths(now, 'Europe/Berlin', 12);
    expect(months).toHaveLength(12);
    expect(months[0]).toBe('2025-12');
    expect(months[11]).toBe('2026-11');
  });
});
