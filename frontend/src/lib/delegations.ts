// Pure helpers for delegations (allowances): labels, the period maths people read, and form values.

import type { Delegation, DelegationPatch, Period } from './api';
import { formatCredits, formatDate, formatMilli, fromMilli, toMilli } from './format';
import { addDays, isYmd, ymdInZone } from './range';
import { count } from './words';

export const PERIODS: { value: Period; label: string; per: string }[] = [
  { value: 'day', label: 'per day', per: 'a day' },
  { value: 'week', label: 'per week', per: 'a week' },
  { value: 'month', label: 'per month', per: 'a month' },
  { value: 'once', label: 'once (a total)', per: 'in total' },
];

export function periodLabel(p: string): string {
  return PERIODS.find((x) => x.value === p)?.label ?? p;
}

/** "500 a day", "20 in total". */
export function allowanceText(credits: number | string, period: string): string {
  const per = PERIODS.find((x) => x.value === period)?.per ?? period;
  return `${formatCredits(credits)} ${per}`;
}

export type Tone = 'good' | 'warn' | 'bad' | '';

export const STATUS: Record<string, { label: string; tone: Tone; help: string }> = {
  active: { label: 'Active', tone: 'good', help: 'It pays for usage.' },
  paused: { label: 'Paused', tone: 'warn', help: 'Paused by the giver: it pays for nothing until it is resumed.' },
  revoked: { label: 'Revoked', tone: 'bad', help: 'Revoked: it pays for nothing new; the history stays.' },
  ended: { label: 'Ended', tone: '', help: 'Its end date has passed.' },
  scheduled: { label: 'Starts later', tone: '', help: 'It starts at its start date.' },
};

export function statusInfo(s: string): { label: string; tone: Tone; help: string } {
  return STATUS[s] ?? { label: s, tone: '', help: '' };
}

/** Can the granter still change it? Revoked and ended ones are history. */
export function isEditable(d: Pick<Delegation, 'status'>): boolean {
  return d.status === 'active' || d.status === 'paused' || d.status === 'scheduled';
}

/** Percent of this period's allowance used (0–100). */
export function usedPercent(d: Pick<Delegation, 'usedThisPeriod' | 'remainingThisPeriod'>): number {
  const used = Math.max(0, toMilli(d.usedThisPeriod));
  const total = used + Math.max(0, toMilli(d.remainingThisPeriod));
  if (total === 0) return used > 0 ? 100 : 0;
  return Math.min(100, (used / total) * 100);
}

/** "Any app or model", or what it is limited to. */
export function restrictionsText(d: Pick<Delegation, 'apps' | 'models'>): string {
  const apps = (d.apps ?? []).map((a) => a.name || a.slug || String(a.id));
  const models = d.models ?? [];
  if (apps.length === 0 && models.length === 0) return 'Any app or model';
  const parts: string[] = [];
  if (apps.length) parts.push(`${apps.length === 1 ? 'App' : 'Apps'}: ${apps.join(', ')}`);
  if (models.length) parts.push(`${models.length === 1 ? 'Model' : 'Models'}: ${models.join(', ')}`);
  return parts.join(' · ');
}

/** When the allowance refills, in words. */
export function resetText(d: Pick<Delegation, 'period' | 'periodEnds' | 'status'>, now: Date, timeZone?: string): string {
  if (d.period === 'once') return 'A one-off total: it does not refill';
  if (!d.periodEnds) return '';
  const at = new Date(d.periodEnds);
  if (Number.isNaN(at.getTime())) return '';
  const ms = at.getTime() - now.getTime();
  if (ms <= 0) return 'Refills now';
  const tz = timeZone ?? 'UTC';
  const today = ymdInZone(now, tz);
  const day = ymdInZone(at, tz);
  const midnight = startOfDay(day, tz).getTime() === at.getTime();
  const time = new Intl.DateTimeFormat('en-US', { hour: 'numeric', minute: '2-digit', timeZone: tz }).format(at);
  // Periods start at midnight: "at midnight" for the coming one, the day for later ones.
  if (midnight && day === addDays(today, 1)) return 'Refills at midnight';
  if (day === today) return `Refills today at ${time}`;
  if (day === addDays(today, 1)) return `Refills tomorrow at ${time}`;
  const weekday = new Intl.DateTimeFormat('en-US', { weekday: 'long', timeZone: tz }).format(midnight ? new Date(at.getTime() - 1) : at);
  if (midnight && day <= addDays(today, 7)) return `Refills after ${weekday}`;
  return `Refills ${formatDate(at, { timeZone: tz })}`;
}

/** "From Mon, Nov 9: 300 a week" for a change that waits for the next period. */
export function pendingText(d: Pick<Delegation, 'pending'>, timeZone?: string): string {
  const p = d.pending;
  if (!p) return '';
  return `From ${formatDate(p.from, { timeZone })}: ${allowanceText(p.credits, p.period)}`;
}

// ---- end dates: a day in the form, an instant in the API ----

/** The offset of a time zone at an instant, in milliseconds (local = UTC + offset). */
export function zoneOffset(at: Date, timeZone: string): number {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  }).formatToParts(at);
  const get = (t: string) => Number(parts.find((p) => p.type === t)?.value ?? 0);
  const local = Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'), get('second'));
  return local - Math.floor(at.getTime() / 1000) * 1000;
}

/** Midnight at the start of a calendar day in a time zone, as an instant. */
export function startOfDay(ymd: string, timeZone: string): Date {
  if (!isYmd(ymd)) throw new RangeError(`not a date: ${ymd}`);
  const [y, m, d] = ymd.split('-').map(Number);
  const guess = Date.UTC(y, m - 1, d);
  let t = guess - zoneOffset(new Date(guess), timeZone);
  // Around a daylight-saving change the offset at the result can differ from the guess's.
  const again = guess - zoneOffset(new Date(t), timeZone);
  if (again !== t) t = again;
  return new Date(t);
}

/** The `endsAt` for "the allowance works through this day": the next midnight in the instance zone. */
export function endsAtForDay(ymd: string, timeZone: string): string {
  return startOfDay(addDays(ymd, 1), timeZone).toISOString();
}

/** The last day an allowance works (the day before its exclusive `endsAt`), as YYYY-MM-DD. */
export function lastDay(endsAt: string | null | undefined, timeZone: string): string {
  if (!endsAt) return '';
  const t = Date.parse(endsAt);
  if (Number.isNaN(t)) return '';
  return ymdInZone(new Date(t - 1), timeZone);
}

/** A PATCH body with only what changed from the delegation; null when nothing did. */
export function patchFor(
  d: Delegation,
  form: { credits: number; period: Period; endDay: string; note: string; apps: (number | string)[]; models: string[] },
  timeZone: string,
): DelegationPatch | null {
  const out: DelegationPatch = {};
  if (toMilli(form.credits) !== toMilli(d.credits)) out.credits = fromMilli(toMilli(form.credits));
  if (form.period !== d.period) out.period = form.period;
  const was = lastDay(d.endsAt, timeZone);
  if (form.endDay !== was) out.endsAt = form.endDay ? endsAtForDay(form.endDay, timeZone) : '';
  if (form.note.trim() !== (d.note ?? '').trim()) out.note = form.note.trim();
  const appsWas = (d.apps ?? []).map((a) => String(a.id)).sort();
  const appsNow = form.apps.map(String).sort();
  if (appsWas.join(',') !== appsNow.join(',')) out.apps = form.apps;
  const modelsWas = [...(d.models ?? [])].sort();
  const modelsNow = [...form.models].sort();
  if (modelsWas.join('\n') !== modelsNow.join('\n')) out.models = form.models;
  return Object.keys(out).length ? out : null;
}

/** Does a change to these fields wait for the next period? (Not for one-off totals.) */
export function changeWaitsForNextPeriod(d: Pick<Delegation, 'period'>, patch: DelegationPatch | null): boolean {
  if (!patch || d.period === 'once') return false;
  return patch.credits !== undefined || patch.period !== undefined;
}

/** Finds delegations by grantee name, email or note, and by status ("" = every one, "current" = not history). */
export function filterDelegations<T extends Pick<Delegation, 'granteeName' | 'granteeEmail' | 'note' | 'status'>>(
  list: T[],
  query: string,
  status: string,
): T[] {
  const q = query.trim().toLowerCase();
  return list.filter((d) => {
    if (status === 'current' && !isEditable(d)) return false;
    if (status && status !== 'current' && d.status !== status) return false;
    if (!q) return true;
    return [d.granteeName, d.granteeEmail, d.note ?? ''].some((s) => (s ?? '').toLowerCase().includes(q));
  });
}

/** The last day an allowance works, for people ("Dec 20, 2026"); "" without an end. */
export function lastDayText(endsAt: string | null | undefined, timeZone: string): string {
  const ymd = lastDay(endsAt, timeZone);
  return ymd ? formatDate(`${ymd}T12:00:00Z`, { timeZone: 'UTC' }) : '';
}

// ---- many allowances at once ----

/** The confirm question of a bulk action on `target` ("12 allowances", "group 7B's …"). */
export function bulkConfirmText(action: string, target: string): string {
  switch (action) {
    case 'pause':
      return `Pause ${target}? They pay for nothing until resumed.`;
    case 'resume':
      return `Resume ${target}? They pay again at once.`;
    case 'revoke':
      return `Revoke ${target}? New charges stop at once; the history stays. This cannot be undone.`;
    default:
      return `Change ${target}? A new amount applies from each allowance's next period.`;
  }
}

/** What a bulk action did: "Paused 24 allowances." */
export function bulkDoneText(action: string, n: number): string {
  const verb = { pause: 'Paused', resume: 'Resumed', revoke: 'Revoked', edit: 'Changed' }[action] ?? 'Changed';
  return `${verb} ${count(n, 'allowance')}.`;
}

// ---- who paid a request ----

/** An allowance as its grantee names it: "Homework allowance", or "Mum's allowance" without a note. */
export function allowanceName(d: Pick<Delegation, 'note' | 'granterName'> | undefined): string {
  if (!d) return 'An allowance';
  const note = (d.note ?? '').trim();
  if (note) return /allowance$/i.test(note) ? note : `${note} allowance`;
  return `${d.granterName}'s allowance`;
}

/**
 * Who paid a request, in words, from its bucket parts (each with its source: an allowance id or
 * "personal") and its debt: "Homework allowance paid 20, your own credits 60". `name` names an
 * allowance source; `own` names the member's own credits ("your own credits", or for a granter
 * "their own credits"). Empty when one source paid it all.
 */
export function paidByText(
  parts: { source?: string; credits: number | string }[],
  debt: number | string | null | undefined,
  name: (source: string) => string,
  own = 'your own credits',
): string {
  const sums = new Map<string, number>();
  for (const p of parts) {
    const key = !p.source || p.source === 'personal' ? 'personal' : p.source;
    sums.set(key, (sums.get(key) ?? 0) + toMilli(p.credits));
  }
  const d = toMilli(debt ?? 0);
  if (d > 0) sums.set('personal', (sums.get('personal') ?? 0) + d);
  if (sums.size < 2) return '';
  const said = [...sums].map(([k, m]) => (k === 'personal' ? `${own} ${formatMilli(m)}` : `${name(k)} paid ${formatMilli(m)}`));
  // The allowances first: "Homework allowance paid 20, your own credits 60".
  said.sort((a, b) => Number(a.startsWith(own)) - Number(b.startsWith(own)));
  const text = said.join(', ');
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** A split charge as a log row can tell it: "Homework allowance paid 20 of 80". Empty when not split. */
export function splitText(ev: { credits: number | string; delegationCredits?: number | string | null }, allowance: string): string {
  if (ev.delegationCredits === null || ev.delegationCredits === undefined) return '';
  return `${allowance} paid ${formatCredits(ev.delegationCredits)} of ${formatCredits(ev.credits)}`;
}

/**
 * A log row's note on its billing source, as a badge and a sentence: a split charge says what its
 * allowance paid ("Homework allowance paid 20 of 80"); otherwise the server's reason why the
 * allowance did not pay. Null when there is nothing to say.
 */
export function sourceNoteFor(
  ev: { credits: number | string; delegationCredits?: number | string | null; delegationId?: number | null; sourceNote?: string | null },
  received: Pick<Delegation, 'id' | 'note' | 'granterName'>[],
  given: Pick<Delegation, 'id' | 'note'>[] = [],
): { badge: string; text: string } | null {
  if (ev.delegationCredits !== null && ev.delegationCredits !== undefined && ev.delegationId) {
    const r = received.find((d) => d.id === ev.delegationId);
    const g = given.find((d) => d.id === ev.delegationId);
    const name = r ? allowanceName(r) : g ? `Your allowance${g.note ? ` (${g.note})` : ''}` : 'The allowance';
    return { badge: 'split', text: splitText(ev, name) };
  }
  if (ev.sourceNote) return { badge: 'allowance did not pay', text: ev.sourceNote };
  return null;
}

/**
 * A request's credits as a granter's log shows them: what their allowance paid (`part`) and, for a
 * split charge, the whole request (`of`, else null), so "20 of 80" agrees with the granted CSV and
 * the footer, which count the allowance's part.
 */
export function grantedPart(ev: { credits: number | string; delegationCredits?: number | string | null }): {
  part: number | string;
  of: number | string | null;
} {
  if (ev.delegationCredits === null || ev.delegationCredits === undefined) return { part: ev.credits, of: null };
  return { part: ev.delegationCredits, of: ev.credits };
}

type LogRow = {
  credits: number | string;
  delegationCredits?: number | string | null;
  delegationId?: number | null;
  sourceNote?: string | null;
};

/**
 * The usage log's note on the loaded requests an allowance did not pay in full, in plain words:
 * split ones ("1 of these requests was split: Homework allowance paid 20 of 80, your own credits
 * 60.") and whole ones that the member's own credits (or another allowance) paid. `own` names
 * what paid the rest of a split: the member's own credits, unless another allowance may have.
 * Empty when there are none.
 */
export function notPaidInFullText(
  items: LogRow[],
  received: Pick<Delegation, 'id' | 'note' | 'granterName'>[],
  own = 'your own credits',
): string {
  const split = items.filter((i) => i.delegationCredits !== null && i.delegationCredits !== undefined && i.delegationId);
  const whole = items.filter((i) => i.sourceNote && !split.includes(i));
  const said: string[] = [];
  if (split.length === 1) {
    const ev = split[0];
    const rest = toMilli(ev.credits) - toMilli(ev.delegationCredits);
    const name = allowanceName(received.find((d) => d.id === ev.delegationId));
    said.push(`1 of these requests was split: ${splitText(ev, name)}, ${own} ${formatMilli(rest)}.`);
  } else if (split.length > 1) {
    said.push(`${split.length.toLocaleString('en-US')} of these requests were split: an allowance paid what it had left this period, and ${own} the rest.`);
  }
  // Whole requests an allowance did not pay: the member's own credits paid them, or (when the
  // first allowance could not) another allowance did.
  const mine = whole.filter((i) => !i.delegationId).length;
  const other = whole.length - mine;
  const were = (n: number) => (n === 1 ? 'was' : 'were');
  if (mine) {
    said.push(`${count(mine, 'request')} ${were(mine)} paid by your own credits because an allowance could not pay (spent for this period, paused, or not for that app or model).`);
  }
  if (other) said.push(`${count(other, 'request')} ${were(other)} paid by another of your allowances because the first could not pay.`);
  return said.join(' ');
}
