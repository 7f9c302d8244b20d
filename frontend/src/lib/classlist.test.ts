import { describe, expect, it } from 'vitest';
import { guessDelimiter, importRows, importSummary, looksLikeEmail, parseCsv, readClassList, readHeader, wayInEntries, wayInOf, wayInPreview } from './classlist';

describe('parseCsv', () => {
  it('reads quotes, doubled quotes, CRLF and newlines inside quotes', () => {
    expect(parseCsv('a,"b, c","say ""hi"""\r\n"multi\nline",x,\n')).toEqual([
      ['a', 'b, c', 'say "hi"'],
      ['multi\nline', 'x', ''],
    ]);
  });
  it('drops a byte order mark and reads other delimiters', () => {
    expect(parseCsv('\ufeffname;email\nAda;ada@example.org', ';')).toEqual([
      ['name', 'email'],
      ['Ada', 'ada@example.org'],
    ]);
  });
});

describe('guessDelimiter', () => {
  it('picks the most frequent of comma, semicolon and tab on the first line', () => {
    expect(guessDelimiter('name;email;group\nA;b@c.de;7B')).toBe(';');
    expect(guessDelimiter('name\temail\nA\tb@c.de')).toBe('\t');
    expect(guessDelimiter('name,email')).toBe(',');
    expect(guessDelimiter('Ada Lovelace')).toBe(',');
  });
});

describe('readHeader', () => {
  it('finds the columns by name in any order', () => {
    expect(readHeader(['Email', ' Class ', 'Full name'])).toEqual({ email: 0, group: 1, name: 2 });
  });
  it('is null without a name column', () => {
    expect(readHeader(['Ada Lovelace', 'ada@example.org'])).toBeNull();
  });
});

describe('looksLikeEmail', () => {
  it('accepts plain addresses and refuses the rest', () => {
    expect(looksLikeEmail('ada@school.example.org')).toBe(true);
    expect(looksLikeEmail('ada@school')).toBe(false);
    expect(looksLikeEmail('ada lovelace@example.org')).toBe(false);
    expect(looksLikeEmail('@example.org')).toBe(false);
  });
});

describe('readClassList', () => {
  it('reads a CSV with a header, and counts who gets a code', () => {
    const l = readClassList('name,email,group\nAda Lovelace,ada@example.org,7B\n\nAlan Turing,,7B\n');
    expect(l.header).toBe(true);
    expect(l.rows.map((r) => [r.line, r.name, r.email, r.group])).toEqual([
      [2, 'Ada Lovelace', 'ada@example.org', '7B'],
      [4, 'Alan Turing', undefined, '7B'],
    ]);
    expect(l.withoutEmail).toBe(1);
    expect(l.bad).toBe(0);
    expect(importRows(l)).toEqual([
      { name: 'Ada Lovelace', email: 'ada@example.org', group: '7B' },
      { name: 'Alan Turing', group: '7B' },
    ]);
  });

  it('reads a pasted list without a header: name, email, group by position', () => {
    const l = readClassList('Grace Hopper, grace@example.org\nKatherine Johnson, 8A\nMargaret Hamilton');
    expect(l.header).toBe(false);
    expect(importRows(l)).toEqual([
      { name: 'Grace Hopper', email: 'grace@example.org' },
      { name: 'Katherine Johnson', group: '8A' },
      { name: 'Margaret Hamilton' },
    ]);
  });

  it('gives rows without a group the default group', () => {
    const l = readClassList('name,group\nA,9C\nB,', { group: '7B' });
    expect(l.rows.map((r) => r.group)).toEqual(['9C', '7B']);
  });

  it('names every problem by its line', () => {
    const existing = new Set(['old@example.org']);
    const l = readClassList(
      'name,email\n,nobody@example.org\nBad Email,not-an-email\nDup,d@example.org\nDup Again,D@example.org\nOld,old@example.org',
      { existing },
    );
    expect(l.bad).toBe(4);
    expect(l.rows.map((r) => [r.line, r.problems])).toEqual([
      [2, ['the name is missing']],
      [3, ['"not-an-email" is not an email address']],
      [4, []],
      [5, ['the email is also on line 4']],
      [6, ['a member with this email exists already']],
    ]);
  });

  it('keeps line numbers right after a quoted newline', () => {
    const l = readClassList('name,group\n"Ada\nLovelace",7B\n,7B');
    expect(l.rows[1].line).toBe(4);
    expect(l.rows[1].problems).toEqual(['the name is missing']);
  });

  it('refuses a header without a name column, and an empty list', () => {
    expect(readClassList('email,group\na@b.cd,7B').problems[0]).toMatch(/no "name" column/);
    expect(readClassList('name,email\n').problems[0]).toMatch(/no people/);
    expect(readClassList('   \n').rows).toEqual([]);
  });

  it('reads 25 students of a semicolon export', () => {
    const lines = ['Name;E-mail;Class'];
    for (let i = 1; i <= 25; i++) lines.push(`Student ${i};${i % 5 === 0 ? '' : `s${i}@school.example`};7B`);
    const l = readClassList(lines.join('\r\n'));
    expect(l.rows).toHaveLength(25);
    expect(l.withoutEmail).toBe(5);
    expect(l.bad).toBe(0);
  });
});

describe('ways in', () => {
  it('promises every row a way in before the import', () => {
    const list = readClassList('name,email\nAda,ada@example.org\nAlan,\nGrace,\n');
    expect(wayInPreview(list, false)).toBe('2 without an email will get a sign-in code; 1 with an email will get an invitation link to set a password');
    expect(wayInPreview(list, true)).toBe('2 without an email will get a sign-in code; 1 with an email will get an invitation link and a sign-in code');
  });

  it('says which way in each imported member got', () => {
    const items = [{ inviteUrl: 'http://x/invite/a' }, { code: 'ABCD-EFGH' }, { code: 'ABCD-EFGJ' }, { code: 'X', inviteUrl: 'http://x/invite/b' }];
    expect(items.map(wayInOf)).toEqual(['link', 'code', 'code', 'both']);
    expect(importSummary(items)).toBe('Imported 4 members: 1 got an invitation link, 2 got a sign-in code, 1 got an invitation link and a sign-in code.');
    expect(importSummary([{ code: 'X' }])).toBe('Imported 1 member: 1 got a sign-in code.');
  });
});

describe('wayInEntries', () => {
  it('puts each imported member on one slip with their link, their code, or both', () => {
    const member = (id: number, name: string, email: string) => ({ id, name, email, group: '7B' }) as never;
    const entries = wayInEntries([
      { member: member(1, 'Ada', 'ada@school.example'), inviteUrl: 'https://jar/invite/abc', inviteExpiresAt: '2026-12-20T00:00:00Z' },
      { member: member(2, 'Bo', ''), code: 'K7P2-QM4X', codeExpiresAt: '2026-12-13T00:00:00Z' },
      { member: member(3, 'Cy', 'cy@school.example'), inviteUrl: 'https://jar/invite/def', code: 'ZZZZ-1111' },
    ]);
    expect(entries).toHaveLength(3);
    expect(entries[0]).toMatchObject({ name: 'Ada', group: '7B', link: 'https://jar/invite/abc', linkExpiresAt: '2026-12-20T00:00:00Z' });
    expect(entries[0].code).toBeUndefined();
    expect(entries[1]).toMatchObject({ name: 'Bo', code: 'K7P2-QM4X', expiresAt: '2026-12-13T00:00:00Z' });
    expect(entries[1].link).toBeUndefined();
    expect(entries[2]).toMatchObject({ link: 'https://jar/invite/def', code: 'ZZZZ-1111' });
  });
});
