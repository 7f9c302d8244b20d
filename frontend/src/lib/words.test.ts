import { describe, expect, it } from 'vitest';
import { auditTarget, count } from './words';

describe('count', () => {
  it('says 1 member, not 1 members', () => {
    expect(count(1, 'member')).toBe('1 member');
    expect(count(2, 'member')).toBe('2 members');
    expect(count(0, 'member')).toBe('0 members');
    expect(count(1200, 'event')).toBe('1,200 events');
  });
  it('takes an irregular plural', () => {
    expect(count(1, 'entry', 'entries')).toBe('1 entry');
    expect(count(3, 'entry', 'entries')).toBe('3 entries');
  });
});

describe('auditTarget', () => {
  const names = { members: new Map([[4, 'Emma Parker']]), apps: new Map([[2, 'Homework Helper']]) };
  it('names members and apps instead of their numbers', () => {
    expect(auditTarget('member 4', names)).toBe('Emma Parker');
    expect(auditTarget('user 4', names)).toBe('Emma Parker');
    expect(auditTarget('app 2', names)).toBe('Homework Helper');
    expect(auditTarget('app 2 key 9', names)).toBe('Homework Helper, key 9');
  });
  it('leaves what it does not know as it is', () => {
    expect(auditTarget('member 99', names)).toBe('member 99');
    expect(auditTarget('settings', names)).toBe('settings');
    expect(auditTarget('provider 3', {})).toBe('provider 3');
    expect(auditTarget(null, names)).toBe('—');
  });
});
