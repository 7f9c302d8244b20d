import { describe, expect, it } from 'vitest';
import {
  addCredits,
  usageTypeLabel,
  formatDateTimeShort,
  formatPeriod,
  daysUntil,
  expiresSoon,
  expiryText,
  formatCredits,
  formatMilli,
  fromMilli,
  parseCreditsInput,
  sumMilli,
  toMilli,
} from './format';

describe('toMilli', () => {
  it('reads decimals exactly', () => {
    expect(toMilli(0.1)).toBe(100);
    expect(toMilli(12.345)).toBe(12345);
    expect(toMilli(1.005)).toBe(1005); // 1.005 * 1000 is 1004.999… as a float
    expect(toMilli('4987.7')).toBe(4987700);
    expect(toMilli(-2.3)).toBe(-2300);
    expect(toMilli(0)).toBe(0);
    expect(toMilli(null)).toBe(0);
    expect(toMilli(1e-7)).toBe(0);
    expect(toMilli(123456789012)).toBe(123456789012000);
  });
  it('rounds a 4th decimal half away from zero', () => {
    expect(toMilli('0.0005')).toBe(1);
    expect(toMilli('0.0004')).toBe(0);
    expect(toMilli('-1.2345')).toBe(-1235);
  });
  it('rejects what is not a decimal', () => {
    expect(() => toMilli('abc')).toThrow();
    expect(() => toMilli(Number.NaN)).toThrow();
    expect(() => toMilli('.')).toThrow();
  });
});

describe('sums through millicredits', () => {
  it('0.1 + 0.2 is exactly 0.3', () => {
    expect(0.1 + 0.2).not.toBe(0.3);
    expect(addCredits(0.1, 0.2)).toBe(0.3);
    expect(formatMilli(sumMilli([0.1, 0.2]))).toBe('0.3');
  });
  it('many small amounts add up exactly', () => {
    const values = Array.from({ length: 1000 }, () => 0.001);
    expect(sumMilli(values)).toBe(1000);
    expect(fromMilli(sumMilli([12.3, 0.001, -0.301]))).toBe(12);
  });
});

describe('formatCredits', () => {
  it('uses thousands separators and up to 3 decimals', () => {
    expect(formatCredits(1234567.891, { locale: 'en-US' })).toBe('1,234,567.891');
    expect(formatCredits(4987.7, { locale: 'en-US' })).toBe('4,987.7');
    expect(formatCredits(5000, { locale: 'en-US' })).toBe('5,000');
    expect(formatCredits(0.05, { locale: 'en-US' })).toBe('0.05');
    expect(formatCredits(1234.5, { locale: 'de-DE' })).toBe('1.234,5');
  });
  it('shows negatives and explicit signs', () => {
    expect(formatCredits(-1234.5, { locale: 'en-US' })).toBe('-1,234.5');
    expect(formatCredits(-0.001, { locale: 'en-US' })).toBe('-0.001');
    expect(formatCredits(2.3, { locale: 'en-US', sign: true })).toBe('+2.3');
    expect(formatCredits(0, { locale: 'en-US', sign: true })).toBe('0');
  });
  it('pads to a minimum of decimals when asked', () => {
    expect(formatCredits(3, { locale: 'en-US', minDecimals: 2 })).toBe('3.00');
    expect(formatCredits(3.1234, { locale: 'en-US', minDecimals: 3 })).toBe('3.123');
  });
});

describe('parseCreditsInput', () => {
  it('accepts up to 3 decimals and separators', () => {
    expect(parseCreditsInput('1,000.5')).toEqual({ ok: true, credits: 1000.5 });
    expect(parseCreditsInput(' 12.345 ')).toEqual({ ok: true, credits: 12.345 });
  });
  it('rejects bad input with a message', () => {
    expect(parseCreditsInput('1.2345').ok).toBe(false);
    expect(parseCreditsInput('').ok).toBe(false);
    expect(parseCreditsInput('ten').ok).toBe(false);
    expect(parseCreditsInput('0').ok).toBe(false);
    expect(parseCreditsInput('0', { allowZero: true }).ok).toBe(true);
    expect(parseCreditsInput('-5').ok).toBe(false);
  });
});

describe('expiry', () => {
  const now = new Date('2026-11-22T12:00:00Z');
  it('counts days until an expiry', () => {
    expect(daysUntil('2026-11-25T12:00:00Z', now)).toBe(3);
    expect(daysUntil('2026-11-25T13:00:00Z', now)).toBe(4);
    expect(expiryText('2026-11-25T12:00:00Z', now)).toBe('expires in 3 days');
    expect(expiryText('2026-11-22T18:00:00Z', now)).toBe('expires within a day');
    expect(expiryText('2026-11-20T00:00:00Z', now)).toBe('expired');
  });
  it('warns at 7 days or fewer', () => {
    expect(expiresSoon('2026-11-29T12:00:00Z', now)).toBe(true);
    expect(expiresSoon('2026-11-29T12:00:01Z', now)).toBe(false);
    expect(expiresSoon(null, now)).toBe(false);
    expect(expiresSoon('2026-11-01T00:00:00Z', now)).toBe(false);
  });
});

describe('usageTypeLabel', () => {
  it('turns API names into words', () => {
    expect(usageTypeLabel('token_usage')).toBe('Token usage');
    expect(usageTypeLabel('agent-step')).toBe('Agent step');
    expect(usageTypeLabel('image')).toBe('Image');
    expect(usageTypeLabel('')).toBe('—');
    expect(usageTypeLabel('__')).toBe('__');
  });
});

describe('formatDateTimeShort', () => {
  const now = new Date('2026-11-22T12:00:00Z');
  it('leaves out the current year', () => {
    expect(formatDateTimeShort('2026-11-03T21:01:00Z', { now, timeZone: 'UTC', locale: 'en-US' })).toBe('Nov 3, 9:01 PM');
    expect(formatDateTimeShort('2025-12-31T23:59:00Z', { now, timeZone: 'UTC', locale: 'en-US' })).toBe('Dec 31, 2025, 11:59 PM');
    expect(formatDateTimeShort(null)).toBe('—');
  });
});

describe('formatPeriod', () => {
  // November 2026 in Europe/Berlin (UTC+1): it starts at 23:00 UTC on Oct 31.
  const start = '2026-10-31T23:00:00Z';
  const end = '2026-11-30T23:00:00Z';

  it('shows the cycle in the instance time zone, whatever the viewer\'s', () => {
    expect(formatPeriod(start, end, { timeZone: 'Europe/Berlin', locale: 'en-US' })).toBe('Nov 1, 2026 – Nov 30, 2026');
  });

  it('would show the day before in UTC, which is why the zone is passed', () => {
    expect(formatPeriod(start, end, { timeZone: 'UTC', locale: 'en-US' })).toBe('Oct 31, 2026 – Nov 30, 2026');
  });

  it('treats the end as exclusive across a DST change', () => {
    // March 2026 in Berlin: starts at UTC+1, ends at UTC+2.
    expect(formatPeriod('2026-02-28T23:00:00Z', '2026-03-31T22:00:00Z', { timeZone: 'Europe/Berlin', locale: 'en-US' })).toBe(
      'Mar 1, 2026 – Mar 31, 2026',
    );
  });

  it('keeps a missing end as a dash', () => {
    expect(formatPeriod(start, null, { timeZone: 'Europe/Berlin', locale: 'en-US' })).toBe('Nov 1, 2026 – —');
  });
});
