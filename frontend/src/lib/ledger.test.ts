import { describe, expect, it } from 'vitest';
import type { LedgerEntry } from './api';
import { appendRows, grantDoneText, isRepayment, ledgerNote, ledgerRef, repaidText } from './ledger';

function row(over: Partial<LedgerEntry>): LedgerEntry {
  return { id: 1, at: '2026-12-06T10:00:00Z', action: 'grant', credits: 300, bucketId: 7, kind: 'addon', ref: 'bucket:7', balanceAfter: 60, note: '', ...over };
}

describe('repaidText and ledgerNote', () => {
  it('says what a grant repaid of the debt and what was left', () => {
    const r = row({ note: 'reward', repaidDebt: 240, keptCredits: 60 });
    expect(repaidText(r)).toBe('240 repaid debt, 60 left');
    expect(ledgerNote(r)).toBe('reward: 240 repaid debt, 60 left');
  });
  it('reads without a note, with decimals and thousands', () => {
    expect(ledgerNote(row({ credits: 2000.5, repaidDebt: 1940.5, keptCredits: 60 }))).toBe('1,940.5 repaid debt, 60 left');
    expect(ledgerNote(row({ credits: 100, repaidDebt: 100, keptCredits: 0 }))).toBe('100 repaid debt, 0 left');
  });
  it('leaves rows that repaid nothing as they are', () => {
    expect(ledgerNote(row({ note: 'birthday' }))).toBe('birthday');
    expect(ledgerNote(row({ note: null }))).toBe('');
    expect(repaidText(row({ repaidDebt: 0, keptCredits: 300 }))).toBe('');
  });
});

describe('ledgerRef', () => {
  it('leads a charge to its usage event and a grant to its bucket', () => {
    expect(ledgerRef(row({ action: 'usage', ref: 'usage:42' }))).toEqual({ kind: 'usage', id: 42 });
    expect(ledgerRef(row({ ref: 'bucket:7' }))).toEqual({ kind: 'bucket', id: 7 });
    expect(ledgerRef(row({ ref: 'day:2026-12-06' }))).toBeNull();
    expect(ledgerRef(row({ ref: null }))).toBeNull();
  });
});

describe('isRepayment', () => {
  it('marks both rows of a debt repayment, not debt a charge made', () => {
    expect(isRepayment(row({ action: 'debt', ref: 'bucket:7', credits: -240 }))).toBe(true);
    expect(isRepayment(row({ action: 'debt', ref: '', bucketId: null, credits: 240 }))).toBe(true);
    expect(isRepayment(row({ action: 'debt', ref: 'usage:3', bucketId: null, credits: -5 }))).toBe(false);
    expect(isRepayment(row({ action: 'grant' }))).toBe(false);
  });
});

describe('appendRows', () => {
  it('adds a later page once, in order, keeping the loaded rows', () => {
    const have = [row({ id: 1 }), row({ id: 2 })];
    const got = appendRows(have, [row({ id: 2 }), row({ id: 3 }), row({ id: 4 })]);
    expect(got.map((r) => r.id)).toEqual([1, 2, 3, 4]);
    expect(appendRows(have, [row({ id: 1 })])).toBe(have);
  });
});

describe('grantDoneText', () => {
  it('says what a grant repaid of the debt, and nothing more without debt', () => {
    expect(grantDoneText('300', 'Recharge', { repaidDebt: 240, keptCredits: 60 })).toBe('Granted 300 Recharge credits: 240 repaid debt, 60 left.');
    expect(grantDoneText('50', 'Recharge', { repaidDebt: 0, keptCredits: 50 })).toBe('Granted 50 Recharge credits.');
    expect(grantDoneText('50', 'Recharge', {})).toBe('Granted 50 Recharge credits.');
  });
});
