import { describe, expect, it } from 'vitest';
import type { Household, HouseholdMember } from './api';
import { householdSummary, paidBy, shareOf, shareText, spenders } from './household';

const member = (id: number, credits: number, own = credits, requests = 1): HouseholdMember => ({
  id,
  name: `M${id}`,
  group: '',
  credits,
  ownCredits: own,
  allowanceCredits: credits - own,
  requests,
  tokens: 0,
  topModels: [],
});

describe('household helpers', () => {
  it('gives shares that add up and never divide by zero', () => {
    const h: Household = { scope: 'all', members: [member(1, 75), member(2, 25)], totals: { credits: 100, requests: 2, tokens: 0 } };
    expect(h.members.map((m) => shareOf(m, h))).toEqual([75, 25]);
    expect(shareOf(member(3, 0, 0, 0), { totals: { credits: 0, requests: 0, tokens: 0 } })).toBe(0);
    expect(shareText(member(4, 0.2), { totals: { credits: 1000, requests: 1, tokens: 0 } })).toBe('under 1%');
    expect(shareText(member(5, 750), { totals: { credits: 1000, requests: 1, tokens: 0 } })).toBe('75%');
  });

  it('tells spenders from the idle and says it in one sentence', () => {
    const h: Household = {
      scope: 'all',
      members: [member(1, 80, 30, 3), member(2, 25), member(3, 0, 0, 0)],
      totals: { credits: 105, requests: 4, tokens: 0 },
    };
    expect(spenders(h.members).idle.map((m) => m.id)).toEqual([3]);
    expect(householdSummary(h)).toBe('105 credits in 4 requests by 2 of 3 members');
    expect(householdSummary({ ...h, scope: 'granted', members: [h.members[0]] })).toBe('105 credits in 4 requests by 1 person');
  });

  it('says who paid', () => {
    expect(paidBy(member(1, 80, 30))).toBe('30 own credits, 50 from allowances');
    expect(paidBy(member(1, 50, 0))).toBe('all from allowances');
    expect(paidBy(member(1, 5))).toBe('all own credits');
    expect(paidBy(member(1, 0))).toBe('');
  });
});
