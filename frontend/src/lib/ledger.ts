// What the ledger page shows of a row beyond its numbers: what new credits repaid of the
// debt, where a row's reference leads, and how pages and live rows join the loaded list.

import type { LedgerEntry } from './api';
import { formatCredits, toMilli } from './format';

/** "240 repaid debt, 60 left" for a row whose new credits paid debt at once; "" otherwise. */
export function repaidText(r: LedgerEntry): string {
  if (r.repaidDebt === undefined || r.repaidDebt === null || toMilli(r.repaidDebt) <= 0) return '';
  return `${formatCredits(r.repaidDebt)} repaid debt, ${formatCredits(r.keptCredits ?? 0)} left`;
}

/** What an admin reads after a grant: "Granted 300 Recharge credits: 240 repaid debt, 60 left." */
export function grantDoneText(credits: string, kind: string, r: { repaidDebt?: LedgerEntry['repaidDebt']; keptCredits?: LedgerEntry['keptCredits'] }): string {
  const repaid = repaidText(r as LedgerEntry);
  return `Granted ${credits} ${kind} credits${repaid ? `: ${repaid}` : ''}.`;
}

/** The note column: the row's note, then what it repaid ("reward: 240 repaid debt, 60 left"). */
export function ledgerNote(r: LedgerEntry): string {
  const note = (r.note ?? '').trim();
  const repaid = repaidText(r);
  if (!repaid) return note;
  return note ? `${note}: ${repaid}` : repaid;
}

/** Where a row's reference leads: the usage event it charged or refunded, or the bucket it filled. */
export type LedgerRef = { kind: 'usage'; id: number } | { kind: 'bucket'; id: number } | null;

export function ledgerRef(r: LedgerEntry): LedgerRef {
  const m = /^(usage|bucket):(\d+)$/.exec(r.ref ?? '');
  if (!m) return null;
  return { kind: m[1] as 'usage' | 'bucket', id: Number(m[2]) };
}

/** True for the two rows of a debt repayment, which move credits inside the wallet (neither in nor out). */
export function isRepayment(r: LedgerEntry): boolean {
  return r.action === 'debt' && !(r.ref ?? '').startsWith('usage:');
}

/** Rows already loaded followed by a later page's, each row once. */
export function appendRows(have: LedgerEntry[], page: LedgerEntry[]): LedgerEntry[] {
  const ids = new Set(have.map((r) => r.id));
  const add = page.filter((r) => !ids.has(r.id));
  return add.length === 0 ? have : [...have, ...add];
}
