// Who is signed in, the instance settings, and a few shared look-ups.

import { api, ApiError, type Delegation, type Me, type Settings } from './api';
import { connection, type ReachState } from './live';

export function viewerTimeZone(): string {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
  } catch {
    return 'UTC';
  }
}

class Session {
  ready = $state(false);
  setupNeeded = $state(false);
  me = $state<Me | null>(null);
  settings = $state<Settings | null>(null);
  /** Why the first look-up failed (an ApiError or other thrown value), or null. */
  error = $state<unknown>(null);
  received = $state<Delegation[]>([]);
  given = $state<Delegation[]>([]);
  /** Whether tokenjar can be reached (the shell's banner; see live.ts). */
  reach = $state<ReachState>(connection.state);
  /** Counts the returns from offline to online, so views can reload what failed meanwhile. */
  reconnects = $state(0);

  constructor() {
    connection.subscribe((s) => {
      if (this.reach === 'offline' && s === 'online') this.reconnects++;
      this.reach = s;
    });
  }

  get isAdmin(): boolean {
    return this.me?.role === 'owner' || this.me?.role === 'admin';
  }

  /** The instance time zone: bare dates in queries are read in it. */
  get timeZone(): string {
    return this.settings?.timeZone || viewerTimeZone();
  }

  get instanceName(): string {
    return this.settings?.instanceName || 'tokenjar';
  }

  async load() {
    this.error = null;
    try {
      const s = await api.setupStatus();
      this.setupNeeded = s.needed;
      if (!s.needed) await this.loadUser();
    } catch (e) {
      this.error = e ?? new Error('Could not start');
    } finally {
      this.ready = true;
    }
  }

  async loadUser() {
    try {
      this.me = await api.me();
    } catch (e) {
      if (e instanceof ApiError && (e.status === 401 || e.status === 403)) {
        this.me = null;
        return;
      }
      throw e;
    }
    await Promise.all([this.loadSettings(), this.loadDelegations()]);
  }

  async loadSettings() {
    try {
      this.settings = await api.settings();
    } catch {
      this.settings = null;
    }
  }

  async loadDelegations() {
    try {
      const d = await api.delegations();
      this.received = d.received ?? [];
      this.given = d.given ?? [];
    } catch {
      /* optional */
    }
  }

  signedOut() {
    this.me = null;
    this.settings = null;
    this.received = [];
    this.given = [];
  }

  /** A readable name for a billing source: "Personal" or the delegation it came from. */
  sourceLabel(source: string | number | null | undefined, delegationId?: number | null): string {
    if (source === null || source === undefined || source === '' || source === 'personal') return 'Personal';
    const id = Number(delegationId ?? source);
    const r = this.received.find((d) => d.id === id);
    if (r) return `From ${r.granterName}${r.note ? ` (${r.note})` : ''}`;
    const g = this.given.find((d) => d.id === id);
    if (g) return `To ${g.granteeName}${g.note ? ` (${g.note})` : ''}`;
    return `Another allowance (number ${id})`;
  }
}

export const session = new Session();
api.onUnauthorized = () => {
  session.signedOut();
};
