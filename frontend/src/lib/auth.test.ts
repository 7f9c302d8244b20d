import { describe, expect, it } from 'vitest';
import { ApiClient, safeNext } from './api';
import { auditDetail, auditLabel, auditTone, inviteLink, inviteState, inviteToken, loginErrorText, providerLabel } from './auth';

describe('loginErrorText', () => {
  it('shows plain, short text', () => {
    expect(loginErrorText(null)).toBe('');
    expect(loginErrorText('  no member has the email\nx@y.org  ')).toBe('No member has the email x@y.org');
    expect(loginErrorText('a'.repeat(400))).toHaveLength(300);
  });
});

describe('safeNext and provider links', () => {
  it('only follows paths of this site', () => {
    expect(safeNext('/granted?range=7d')).toBe(true);
    expect(safeNext('//evil.example')).toBe(false);
    expect(safeNext('/\\evil.example')).toBe(false);
    expect(safeNext('https://evil.example/')).toBe(false);
    expect(safeNext('/api/v1/me')).toBe(false);
    expect(safeNext('')).toBe(false);
  });
  it('builds the start link with next and invite', () => {
    const c = new ApiClient({ fetch: (() => {}) as unknown as typeof fetch, cookies: () => '' });
    expect(c.providerStartUrl('oidc')).toBe('/api/v1/auth/oidc/start');
    expect(c.providerStartUrl('google', { next: '/usage?model=x' })).toBe('/api/v1/auth/google/start?next=%2Fusage%3Fmodel%3Dx');
    expect(c.providerStartUrl('github', { next: '//evil', invite: 'tok 1' })).toBe('/api/v1/auth/github/start?invite=tok+1');
  });
  it('names the providers', () => {
    expect(providerLabel('github')).toBe('GitHub');
    expect(providerLabel('oidc', 'School SSO')).toBe('School SSO');
  });
});

describe('invitations', () => {
  it('reads the token from the path', () => {
    expect(inviteToken('/invite/abc123')).toBe('abc123');
    expect(inviteToken('/invite/a%20b/')).toBe('a b');
    expect(inviteToken('/invite/')).toBeNull();
    expect(inviteToken('/invites/abc')).toBeNull();
    expect(inviteToken('/invite/a/b')).toBeNull();
  });
  it('makes the link from the reply or this address', () => {
    expect(inviteLink({ url: 'https://jar.example.org/invite/t', token: 't' }, 'http://x')).toBe('https://jar.example.org/invite/t');
    expect(inviteLink({ url: '', token: 't/1' }, 'http://127.0.0.1:8420')).toBe('http://127.0.0.1:8420/invite/t%2F1');
  });
  it('knows used, expired and open invitations', () => {
    const now = new Date('2026-11-10T12:00:00Z');
    expect(inviteState({ usedAt: '2026-11-09T00:00:00Z', expiresAt: null }, now)).toBe('used');
    expect(inviteState({ usedAt: null, expiresAt: '2026-11-10T11:59:59Z' }, now)).toBe('expired');
    expect(inviteState({ usedAt: null, expiresAt: '2026-11-17T00:00:00Z' }, now)).toBe('open');
    expect(inviteState({ usedAt: null, expiresAt: null }, now)).toBe('open');
    expect(inviteState({ usedAt: null, expiresAt: '2026-11-17T00:00:00Z', revokedAt: '2026-11-09T00:00:00Z' }, now)).toBe('revoked');
  });
});

describe('audit', () => {
  it('labels actions and marks failures', () => {
    expect(auditLabel('signin_failed')).toBe('Sign-in failed');
    expect(auditLabel('something_new')).toBe('something new');
    expect(auditTone('signin_failed')).toBe('bad');
    expect(auditTone('role_changed')).toBe('warn');
    expect(auditTone('signin')).toBe('');
  });
  it('writes the detail as one line', () => {
    expect(auditDetail(null)).toBe('');
    expect(auditDetail('wrong password')).toBe('wrong password');
    expect(auditDetail({ from: 'member', to: 'admin', empty: '' })).toBe('from: member, to: admin');
  });
});
