#!/usr/bin/env node
// End-to-end tests of the dashboard against the real tokenjar binary, driven by Debian's Chromium.
//
//   TOKENJAR_BIN=./tokenjar CHROMIUM=/usr/bin/chromium node e2e/run.mjs
//
// The binary must have been built with the frontend embedded (npm run build, then go build).
// It is started on a free loopback port with a fresh data folder and stopped at the end.
// Screenshots of every page at 1280px and 375px go to e2e/screenshots/.

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');
const BIN = path.resolve(root, process.env.TOKENJAR_BIN || './tokenjar');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const SHOTS = path.join(here, 'screenshots');
const TEST_TIMEOUT = Number(process.env.E2E_TEST_TIMEOUT || 60_000);
const HEADLESS = process.env.HEADED ? false : true;

// ---------- a tiny runner ----------

const tests = [];
function test(name, fn) {
  tests.push({ name, fn });
}

function withTimeout(p, ms, what) {
  let t;
  return Promise.race([
    p.finally(() => clearTimeout(t)),
    new Promise((_, reject) => {
      t = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
    }),
  ]);
}

function assert(cond, msg) {
  if (!cond) throw new Error(`assertion failed: ${msg}`);
}
function assertEqual(actual, expected, msg) {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e) throw new Error(`${msg}: expected ${e}, got ${a}`);
}

// ---------- helpers ----------

async function freePort() {
  const srv = net.createServer();
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const { port } = srv.address();
  srv.close();
  await once(srv, 'close');
  return port;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitFor(fn, what, ms = 15_000, step = 100) {
  const end = Date.now() + ms;
  let last;
  while (Date.now() < end) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    await sleep(step);
  }
  throw new Error(`waiting for ${what} timed out${last ? `: ${last.message}` : ''}`);
}

/** Millicredits from a JSON credits number, exactly (as the SPA's format.ts does). */
function toMilli(v) {
  const s = typeof v === 'number' ? String(v) : String(v).trim();
  const m = /^(-)?(\d*)(?:\.(\d*))?$/.exec(s);
  if (!m) throw new Error(`not a decimal: ${v}`);
  const frac = (m[3] ?? '') + '000';
  const n = Number(m[2] || '0') * 1000 + Number(frac.slice(0, 3));
  return m[1] ? -n : n;
}
/** Formats millicredits like the SPA does in en-US: thousands separators, up to 3 decimals. */
function formatMilli(m) {
  const neg = m < 0;
  const a = Math.abs(m);
  const whole = Math.floor(a / 1000).toLocaleString('en-US');
  const frac = String(a % 1000).padStart(3, '0').replace(/0+$/, '');
  return (neg ? '-' : '') + whole + (frac ? `.${frac}` : '');
}

/** A small RFC 4180 CSV parser (quotes, doubled quotes, newlines in quotes). */
function parseCsv(text) {
  const rows = [];
  let row = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"') {
        if (text[i + 1] === '"') {
          cell += '"';
          i++;
        } else quoted = false;
      } else cell += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
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
  const [header, ...body] = rows.filter((r) => r.length > 1 || r[0] !== '');
  return { header, rows: body.map((r) => Object.fromEntries(header.map((h, i) => [h, r[i]]))) };
}

// ---------- the server ----------

let server;
let serverLog = '';
let dataDir;
let base;

async function startServer() {
  if (!fs.existsSync(BIN)) {
    throw new Error(
      `tokenjar binary not found at ${BIN}. Build it first (npm run build && go build -o tokenjar .) or set TOKENJAR_BIN.`,
    );
  }
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tokenjar-e2e-'));
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  server = spawn(BIN, ['serve', '--addr', `127.0.0.1:${port}`, '--data', dataDir, '--no-browser'], {
    cwd: dataDir,
    env: { ...process.env, TOKENJAR_ADDR: '', TOKENJAR_DATA: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  server.stdout.on('data', (d) => (serverLog += d));
  server.stderr.on('data', (d) => (serverLog += d));
  let exited = null;
  server.on('exit', (code, sig) => (exited = `exited with ${code ?? sig}`));
  await waitFor(
    async () => {
      if (exited) throw new Error(`the server ${exited}:\n${serverLog}`);
      const r = await fetch(`${base}/api/v1/setup`);
      return r.ok;
    },
    'the server to answer GET /api/v1/setup',
    30_000,
    200,
  );
}

async function stopServer() {
  if (server && server.exitCode === null && server.signalCode === null) {
    server.kill('SIGTERM');
    const done = once(server, 'exit');
    const t = setTimeout(() => server.kill('SIGKILL'), 5000);
    await done.catch(() => {});
    clearTimeout(t);
  }
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
}

// ---------- browser ----------

let browser;
const pageErrors = [];

async function newPage(label) {
  const context = await browser.newContext({
    viewport: { width: 1280, height: 900 },
    locale: 'en-US',
    timezoneId: 'UTC',
    acceptDownloads: true,
  });
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  page.on('pageerror', (e) => pageErrors.push(`[${label}] ${e.message}`));
  return page;
}

async function settle(page) {
  // Wait until no loading indicator is left.
  await page.waitForLoadState('domcontentloaded');
  await page
    .waitForFunction(() => !document.querySelector('.loading'), null, { timeout: 10_000 })
    .catch(() => {});
  await sleep(250);
}

async function shoot(page, name) {
  fs.mkdirSync(SHOTS, { recursive: true });
  for (const [w, h] of [
    [1280, 900],
    [375, 812],
  ]) {
    await page.setViewportSize({ width: w, height: h });
    await sleep(200);
    await page.screenshot({ path: path.join(SHOTS, `${name}-${w}.png`), fullPage: true });
  }
  await page.setViewportSize({ width: 1280, height: 900 });
}

/** Fails when the page is wider than the viewport (a horizontal scroll of the whole page). */
async function assertNoPageOverflow(page, name) {
  await page.setViewportSize({ width: 375, height: 812 });
  await sleep(200);
  const over = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  await page.setViewportSize({ width: 1280, height: 900 });
  assert(over <= 1, `${name} is ${over}px wider than a 375px screen`);
}

async function api(pathname, { token, method = 'GET', body } = {}) {
  const headers = { Accept: 'application/json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const r = await fetch(`${base}/api/v1${pathname}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    /* not JSON */
  }
  return { status: r.status, json, text };
}

// ---------- shared state across the flow ----------

const owner = { email: 'owner@example.org', name: 'Olivia Owner', password: 'correct horse battery' };
const kid = { email: 'kid@example.org', name: 'Kim Kid', password: 'kid-password-1' };
const S = { ownerPage: null, token: null, appKey: null, appSlug: null, events: [], kidEventId: null };

// ---------- the tests ----------

test('first-run setup in the browser', async () => {
  const page = (S.ownerPage = await newPage('owner'));
  await page.goto(`${base}/`);
  await page.waitForURL((u) => u.pathname === '/setup');
  await page.getByRole('heading', { name: 'Welcome to tokenjar' }).waitFor();
  await shoot(page, 'setup');
  await page.getByLabel('Instance name').fill('Family jar');
  await page.getByLabel('Your name').fill(owner.name);
  await page.getByLabel('Email').fill(owner.email);
  await page.getByLabel('Password').fill(owner.password);
  await page.getByLabel('Time zone').fill('UTC');
  await page.getByRole('button', { name: 'Create owner account' }).click();
  await page.getByRole('heading', { name: 'You are all set' }).waitFor();
  S.token = await page.getByLabel('Your personal token').inputValue();
  assert(S.token.startsWith('tj_pat_'), `the owner token looks like a personal token (${S.token.slice(0, 8)}…)`);
  await page.getByRole('button', { name: 'Continue to the dashboard' }).click();
  await page.getByRole('heading', { name: 'Overview', level: 1 }).waitFor();
  await page.getByRole('link', { name: 'Members', exact: true }).waitFor();
  const me = await api('/me', { token: S.token });
  assertEqual(me.json?.role, 'owner', 'role of the new user');
  const again = await api('/setup', { method: 'POST', body: { email: 'x@example.org', name: 'X', password: 'password123' } });
  assertEqual(again.status, 409, 'a second setup');
});

test('admin grants credits in the members page', async () => {
  const page = S.ownerPage;
  await page.goto(`${base}/admin/members`);
  await page.getByRole('button', { name: `Manage ${owner.name}` }).click();
  const drawer = page.getByRole('dialog');
  await drawer.getByLabel('Kind').selectOption('addon');
  await drawer.getByLabel('Credits', { exact: true }).fill('5000');
  await drawer.getByRole('button', { name: 'Grant', exact: true }).click();
  await drawer.getByText('Granted 5,000 Recharge credits.').waitFor();
  await drawer.getByRole('button', { name: 'Close details' }).click();
  const bal = await api('/balance', { token: S.token });
  assertEqual(toMilli(bal.json.total), 5_000_000, 'balance after the grant');
  await page.goto(`${base}/`);
  await page.getByTestId('balance-total').getByText('5,000').waitFor();
});

test('create an app key in the admin apps page', async () => {
  const page = S.ownerPage;
  await page.goto(`${base}/admin/apps`);
  await page.getByText('No apps yet').waitFor();
  await page.getByLabel('App name').fill('Homework Helper');
  await page.getByRole('button', { name: 'Create app and key' }).click();
  S.appKey = await waitFor(async () => {
    const v = await page.getByLabel('App key').inputValue();
    return v || null;
  }, 'the new key');
  assert(S.appKey.startsWith('tj_app_'), 'the key looks like an app key');
  await page.getByRole('region', { name: 'Homework Helper', exact: true }).waitFor();
  const apps = await api('/apps', { token: S.token });
  S.appSlug = apps.json.items.find((a) => a.name === 'Homework Helper')?.slug;
  assertEqual(S.appSlug, 'homework-helper', 'app slug');
  await shoot(page, 'admin-apps');
});

test('usage reported with the key appears live in the usage log', async () => {
  const page = S.ownerPage;
  await page.goto(`${base}/usage`);
  await page.getByText('No requests in this range').waitFor();
  await page.locator('[data-live="live"]').waitFor();
  await page.evaluate(() => {
    window.__noReload = 'still here';
  });
  const reports = [
    { model: 'gpt-4o', provider: 'OpenAI', credits: 0.1, inputTokens: 100, outputTokens: 20, project: 'maths' },
    { model: 'claude-sonnet', provider: 'Anthropic', totalCost: 0.0123, inputTokens: 1200, outputTokens: 350 },
    { model: 'gpt-4o', provider: 'OpenAI', credits: 0.2, inputTokens: 300, outputTokens: 40, modality: 'text' },
  ];
  for (const [i, r] of reports.entries()) {
    const res = await api('/usage', {
      token: S.appKey,
      method: 'POST',
      body: {
        aiAgentId: S.appSlug,
        userEmail: owner.email,
        description: `e2e request ${i + 1}`,
        usageType: 'token_usage',
        idempotencyKey: `e2e-${i + 1}`,
        modelParameters: { temperature: 0.2, maxTokens: 512 },
        ...r,
      },
    });
    assertEqual(res.status, 201, `POST /usage #${i + 1} (${res.text.slice(0, 200)})`);
    S.events.push({ id: res.json.id, model: r.model, credits: res.json.creditsCharged });
    // Each one should show up without a reload.
    await page.locator(`table.usage tbody tr[data-id="${res.json.id}"]`).waitFor({ timeout: 10_000 });
  }
  assertEqual(toMilli(S.events[1].credits), 12_300, 'totalCost 0.0123 × 1000 credits');
  assertEqual(await page.locator('table.usage tbody tr').count(), 3, 'rows in the log');
  const marker = await page.evaluate(() => window.__noReload);
  assertEqual(marker, 'still here', 'the page was not reloaded');
  const firstId = await page.locator('table.usage tbody tr').first().getAttribute('data-id');
  assertEqual(Number(firstId), S.events[2].id, 'the newest event is on top');
  // An idempotent repeat is not charged twice.
  const again = await api('/usage', {
    token: S.appKey,
    method: 'POST',
    body: { aiAgentId: S.appSlug, userEmail: owner.email, description: 'repeat', credits: 0.1, idempotencyKey: 'e2e-1' },
  });
  assertEqual(again.status, 200, 'an idempotent repeat');
  await sleep(500);
  assertEqual(await page.locator('table.usage tbody tr').count(), 3, 'rows after the repeat');
});

test('the detail drawer shows every field', async () => {
  const page = S.ownerPage;
  await page.locator(`tr[data-id="${S.events[0].id}"] button.open`).click();
  const drawer = page.getByRole('dialog');
  await drawer.getByText('e2e request 1').waitFor();
  await drawer.getByText('"temperature": 0.2').waitFor();
  await drawer.getByRole('heading', { name: 'Paid from' }).waitFor();
  await drawer.getByText('Recharge').first().waitFor();
  await shoot(page, 'usage-detail');
  await page.keyboard.press('Escape');
  await drawer.waitFor({ state: 'hidden' });
});

test('filter by model, kept in the URL', async () => {
  const page = S.ownerPage;
  await page.getByLabel('Model', { exact: true }).selectOption('gpt-4o');
  await page.waitForURL((u) => u.searchParams.get('model') === 'gpt-4o');
  const gpt = S.events.filter((e) => e.model === 'gpt-4o');
  await waitFor(async () => (await page.locator('table.usage tbody tr').count()) === gpt.length, 'filtered rows');
  const ids = await page.locator('table.usage tbody tr').evaluateAll((rows) => rows.map((r) => Number(r.dataset.id)));
  assertEqual(ids.sort(), gpt.map((e) => e.id).sort(), 'ids of the filtered rows');
  // A bookmark of this URL shows the same view.
  await page.reload();
  await waitFor(async () => (await page.locator('table.usage tbody tr').count()) === gpt.length, 'rows after reload');
  assertEqual(await page.getByLabel('Model', { exact: true }).inputValue(), 'gpt-4o', 'the model filter after reload');
  await shoot(page, 'usage');
});

test('the downloaded CSV holds exactly the filtered rows', async () => {
  const page = S.ownerPage;
  const href = await page.getByRole('link', { name: 'Download CSV' }).getAttribute('href');
  const u = new URL(href, base);
  assertEqual(u.pathname, '/api/v1/usage/export', 'export path');
  assertEqual(u.searchParams.get('format'), 'csv', 'export format');
  assertEqual(u.searchParams.get('model'), 'gpt-4o', 'export model filter');
  assert(u.searchParams.get('from') && u.searchParams.get('to'), 'export carries the range');

  // A real browser download, with the page's cookies.
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('link', { name: 'Download CSV' }).click(),
  ]);
  const file = await download.path();
  const csv = parseCsv(fs.readFileSync(file, 'utf8'));
  assert(csv.header.includes('id') && csv.header.includes('model') && csv.header.includes('credits'), `CSV header: ${csv.header}`);
  const gpt = S.events.filter((e) => e.model === 'gpt-4o');
  assertEqual(csv.rows.map((r) => Number(r.id)).sort(), gpt.map((e) => e.id).sort(), 'CSV ids');
  assert(csv.rows.every((r) => r.model === 'gpt-4o'), 'every CSV row is gpt-4o');
  S.csvMilli = csv.rows.reduce((s, r) => s + toMilli(r.credits), 0);
  assertEqual(S.csvMilli, 300, 'CSV credits sum to 0.3 exactly');

  const json = await page.request.get(new URL(await page.getByRole('link', { name: 'Download JSON' }).getAttribute('href'), base).href);
  assertEqual(json.status(), 200, 'JSON export status');
  const rows = await json.json();
  assertEqual(rows.map((r) => r.id).sort(), gpt.map((e) => e.id).sort(), 'JSON export ids');
});

test('the overview totals equal the sum of those rows', async () => {
  const page = S.ownerPage;
  await page.goto(`${base}/?range=all&model=gpt-4o`);
  await waitFor(async () => (await page.getByTestId('total-requests').textContent()) === '2', 'filtered requests total');
  assertEqual(await page.getByTestId('total-credits').textContent(), formatMilli(S.csvMilli), 'filtered credits total');

  await page.goto(`${base}/?range=all`);
  const all = S.events.reduce((s, e) => s + toMilli(e.credits), 0);
  await waitFor(async () => (await page.getByTestId('total-requests').textContent()) === '3', 'all requests total');
  assertEqual(await page.getByTestId('total-credits').textContent(), formatMilli(all), 'all credits total');
  assertEqual(await page.getByTestId('balance-total').textContent().then((t) => t.replace(/\s*credits$/, '').trim()), formatMilli(5_000_000 - all), 'balance after usage');
  await page.locator('canvas').first().waitFor();
  await shoot(page, 'overview');
});

test('screenshots of every owner page', async () => {
  const page = S.ownerPage;
  const pages = [
    ['ledger', '/ledger', 'Ledger'],
    ['granted', '/granted', 'Granted usage'],
    ['admin-members', '/admin/members', 'Members'],
    ['admin-settings', '/admin/settings', 'Settings'],
    ['integrate', '/integrate', 'Integrate'],
    ['tokens', '/tokens', 'Personal tokens'],
    ['not-found', '/no-such-page', 'Page not found'],
  ];
  for (const [name, url, heading] of pages) {
    await page.goto(`${base}${url}`);
    await page.getByRole('heading', { name: heading, level: 1 }).waitFor();
    await settle(page);
    await shoot(page, name);
    await assertNoPageOverflow(page, name);
  }
  // The ledger has the grant and the usage rows of this month.
  await page.goto(`${base}/ledger`);
  await page.getByRole('cell', { name: '+5,000' }).waitFor();
  // The integrate page fills in this server's address and the app.
  await page.goto(`${base}/integrate`);
  await waitFor(async () => {
    const text = await page.getByTestId('snippet').textContent();
    return text.includes(`${base}/api/v1/usage`) && text.includes('"aiAgentId": "homework-helper"');
  }, 'the snippet to name this server and the app');
  // The phone menu opens and closes.
  await page.setViewportSize({ width: 375, height: 812 });
  await page.getByRole('button', { name: 'Menu' }).click();
  await page.getByRole('link', { name: 'Usage', exact: true }).waitFor();
  await page.screenshot({ path: path.join(SHOTS, 'nav-open-375.png') });
  await page.getByRole('link', { name: 'Usage', exact: true }).click();
  await page.waitForURL((u) => u.pathname === '/usage');
  await page.setViewportSize({ width: 1280, height: 900 });
});

test('a member signs in and sees only their own data', async () => {
  const created = await api('/members', {
    token: S.token,
    method: 'POST',
    body: { ...kid, role: 'member' },
  });
  assertEqual(created.status, 201, `POST /members (${created.text.slice(0, 200)})`);
  const kidId = created.json.id;
  const grant = await api(`/members/${kidId}/grants`, { token: S.token, method: 'POST', body: { kind: 'addon', credits: 50 } });
  assertEqual(grant.status, 201, 'grant to the member');
  const rep = await api('/usage', {
    token: S.appKey,
    method: 'POST',
    body: { aiAgentId: S.appSlug, userEmail: kid.email, description: 'kid homework', model: 'kid-model', credits: 1.5 },
  });
  assertEqual(rep.status, 201, 'usage for the member');
  S.kidEventId = rep.json.id;

  const page = (S.current = await newPage('member'));
  await page.goto(`${base}/usage`);
  await page.waitForURL((u) => u.pathname === '/login');
  await page.getByRole('heading', { name: /Sign in/ }).waitFor();
  await shoot(page, 'login');
  await page.getByLabel('Email').fill(kid.email);
  await page.getByLabel('Password').fill('wrong password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('alert').waitFor();
  await page.getByLabel('Password').fill(kid.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  // Back where they wanted to go.
  await page.waitForURL((u) => u.pathname === '/usage');
  await page.locator(`tr[data-id="${S.kidEventId}"]`).waitFor();
  const ids = await page.locator('table.usage tbody tr').evaluateAll((rows) => rows.map((r) => Number(r.dataset.id)));
  assertEqual(ids, [S.kidEventId], 'the member sees only their own event');
  assert((await page.getByText('e2e request').count()) === 0, 'no owner descriptions on the page');
  assertEqual(await page.getByRole('link', { name: 'Members' }).count(), 0, 'no admin links for a member');

  // The member's export holds only their row.
  const csvRes = await page.request.get(`${base}/api/v1/usage/export?format=csv`);
  const csv = parseCsv(await csvRes.text());
  assertEqual(csv.rows.map((r) => Number(r.id)), [S.kidEventId], "the member's CSV");
  // Another member's event is out of reach.
  const other = await page.request.get(`${base}/api/v1/usage/${S.events[0].id}`);
  assert([403, 404].includes(other.status()), `GET another member's event: ${other.status()}`);

  await page.goto(`${base}/?range=all`);
  await waitFor(async () => (await page.getByTestId('total-requests').textContent()) === '1', "the member's totals");
  assertEqual(await page.getByTestId('total-credits').textContent(), '1.5', "the member's credits");
  await page.goto(`${base}/admin/members`);
  await page.getByText('Only an owner or an admin can open this page.').waitFor();
  await page.context().close();
  S.current = null;
});

test('granted usage: a delegation, its live log and per-grantee totals', async () => {
  assert(S.kidEventId, 'needs the member from the previous test');
  const page = S.ownerPage;
  await page.goto(`${base}/granted`);
  await page.getByText('You have not delegated any credits').waitFor();
  await page.getByLabel('Grantee email').fill(kid.email);
  await page.getByLabel('Credits', { exact: true }).fill('20');
  await page.getByLabel('Period').selectOption('month');
  await page.getByLabel('Note').fill('Homework');
  await page.getByRole('button', { name: 'Create allowance' }).click();
  await page.getByText(/Delegation to .* created/).waitFor();
  await page.getByRole('cell', { name: /Kim Kid/ }).first().waitFor();
  await page.locator('[data-live="live"]').waitFor();
  const dels = await api('/delegations', { token: S.token });
  const del = dels.json.given.find((d) => d.granteeEmail === kid.email);
  assert(del, 'the delegation is listed as given');

  const rep = await api('/usage', {
    token: S.appKey,
    method: 'POST',
    body: {
      aiAgentId: S.appSlug,
      userEmail: kid.email,
      description: 'kid homework on the allowance',
      model: 'kid-model',
      credits: 2.5,
      billingSource: String(del.id),
    },
  });
  assertEqual(rep.status, 201, `usage billed to the delegation (${rep.text.slice(0, 200)})`);
  assertEqual(String(rep.json.billingSource), String(del.id), 'billing source of the reply');
  // It appears live in the granter's log, and the kid's personal event never does.
  await page.locator(`table.usage tr[data-id="${rep.json.id}"]`).waitFor();
  assertEqual(await page.locator(`tr[data-id="${S.kidEventId}"]`).count(), 0, "the grantee's personal event is hidden");
  await page.reload();
  await page.locator(`table.usage tr[data-id="${rep.json.id}"]`).waitFor();
  const ids = await page.locator('table.usage tbody tr').evaluateAll((rows) => rows.map((r) => Number(r.dataset.id)));
  assertEqual(ids, [rep.json.id], 'granted usage rows');
  await page.getByRole('row', { name: /Kim Kid.*2\.5/ }).first().waitFor();
  await settle(page);
  await shoot(page, 'granted');
});

test('state-changing requests need the CSRF header', async () => {
  const page = S.ownerPage;
  const without = await page.request.post(`${base}/api/v1/tokens`, { data: { name: 'no csrf' } });
  assertEqual(without.status(), 403, 'POST without X-CSRF-Token');
  // The SPA's own form sends it.
  await page.goto(`${base}/tokens`);
  await page.getByLabel('Name').fill('e2e script');
  await page.getByRole('button', { name: 'Create token' }).click();
  const tok = await waitFor(async () => (await page.getByLabel(/Token/).inputValue()) || null, 'the new token');
  assert(tok.startsWith('tj_pat_'), 'a personal token is shown once');
  await page.getByRole('cell', { name: 'e2e script', exact: true }).waitFor();
});

test('no uncaught errors in the browser', async () => {
  assertEqual(pageErrors, [], 'page errors');
});

// ---------- main ----------

let passed = 0;
let failed = 0;
const started = Date.now();
try {
  await startServer();
  console.log(`# tokenjar at ${base} (data ${dataDir})`);
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: HEADLESS,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  for (const t of tests) {
    const t0 = Date.now();
    try {
      await withTimeout(Promise.resolve().then(t.fn), TEST_TIMEOUT, t.name);
      passed++;
      console.log(`ok - ${t.name} (${Date.now() - t0} ms)`);
    } catch (e) {
      failed++;
      console.log(`not ok - ${t.name}\n  ${String(e?.stack || e).split('\n').slice(0, 6).join('\n  ')}`);
      const failedPage = S.current && !S.current.isClosed() ? S.current : S.ownerPage;
      if (failedPage && !failedPage.isClosed()) {
        await failedPage
          .screenshot({ path: path.join(SHOTS, `FAILED-${t.name.replace(/\W+/g, '-')}.png`), fullPage: true })
          .catch(() => {});
      }
    }
  }
} catch (e) {
  failed++;
  console.log(`not ok - start\n  ${e?.message || e}`);
} finally {
  await browser?.close().catch(() => {});
  await stopServer();
}
if (failed && serverLog) {
  console.log('# server log (last 40 lines):');
  console.log(serverLog.trim().split('\n').slice(-40).map((l) => `#   ${l}`).join('\n'));
}
console.log(`# ${((Date.now() - started) / 1000).toFixed(1)} s, screenshots in ${path.relative(process.cwd(), SHOTS) || SHOTS}`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
