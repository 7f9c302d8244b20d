import { describe, expect, it } from 'vitest';
import type { Delegation } from './api';
import {
  allowanceName,
  allowanceText,
  bulkConfirmText,
  bulkDoneText,
  paidByText,
  sourceNoteFor,
  splitText,
  changeWaitsForNextPeriod,
  endsAtForDay,
  filterDelegations,
  grantedPart,
  isEditable,
  notPaidInFullText,
  lastDay,
  lastDayText,
  patchFor,
  pendingText,
  resetText,
  restrictionsText,
  startOfDay,
  statusInfo,
  usedPercent,
} from './delegations';

function del(p: Partial<Delegation> = {}): Delegation {
  return {
    id: 4, granterId: 1, granterName: 'Teacher', granteeId: 7, granteeName: 'Ada', granteeEmail: 'ada@example.org',
    credits: 500, period: 'day', startsAt: '2026-11-01T00:00:00Z', endsAt: null, note: 'Maths class', status: 'active',
    apps: [], models: [], usedThisPeriod: 120.5, remainingThisPeriod: 379.5, periodEnds: '2026-11-11T00:00:00Z',
    pending: null, createdAt: '2026-11-01T00:00:00Z', ...p,
  };
}

describe('labels', () => {
  it('says the allowance in words', () => {
    expect(allowanceText(500, 'day')).toBe('500 a day');
    expect(allowanceText(1234.5, 'once')).toBe('1,234.5 in total');
  });
  it('knows every status and which can still change', () => {
    expect(statusInfo('paused').tone).toBe('warn');
    expect(statusInfo('scheduled').label).toBe('Starts later');
    expect(statusInfo('weird').label).toBe('weird');
    expect(isEditable(del({ status: 'paused' }))).toBe(true);
    expect(isEditable(del({ status: 'revoked' }))).toBe(false);
    expect(isEditable(del({ status: 'ended' }))).toBe(false);
  });
  it('lists restrictions', () => {
    expect(restrictionsText(del())).toBe('Any app or model');
    expect(
      restrictionsText(del({ apps: [{ id: 1, slug: 'hh', name: 'Homework Helper' }], models: ['gpt-4o', 'claude'] })),
    ).toBe('App: Homework Helper · Models: gpt-4o, claude');
  });
  it('computes the share used, exactly', () => {
    expect(usedPercent(del())).toBeCloseTo(24.1, 5);
    expect(usedPercent(del({ usedThisPeriod: 0, remainingThisPeriod: 0 }))).toBe(0);
    expect(usedPercent(del({ usedThisPeriod: 500, remainingThisPeriod: 0 }))).toBe(100);
  });
  it('describes a pending change', () => {
    expect(pendingText(del({ pending: { credits: 300, period: 'week', from: '2026-11-16T00:00:00Z' } }), 'UTC')).toBe(
      'From Nov 16, 2026: 300 a week',
    );
    expect(pendingText(del())).toBe('');
  });
});

describe('resetText', () => {
  const now = new Date('2026-11-10T15:00:00Z');
  it('says when a daily allowance refills, in the instance zone', () => {
    expect(resetText(del(), now, 'UTC')).toBe('Refills at midnight');
    expect(resetText(del({ periodEnds: '2026-11-10T23:00:00Z' }), now, 'Europe/Berlin')).toBe('Refills at midnight');
    expect(resetText(del({ periodEnds: '2026-11-10T23:00:00Z' }), now, 'UTC')).toBe('Refills today at 11:00 PM');
    expect(resetText(del({ periodEnds: '2026-11-11T09:30:00Z' }), now, 'UTC')).toBe('Refills tomorrow at 9:30 AM');
    // Weeks start on Monday: the 16th is a Monday, so the allowance refills after Sunday.
    expect(resetText(del({ period: 'week', periodEnds: '2026-11-16T00:00:00Z' }), now, 'UTC')).toBe('Refills after Sunday');
    expect(resetText(del({ period: 'month', periodEnds: '2026-12-01T00:00:00Z' }), now, 'UTC')).toBe('Refills Dec 1, 2026');
  });
  it('says a one-off total does not refill', () => {
    expect(resetText(del({ period: 'once', periodEnds: null }), now)).toMatch(/does not refill/);
  });
});

describe('end dates', () => {
  it('finds midnight in a time zone, across daylight saving', () => {
    expect(startOfDay('2026-11-10', 'UTC').toISOString()).toBe('2026-11-10T00:00:00.000Z');
    expect(startOfDay('2026-07-01', 'Europe/Berlin').toISOString()).toBe('2026-06-30T22:00:00.000Z');
    expect(startOfDay('2026-03-29', 'Europe/Berlin').toISOString()).toBe('2026-03-28T23:00:00.000Z');
    expect(startOfDay('2026-11-10', 'America/New_York').toISOString()).toBe('2026-11-10T05:00:00.000Z');
  });
  it('ends an allowance at the midnight after its last day, and reads it back', () => {
    const end = endsAtForDay('2026-12-20', 'Europe/Berlin');
    expect(end).toBe('2026-12-20T23:00:00.000Z');
    expect(lastDay(end, 'Europe/Berlin')).toBe('2026-12-20');
    expect(lastDay(null, 'UTC')).toBe('');
    expect(lastDayText(end, 'Europe/Berlin')).toBe('Dec 20, 2026');
    expect(lastDayText('', 'UTC')).toBe('');
  });
});

describe('patchFor', () => {
  const base = { credits: 500, period: 'day' as const, endDay: '', note: 'Maths class', apps: [], models: [] };
  it('is null when nothing changed', () => {
    expect(patchFor(del(), base, 'UTC')).toBeNull();
  });
  it('sends only what changed, and says when it waits for the next period', () => {
    const p = patchFor(del(), { ...base, credits: 300, note: ' Maths ', models: ['gpt-4o'] }, 'UTC');
    expect(p).toEqual({ credits: 300, note: 'Maths', models: ['gpt-4o'] });
    expect(changeWaitsForNextPeriod(del(), p)).toBe(true);
    expect(changeWaitsForNextPeriod(del({ period: 'once' }), p)).toBe(false);
    expect(changeWaitsForNextPeriod(del(), { note: 'x' })).toBe(false);
  });
  it('sets and removes the end date', () => {
    expect(patchFor(del(), { ...base, endDay: '2026-12-20' }, 'UTC')).toEqual({ endsAt: '2026-12-21T00:00:00.000Z' });
    expect(patchFor(del({ endsAt: '2026-12-21T00:00:00Z' }), base, 'UTC')).toEqual({ endsAt: '' });
    expect(patchFor(del({ endsAt: '2026-12-21T00:00:00Z' }), { ...base, endDay: '2026-12-20' }, 'UTC')).toBeNull();
  });
  it('compares apps by id in any order', () => {
    const d = del({ apps: [{ id: 2, slug: 'b', name: 'B' }, { id: 1, slug: 'a', name: 'A' }] });
    expect(patchFor(d, { ...base, apps: [1, 2] }, 'UTC')).toBeNull();
    expect(patchFor(d, { ...base, apps: [1] }, 'UTC')).toEqual({ apps: [1] });
  });
});

describe('filterDelegations', () => {
  const list = [del({ id: 1 }), del({ id: 2, granteeName: 'Alan', granteeEmail: '', note: 'Art', status: 'revoked' }), del({ id: 3, granteeName: 'Grace', granteeEmail: 'grace@example.org', status: 'paused' })];
  it('finds by name, email or note, and by status', () => {
    expect(filterDelegations(list, 'art', '').map((d) => d.id)).toEqual([2]);
    expect(filterDelegations(list, '', 'current').map((d) => d.id)).toEqual([1, 3]);
    expect(filterDelegations(list, '', 'paused').map((d) => d.id)).toEqual([3]);
    expect(filterDelegations(list, 'ada@', '').map((d) => d.id)).toEqual([1]);
  });
});

describe('who paid a split charge', () => {
  const name = (s: string) => (s === '7' ? 'Homework allowance' : `Allowance ${s}`);
  it('names the allowance part and the own part, debt included', () => {
    const parts = [
      { source: '7', credits: 20, kind: 'addon' },
      { source: 'personal', credits: 50, kind: 'subscription' },
    ];
    expect(paidByText(parts, 10, name)).toBe('Homework allowance paid 20, your own credits 60');
    expect(paidByText(parts, 0, name, 'their own credits')).toBe('Homework allowance paid 20, their own credits 50');
  });
  it('puts allowances first and says nothing when one source paid it all', () => {
    expect(paidByText([{ source: 'personal', credits: 5 }, { source: '7', credits: 3 }, { source: '9', credits: 2 }], 0, name)).toBe(
      'Homework allowance paid 3, Allowance 9 paid 2, your own credits 5',
    );
    expect(paidByText([{ source: '7', credits: 20 }, { source: '7', credits: 5 }], 0, name)).toBe('');
  });
  it('reads a log row', () => {
    expect(splitText({ credits: 80, delegationCredits: 20 }, 'Homework allowance')).toBe('Homework allowance paid 20 of 80');
    expect(splitText({ credits: 80, delegationCredits: null }, 'Homework allowance')).toBe('');
    expect(allowanceName({ note: 'Homework', granterName: 'Ms Lee' })).toBe('Homework allowance');
    expect(allowanceName({ note: '', granterName: 'Mum' })).toBe("Mum's allowance");
  });
  it('says what a bulk action will do and did', () => {
    expect(bulkConfirmText('pause', '24 allowances')).toMatch(/^Pause 24 allowances\?/);
    expect(bulkDoneText('revoke', 1)).toBe('Revoked 1 allowance.');
    expect(bulkDoneText('pause', 24)).toBe('Paused 24 allowances.');
  });
});

describe('a log row says what paid it', () => {
  const received = [{ id: 7, note: 'Homework', granterName: 'Ms Lee' }];
  it('names a split charge by its allowance and part', () => {
    expect(sourceNoteFor({ credits: 80, delegationCredits: 20, delegationId: 7, sourceNote: 'delegation 7 (Ms Lee) paid 20: …' }, received)).toEqual({
      badge: 'split',
      text: 'Homework allowance paid 20 of 80',
    });
    expect(sourceNoteFor({ credits: 80, delegationCredits: 20, delegationId: 9 }, received, [{ id: 9, note: '' }])?.text).toBe('Your allowance paid 20 of 80');
  });
  it('gives the reason when the allowance paid nothing, and nothing otherwise', () => {
    expect(sourceNoteFor({ credits: 5, sourceNote: 'delegation 7: paused' }, received)).toEqual({ badge: 'allowance did not pay', text: 'delegation 7: paused' });
    expect(sourceNoteFor({ credits: 5, delegationId: 7 }, received)).toBeNull();
  });
});

describe('the usage log says what an allowance did not pay', () => {
  const received = [{ id: 7, note: 'Homework', granterName: 'Mum' }];
  const split = { credits: 80, delegationCredits: 20, delegationId: 7, sourceNote: 'delegation 7 (Mum) paid 20: allowance for this period is spent; the rest went to the next source' };
  const own = { credits: 5, delegationId: null, sourceNote: 'delegation 7 (Mum): paused; charged to the next source' };
  const paidInFull = { credits: 3, delegationId: 7 };
  it('tells one split charge by its parts, both adding up to the request', () => {
    expect(notPaidInFullText([split, paidInFull], received)).toBe(
      '1 of these requests was split: Homework allowance paid 20 of 80, your own credits 60.',
    );
  });
  it('counts split and own-paid requests apart, in the right plural', () => {
    expect(notPaidInFullText([split, { ...split, credits: 100.5 }, own], received)).toBe(
      '2 of these requests were split: an allowance paid what it had left this period, and your own credits the rest. ' +
        '1 request was paid by your own credits because an allowance could not pay (spent for this period, paused, or not for that app or model).',
    );
    expect(notPaidInFullText([own, own], received)).toMatch(/^2 requests were paid by your own credits because/);
  });
  it('says when another allowance paid the whole request, and nothing when every allowance paid in full', () => {
    expect(notPaidInFullText([{ credits: 4, delegationId: 9, sourceNote: 'delegation 7 (Mum): paused; charged to the next source' }], received)).toBe(
      '1 request was paid by another of your allowances because the first could not pay.',
    );
    expect(notPaidInFullText([paidInFull], received)).toBe('');
  });
});

describe("a granter's log shows their allowance's part", () => {
  it('shows the part of a split charge with the whole request beside it', () => {
    expect(grantedPart({ credits: 80, delegationCredits: 20 })).toEqual({ part: 20, of: 80 });
  });
  it('shows the whole request when the allowance paid it all', () => {
    expect(grantedPart({ credits: 80, delegationCredits: null })).toEqual({ part: 80, of: null });
    expect(grantedPart({ credits: '1.5' })).toEqual({ part: '1.5', of: null });
  });
});
