// Pure helpers for lists of members: groups, filters and checkbox selections.

import type { Member } from './api';

/** The filter value for "members without a group". */
export const NO_GROUP = '(none)';

/** The distinct non-empty groups, sorted the way people read them (7A before 7B before 10A). */
export function groupsOf(members: Pick<Member, 'group'>[]): string[] {
  const set = new Set<string>();
  for (const m of members) {
    const g = (m.group ?? '').trim();
    if (g) set.add(g);
  }
  return [...set].sort((a, b) => a.localeCompare(b, undefined, { numeric: true, sensitivity: 'base' }));
}

/** How many members each group has (NO_GROUP counts those without one). */
export function groupCounts(members: Pick<Member, 'group'>[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const m of members) {
    const g = (m.group ?? '').trim() || NO_GROUP;
    out.set(g, (out.get(g) ?? 0) + 1);
  }
  return out;
}

export interface MemberFilter {
  /** "" for every group, NO_GROUP for members without one, else a group. */
  group?: string;
  /** Matches the name or the email, ignoring case. */
  query?: string;
  /** Leave out disabled members. */
  activeOnly?: boolean;
}

export function filterMembers<T extends Pick<Member, 'name' | 'email' | 'group' | 'disabled'>>(
  members: T[],
  f: MemberFilter,
): T[] {
  const q = (f.query ?? '').trim().toLowerCase();
  return members.filter((m) => {
    const g = (m.group ?? '').trim();
    if (f.group) {
      if (f.group === NO_GROUP ? g !== '' : g !== f.group) return false;
    }
    if (f.activeOnly && m.disabled) return false;
    if (q && !m.name.toLowerCase().includes(q) && !(m.email ?? '').toLowerCase().includes(q)) return false;
    return true;
  });
}

/** The state of a "select all shown" checkbox. */
export function selectionState(shown: { id: number }[], selected: Set<number>): 'all' | 'some' | 'none' {
  let n = 0;
  for (const m of shown) if (selected.has(m.id)) n++;
  if (n === 0) return 'none';
  return n === shown.length ? 'all' : 'some';
}

/** Selects every shown member, or unselects them all when they all are selected already. */
export function toggleAll(shown: { id: number }[], selected: Set<number>): Set<number> {
  const next = new Set(selected);
  if (selectionState(shown, selected) === 'all') for (const m of shown) next.delete(m.id);
  else for (const m of shown) next.add(m.id);
  return next;
}

export function toggleOne(selected: Set<number>, id: number): Set<number> {
  const next = new Set(selected);
  if (next.has(id)) next.delete(id);
  else next.add(id);
  return next;
}

/** Splits a list that people type: one per line, or separated by commas or semicolons. */
export function splitList(text: string): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  for (const part of text.split(/[\n,;]+/)) {
    const v = part.trim();
    if (v && !seen.has(v.toLowerCase())) {
      seen.add(v.toLowerCase());
      out.push(v);
    }
  }
  return out;
}

/** A member's display name with their email, or "no email" for members who sign in with a code. */
export function memberLabel(m: Pick<Member, 'name' | 'email'>): string {
  return m.email ? `${m.name} (${m.email})` : `${m.name} (sign-in code)`;
}
