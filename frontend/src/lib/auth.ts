// Pure helpers for sign-in pages, invitations and the audit log.

import type { AuditEntry } from './api';

/** The message of a failed provider sign-in (`/login?error=…`), made safe to show: plain, short text. */
export function loginErrorText(raw: string | null | undefined): string {
  if (!raw) return '';
  // eslint-disable-next-line no-control-regex
  const t = raw.replace(/[\u0000-\u001f\u007f]+/g, ' ').replace(/\s+/g, ' ').trim();
  if (!t) return '';
  const c = t.charAt(0).toUpperCase() + t.slice(1);
  return c.length > 300 ? `${c.slice(0, 299)}…` : c;
}

/** The words people know for the built-in providers. */
export function providerLabel(id: string, name?: string | null): string {
  if (name) return name;
  switch (id) {
    case 'google':
      return 'Google';
    case 'microsoft':
      return 'Microsoft';
    case 'github':
      return 'GitHub';
    case 'oidc':
      return 'single sign-on';
    default:
      return id;
  }
}

export const AUDIT_LABELS: Record<string, string> = {
  signin: 'Signed in',
  signin_failed: 'Sign-in failed',
  signout_all: 'Signed out everywhere',
  token_created: 'Token created',
  token_revoked: 'Token revoked',
  tokens_revoked: 'All personal tokens revoked',
  key_created: 'App key created',
  key_revoked: 'App key revoked',
  role_changed: 'Role changed',
  member_disabled: 'Member disabled',
  member_enabled: 'Member enabled',
  password_reset: 'Password reset',
  invite_created: 'Invitation created',
  invite_accepted: 'Invitation accepted',
  identity_linked: 'Identity linked',
  identity_unlinked: 'Identity unlinked',
  settings_changed: 'Settings changed',
};

export function auditLabel(action: string): string {
  return AUDIT_LABELS[action] ?? action.replace(/_/g, ' ');
}

/** Failures and changes to who may do what stand out. */
export function auditTone(action: string): 'bad' | 'warn' | '' {
  if (action === 'signin_failed') return 'bad';
  if (['role_changed', 'member_disabled', 'password_reset', 'settings_changed', 'key_revoked', 'identity_unlinked'].includes(action)) {
    return 'warn';
  }
  return '';
}

/** The detail of an audit entry as one line of text. */
export function auditDetail(d: AuditEntry['detail']): string {
  if (d === null || d === undefined || d === '') return '';
  if (typeof d === 'string') return d;
  return Object.entries(d)
    .filter(([, v]) => v !== null && v !== undefined && v !== '')
    .map(([k, v]) => `${k}: ${typeof v === 'object' ? JSON.stringify(v) : String(v)}`)
    .join(', ');
}

/** The invitation token in a path such as /invite/abc123 (null when the path is something else). */
export function inviteToken(path: string): string | null {
  const m = /^\/invite\/([^/]+)\/?$/.exec(path);
  if (!m) return null;
  try {
    return decodeURIComponent(m[1]);
  } catch {
    return null;
  }
}

/** The link to give an invitee: the server's `url`, or one made from this address. */
export function inviteLink(reply: { url?: string | null; token: string }, origin: string): string {
  if (reply.url) return reply.url;
  return `${origin}/invite/${encodeURIComponent(reply.token)}`;
}

/** Is an invitation still usable? */
export function inviteState(
  i: { usedAt: string | null; expiresAt: string | null; revokedAt?: string | null },
  now: Date,
): 'used' | 'revoked' | 'expired' | 'open' {
  if (i.usedAt) return 'used';
  if (i.revokedAt) return 'revoked';
  if (i.expiresAt && Date.parse(i.expiresAt) <= now.getTime()) return 'expired';
  return 'open';
}
