import { describe, expect, it } from 'vitest';
import { filterMembers, groupCounts, groupsOf, memberLabel, NO_GROUP, selectionState, splitList, toggleAll, toggleOne } from './members';

const m = (id: number, name: string, group: string | null, email = `${name.toLowerCase()}@example.org`, disabled = false) => ({
  id,
  name,
  email,
  group,
  disabled,
});
const list = [m(1, 'Ada', '7B'), m(2, 'Alan', '10A'), m(3, 'Grace', '7A'), m(4, 'Olivia', null), m(5, 'Zed', '7B', '', true)];

describe('groups', () => {
  it('lists distinct groups in natural order', () => {
    expect(groupsOf(list)).toEqual(['7A', '7B', '10A']);
  });
  it('counts members per group, with those without one', () => {
    expect(Object.fromEntries(groupCounts(list))).toEqual({ '7B': 2, '10A': 1, '7A': 1, [NO_GROUP]: 1 });
  });
});

describe('filterMembers', () => {
  it('filters by group, no group, name or email, and active only', () => {
    expect(filterMembers(list, { group: '7B' }).map((x) => x.id)).toEqual([1, 5]);
    expect(filterMembers(list, { group: NO_GROUP }).map((x) => x.id)).toEqual([4]);
    expect(filterMembers(list, { query: 'AL' }).map((x) => x.id)).toEqual([2]);
    expect(filterMembers(list, { query: 'grace@' }).map((x) => x.id)).toEqual([3]);
    expect(filterMembers(list, { group: '7B', activeOnly: true }).map((x) => x.id)).toEqual([1]);
    expect(filterMembers(list, {}).length).toBe(5);
  });
});

describe('selection', () => {
  it('reports all, some or none of the shown members', () => {
    const shown = [{ id: 1 }, { id: 2 }];
    expect(selectionState(shown, new Set())).toBe('none');
    expect(selectionState(shown, new Set([1, 9]))).toBe('some');
    expect(selectionState(shown, new Set([1, 2]))).toBe('all');
    expect(selectionState([], new Set([1]))).toBe('none');
  });
  it('toggles all shown members, keeping the others', () => {
    const shown = [{ id: 1 }, { id: 2 }];
    expect([...toggleAll(shown, new Set([9]))].sort()).toEqual([1, 2, 9]);
    expect([...toggleAll(shown, new Set([1, 2, 9]))]).toEqual([9]);
    expect([...toggleOne(new Set([1]), 1)]).toEqual([]);
    expect([...toggleOne(new Set([1]), 2)]).toEqual([1, 2]);
  });
});

describe('splitList and memberLabel', () => {
  it('splits on lines, commas and semicolons and drops repeats', () => {
    expect(splitList('a@x.org\nb@x.org, c@x.org;;A@x.org\n ')).toEqual(['a@x.org', 'b@x.org', 'c@x.org']);
  });
  it('says when a member signs in with a code', () => {
    expect(memberLabel({ name: 'Zed', email: '' })).toBe('Zed (sign-in code)');
    expect(memberLabel({ name: 'Ada', email: 'ada@x.org' })).toBe('Ada (ada@x.org)');
  });
});
