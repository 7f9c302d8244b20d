import { describe, expect, it, vi } from 'vitest';
import { ApiClient, ApiError, buildQuery, readCookie, toApiError } from './api';

function reply(status: number, body: unknown, statusText = ''): Response {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  return new Response(text, { status, statusText, headers: { 'Content-Type': 'application/json' } });
}

function client(res: () => Response, cookies = 'tj_session=abc; tj_csrf=tok%2B123; other=1') {
  const fetchMock = vi.fn(async (_input: RequestInfo | URL, _init?: RequestInit) => res());
  const c = new ApiClient({ fetch: fetchMock as unknown as typeof fetch, cookies: () => cookies });
  return { c, fetchMock };
}

function headersOf(init: RequestInit | undefined): Record<string, string> {
  return (init?.headers ?? {}) as Record<string, string>;
}

describe('buildQuery', () => {
  it('drops empty filters', () => {
    expect(buildQuery({ from: '2026-11-01', to: '', model: undefined, app: null, project: '  ', limit: 50 })).toBe(
      '?from=2026-11-01&limit=50',
    );
  });
  it('is empty when nothing is left', () => {
    expect(buildQuery({ a: '', b: undefined })).toBe('');
    expect(buildQuery(undefined)).toBe('');
  });
  it('encodes values and keeps false and 0', () => {
    expect(buildQuery({ model: 'gpt 4o&x', now: false, n: 0 })).toBe('?model=gpt+4o%26x&now=false&n=0');
  });
});

describe('readCookie', () => {
  it('finds and decodes one cookie', () => {
    expect(readCookie('tj_csrf', 'a=1; tj_csrf=x%2By; b=2')).toBe('x+y');
    expect(readCookie('tj_csrf', 'a=1; xtj_csrf=no')).toBeNull();
    expect(readCookie('tj_csrf', '')).toBeNull();
  });
});

describe('ApiClient', () => {
  // What each sign-out or reset ends is chosen by the caller: tokens end only when asked.
  it('asks to revoke personal tokens only when the member chose it', async () => {
    const { c, fetchMock } = client(() => reply(200, {}));
    await c.logoutAll();
    await c.logoutAll(true);
    await c.resetPassword(4, 'new-password');
    await c.resetPassword(4, 'new-password', true);
    await c.changePassword({ current: 'a', password: 'new-password', revokeTokens: true });
    const bodies = fetchMock.mock.calls.map(([, init]) => JSON.parse(String(init?.body)));
    expect(bodies).toEqual([
      { revokeTokens: false },
      { revokeTokens: true },
      { password: 'new-password', revokeTokens: false },
      { password: 'new-password', revokeTokens: true },
      { current: 'a', password: 'new-password', revokeTokens: true },
    ]);
  });

  it('sends the CSRF header from the tj_csrf cookie on POST, with a JSON body', async () => {
    const { c, fetchMock } = client(() => reply(201, { id: 1, name: 'n', prefix: 'p', token: 't' }));
    const r = await c.createToken('laptop');
    expect(r.token).toBe('t');
    const [url, init] = fetchMock.mock.calls[0];
    expect(url).toBe('/api/v1/tokens');
    expect(init?.method).toBe('POST');
    expect(headersOf(init)['X-CSRF-Token']).toBe('tok+123');
    expect(headersOf(init)['Content-Type']).toBe('application/json');
    expect(JSON.parse(String(init?.body))).toEqual({ name: 'laptop' });
    expect(init?.credentials).toBe('same-origin');
  });

  it('sends the CSRF header on PUT, PATCH and DELETE but not on GET', async () => {
    const { c, fetchMock } = client(() => reply(200, {}));
    await c.updateSettings({ instanceName: 'x' });
    await c.patchMember(2, { disabled: true });
    await c.revokeToken(3);
    await c.me();
    const methods = fetchMock.mock.calls.map(([, init]) => [init?.method, headersOf(init)['X-CSRF-Token']]);
    expect(methods).toEqual([
      ['PUT', 'tok+123'],
      ['PATCH', 'tok+123'],
      ['DELETE', 'tok+123'],
      ['GET', undefined],
    ]);
  });

  it('parses the error shape into a thrown ApiError', async () => {
    const { c } = client(() =>
      reply(400, { error: { code: 'invalid', message: 'description is required', field: 'description' } }),
    );
    const err = await c.createApp({ name: '' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ status: 400, code: 'invalid', field: 'description', message: 'description is required' });
  });

  it('falls back to the status when the error body is not JSON', async () => {
    const err = await toApiError(new Response('<html>oops</html>', { status: 409, statusText: 'Conflict' }));
    expect(err.code).toBe('conflict');
    expect(err.status).toBe(409);
    expect(err.field).toBeUndefined();
    const err500 = await toApiError(new Response('', { status: 502, statusText: 'Bad Gateway' }));
    expect(err500.code).toBe('internal');
  });

  it('turns a network failure into an ApiError', async () => {
    const c = new ApiClient({
      fetch: (async () => {
        throw new TypeError('Failed to fetch');
      }) as unknown as typeof fetch,
      cookies: () => '',
    });
    await expect(c.me()).rejects.toMatchObject({ code: 'network', status: 0 });
  });

  it('calls onUnauthorized on 401, except for sign-in', async () => {
    const seen: string[] = [];
    const fetchMock = async () => reply(401, { error: { code: 'unauthorized', message: 'sign in' } });
    const c = new ApiClient({ fetch: fetchMock as unknown as typeof fetch, cookies: () => '', onUnauthorized: (e) => seen.push(e.code) });
    await expect(c.me()).rejects.toBeInstanceOf(ApiError);
    await expect(c.login({ email: 'a', password: 'b' })).rejects.toMatchObject({ status: 401 });
    expect(seen).toEqual(['unauthorized']);
  });

  it('builds the usage query from filters and paging, dropping empty ones', async () => {
    const { c, fetchMock } = client(() => reply(200, { items: [], nextCursor: null }));
    await c.usage({ from: '2026-11-01', to: '2026-11-30', model: 'gpt-4o', app: '', project: undefined }, { sort: 'credits', limit: 50, cursor: null });
    expect(fetchMock.mock.calls[0][0]).toBe('/api/v1/usage?from=2026-11-01&to=2026-11-30&model=gpt-4o&sort=credits&limit=50');
  });

  it('builds export and aggregate URLs with exactly the filters', async () => {
    const { c, fetchMock } = client(() => reply(200, { by: 'day', items: [], totals: { requests: 0, credits: 0, tokens: 0 } }));
    expect(c.exportUrl({ model: 'gpt-4o', source: 'personal', provider: '' }, 'csv')).toBe(
      '/api/v1/usage/export?model=gpt-4o&source=personal&format=csv',
    );
    await c.aggregate({ from: '2026-11-01' }, 'member', 'granted');
    await c.aggregate({}, 'day');
    expect(fetchMock.mock.calls.map((x) => x[0])).toEqual([
      '/api/v1/usage/aggregate?from=2026-11-01&by=member&scope=granted',
      '/api/v1/usage/aggregate?by=day',
    ]);
  });

  it('adds ?now=true to an immediate plan change only', async () => {
    const { c, fetchMock } = client(() => reply(200, {}));
    await c.setPlan(4, 1000, true);
    await c.setPlan(4, 1000);
    expect(fetchMock.mock.calls.map((x) => x[0])).toEqual(['/api/v1/members/4/plan?now=true', '/api/v1/members/4/plan']);
  });
});
