// The one typed client for the tokenjar API (docs/api.md). Every reply type lives here.

/** Credits as the API sends them: a JSON decimal number with at most 3 decimals. */
export type Credits = number;
/** RFC 3339 timestamp. */
export type Timestamp = string;
export type Id = number;

export type Role = 'owner' | 'admin' | 'member';
export type BucketKind = 'subscription' | 'addon' | 'event';
export type LedgerAction = 'usage' | 'grant' | 'topup' | 'refresh' | 'expire' | 'refund' | 'debt';
export type Modality = 'text' | 'image' | 'audio' | 'video' | 'embedding';
export type Period = 'day' | 'week' | 'month' | 'once';
export type UsageSort = '-at' | 'at' | '-credits' | 'credits' | '-totalTokens' | 'totalTokens';
export type AggregateBy =
  | 'day'
  | 'month'
  | 'usageType'
  | 'app'
  | 'model'
  | 'provider'
  | 'project'
  | 'source'
  | 'modality'
  | 'member';
export type AggregateScope = 'own' | 'granted' | 'all';
export type ExportFormat = 'csv' | 'json';

// ---- setup and sign-in ----

export interface User {
  id: Id;
  email: string;
  name: string;
  role: Role;
}
export type Me = User;

export interface SetupStatus {
  needed: boolean;
}
export interface SetupRequest {
  email: string;
  name: string;
  password: string;
  instanceName?: string;
  timeZone?: string;
  creditsPerUSD?: number;
}
export interface SetupReply {
  user: User;
  token: string;
}
export interface LoginRequest {
  email: string;
  password: string;
}
export interface LoginReply {
  user: User;
}
export interface Provider {
  id: string;
  name: string;
}
export interface CodeLoginRequest {
  code: string;
}

// ---- personal tokens ----

export interface PersonalToken {
  id: Id;
  name: string;
  prefix: string;
  createdAt: Timestamp;
  lastUsedAt: Timestamp | null;
  delegationId?: Id | null;
}
export interface PersonalTokenCreate {
  name: string;
  /** Binds the token to a delegation the caller receives. */
  delegationId?: Id;
}
export interface PersonalTokenCreated {
  id: Id;
  name: string;
  prefix: string;
  token: string;
}

// ---- settings ----

export interface Cycle {
  start: Timestamp;
  end: Timestamp;
}
export interface Settings {
  instanceName: string;
  timeZone: string;
  creditsPerUSD: number;
  cycle: Cycle;
  /** Email domains whose provider sign-ins create a member (admins only; may be absent). */
  signupDomains?: string[];
}
export interface SettingsUpdate {
  instanceName?: string;
  timeZone?: string;
  creditsPerUSD?: number;
  signupDomains?: string[];
}
export type ProviderId = 'google' | 'microsoft' | 'github' | 'oidc';
export interface ProviderSetting {
  id: ProviderId | string;
  name: string;
  configured: boolean;
  /** Where the configuration comes from: environment variables win over settings. */
  source: 'env' | 'settings' | '';
  clientId: string;
  discoveryUrl?: string;
  tenant?: string;
}
export interface ProviderSettingUpdate {
  clientId: string;
  clientSecret?: string;
  discoveryUrl?: string;
  tenant?: string;
  name?: string;
}

// ---- AI gateway: providers and prices (admin) ----

export type AIProviderKind = 'openai' | 'anthropic' | 'openai-compatible';
export interface AIProvider {
  id: Id;
  name: string;
  kind: AIProviderKind;
  baseUrl: string;
  /** The model ids offered; empty: the provider's own list. */
  models: string[];
  /** Metered in tokens, charged 0 credits (a local server). */
  free: boolean;
  includeUsage: boolean;
  timeoutMs: number;
  /** Whether a key is stored. The key itself is never sent back. */
  hasKey: boolean;
  createdAt: Timestamp;
  updatedAt: Timestamp;
}
export interface AIProviderCreate {
  name: string;
  kind: AIProviderKind;
  baseUrl?: string;
  apiKey?: string;
  models?: string[];
  free?: boolean;
  includeUsage?: boolean;
  timeoutMs?: number;
}
/** Fields left out stay as they are; apiKey "" removes the key. */
export type AIProviderPatch = Partial<AIProviderCreate>;
export interface AIProviderTest {
  ok: boolean;
  /** The provider's own model list. */
  models: string[];
  /** Offered models with no price (never for a free provider). */
  unpriced: string[];
}
/** USD per million tokens (perImage: per image); null when the model has no such rate. */
export interface ModelPriceRates {
  input: number;
  output: number;
  cachedInput: number | null;
  cacheWrite: number | null;
  cacheWrite1h: number | null;
  perImage: number | null;
}
export interface ModelPrice extends ModelPriceRates {
  model: string;
  /** USD per image by "quality size" or "size" (image models). */
  imageVariants?: Record<string, number>;
  maxOutput?: number;
  contextWindow?: number;
  source: string;
  asOf: string;
  note?: string;
  /** table: the shipped, dated table; override: an admin's price. */
  from: 'table' | 'override';
  /** The table's row under an override. */
  default?: ModelPriceRates & { source: string; asOf: string };
}
export interface PriceList {
  items: ModelPrice[];
  table: { asOf: string; note: string };
}
/** Decimal strings ("2.50") or numbers, read exactly by the server. */
export interface PriceSet {
  input: string | number;
  output: string | number;
  cachedInput?: string | number;
  cacheWrite?: string | number;
  cacheWrite1h?: string | number;
  perImage?: string | number;
}

// ---- members ----

export interface Member {
  id: Id;
  email: string;
  name: string;
  role: Role;
  /** A class or team label; "" when none. */
  group?: string | null;
  disabled: boolean;
  monthlyCredits: Credits;
  nextMonthlyCredits: Credits | null;
  balance: Credits;
  debt: Credits;
  usedThisCycle: Credits;
  requestsThisCycle: number;
  createdAt: Timestamp;
}
export interface MemberCreate {
  email: string;
  name: string;
  password?: string;
  role?: Role;
}
export interface MemberPatch {
  name?: string;
  role?: Role;
  disabled?: boolean;
  group?: string;
}
export interface ImportRow {
  name: string;
  email?: string;
  group?: string;
}
export interface MemberImport {
  csv?: string;
  members?: ImportRow[];
  /** A group for every imported member that names none. */
  group?: string;
  role?: Role;
  /** Give everyone a one-time sign-in code, not only those without an email. */
  codes?: boolean;
}
export interface ImportedMember {
  member: Member;
  code?: string | null;
  /** Not in the contract, but read when the server sends it. */
  codeExpiresAt?: Timestamp | null;
}
export interface SignInCode {
  code: string;
  expiresAt: Timestamp;
}
export interface GrantRequest {
  kind: BucketKind;
  credits: Credits;
  expiresAt?: Timestamp;
  note?: string;
}
export interface LedgerRow {
  id: Id;
  at: Timestamp;
  action: LedgerAction;
  credits: Credits;
  bucketId: Id | null;
  kind: BucketKind | null;
  ref: string | null;
  balanceAfter: Credits;
  note?: string | null;
}
export interface GrantReply {
  bucketId: Id;
  kind: BucketKind;
  credits: Credits;
  expiresAt: Timestamp | null;
  ledger: LedgerRow[];
  /** What the grant repaid of the member's debt at once (0 without debt). */
  repaidDebt?: Credits;
  /** What the member kept of it. */
  keptCredits?: Credits;
}

// ---- apps and keys ----

export interface AppKey {
  id: Id;
  prefix: string;
  delegationId?: Id | null;
  createdAt: Timestamp;
  lastUsedAt: Timestamp | null;
  revokedAt: Timestamp | null;
}
export interface App {
  id: Id;
  slug: string;
  name: string;
  createdAt: Timestamp;
  disabled: boolean;
  /** Its keys may name the member each AI gateway request bills (a shared Open WebUI). */
  namesMembers?: boolean;
  /** Only admins get the keys. */
  keys?: AppKey[];
}
export interface AppPatch {
  name?: string;
  disabled?: boolean;
  namesMembers?: boolean;
}
export interface AppCreate {
  name: string;
  slug?: string;
  namesMembers?: boolean;
}
export interface AppCreated {
  id: Id;
  slug: string;
  name: string;
  key: string;
  keyId: Id;
}
export interface KeyCreated {
  id: Id;
  prefix: string;
  key: string;
}

// ---- usage ----

export interface BucketPart {
  bucketId: Id;
  kind: BucketKind;
  credits: Credits;
}
export interface UsageEvent {
  id: Id;
  at: Timestamp;
  userId: Id;
  userName: string;
  userEmail: string;
  appId: Id | null;
  appSlug: string | null;
  appName: string | null;
  description: string;
  shortDescription: string | null;
  usageType: string;
  model: string | null;
  provider: string | null;
  modality: string | null;
  inputTokens: number | null;
  outputTokens: number | null;
  totalTokens: number | null;
  processingTimeMs: number | null;
  project: string | null;
  /** `personal` or a delegation id. */
  billingSource: string | number;
  delegationId: Id | null;
  costUsd: number | null;
  credits: Credits;
  charged: boolean;
  debt: Credits;
  refunded: boolean;
  /** Why the event fell through to another source (e.g. an allowance was spent). */
  sourceNote?: string | null;
  modelParameters: Record<string, unknown> | null;
  internalTokensOrCredits: number | string | null;
  idempotencyKey: string | null;
  // Gateway metering (zero, false or null for reported usage).
  /** Input tokens read from the provider's cache (part of inputTokens). */
  cachedInputTokens?: number;
  /** Input tokens written to the provider's cache (part of inputTokens). */
  cacheWriteTokens?: number;
  /** Output tokens spent on reasoning (part of outputTokens). */
  reasoningTokens?: number;
  /** The provider never reported the usage (the client left, the stream was cut): the charge is an estimate. */
  estimated?: boolean;
  /** The provider reported more than was held; the excess was charged as ordinary usage. */
  overHold?: boolean;
  /** The prices the gateway charged, USD per million tokens (per image); null unless the gateway priced it. */
  prices?: EventPrices | null;
}
export interface EventPrices {
  input: number;
  output: number;
  cachedInput: number;
  cacheWrite: number;
  perImage: number | null;
}
export interface UsageDetail extends UsageEvent {
  parts: BucketPart[];
  ledger: LedgerRow[];
}
export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}
export interface UsageFilters {
  from?: string;
  to?: string;
  app?: string;
  model?: string;
  provider?: string;
  usageType?: string;
  project?: string;
  source?: string;
  modality?: string;
  /** Only for /granted/usage and admin aggregates. */
  member?: string;
}
export interface Paging {
  limit?: number;
  cursor?: string | null;
  sort?: UsageSort;
}
/** The body of POST /usage (for apps; the SPA only shows it in snippets). */
export interface UsageReport {
  aiAgentId?: string | number;
  userId?: Id;
  userEmail?: string;
  description: string;
  usageType?: string;
  shortDescription?: string;
  totalCost?: number;
  credits?: Credits;
  model?: string;
  provider?: string;
  modality?: Modality;
  inputTokens?: number;
  outputTokens?: number;
  totalTokens?: number;
  processingTimeMs?: number;
  modelParameters?: Record<string, unknown>;
  internalTokensOrCredits?: number | string;
  project?: string;
  billingSource?: string;
  chargeUser?: boolean;
  idempotencyKey?: string;
  timestamp?: Timestamp;
}
export interface UsageReportReply {
  id: Id;
  creditsCharged: Credits;
  billingSource: string | number;
  parts: BucketPart[];
  debt: Credits;
  balanceAfter: Credits;
  sourceNote?: string | null;
}
export interface RefundReply {
  ledger: LedgerRow[];
}
export interface KindSplit {
  subscription: Credits;
  addon: Credits;
  event: Credits;
  debt: Credits;
}
export interface AggregateItem {
  key: string;
  label: string;
  requests: number;
  credits: Credits;
  tokens: number;
  kinds: KindSplit;
  allowance?: Credits;
}
export interface AggregateTotals {
  requests: number;
  credits: Credits;
  tokens: number;
}
export interface AggregateReply {
  by: AggregateBy;
  items: AggregateItem[];
  totals: AggregateTotals;
}
export interface FacetApp {
  id: Id;
  slug: string;
  name: string;
}
export interface Facets {
  apps: FacetApp[];
  models: string[];
  providers: string[];
  usageTypes: string[];
  projects: string[];
  modalities?: string[];
}

// ---- balance and ledger ----

export interface Bucket {
  id: Id;
  kind: BucketKind;
  remaining: Credits;
  granted: Credits;
  grantedAt: Timestamp;
  expiresAt: Timestamp | null;
  note?: string | null;
}
export interface BalanceCycle {
  start: Timestamp;
  end: Timestamp;
  allowance: Credits;
  used: Credits;
}
/** An active allowance the member may spend from now (GET /balance `allowances`). */
export interface AllowanceLeft {
  id: Id;
  granterName: string;
  note: string;
  /** Left this period, bounded by the granter's live credits, less holds. */
  left: Credits;
  period: Period;
  resetsAt: Timestamp | null;
  models: string[];
}
export interface Balance {
  total: Credits;
  debt: Credits;
  buckets: Bucket[];
  cycle?: BalanceCycle;
  /** Spending power: own live credits (never below 0) plus what active allowances have left, less holds. */
  available: Credits;
  /** Held right now by the member's in-flight gateway requests. */
  reserved: Credits;
  allowances: AllowanceLeft[];
}
export interface LedgerPage {
  month: string;
  items: LedgerRow[];
}

// ---- delegations ----

export type DelegationStatus = 'active' | 'paused' | 'revoked' | 'ended' | 'scheduled';
export interface DelegationApp {
  id: Id;
  slug: string;
  name: string;
}
export interface PendingChange {
  credits: Credits;
  period: Period;
  /** When the change applies: the start of the next period. */
  from: Timestamp;
}
export interface Delegation {
  id: Id;
  granterId: Id;
  granterName: string;
  granteeId: Id;
  granteeName: string;
  granteeEmail: string;
  credits: Credits;
  period: Period;
  startsAt: Timestamp;
  endsAt: Timestamp | null;
  note: string | null;
  status: DelegationStatus | string;
  /** Empty: every app. */
  apps?: DelegationApp[];
  /** Empty: every model. */
  models?: string[];
  usedThisPeriod: Credits;
  remainingThisPeriod: Credits;
  /** Exclusive: the instant the next period starts; null for `once`. */
  periodEnds: Timestamp | null;
  pending?: PendingChange | null;
  createdAt: Timestamp;
}
/** The terms shared by a single and a bulk delegation. */
export interface DelegationTerms {
  credits: Credits;
  period: Period;
  startsAt?: Timestamp;
  endsAt?: Timestamp;
  note?: string;
  /** App ids or slugs. */
  apps?: (Id | string)[];
  models?: string[];
}
export interface DelegationCreate extends DelegationTerms {
  granteeEmail?: string;
  granteeId?: Id;
}
export interface DelegationBulkCreate extends DelegationTerms {
  granteeIds?: Id[];
  granteeEmails?: string[];
  group?: string;
}
export interface DelegationPatch {
  credits?: Credits;
  period?: Period;
  /** "" removes the end date. */
  endsAt?: Timestamp | '';
  note?: string;
  apps?: (Id | string)[];
  models?: string[];
  status?: 'active' | 'paused';
}
export interface Delegations {
  given: Delegation[];
  received: Delegation[];
}

// ---- identities, invitations, audit ----

export interface Identity {
  id: Id;
  provider: string;
  email: string;
  createdAt: Timestamp;
}
export interface InviteCreate {
  email?: string;
  role?: Role;
  monthlyCredits?: Credits;
  expiresAt?: Timestamp;
  note?: string;
}
export interface Invite {
  id: Id;
  email: string | null;
  role: Role;
  monthlyCredits: Credits | null;
  note: string | null;
  createdAt: Timestamp;
  expiresAt: Timestamp | null;
  usedAt: Timestamp | null;
  usedBy: Id | string | null;
  revokedAt?: Timestamp | null;
}
export interface InviteCreated extends Partial<Invite> {
  id: Id;
  token: string;
  /** The link, shown once. */
  url: string;
  expiresAt: Timestamp | null;
}
export interface InvitePublic {
  instanceName: string;
  email: string | null;
  role: Role;
  expiresAt: Timestamp | null;
}
export interface InviteAccept {
  email: string;
  name: string;
  password: string;
}
export interface PasswordChange {
  current: string;
  password: string;
  /** Also revoke every personal token of the member. */
  revokeTokens?: boolean;
}
export type AuditAction =
  | 'signin'
  | 'signin_failed'
  | 'signout_all'
  | 'token_created'
  | 'token_revoked'
  | 'tokens_revoked'
  | 'key_created'
  | 'key_revoked'
  | 'role_changed'
  | 'member_disabled'
  | 'member_enabled'
  | 'password_reset'
  | 'invite_created'
  | 'invite_accepted'
  | 'identity_linked'
  | 'identity_unlinked'
  | 'settings_changed';
export interface AuditEntry {
  id: Id;
  at: Timestamp;
  actor: Id | string | null;
  actorName: string | null;
  action: AuditAction | string;
  target: string | null;
  ip: string | null;
  detail: string | Record<string, unknown> | null;
}

// ---- jobs ----

export interface Job {
  name: string;
  lastRunAt: Timestamp | null;
  lastAsOf: Timestamp | null;
  lastResult: string | null;
}

export interface Items<T> {
  items: T[];
}

// ---- errors ----

const STATUS_CODES: Record<number, string> = {
  400: 'invalid',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  409: 'conflict',
  413: 'too_large',
  429: 'rate_limited',
};

/** An error reply of the API ({"error":{"code","message","field"}}) or a network failure. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly field?: string;

  constructor(status: number, code: string, message: string, field?: string) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    if (field) this.field = field;
  }
}

/**
 * A message for people from any thrown value: the server's own words, never an internal name
 * such as the field it is about (a form marks that field instead) or the browser's fetch text.
 */
export function errorMessage(e: unknown): string {
  if (e instanceof ApiError) {
    if (e.code === 'network') return "Can't reach tokenjar. Check that it is running, then try again.";
    return e.message;
  }
  if (e instanceof Error) return e.message;
  return String(e);
}

/** Parses a failed response into an ApiError. */
export async function toApiError(res: Response): Promise<ApiError> {
  const fallbackCode = STATUS_CODES[res.status] ?? (res.status >= 500 ? 'internal' : 'error');
  let text = '';
  try {
    text = await res.text();
  } catch {
    /* ignore */
  }
  if (text) {
    try {
      const body = JSON.parse(text) as { error?: { code?: unknown; message?: unknown; field?: unknown } };
      const err = body?.error;
      if (err && typeof err === 'object') {
        return new ApiError(
          res.status,
          typeof err.code === 'string' && err.code ? err.code : fallbackCode,
          typeof err.message === 'string' && err.message ? err.message : res.statusText || `HTTP ${res.status}`,
          typeof err.field === 'string' && err.field ? err.field : undefined,
        );
      }
    } catch {
      /* not JSON */
    }
  }
  return new ApiError(res.status, fallbackCode, res.statusText || `HTTP ${res.status}`);
}

// ---- query strings and cookies ----

export type QueryValue = string | number | boolean | null | undefined;

/** Builds "?a=1&b=2", dropping empty values (undefined, null, "" and blanks). "" when nothing is left. */
export function buildQuery(params: Record<string, QueryValue> | undefined): string {
  if (!params) return '';
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null) continue;
    const s = typeof v === 'string' ? v.trim() : String(v);
    if (s === '') continue;
    q.append(k, s);
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}

/** Reads one cookie from a `document.cookie`-style string. */
export function readCookie(name: string, cookies: string): string | null {
  for (const part of cookies.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) {
      const raw = part.slice(eq + 1).trim();
      try {
        return decodeURIComponent(raw);
      } catch {
        return raw;
      }
    }
  }
  return null;
}

/** Calls whose 401 means "wrong credentials", not "your session ended". */
const SIGN_IN_PATHS = new Set(['/auth/login', '/auth/code', '/me/password']);

/** Is this a same-site path that is safe to go to after signing in? */
export function safeNext(next: string | null | undefined): next is string {
  return !!next && next.startsWith('/') && !next.startsWith('//') && !next.startsWith('/\\') && !next.startsWith('/api/');
}

export const CSRF_COOKIE = 'tj_csrf';
export const CSRF_HEADER = 'X-CSRF-Token';
export const API_BASE = '/api/v1';

// ---- the client ----

export interface ClientOptions {
  base?: string;
  fetch?: typeof fetch;
  /** Returns the cookie string; defaults to document.cookie. */
  cookies?: () => string;
  /** Called on a 401 reply (except for sign-in itself). */
  onUnauthorized?: (err: ApiError) => void;
}

interface RequestOptions {
  query?: Record<string, QueryValue>;
  body?: unknown;
}

export class ApiClient {
  base: string;
  onUnauthorized?: (err: ApiError) => void;
  private fetchFn: typeof fetch;
  private cookies: () => string;

  constructor(opts: ClientOptions = {}) {
    this.base = opts.base ?? API_BASE;
    this.fetchFn = opts.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.cookies = opts.cookies ?? (() => (typeof document !== 'undefined' ? document.cookie : ''));
    this.onUnauthorized = opts.onUnauthorized;
  }

  url(path: string, query?: Record<string, QueryValue>): string {
    return this.base + path + buildQuery(query);
  }

  async request<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    const headers: Record<string, string> = { Accept: 'application/json' };
    const init: RequestInit = { method, headers, credentials: 'same-origin' };
    if (opts.body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(opts.body);
    }
    if (method !== 'GET' && method !== 'HEAD') {
      const csrf = readCookie(CSRF_COOKIE, this.cookies());
      if (csrf) headers[CSRF_HEADER] = csrf;
    }
    let res: Response;
    try {
      res = await this.fetchFn(this.url(path, opts.query), init);
    } catch (e) {
      throw new ApiError(0, 'network', `Cannot reach the server (${errorMessage(e)})`);
    }
    if (!res.ok) {
      const err = await toApiError(res);
      if (res.status === 401 && !SIGN_IN_PATHS.has(path) && this.onUnauthorized) this.onUnauthorized(err);
      throw err;
    }
    if (res.status === 204) return {} as T;
    const text = await res.text();
    if (!text) return {} as T;
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new ApiError(res.status, 'invalid_reply', 'The server sent a reply that is not JSON');
    }
  }

  get<T>(path: string, query?: Record<string, QueryValue>): Promise<T> {
    return this.request<T>('GET', path, { query });
  }
  post<T>(path: string, body?: unknown, query?: Record<string, QueryValue>): Promise<T> {
    return this.request<T>('POST', path, { body: body ?? {}, query });
  }
  put<T>(path: string, body?: unknown, query?: Record<string, QueryValue>): Promise<T> {
    return this.request<T>('PUT', path, { body: body ?? {}, query });
  }
  patch<T>(path: string, body?: unknown): Promise<T> {
    return this.request<T>('PATCH', path, { body: body ?? {} });
  }
  del<T>(path: string): Promise<T> {
    return this.request<T>('DELETE', path);
  }

  // setup and sign-in
  setupStatus() {
    return this.get<SetupStatus>('/setup');
  }
  setup(body: SetupRequest) {
    return this.post<SetupReply>('/setup', body);
  }
  login(body: LoginRequest) {
    return this.post<LoginReply>('/auth/login', body);
  }
  logout() {
    return this.post<Record<string, never>>('/auth/logout');
  }
  async providers(): Promise<Provider[]> {
    const r = await this.get<Provider[] | Items<Provider>>('/auth/providers');
    return Array.isArray(r) ? r : (r?.items ?? []);
  }
  /** Where a provider button links: the server redirects to the provider. */
  providerStartUrl(id: string, opts: { next?: string | null; invite?: string | null } = {}): string {
    const next = opts.next && safeNext(opts.next) ? opts.next : undefined;
    return this.url(`/auth/${encodeURIComponent(id)}/start`, { invite: opts.invite, next });
  }
  loginWithCode(code: string) {
    return this.post<LoginReply>('/auth/code', { code: code.trim() });
  }
  /** Signs out every session; with revokeTokens, every personal token is revoked too. */
  logoutAll(revokeTokens = false) {
    return this.post<Record<string, never>>('/auth/logout-all', { revokeTokens });
  }
  me() {
    return this.get<Me>('/me');
  }
  changePassword(body: PasswordChange) {
    return this.put<Record<string, never>>('/me/password', body);
  }
  identities() {
    return this.get<Items<Identity>>('/me/identities');
  }
  unlinkIdentity(id: Id) {
    return this.del<Record<string, never>>(`/me/identities/${id}`);
  }

  // tokens
  tokens() {
    return this.get<Items<PersonalToken>>('/tokens');
  }
  createToken(name: string, delegationId?: Id | null) {
    const body: PersonalTokenCreate = { name };
    if (delegationId) body.delegationId = delegationId;
    return this.post<PersonalTokenCreated>('/tokens', body);
  }
  revokeToken(id: Id) {
    return this.del<Record<string, never>>(`/tokens/${id}`);
  }

  // settings
  settings() {
    return this.get<Settings>('/settings');
  }
  updateSettings(body: SettingsUpdate) {
    return this.put<Settings>('/settings', body);
  }
  providerSettings() {
    return this.get<Items<ProviderSetting>>('/settings/providers');
  }
  updateProvider(id: string, body: ProviderSettingUpdate) {
    return this.put<ProviderSetting>(`/settings/providers/${encodeURIComponent(id)}`, body);
  }

  // members
  members(group?: string) {
    return this.get<Items<Member>>('/members', { group });
  }
  importMembers(body: MemberImport) {
    return this.post<Items<ImportedMember>>('/members/import', body);
  }
  newSignInCode(id: Id) {
    return this.post<SignInCode>(`/members/${id}/code`);
  }
  /** Resets a member's password and signs out their sessions; with revokeTokens, their personal tokens end too. */
  resetPassword(id: Id, password: string, revokeTokens = false) {
    return this.post<Record<string, never>>(`/members/${id}/password`, { password, revokeTokens });
  }
  createMember(body: MemberCreate) {
    return this.post<Member>('/members', body);
  }
  patchMember(id: Id, body: MemberPatch) {
    return this.patch<Member>(`/members/${id}`, body);
  }
  setPlan(id: Id, monthlyCredits: Credits, now = false) {
    return this.put<Member>(`/members/${id}/plan`, { monthlyCredits }, { now: now ? 'true' : undefined });
  }
  grant(id: Id, body: GrantRequest) {
    return this.post<GrantReply>(`/members/${id}/grants`, body);
  }

  // apps
  apps() {
    return this.get<Items<App>>('/apps');
  }
  createApp(body: AppCreate) {
    return this.post<AppCreated>('/apps', body);
  }
  patchApp(id: Id, body: AppPatch) {
    return this.patch<App>(`/apps/${id}`, body);
  }
  createKey(appId: Id, delegationId?: Id | null) {
    return this.post<KeyCreated>(`/apps/${appId}/keys`, delegationId ? { delegationId } : {});
  }
  revokeKey(appId: Id, keyId: Id) {
    return this.del<Record<string, never>>(`/apps/${appId}/keys/${keyId}`);
  }

  // usage
  usage(filters: UsageFilters, paging: Paging = {}) {
    return this.get<Page<UsageEvent>>('/usage', { ...filterQuery(filters), ...pagingQuery(paging) });
  }
  usageDetail(id: Id) {
    return this.get<UsageDetail>(`/usage/${id}`);
  }
  aggregate(filters: UsageFilters, by: AggregateBy, scope?: AggregateScope) {
    return this.get<AggregateReply>('/usage/aggregate', {
      ...filterQuery(filters),
      by,
      scope: scope && scope !== 'own' ? scope : undefined,
    });
  }
  facets(scope?: AggregateScope) {
    return this.get<Facets>('/usage/facets', { scope: scope && scope !== 'own' ? scope : undefined });
  }
  refund(id: Id) {
    return this.post<RefundReply>(`/usage/${id}/refund`);
  }
  exportUrl(filters: UsageFilters, format: ExportFormat): string {
    return this.url('/usage/export', { ...filterQuery(filters), format });
  }
  streamUrl(): string {
    return `${this.base}/usage/stream`;
  }
  report(body: UsageReport) {
    return this.post<UsageReportReply>('/usage', body);
  }

  // balance and ledger
  balance() {
    return this.get<Balance>('/balance');
  }
  ledger(month: string, member?: Id) {
    return this.get<LedgerPage>('/ledger', { month, member });
  }

  // delegations
  delegations() {
    return this.get<Delegations>('/delegations');
  }
  createDelegation(body: DelegationCreate) {
    return this.post<Delegation>('/delegations', body);
  }
  createDelegations(body: DelegationBulkCreate) {
    return this.post<Items<Delegation>>('/delegations/bulk', body);
  }
  patchDelegation(id: Id, body: DelegationPatch) {
    return this.patch<Delegation>(`/delegations/${id}`, body);
  }
  revokeDelegation(id: Id) {
    return this.del<Record<string, never>>(`/delegations/${id}`);
  }
  grantedUsage(filters: UsageFilters, paging: Paging = {}) {
    return this.get<Page<UsageEvent>>('/granted/usage', { ...filterQuery(filters), ...pagingQuery(paging) });
  }
  grantedExportUrl(filters: UsageFilters, format: ExportFormat): string {
    return this.url('/granted/usage/export', { ...filterQuery(filters), format });
  }

  // invitations
  invites() {
    return this.get<Items<Invite>>('/invites');
  }
  createInvite(body: InviteCreate) {
    return this.post<InviteCreated>('/invites', body);
  }
  revokeInvite(id: Id) {
    return this.del<Record<string, never>>(`/invites/${id}`);
  }
  invite(token: string) {
    return this.get<InvitePublic>(`/invites/${encodeURIComponent(token)}`);
  }
  acceptInvite(token: string, body: InviteAccept) {
    return this.post<LoginReply>(`/invites/${encodeURIComponent(token)}/accept`, body);
  }

  // audit
  audit(paging: { limit?: number; cursor?: string | null } = {}) {
    return this.get<Page<AuditEntry>>('/audit', { limit: paging.limit, cursor: paging.cursor });
  }

  // AI gateway: providers and prices (admin)
  aiProviders() {
    return this.get<Items<AIProvider>>('/providers');
  }
  aiProvider(id: Id) {
    return this.get<AIProvider>(`/providers/${id}`);
  }
  createAIProvider(body: AIProviderCreate) {
    return this.post<AIProvider>('/providers', body);
  }
  patchAIProvider(id: Id, body: AIProviderPatch) {
    return this.patch<AIProvider>(`/providers/${id}`, body);
  }
  deleteAIProvider(id: Id) {
    return this.del<Record<string, never>>(`/providers/${id}`);
  }
  /** Asks the provider for its models; a failing provider is an ApiError with status 502. */
  testAIProvider(id: Id) {
    return this.post<AIProviderTest>(`/providers/${id}/test`);
  }
  prices() {
    return this.get<PriceList>('/prices');
  }
  setPrice(model: string, body: PriceSet) {
    return this.put<ModelPrice>(`/prices/${encodeURIComponent(model)}`, body);
  }
  resetPrice(model: string) {
    return this.del<Record<string, never>>(`/prices/${encodeURIComponent(model)}`);
  }

  // jobs
  jobs() {
    return this.get<Items<Job>>('/jobs');
  }
}

const FILTER_KEYS: (keyof UsageFilters)[] = [
  'from',
  'to',
  'app',
  'model',
  'provider',
  'usageType',
  'project',
  'source',
  'modality',
  'member',
];

/** The query parameters of a filter set, in a stable order, empty ones left out by buildQuery. */
export function filterQuery(f: UsageFilters): Record<string, QueryValue> {
  const q: Record<string, QueryValue> = {};
  for (const k of FILTER_KEYS) q[k] = f[k];
  return q;
}

function pagingQuery(p: Paging): Record<string, QueryValue> {
  return { sort: p.sort && p.sort !== '-at' ? p.sort : undefined, limit: p.limit, cursor: p.cursor };
}

/** The shared client of the SPA. */
export const api = new ApiClient();

// ---- i20-ledger ----

/** A ledger row of GET /ledger: a row that brought credits in and paid debt with them says how much. */
export interface LedgerEntry extends LedgerRow {
  /** What the new credits repaid of the debt at once (only when they did). */
  repaidDebt?: Credits;
  /** What the member kept of them (only with repaidDebt). */
  keptCredits?: Credits;
}
/** One page of a month of the ledger, with the whole month's totals. */
export interface LedgerMonthPage {
  month: string;
  items: LedgerEntry[];
  /** The whole month's: credits that came in, went out, and the change (a debt repayment is neither). */
  totals: { in: Credits; out: Credits; net: Credits };
  /** Continues the month; null on its last page. */
  nextCursor: string | null;
  /** The position after this page's last row: asked for later, gives the rows written since. */
  endCursor: string;
}

/** A page of the caller's ledger for a month (YYYY-MM), after `cursor` when given. */
export function ledgerPage(month: string, opts: { limit?: number; cursor?: string } = {}): Promise<LedgerMonthPage> {
  return api.get<LedgerMonthPage>('/ledger', { month, limit: opts.limit ?? 100, cursor: opts.cursor });
}

// ---- i20-usage ----

/** What one allowance a member receives paid in one group of an own aggregate by day or month. */
export interface AggregatePaidBy {
  /** The delegation id, as billingSource names it. */
  source: string;
  /** "Mum's allowance", with its note if it has one. */
  label: string;
  credits: Credits;
}
export interface AggregateItem {
  /** Own usage by day or month: what allowances paid; `kinds` then counts only the member's own buckets. */
  paidBy?: AggregatePaidBy[];
}
/** What a member's allowances paid for one grantee this cycle. */
export interface PaidForMember {
  memberId: Id;
  name: string;
  credits: Credits;
}
export interface BalanceCycle {
  /** What the member's allowances paid for others this cycle, from the same credits as `used`. */
  paidForOthers?: Credits;
  /** paidForOthers by grantee. */
  paidFor?: PaidForMember[];
}

// ---- i20-firstrun ----

/** The owner's starting credits at setup (POST /setup). Monthly credits are granted whole at once, then again
 * at each cycle start; the top-up is a one-off Recharge that never expires. */
export interface SetupStartingCredits {
  monthlyCredits?: Credits;
  topUpCredits?: Credits;
}
export type SetupWithCredits = SetupRequest & SetupStartingCredits;
/** GET /setup also names the instance, for the sign-in page before anyone is signed in. */
export interface SetupStatusNamed extends SetupStatus {
  instanceName?: string;
}
/** The instance's name for pages shown before sign-in, or '' when it cannot be read. */
export async function publicInstanceName(): Promise<string> {
  try {
    const s: SetupStatusNamed = await api.setupStatus();
    return s.instanceName ?? '';
  } catch {
    return '';
  }
}
/** GET /invites/{token} also tells the invitee their monthly credits (null: none set). */
export interface InvitePublicCredits extends InvitePublic {
  monthlyCredits?: Credits | null;
}

// ---- i20-class ----

// A split charge's parts, as the server already sends them (merged into the types above).
export interface UsageEvent {
  /** What the event's allowance paid of a split charge; null when it paid all (or none is named). */
  delegationCredits?: Credits | null;
}
export interface BucketPart {
  /** Who paid this part: an allowance id, or "personal". */
  source?: string;
}

/** What a bulk update does to each allowance it names. */
export type BulkAction = 'pause' | 'resume' | 'revoke' | 'edit';

/** POST /delegations/bulk-update: ids or a group's current allowances, all or nothing. */
export interface BulkDelegationUpdate {
  ids?: Id[];
  group?: string;
  action: BulkAction;
  /** For `edit`: what to change (credits and period apply from the next period). */
  fields?: Omit<DelegationPatch, 'status'>;
}

/** An amount split by who paid it: the caller's allowances, or the student's own credits. */
export interface AssignmentSplit {
  allowance: Credits;
  own: Credits;
  total: Credits;
}

/** GET /granted/assignments: the student × assignment table of the caller's allowances. */
export interface AssignmentTable {
  /** One column per assignment (project); "" collects requests that named none. */
  projects: (AssignmentSplit & { project: string })[];
  students: (AssignmentSplit & { userId: Id; name: string; cells: Record<string, AssignmentSplit> })[];
  totals: AssignmentSplit;
}

export function bulkUpdateDelegations(body: BulkDelegationUpdate): Promise<Items<Delegation>> {
  return api.post<Items<Delegation>>('/delegations/bulk-update', body);
}

export function grantedAssignments(range: Pick<UsageFilters, 'from' | 'to'>): Promise<AssignmentTable> {
  return api.get<AssignmentTable>('/granted/assignments', { from: range.from, to: range.to });
}

// ---- i20-household ----

/** A member on the members page, with this cycle's figures as the server defines them. */
export interface MemberSummary extends Member {
  /** Used this cycle from the member's own credits: the same figure as cycle.used in their own /balance. */
  usedThisCycle: Credits;
  /** What allowances the member receives paid for their requests this cycle. */
  allowancesThisCycle?: Credits;
  /** All their requests this cycle, whoever paid. */
  requestsThisCycle: number;
}

/** An imported member with their way in, shown once: an invitation link, a sign-in code, or both. */
export interface ImportedMemberWayIn extends ImportedMember {
  inviteUrl?: string | null;
  inviteExpiresAt?: Timestamp | null;
}

export interface HouseholdModel {
  model: string;
  credits: Credits;
  requests: number;
}
export interface HouseholdMember {
  id: Id;
  name: string;
  group: string;
  /** ownCredits + allowanceCredits; in the granted scope only what the caller's allowances paid. */
  credits: Credits;
  ownCredits: Credits;
  allowanceCredits: Credits;
  requests: number;
  tokens: number;
  topModels: HouseholdModel[];
}
/** GET /household: who spent what over a range. */
export interface Household {
  /** all: an admin's view of every member; granted: the people the caller gives allowances to. */
  scope: 'all' | 'granted';
  members: HouseholdMember[];
  totals: { requests: number; credits: Credits; tokens: number };
}

/** Who spent what over a range (from/to as the range picker gives them). */
export function household(range: { from?: string; to?: string }, scope?: 'all' | 'granted') {
  return api.get<Household>('/household', { from: range.from, to: range.to, scope });
}

/** The members page's list, with the cycle figures typed. */
export function memberSummaries() {
  return api.get<Items<MemberSummary>>('/members');
}

/** Imports a class; each member comes back with their way in. */
export function importClass(body: MemberImport) {
  return api.post<Items<ImportedMemberWayIn>>('/members/import', body);
}
