import { describe, expect, it } from 'vitest';
import type { UsageEvent } from './api';
import { appendPage, insertIndex, matchesFilters, readViewState, toApiFilters } from './filters';

function ev(p: Partial<UsageEvent>): UsageEvent {
  return {
    id: 1, at: '2026-11-10T10:00:00Z', userId: 1, userName: 'Me', userEmail: 'me@example.org', appId: 3,
    appSlug: 'helper', appName: 'Helper', description: 'd', shortDescription: null, usageType: 'api_call',
    model: 'gpt-4o', provider: 'OpenAI', modality: 'text', inputTokens: 1, outputTokens: 2, totalTokens: 3,
    processingTimeMs: null, project: 'maths', billingSource: 'personal', delegationId: null, costUsd: 0.01,
    credits: 10, charged: true, debt: 0, refunded: false, modelParameters: null, internalTokensOrCredits: null,
    idempotencyKey: null, ...p,
  };
}

describe('view state', () => {
  it('reads filters and sort from the URL and resolves the range', () => {
    const v = readViewState(new URLSearchParams('range=today&model=gpt-4o&app=&sort=-credits&bogus=1'));
    expect(v.filters).toEqual({ model: 'gpt-4o' });
    expect(v.sort).toBe('-credits');
    expect(toApiFilters(v, { now: new Date('2026-11-10T12:00:00Z'), timeZone: 'UTC' })).toEqual({
      from: '2026-11-10', to: '2026-11-10', model: 'gpt-4o',
    });
    expect(readViewState(new URLSearchParams('sort=name')).sort).toBe('-at');
  });
});

describe('matchesFilters', () => {
  const tz = 'UTC';
  it('matches by range in the instance zone', () => {
    expect(matchesFilters(ev({}), { from: '2026-11-10', to: '2026-11-10' }, tz)).toBe(true);
    expect(matchesFilters(ev({}), { from: '2026-11-11' }, tz)).toBe(false);
    expect(matchesFilters(ev({ at: '2026-11-10T23:30:00Z' }), { to: '2026-11-10' }, 'Europe/Berlin')).toBe(false);
  });
  it('matches each filter', () => {
    expect(matchesFilters(ev({}), { model: 'gpt-4o', app: 'helper', project: 'maths' }, tz)).toBe(true);
    expect(matchesFilters(ev({}), { app: '3' }, tz)).toBe(true);
    expect(matchesFilters(ev({}), { model: 'claude' }, tz)).toBe(false);
    expect(matchesFilters(ev({}), { provider: 'Anthropic' }, tz)).toBe(false);
    expect(matchesFilters(ev({}), { usageType: 'image' }, tz)).toBe(false);
    expect(matchesFilters(ev({}), { source: 'personal' }, tz)).toBe(true);
    expect(matchesFilters(ev({ billingSource: 7, delegationId: 7 }), { source: 'personal' }, tz)).toBe(false);
    expect(matchesFilters(ev({ billingSource: 7, delegationId: 7 }), { source: '7' }, tz)).toBe(true);
  });
});

describe('insertIndex', () => {
  const list = [ev({ id: 3, at: '2026-11-10T12:00:00Z', credits: 5 }), ev({ id: 2, at: '2026-11-10T11:00:00Z', credits: 1 })];
  it('puts a new event first when sorted by newest', () => {
    expect(insertIndex(list, ev({ id: 4, at: '2026-11-10T13:00:00Z' }), '-at', false)).toBe(0);
  });
  it('finds the place in other sorts, or none past the loaded rows', () => {
    expect(insertIndex(list, ev({ id: 4, credits: 2 }), '-credits', false)).toBe(1);
    expect(insertIndex(list, ev({ id: 4, credits: 0.5 }), '-credits', false)).toBe(-1);
    expect(insertIndex(list, ev({ id: 4, credits: 0.5 }), '-credits', true)).toBe(2);
  });
});

describe('appendPage', () => {
  it('adds the next page without the items shown already', () => {
    const shown = [{ id: 1 }, { id: 2 }];
    expect(appendPage(shown, [{ id: 2 }, { id: 3 }])).toEqual([{ id: 1 }, { id: 2 }, { id: 3 }]);
    expect(appendPage(shown, undefined)).toEqual(shown);
  });
});
