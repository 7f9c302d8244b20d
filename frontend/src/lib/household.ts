// Pure helpers for the household page (who spent what): its summary in plain words and each
// member's share of the range's credits.

import type { Household, HouseholdMember } from './api';
import { formatCredits, toMilli } from './format';
import { count } from './words';

/** A member's share of the range's credits, in whole percent (0 when nothing was spent). */
export function shareOf(m: Pick<HouseholdMember, 'credits'>, h: Pick<Household, 'totals'>): number {
  const total = toMilli(h.totals.credits);
  if (total <= 0) return 0;
  return Math.round((toMilli(m.credits) / total) * 100);
}

/** The share in words: "89%", or "under 1%" for a small spender rather than a misleading 0%. */
export function shareText(m: Pick<HouseholdMember, 'credits'>, h: Pick<Household, 'totals'>): string {
  const pct = shareOf(m, h);
  return pct === 0 && toMilli(m.credits) > 0 ? 'under 1%' : `${pct}%`;
}

/** Who spent anything in the range; the others are listed apart. */
export function spenders(members: HouseholdMember[]): { active: HouseholdMember[]; idle: HouseholdMember[] } {
  const active: HouseholdMember[] = [];
  const idle: HouseholdMember[] = [];
  for (const m of members) (toMilli(m.credits) > 0 || m.requests > 0 ? active : idle).push(m);
  return { active, idle };
}

/** The sentence above the table: "105 credits in 4 requests by 2 of 4 members". */
export function householdSummary(h: Household): string {
  const { active } = spenders(h.members);
  const who = h.scope === 'granted' ? 'person' : 'member';
  const whoMany = h.scope === 'granted' ? 'people' : 'members';
  const by = active.length === h.members.length ? count(h.members.length, who, whoMany) : `${active.length} of ${count(h.members.length, who, whoMany)}`;
  return `${formatCredits(h.totals.credits)} credits in ${count(h.totals.requests, 'request')} by ${by}`;
}

/** How a member's credits were paid, in words: "30 own credits, 50 from allowances". */
export function paidBy(m: Pick<HouseholdMember, 'ownCredits' | 'allowanceCredits'>): string {
  const own = toMilli(m.ownCredits);
  const allow = toMilli(m.allowanceCredits);
  if (own > 0 && allow > 0) return `${formatCredits(m.ownCredits)} own credits, ${formatCredits(m.allowanceCredits)} from allowances`;
  if (allow > 0) return 'all from allowances';
  if (own > 0) return 'all own credits';
  return '';
}
