// Reading a class list (pasted text or a .csv file) into members to import, with a preview
// that names every problem by its line before anything is sent.

import type { ImportedMemberWayIn, ImportRow } from './api';
import type { SheetEntry } from './CodeSheet.svelte';
import { count } from './words';

/** Splits CSV text into rows of cells (RFC 4180: quotes, doubled quotes, newlines inside quotes). */
export function parseCsv(text: string, delimiter = ','): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  let i = 0;
  if (text.charCodeAt(0) === 0xfeff) i = 1; // a byte order mark from a spreadsheet
  for (; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"') {
        if (text[i + 1] === '"') {
          cell += '"';
          i++;
        } else quoted = false;
      } else cell += ch;
    } else if (ch === '"' && cell.trim() === '') {
      quoted = true;
      cell = '';
    } else if (ch === delimiter) {
      row.push(cell);
      cell = '';
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++;
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
    } else cell += ch;
  }
  if (cell !== '' || row.length) {
    row.push(cell);
    rows.push(row);
  }
  return rows;
}

/** Guesses the delimiter from the first line: a comma, a semicolon (European spreadsheets) or a tab. */
export function guessDelimiter(text: string): string {
  const first = text.replace(/^\ufeff/, '').split(/\r?\n/, 1)[0] ?? '';
  const count = (d: string) => first.split(d).length - 1;
  const candidates: [string, number][] = [
    [',', count(',')],
    [';', count(';')],
    ['\t', count('\t')],
  ];
  candidates.sort((a, b) => b[1] - a[1]);
  return candidates[0][1] > 0 ? candidates[0][0] : ',';
}

export type Column = 'name' | 'email' | 'group';

const HEADER_NAMES: Record<Column, string[]> = {
  name: ['name', 'full name', 'fullname', 'student', 'student name', 'display name'],
  email: ['email', 'e-mail', 'mail', 'email address', 'e-mail address'],
  group: ['group', 'class', 'team', 'form'],
};

/** The columns named by a header row, or null when the row is not a header (it has no name column). */
export function readHeader(cells: string[]): Partial<Record<Column, number>> | null {
  const cols: Partial<Record<Column, number>> = {};
  cells.forEach((c, i) => {
    const h = c.trim().toLowerCase();
    for (const col of Object.keys(HEADER_NAMES) as Column[]) {
      if (cols[col] === undefined && HEADER_NAMES[col].includes(h)) cols[col] = i;
    }
  });
  return cols.name === undefined ? null : cols;
}

// Deliberately simple: something@something.tld with no spaces. The server has the final word.
const EMAIL = /^[^\s@,;<>"]+@[^\s@,;<>"]+\.[^\s@,;<>"]+$/;

export function looksLikeEmail(s: string): boolean {
  return EMAIL.test(s);
}

export interface PreviewRow extends ImportRow {
  /** The line in the text (1-based), for messages. */
  line: number;
  problems: string[];
}

export interface ClassList {
  rows: PreviewRow[];
  /** True when the first line was a header row. */
  header: boolean;
  /** Problems that concern the whole list. */
  problems: string[];
  /** Rows with a problem. */
  bad: number;
  /** Rows without an email: they get a sign-in code. */
  withoutEmail: number;
}

export interface ReadOptions {
  /** A group for rows that name none. */
  group?: string;
  /** Emails of members who exist already (lower case). */
  existing?: Set<string>;
  /** At most this many rows (the server's limit is its own). */
  max?: number;
}

/**
 * Reads a class list. With a header row the columns are found by name (name, email, group, in any order);
 * without one every line is `name[, email[, group]]`, and a lone second cell without an @ is a group.
 */
export function readClassList(text: string, opts: ReadOptions = {}): ClassList {
  const max = opts.max ?? 1000;
  const delimiter = guessDelimiter(text);
  const raw = parseCsv(text, delimiter);
  // Keep the line numbers: count physical lines as the parser consumed them.
  const lines: { cells: string[]; line: number }[] = [];
  let lineNo = 1;
  for (const cells of raw) {
    lines.push({ cells, line: lineNo });
    lineNo += 1 + cells.reduce((n, c) => n + (c.match(/\n/g)?.length ?? 0), 0);
  }
  const nonBlank = lines.filter((l) => l.cells.some((c) => c.trim() !== ''));
  const out: ClassList = { rows: [], header: false, problems: [], bad: 0, withoutEmail: 0 };
  if (nonBlank.length === 0) return out;

  let cols: Partial<Record<Column, number>> | null = readHeader(nonBlank[0].cells);
  let body = nonBlank;
  if (cols) {
    out.header = true;
    body = nonBlank.slice(1);
  } else if (nonBlank[0].cells.some((c) => /^(e-?mail|group|class)$/i.test(c.trim()))) {
    out.problems.push('The first line looks like a header, but it has no "name" column.');
    return out;
  }

  const seen = new Map<string, number>();
  for (const { cells, line } of body) {
    const get = (col: Column, pos: number) => {
      const idx = cols ? cols[col] : pos;
      return idx === undefined ? '' : (cells[idx] ?? '').trim();
    };
    let name = get('name', 0);
    let email = get('email', 1);
    let group = get('group', 2);
    if (!cols && email && !email.includes('@') && !group && cells.length === 2) {
      // "Ada Lovelace, 7B": a name and a group.
      group = email;
      email = '';
    }
    name = name.replace(/\s+/g, ' ');
    if (!group && opts.group) group = opts.group.trim();
    const problems: string[] = [];
    if (!name) problems.push('the name is missing');
    else if (name.length > 100) problems.push('the name is longer than 100 characters');
    if (email) {
      if (!looksLikeEmail(email)) problems.push(`"${email}" is not an email address`);
      else {
        const key = email.toLowerCase();
        const first = seen.get(key);
        if (first !== undefined) problems.push(`the email is also on line ${first}`);
        else seen.set(key, line);
        if (opts.existing?.has(key)) problems.push('a member with this email exists already');
      }
    }
    if (group.length > 64) problems.push('the group is longer than 64 characters');
    const row: PreviewRow = { line, name, problems };
    if (email) row.email = email;
    if (group) row.group = group;
    out.rows.push(row);
    if (problems.length) out.bad++;
    if (!email) out.withoutEmail++;
  }
  if (out.rows.length === 0) out.problems.push('The list has a header but no people.');
  if (out.rows.length > max) out.problems.push(`The list has ${out.rows.length} people; import at most ${max} at once.`);
  return out;
}

/** The rows to send to POST /members/import. */
export function importRows(list: ClassList): ImportRow[] {
  return list.rows.map(({ name, email, group }) => {
    const r: ImportRow = { name };
    if (email) r.email = email;
    if (group) r.group = group;
    return r;
  });
}

/** An example list to show in the form. */
export const EXAMPLE_CSV = 'name,email,group\nAda Lovelace,ada@example.org,7B\nAlan Turing,,7B';

/** What the preview promises each person before the import: a way in for everyone. */
export function wayInPreview(list: Pick<ClassList, 'rows' | 'withoutEmail'>, codesForAll: boolean): string {
  const withEmail = list.rows.length - list.withoutEmail;
  const parts: string[] = [];
  if (list.withoutEmail) parts.push(`${list.withoutEmail} without an email will get a sign-in code`);
  if (withEmail) {
    const what = codesForAll ? 'an invitation link and a sign-in code' : 'an invitation link to set a password';
    parts.push(`${withEmail} with an email will get ${what}`);
  }
  return parts.join('; ');
}

/** How an imported member gets in: an invitation link, a sign-in code, or both. */
export type WayIn = 'link' | 'code' | 'both';

export function wayInOf(m: { code?: string | null; inviteUrl?: string | null }): WayIn {
  if (m.code && m.inviteUrl) return 'both';
  return m.inviteUrl ? 'link' : 'code';
}

/** The import's summary: how many were imported, and which way in they got. */
export function importSummary(items: { code?: string | null; inviteUrl?: string | null }[]): string {
  const n = { link: 0, code: 0, both: 0 };
  for (const i of items) n[wayInOf(i)]++;
  const parts: string[] = [];
  if (n.link) parts.push(`${n.link} got an invitation link`);
  if (n.code) parts.push(`${n.code} got a sign-in code`);
  if (n.both) parts.push(`${n.both} got an invitation link and a sign-in code`);
  return `Imported ${count(items.length, 'member')}${parts.length ? `: ${parts.join(', ')}` : ''}.`;
}

/** An import's ways in as the slips of the printable sheet: each member's link and/or code. */
export function wayInEntries(items: ImportedMemberWayIn[]): SheetEntry[] {
  return items.map((i) => ({
    name: i.member.name,
    group: i.member.group,
    email: i.member.email,
    code: i.code,
    expiresAt: i.codeExpiresAt,
    link: i.inviteUrl,
    linkExpiresAt: i.inviteExpiresAt,
  }));
}
