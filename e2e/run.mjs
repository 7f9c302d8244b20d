#!/usr/bin/env node
// End-to-end tests of the dashboard against the real tokenjar binary, driven by Debian's Chromium.
//
//   TOKENJAR_BIN=./tokenjar CHROMIUM=/usr/bin/chromium node e2e/run.mjs
//
// The binary must have been built with the frontend embedded (npm run build, then go build).
// It is started on a free loopback port with a fresh data folder and stopped at the end.
// Screenshots of every page at 1280px and 375px go to e2e/screenshots/.

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import OpenAI from 'openai';
import { chromium } from 'playwright-core';
import { startFakeOidc } from './fake-oidc.mjs';
import { startFakeOpenAI } from './fake-openai.mjs';
import {
  assert,
  assertEqual,
  CHROMIUM_ARGS,
  cookieClient,
  formatMilli,
  freePort,
  overflowAt375,
  parseCsv,
  shootBoth,
  sleep,
  startTokenjar,
  toMilli,
  waitFor,
} from './helpers.mjs';

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

// ---------- the server ----------

let tj;
let base;
const serverLog = () => tj?.log() ?? '';

async function startServer() {
  tj = await startTokenjar({ bin: BIN });
  base = tj.base;
}

async function stopServer() {
  await tj?.stop();
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

async function shoot(page, name, opts) {
  await shootBoth(page, SHOTS, name, opts);
}

/** Fails when the page is wider than the viewport (a horizontal scroll of the whole page). */
async function assertNoPageOverflow(page, name) {
  const over = await overflowAt375(page);
  assert(over <= 1, `${name} is ${over}px wider than a 375px screen`);
}

async function api(pathname, { token, method = 'GET', body, at } = {}) {
  const headers = { Accept: 'application/json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const r = await fetch(`${at ?? base}/api/v1${pathname}`, {
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
const S = {
  ownerPage: null,
  token: null,
  appKey: null,
  appSlug: null,
  events: [],
  kidEventId: null,
  /** The kid's event billed to the owner's delegation. */
  kidDelegated: null,
  /** The class of 25: { name, email, id, code, delegationId, token, delegated: [{id, milli}], personal: [ids] } */
  students: [],
};

/** Accepts the next confirm() of a page. */
function acceptNextDialog(page) {
  page.once('dialog', (d) => d.accept().catch(() => {}));
}

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
  // Starting credits: a bad amount is refused on the form, naming it; then a one-off top-up of 250.
  await page.getByLabel('One-off top-up').fill('-5');
  await page.getByRole('button', { name: 'Create owner account' }).click();
  await page.getByText('One-off top-up: The amount cannot be negative').waitFor();
  assertEqual(await page.getByLabel('One-off top-up').getAttribute('aria-invalid'), 'true', 'the top-up is marked');
  await page.getByLabel('One-off top-up').fill('250');
  await page.getByRole('button', { name: 'Create owner account' }).click();
  await page.getByRole('heading', { name: 'You are all set' }).waitFor();
  S.token = await page.getByLabel('Your personal token').inputValue();
  assert(S.token.startsWith('tj_pat_'), `the owner token looks like a personal token (${S.token.slice(0, 8)}…)`);
  S.startMilli = 250_000;
  await page.getByText('You start with 250 credits').waitFor();
  await shoot(page, 'setup-done');
  // The "What next" steps are links; the first opens the Overview, which shows the starting credits.
  await page.getByRole('region', { name: 'What next' }).getByRole('link', { name: 'Overview', exact: true }).click();
  await page.getByRole('heading', { name: 'Overview', level: 1 }).waitFor();
  await waitFor(
    async () => (await page.getByTestId('balance-total').textContent()).replace(/\s*credits$/, '').trim() === '250',
    'the starting credits on the Overview',
  );
  await page.getByRole('button', { name: 'Admin', exact: true }).waitFor(); // the admin pages' menu
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
  assertEqual(toMilli(bal.json.total), S.startMilli + 5_000_000, 'balance after the grant and the starting credits');
  await page.goto(`${base}/`);
  await page.getByTestId('balance-total').getByText(formatMilli(S.startMilli + 5_000_000)).waitFor();
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
  const sent = [];
  for (const [i, r] of reports.entries()) {
    sent.push({
      aiAgentId: S.appSlug,
      userEmail: owner.email,
      description: `e2e request ${i + 1}`,
      usageType: 'token_usage',
      idempotencyKey: `e2e-${i + 1}`,
      modelParameters: { temperature: 0.2, maxTokens: 512 },
      ...r,
    });
    const res = await api('/usage', { token: S.appKey, method: 'POST', body: sent[i] });
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
    body: sent[0],
  });
  assertEqual(again.status, 200, 'an idempotent repeat');
  const reused = await api('/usage', {
    token: S.appKey,
    method: 'POST',
    body: { ...sent[0], description: 'another report under the same key' },
  });
  assertEqual(reused.status, 409, 'a reused key on a different report');
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
  await shoot(page, 'usage-detail', { fullPage: false });
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
  assertEqual(await page.getByTestId('balance-total').textContent().then((t) => t.replace(/\s*credits$/, '').trim()), formatMilli(S.startMilli + 5_000_000 - all), 'balance after usage');
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
  // On a phone the usage log shows how much and who paid without scrolling sideways.
  await page.locator('table.usage tbody tr').first().waitFor();
  for (const name of ['Credits', 'Billing source']) {
    const box = await page.locator('table.usage thead th', { hasText: name }).boundingBox();
    assert(box && box.x >= 0 && box.x + box.width <= 375, `the ${name} column is on a 375px screen (${JSON.stringify(box)})`);
  }
  // The members table turns into cards there, so each Manage button is on screen.
  await page.goto(`${base}/admin/members`);
  const manageBtn = page.getByRole('button', { name: /^Manage / }).first();
  await manageBtn.waitFor();
  const manage = await manageBtn.boundingBox();
  assert(manage && manage.x + manage.width <= 375, `the Manage button is on a 375px screen (${JSON.stringify(manage)})`);
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
  await page.getByText('You give no allowances yet').waitFor();
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
  S.kidDelegated = { id: rep.json.id, milli: toMilli(rep.json.creditsCharged) };
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

// ---------- issue 5: a teacher, a class of 25, allowances and granted usage ----------

const CLASS = '7B';
/** Exact credits of a student's two reports (3 decimals at most). */
const reportCredits = (i) => [`${1 + (i % 7) * 0.125}`, `${(0.5 + i / 100).toFixed(2)}`];

test('import a class of 25 from a CSV file, with printable invitation links and sign-in codes', async () => {
  const page = S.ownerPage;
  const lines = ['name,email,group'];
  for (let i = 1; i <= 25; i++) {
    const name = `Student ${String(i).padStart(2, '0')}`;
    const email = i % 5 === 0 ? '' : `student${i}@school.example`;
    lines.push(`${name},${email},${CLASS}`);
    S.students.push({ i, name, email, delegated: [], personal: [] });
  }
  await page.goto(`${base}/admin/members`);
  await page.getByRole('heading', { name: 'Import a class' }).waitFor();
  await page.getByLabel('Or upload a .csv file').setInputFiles({
    name: 'class-7b.csv',
    mimeType: 'text/csv',
    buffer: Buffer.from(lines.join('\r\n') + '\r\n'),
  });
  await page
    .getByTestId('import-summary')
    .getByText('25 people: 5 without an email will get a sign-in code; 20 with an email will get an invitation link to set a password.')
    .waitFor();
  await page.getByRole('button', { name: 'Import 25 members' }).click();
  const result = page.getByTestId('import-result');
  await result.getByText('Imported 25 members: 20 got an invitation link, 5 got a sign-in code.').waitFor();

  // Every student has a way in: a code without an email, an invitation link with one.
  const ways = await result.locator('tr[data-code-for]').evaluateAll((rows) =>
    rows.map((r) => ({
      name: r.dataset.codeFor,
      way: r.dataset.wayIn,
      code: r.querySelector('.code')?.textContent.trim() ?? null,
      link: r.querySelector('[data-invite-link]')?.getAttribute('href') ?? null,
    })),
  );
  assertEqual(ways.length, 25, 'rows in the import result');
  assertEqual(
    ways.filter((w) => w.way === 'code').map((w) => w.name).sort(),
    S.students.filter((s) => !s.email).map((s) => s.name),
    'the students who got a code',
  );
  assertEqual(
    ways.filter((w) => w.way === 'link').map((w) => w.name).sort(),
    S.students.filter((s) => s.email).map((s) => s.name),
    'the students who got an invitation link',
  );
  for (const w of ways) {
    const s = S.students.find((x) => x.name === w.name);
    if (w.way === 'code') {
      assert(w.code.length >= 6 && !w.link, `a code and no link for ${w.name}`);
      s.code = w.code;
    } else {
      assert(w.link.startsWith(`${base}/invite/`) && !w.code, `a link and no code for ${w.name}: ${w.link}`);
      s.link = w.link;
    }
  }
  const members = await api(`/members?group=${CLASS}`, { token: S.token });
  assertEqual(members.status, 200, 'GET /members?group=7B');
  assertEqual(members.json.items.length, 25, 'members in group 7B');
  for (const m of members.json.items) {
    const s = S.students.find((x) => x.name === m.name);
    assert(s, `an imported member ${m.name}`);
    s.id = m.id;
    assertEqual(m.email, s.email, `the email of ${m.name}`);
    assertEqual(m.group, CLASS, `the group of ${m.name}`);
  }
  await shoot(page, 'class-import');

  // "Print codes" calls window.print(), and in print only the sheet of codes shows.
  await page.evaluate(() => {
    window.__printed = 0;
    window.print = () => {
      window.__printed += 1;
    };
  });
  await result.getByRole('button', { name: 'Print links and codes' }).click();
  await waitFor(() => page.evaluate(() => window.__printed === 1), 'window.print()');
  await page.emulateMedia({ media: 'print' });
  const sheet = page.locator('body > .print-sheet');
  assert(await sheet.isVisible(), 'the sheet of links and codes shows in print');
  assert(!(await page.locator('header.top').isVisible()), 'the page header is hidden in print');
  assert(!(await page.getByRole('heading', { name: 'Members', level: 1 }).isVisible()), 'the page is hidden in print');
  assertEqual(await sheet.locator('.slip').count(), 25, 'slips on the sheet: one per student');
  for (const s of S.students.filter((x) => x.code)) await sheet.getByText(s.code, { exact: true }).waitFor();
  for (const s of S.students.filter((x) => x.link)) await sheet.getByText(s.link, { exact: true }).waitFor();
  await page.screenshot({ path: path.join(SHOTS, 'class-codes-print.png'), fullPage: true });
  await page.emulateMedia({ media: 'screen' });
  assert(!(await sheet.isVisible()), 'the sheet is hidden on screen');

  // A student with an email opens the link and chooses a password: the imported member signs in.
  const s1 = S.students.find((s) => s.i === 1);
  const token = s1.link.split('/invite/')[1];
  const accepted = await api(`/invites/${token}/accept`, { method: 'POST', body: { email: s1.email, password: 'student-one-pw' } });
  assertEqual(accepted.status, 201, `accepting the invitation: ${accepted.text}`);
  assertEqual(accepted.json.user.name, s1.name, 'the invitation signs in the imported student');
  const login = await api('/auth/login', { method: 'POST', body: { email: s1.email, password: 'student-one-pw' } });
  assertEqual(login.status, 200, 'the student signs in with the chosen password');

  // The member list filters by group, kept in the URL.
  await page.getByLabel('Group', { exact: true }).selectOption(CLASS);
  await page.waitForURL((u) => u.searchParams.get('group') === CLASS);
  await page.getByTestId('member-count').getByText('25 of 27 members').waitFor();
  assertEqual(await page.locator('tr[data-member]').count(), 25, 'rows in group 7B');
  await settle(page);
  await shoot(page, 'admin-members-class');
  await assertNoPageOverflow(page, 'admin-members-class');
});

test('give the whole class 500 credits a day at once', async () => {
  assert(S.students.length === 25 && S.students.every((s) => s.id), 'needs the imported class');
  const page = S.ownerPage;
  await page.goto(`${base}/granted?give=group&group=${CLASS}`);
  await page.getByRole('heading', { name: 'Give an allowance' }).waitFor();
  assert(await page.getByLabel('A whole group').isChecked(), 'the link from the import preselects the group mode');
  await page.locator(`#d-group option[value="${CLASS}"]`).waitFor({ state: 'attached' });
  await page.getByLabel('Group', { exact: true }).selectOption(CLASS);
  await page.getByLabel('Credits', { exact: true }).fill('500');
  await page.getByLabel('Period').selectOption('day');
  await page.getByLabel('Note').fill('Maths class');
  await page.getByRole('button', { name: 'Create 25 allowances' }).click();
  await page.getByText('Created 25 allowances of 500 a day (Maths class).').waitFor();

  const dels = await api('/delegations', { token: S.token });
  const maths = dels.json.given.filter((d) => d.note === 'Maths class');
  assertEqual(maths.length, 25, 'allowances with the note "Maths class"');
  for (const d of maths) {
    const s = S.students.find((x) => x.id === d.granteeId);
    assert(s, `the allowance ${d.id} is for a student`);
    assertEqual([d.period, toMilli(d.credits), d.status], ['day', 500_000, 'active'], `the terms for ${s.name}`);
    assert(d.periodEnds, `the allowance for ${s.name} says when it refills`);
    s.delegationId = d.id;
  }
  await page.getByLabel('Find').fill('Student 0');
  await waitFor(async () => (await page.locator('tr[data-delegation]').count()) === 9, 'the search to keep 9 students');
  await page.getByLabel('Find').fill('');
  await settle(page);
  await shoot(page, 'granted-class-given');
});

test('a student signs in with the printed code and sees the allowance', async () => {
  const s5 = S.students.find((s) => s.i === 5);
  assert(s5?.code && s5.delegationId, 'needs student 5 with a code and an allowance');
  const page = (S.current = await newPage('student'));
  await page.goto(`${base}/login`);
  await page.getByLabel('Sign-in code').fill(s5.code);
  await page.getByRole('button', { name: 'Use code' }).click();
  await page.getByRole('heading', { name: 'Overview', level: 1 }).waitFor();
  const mine = page.getByTestId('my-allowances');
  await mine.getByText('From Olivia Owner').waitFor();
  await mine.getByText('Maths class').waitFor();
  await mine.getByText('left of 500 a day').waitFor();
  await mine.getByText('Refills at midnight').waitFor();
  await settle(page);
  await shoot(page, 'student-overview');

  // A personal token bound to the allowance, made on the tokens page.
  await page.goto(`${base}/tokens`);
  await page.getByLabel('Name').fill('maths homework');
  await page.getByLabel('Pays from').selectOption(String(s5.delegationId));
  await page.getByRole('button', { name: 'Create token' }).click();
  s5.token = await waitFor(async () => (await page.getByLabel(/Token/).inputValue()) || null, 'the new token');
  assert(s5.token.startsWith('tj_pat_'), 'a personal token for the student');
  await shoot(page, 'student-tokens');

  // A code works once.
  const again = await api('/auth/code', { method: 'POST', body: { code: s5.code } });
  assert([400, 401, 404].includes(again.status), `a used code is refused (${again.status})`);
});

test('25 students report usage with their own keys', async () => {
  assert(S.students.every((s) => s.delegationId), 'needs the allowances');
  for (const s of S.students) {
    if (!s.token) {
      let code = s.code;
      if (!code || s.i === 5) {
        const c = await api(`/members/${s.id}/code`, { token: S.token, method: 'POST' });
        assertEqual(c.status, 201, `a new code for ${s.name} (${c.text.slice(0, 120)})`);
        assert(c.json.expiresAt, 'the code says when it expires');
        code = c.json.code;
      }
      const client = cookieClient(base);
      const signin = await client.call('/auth/code', { method: 'POST', body: { code } });
      assertEqual(signin.status, 200, `${s.name} signs in with a code (${signin.text.slice(0, 120)})`);
      assertEqual(signin.json.user.id, s.id, 'the signed-in student');
      const tok = await client.call('/tokens', { method: 'POST', body: { name: 'laptop' } });
      assertEqual(tok.status, 201, `a personal token for ${s.name} (${tok.text.slice(0, 120)})`);
      s.token = tok.json.token;
    }
    for (const [n, credits] of reportCredits(s.i).entries()) {
      const r = await api('/usage', {
        token: s.token,
        method: 'POST',
        body: {
          description: `Fractions exercise ${n + 1}`,
          model: n === 0 ? 'gpt-4o-mini' : 'claude-haiku',
          provider: n === 0 ? 'OpenAI' : 'Anthropic',
          credits: Number(credits),
          inputTokens: 200 + s.i,
          outputTokens: 50,
          project: n === 0 ? 'Fractions' : 'Essay',
          idempotencyKey: `class-${s.i}-${n}`,
        },
      });
      assertEqual(r.status, 201, `${s.name} reports usage (${r.text.slice(0, 160)})`);
      assertEqual(String(r.json.billingSource), String(s.delegationId), `${s.name}'s report is billed to the allowance`);
      assertEqual(toMilli(r.json.creditsCharged), toMilli(credits), 'credits charged');
      s.delegated.push({ id: r.json.id, milli: toMilli(credits) });
    }
    // Their own personal usage stays private.
    const p = await api('/usage', {
      token: s.token,
      method: 'POST',
      body: { description: 'my own chat', credits: 0.25, billingSource: 'personal', model: 'gpt-4o-mini' },
    });
    assertEqual(p.status, 201, `${s.name}'s personal report`);
    assertEqual(p.json.billingSource, 'personal', 'a personal report');
    s.personal.push(p.json.id);
  }
  // More than the day's allowance is split (SPEC 5): the allowance pays what it has left, the rest
  // falls through to personal credits, never to nothing, and the reply says why.
  const s5 = S.students.find((s) => s.i === 5);
  const big = await api('/usage', {
    token: s5.token,
    method: 'POST',
    body: { description: 'a very long essay', credits: 600, model: 'gpt-4o', project: 'Essay' },
  });
  assertEqual(big.status, 201, 'a report bigger than the allowance');
  assertEqual(String(big.json.billingSource), String(s5.delegationId), 'the allowance pays its part');
  assert(typeof big.json.sourceNote === 'string' && /the rest went to the next source/.test(big.json.sourceNote), `the reply says why: ${big.json.sourceNote}`);
  const allowanceLeft = 500_000 - s5.delegated.reduce((a, e) => a + e.milli, 0);
  assertEqual(toMilli(big.json.creditsCharged), 600_000, 'the whole report is charged');
  // The allowance's share is what the teacher sees; the event's credits are the whole report.
  s5.delegated.push({ id: big.json.id, milli: allowanceLeft, total: 600_000 });
  S.fellThrough = big.json;
});

test('the student sees what paid a split request: the allowance its part, their own credits the rest', async () => {
  const page = S.current;
  assert(page && S.fellThrough, 'needs the student page and the split event');
  const s5 = S.students.find((s) => s.i === 5);
  const part = s5.delegated.find((e) => e.id === S.fellThrough.id).milli;
  await page.goto(`${base}/usage`);
  const row = page.locator(`table.usage tr[data-id="${S.fellThrough.id}"]`);
  await row.waitFor();
  const note = row.getByTestId('source-note');
  await note.getByText('split', { exact: true }).waitFor();
  await note.getByText(`Maths class allowance paid ${formatMilli(part)} of 600`).waitFor();
  assertEqual(await note.getByText('fell through').count(), 0, 'a split charge is not said to fall through');
  await page
    .getByTestId('fell-through')
    .getByText(`1 of these requests was split: Maths class allowance paid ${formatMilli(part)} of 600, your own credits ${formatMilli(600_000 - part)}.`, { exact: false })
    .waitFor();
  await row.locator('button.open').click();
  const drawer = page.getByRole('dialog');
  const said = drawer.getByTestId('detail-source-note');
  await said.getByText(`Maths class allowance paid ${formatMilli(part)}, your own credits ${formatMilli(600_000 - part)}`).waitFor();
  await said.getByText(S.fellThrough.sourceNote).waitFor();
  await shoot(page, 'student-usage-detail', { fullPage: false });
  await page.keyboard.press('Escape');
  await settle(page);
  await shoot(page, 'student-usage');
  await page.context().close();
  S.current = null;
});

test('the teacher sees per-student totals equal to the reported credits, and exports them', async () => {
  const page = S.ownerPage;
  await page.goto(`${base}/granted?range=7d`);
  const table = page.getByTestId('per-grantee');
  await table.waitFor();
  await waitFor(async () => (await table.locator('tbody tr').count()) === 26, 'a row per student, and Kim Kid');
  const rows = await table.locator('tbody tr').evaluateAll((trs) =>
    trs.map((tr) => [tr.querySelector('th').textContent.trim(), tr.querySelector('td.credits').textContent.trim()]),
  );
  const shown = Object.fromEntries(rows);
  let expectedTotal = S.kidDelegated?.milli ?? 0;
  for (const s of S.students) {
    const milli = s.delegated.reduce((a, e) => a + e.milli, 0);
    expectedTotal += milli;
    assertEqual(shown[s.name], formatMilli(milli), `the total of ${s.name}`);
  }
  assertEqual(await page.getByTestId('granted-total').textContent(), formatMilli(expectedTotal), 'the total of all grantees');
  await page.locator('canvas').first().waitFor();
  await settle(page);
  await shoot(page, 'granted-class');

  // The export holds exactly the events billed to the allowances: no personal event of any student.
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('granted-export-csv').click()]);
  const csv = parseCsv(fs.readFileSync(await download.path(), 'utf8'));
  const expectedIds = [...S.students.flatMap((s) => s.delegated.map((e) => e.id)), S.kidDelegated.id].sort((a, b) => a - b);
  assertEqual(csv.rows.map((r) => Number(r.id)).sort((a, b) => a - b), expectedIds, 'the CSV rows are the reported events');
  const personal = new Set(S.students.flatMap((s) => s.personal));
  assert(csv.rows.every((r) => !personal.has(Number(r.id))), 'no personal event in the CSV');
  // allowanceCredits is what the allowances paid, as the table; requestCredits the whole of each request.
  const splitRest = S.students.flatMap((s) => s.delegated).reduce((a, e) => a + (e.total ? e.total - e.milli : 0), 0);
  assertEqual(csv.rows.reduce((a, r) => a + toMilli(r.allowanceCredits), 0), expectedTotal, 'the CSV allowance credits sum to the total');
  assertEqual(csv.rows.reduce((a, r) => a + toMilli(r.requestCredits), 0), expectedTotal + splitRest, 'the CSV request credits add the split rest');
  for (const s of S.students) {
    const mine = csv.rows.filter((r) => r.member === s.name);
    assertEqual(mine.length, s.delegated.length, `CSV rows of ${s.name}`);
  }

  // One student's requests, with the same filter in the export.
  const s3 = S.students.find((s) => s.i === 3);
  await page.getByLabel('Member').selectOption(String(s3.id));
  await page.waitForURL((u) => u.searchParams.get('member') === String(s3.id));
  await waitFor(async () => (await page.locator('table.usage tbody tr').count()) === 2, "student 3's two requests");
  const href = await page.getByTestId('granted-export-json').getAttribute('href');
  const u = new URL(href, base);
  assertEqual([u.pathname, u.searchParams.get('member'), u.searchParams.get('format')], ['/api/v1/granted/usage/export', String(s3.id), 'json'], 'the JSON export link');
  const json = await (await page.request.get(u.href)).json();
  assertEqual(json.map((r) => r.id).sort((a, b) => a - b), s3.delegated.map((e) => e.id).sort((a, b) => a - b), "student 3's JSON export");
});

test('edit an allowance from the next period, pause and resume it', async () => {
  const page = S.ownerPage;
  const s1 = S.students.find((s) => s.i === 1);
  await page.goto(`${base}/granted`);
  await page.getByRole('button', { name: `Edit the allowance for ${s1.name}` }).click();
  const drawer = page.getByRole('dialog');
  await drawer.getByText('applies from the next period', { exact: false }).first().waitFor();
  await drawer.getByLabel('Credits', { exact: true }).fill('300');
  await drawer.getByRole('button', { name: 'Save changes' }).click();
  await drawer.getByText(/Saved\. The new amount applies from the next period/).waitFor();
  await drawer.getByText(/From .*: 300 a day/).first().waitFor();
  let d = (await api('/delegations', { token: S.token })).json.given.find((x) => x.id === s1.delegationId);
  assertEqual([toMilli(d.credits), toMilli(d.pending?.credits ?? 0)], [500_000, 300_000], 'credits now and pending');
  await shoot(page, 'granted-edit', { fullPage: false });

  await drawer.getByRole('button', { name: 'Pause' }).click();
  await drawer.getByText('Paused: it pays for nothing until you resume it.').waitFor();
  d = (await api('/delegations', { token: S.token })).json.given.find((x) => x.id === s1.delegationId);
  assertEqual(d.status, 'paused', 'status after pausing');
  // While paused, a report falls through to personal.
  const r = await api('/usage', { token: s1.token, method: 'POST', body: { description: 'while paused', credits: 1 } });
  assertEqual([r.status, r.json?.billingSource], [201, 'personal'], 'a report while paused');
  s1.personal.push(r.json.id);
  await drawer.getByRole('button', { name: 'Resume' }).click();
  await drawer.getByText('Resumed: it pays again.').waitFor();
  await page.keyboard.press('Escape');
  d = (await api('/delegations', { token: S.token })).json.given.find((x) => x.id === s1.delegationId);
  assertEqual(d.status, 'active', 'status after resuming');
});

test('apps: rename, disable and a key bound to an allowance', async () => {
  const page = S.ownerPage;
  const created = await api('/apps', { token: S.token, method: 'POST', body: { name: 'Quiz Bot' } });
  assertEqual(created.status, 201, 'POST /apps');
  const s2 = S.students.find((s) => s.i === 2);
  await page.goto(`${base}/admin/apps`);
  const card = page.getByRole('region', { name: 'Quiz Bot', exact: true });
  await card.getByRole('button', { name: 'Rename Quiz Bot' }).click();
  await card.getByLabel('New name for Quiz Bot').fill('Quiz Bot Pro');
  await card.getByRole('button', { name: 'Save name' }).click();
  await page.getByText(/Renamed to Quiz Bot Pro/).waitFor();
  const card2 = page.getByRole('region', { name: 'Quiz Bot Pro', exact: true });
  acceptNextDialog(page);
  await card2.getByRole('button', { name: 'Disable Quiz Bot Pro' }).click();
  await card2.getByText('disabled', { exact: true }).waitFor();
  const refused = await api('/usage', {
    token: created.json.key,
    method: 'POST',
    body: { aiAgentId: created.json.slug, userId: s2.id, description: 'quiz', credits: 1 },
  });
  assert([401, 403].includes(refused.status), `a disabled app's key is refused (${refused.status})`);
  await card2.getByRole('button', { name: 'Enable Quiz Bot Pro' }).click();
  await page.getByText('Quiz Bot Pro is enabled again.').waitFor();

  // A new key that bills Student 02's allowance.
  await card2.getByRole('button', { name: 'New key for Quiz Bot Pro' }).click();
  await card2.getByLabel('The new key bills').selectOption(String(s2.delegationId));
  await card2.getByRole('button', { name: 'Create key' }).click();
  const key = await waitFor(async () => (await page.getByLabel('App key').inputValue()) || null, 'the bound key');
  const r2 = await api('/usage', {
    token: key,
    method: 'POST',
    body: { aiAgentId: created.json.slug, userId: s2.id, description: 'quiz on the allowance', credits: 1.5 },
  });
  assertEqual([r2.status, String(r2.json?.billingSource)], [201, String(s2.delegationId)], 'the bound key bills the allowance');
  s2.delegated.push({ id: r2.json.id, milli: 1500 });
  await settle(page);
  await shoot(page, 'admin-apps-more');
});

test('admins: new sign-in code, password reset, refund by id', async () => {
  const page = S.ownerPage;
  const s7 = S.students.find((s) => s.i === 7);
  await page.goto(`${base}/admin/members?group=${CLASS}`);
  await page.getByRole('button', { name: `Manage ${s7.name}` }).click();
  const drawer = page.getByRole('dialog');
  acceptNextDialog(page);
  await drawer.getByRole('button', { name: 'New sign-in code' }).click();
  const code = await waitFor(async () => (await drawer.getByLabel(`One-time sign-in code for ${s7.name}`).inputValue()) || null, 'the code');
  const signin = await cookieClient(base).call('/auth/code', { method: 'POST', body: { code } });
  assertEqual(signin.status, 200, 'the new code signs in');
  await drawer.getByLabel('New password').fill('student-seven-pw');
  await drawer.getByRole('button', { name: 'Reset password' }).click();
  await drawer.getByText(/password is reset/).waitFor();
  const login = await api('/auth/login', { method: 'POST', body: { email: s7.email, password: 'student-seven-pw' } });
  assertEqual(login.status, 200, 'the reset password works');
  await shoot(page, 'admin-member-manage', { fullPage: false });
  await page.keyboard.press('Escape');

  // Refund one of student 7's requests by its number.
  const ev = s7.delegated[0];
  await page.getByLabel('Request number').fill(String(ev.id));
  acceptNextDialog(page);
  await page.getByRole('button', { name: 'Refund', exact: true }).click();
  await page.getByText(`Request #${ev.id} is refunded`).waitFor();
  const again = await api(`/usage/${ev.id}/refund`, { token: S.token, method: 'POST' });
  assertEqual(again.status, 409, 'a second refund');
});

// ---------- issue 4: invitations, the account page, the audit log ----------

const newbie = { email: 'newbie@example.org', name: 'Nina Newbie', password: 'nina-first-pw', next: 'nina-second-pw' };

test('an admin invites by link and the invitee picks a password', async () => {
  const page = S.ownerPage;
  await page.goto(`${base}/admin/invites`);
  await page.getByText('No invitations yet').waitFor();
  await page.getByLabel('Email').fill(newbie.email);
  await page.getByLabel('Monthly credits').fill('100');
  await page.getByLabel('Note').fill('Nina from the book club');
  await page.getByRole('button', { name: 'Create invitation link' }).click();
  const link = await waitFor(async () => (await page.getByLabel('Invitation link').inputValue()) || null, 'the link');
  assert(new URL(link).pathname.startsWith('/invite/'), `an invitation link: ${link}`);
  await page.getByRole('cell', { name: 'Nina from the book club' }).waitFor();
  await shoot(page, 'admin-invites');

  const guest = (S.current = await newPage('invitee'));
  await guest.goto(new URL(new URL(link).pathname, base).href);
  await guest.getByRole('heading', { name: 'Join Family jar' }).waitFor();
  assertEqual(await guest.getByLabel('Email').inputValue(), newbie.email, 'the email of the invitation');
  await guest.getByLabel('Your name').fill(newbie.name);
  await guest.getByLabel('Password').fill(newbie.password);
  await shoot(guest, 'invite-accept');
  await guest.getByRole('button', { name: 'Accept and sign in' }).click();
  await guest.getByRole('heading', { name: 'Overview', level: 1 }).waitFor();
  const me = await guest.request.get(`${base}/api/v1/me`);
  assertEqual((await me.json()).email, newbie.email, 'signed in as the invitee');

  // The link works once.
  const used = await newPage('invite-again');
  await used.goto(new URL(new URL(link).pathname, base).href);
  await used.getByRole('heading', { name: 'This invitation cannot be used' }).waitFor();
  await shoot(used, 'invite-used');
  await used.context().close();
  await page.reload();
  await page.getByText('Accepted').first().waitFor();
});

test('the account page: change the password, sign out everywhere', async () => {
  const page = S.current;
  assert(page, 'needs the invitee page');
  await page.goto(`${base}/account`);
  await page.getByRole('heading', { name: 'Your account', level: 1 }).waitFor();
  await page.getByText('No linked accounts').waitFor();
  await settle(page);
  await shoot(page, 'account');
  await page.getByLabel('Current password').fill('not the password');
  await page.locator('#pw-new').fill(newbie.next);
  await page.getByLabel('New password again').fill(newbie.next);
  await page.getByRole('button', { name: 'Change password' }).click();
  await page.getByRole('alert').getByText(/current password/i).waitFor();
  await page.getByLabel('Current password').fill(newbie.password);
  await page.getByRole('button', { name: 'Change password' }).click();
  await page.getByText('Your password is changed.').waitFor();

  // A second session of the same member, to be signed out with this one, and a personal token,
  // which ends too because the box is ticked.
  const other = cookieClient(base);
  assertEqual((await other.call('/auth/login', { method: 'POST', body: { email: newbie.email, password: newbie.next } })).status, 200, 'a second session');
  const made = await other.call('/tokens', { method: 'POST', body: { name: 'laptop script' } });
  assertEqual(made.status, 201, 'a personal token');
  assertEqual((await api('/me', { token: made.json.token })).status, 200, 'the token works');
  await page.getByText('Your personal tokens keep working unless you tick the box').waitFor();
  await page.locator('#out-revoke-tokens').check();
  acceptNextDialog(page);
  await page.getByRole('button', { name: 'Sign out everywhere' }).click();
  await page.waitForURL((u) => u.pathname === '/login');
  assertEqual((await other.call('/me')).status, 401, 'the other session is signed out too');
  assertEqual((await api('/me', { token: made.json.token })).status, 401, 'the personal token is revoked with the box ticked');
  await page.getByLabel('Email').fill(newbie.email);
  await page.getByLabel('Password').fill(newbie.next);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Overview', level: 1 }).waitFor();
  await page.context().close();
  S.current = null;
});

test('the audit log shows the security events', async () => {
  const page = S.ownerPage;
  await page.goto(`${base}/admin/audit`);
  await page.getByRole('heading', { name: 'Audit log', level: 1 }).waitFor();
  for (const action of ['invite_created', 'invite_accepted', 'signout_all', 'password_reset', 'token_created']) {
    await page.locator(`[data-action="${action}"]`).first().waitFor();
  }
  await settle(page);
  await shoot(page, 'admin-audit');
});

test('screenshots of the new pages', async () => {
  const page = S.ownerPage;
  for (const [name, url, heading] of [
    ['admin-settings-signin', '/admin/settings', 'Settings'],
    ['account-owner', '/account', 'Your account'],
    ['admin-invites-list', '/admin/invites', 'Invitations'],
    ['admin-audit-list', '/admin/audit', 'Audit log'],
    ['granted-all', '/granted', 'Granted usage'],
    ['admin-members-all', '/admin/members', 'Members'],
    ['tokens-owner', '/tokens', 'Personal tokens'],
  ]) {
    await page.goto(`${base}${url}`);
    await page.getByRole('heading', { name: heading, level: 1 }).waitFor();
    await settle(page);
    await shoot(page, name);
    await assertNoPageOverflow(page, name);
  }
  await page.goto(`${base}/admin/settings`);
  await page.getByRole('heading', { name: 'OpenID Connect' }).waitFor();
});

// ---------- issue 4: sign-in with a (fake) OpenID Connect provider ----------

test('sign in with School SSO through a fake OpenID Connect provider', async () => {
  const idp = await startFakeOidc({ clientId: 'tokenjar-e2e', clientSecret: 'e2e-secret' });
  const port = await freePort();
  const sso = await startTokenjar({
    bin: BIN,
    port,
    env: {
      TOKENJAR_OIDC_DISCOVERY_URL: idp.discoveryUrl,
      TOKENJAR_OIDC_CLIENT_ID: 'tokenjar-e2e',
      TOKENJAR_OIDC_CLIENT_SECRET: 'e2e-secret',
      TOKENJAR_OIDC_NAME: 'School SSO',
      TOKENJAR_BASE_URL: `http://127.0.0.1:${port}`,
    },
  });
  const pages = [];
  try {
    const setup = await api('/setup', { at: sso.base, method: 'POST', body: { email: 'head@school.example', name: 'Head Teacher', password: 'head-password-1', instanceName: 'School jar' } });
    assertEqual(setup.status, 201, 'setup of the second instance');
    const sam = await api('/members', { at: sso.base, token: setup.json.token, method: 'POST', body: { email: 'sam@school.example', name: 'Sam Student' } });
    assertEqual(sam.status, 201, 'a member with the email of the provider user');
    const providers = await api('/auth/providers', { at: sso.base });
    assertEqual(providers.json, [{ id: 'oidc', name: 'School SSO' }], 'GET /auth/providers');

    idp.user = { sub: 'sso-sam-1', email: 'sam@school.example', name: 'Sam S.', emailVerified: true };
    const page = await newPage('sso');
    pages.push(page);
    S.current = page;
    await page.goto(`${sso.base}/usage`);
    await page.waitForURL((u) => u.pathname === '/login');
    const button = page.getByRole('link', { name: 'Continue with School SSO' });
    await button.waitFor();
    await settle(page);
    await shoot(page, 'login-sso');
    await button.click();
    await page.waitForURL((u) => u.origin === sso.base && u.pathname === '/usage', { timeout: 15_000 });
    await page.getByRole('heading', { name: 'Usage log', level: 1 }).waitFor();
    const me = await (await page.request.get(`${sso.base}/api/v1/me`)).json();
    assertEqual([me.id, me.email], [sam.json.id, 'sam@school.example'], 'signed in as the member with that email');
    assert(idp.log.some((l) => l.startsWith('POST /token')), 'tokenjar redeemed the code');
    await page.goto(`${sso.base}/account`);
    await page.getByText('School SSO', { exact: true }).waitFor();
    await settle(page);
    await shoot(page, 'account-sso');

    // A provider user nobody invited is refused, with a readable message, and nothing is created.
    idp.user = { sub: 'sso-stranger', email: 'stranger@elsewhere.example', name: 'Stranger', emailVerified: true };
    const page2 = await newPage('sso-refused');
    pages.push(page2);
    S.current = page2;
    await page2.goto(`${sso.base}/login`);
    await page2.getByRole('link', { name: 'Continue with School SSO' }).click();
    await page2.waitForURL((u) => u.origin === sso.base && u.pathname === '/login' && u.searchParams.has('error'));
    const box = page2.getByTestId('login-error');
    await box.waitFor();
    const text = (await box.textContent()).replace(/\s+/g, ' ').trim();
    assert(/Sign-in was refused/.test(text) && text.length > 30 && !/panic|goroutine|\{"error"/.test(text), `a readable refusal: ${text}`);
    assertEqual((await page2.request.get(`${sso.base}/api/v1/me`)).status(), 401, 'the stranger is not signed in');
    const members = await api('/members', { at: sso.base, token: setup.json.token });
    assertEqual(members.json.items.length, 2, 'no member was created for the stranger');
    await settle(page2);
    await shoot(page2, 'login-refused');
  } finally {
    for (const p of pages) await p.context().close().catch(() => {});
    S.current = null;
    await sso.stop();
    await idp.close();
  }
});

// ---------- issue 19: the AI gateway's providers and "Connect an AI app" ----------

test('an admin adds an AI provider, tests the connection and sees its models', async () => {
  const fakeKey = 'sk-e2e-provider-SECRET-4242';
  const fake = await startFakeOpenAI({ key: fakeKey });
  try {
    const page = S.ownerPage;
    await page.goto(`${base}/`);
    await page.getByRole('button', { name: 'Admin', exact: true }).click();
    await page.getByRole('link', { name: 'AI providers', exact: true }).click();
    await page.waitForURL((u) => u.pathname === '/admin/providers');
    await page.getByRole('heading', { name: 'AI providers', level: 1 }).waitFor();
    await page.getByText('No AI providers yet').waitFor();
    await page.getByLabel('Kind').selectOption('openai-compatible');
    // Local servers' usual addresses are shown.
    await page.getByText('http://localhost:11434/v1').waitFor();
    await page.getByLabel('Name').fill('Fake local');
    await page.getByLabel('Base URL').fill(fake.baseUrl);
    await page.getByLabel('API key').fill(fakeKey);
    await page.getByRole('button', { name: 'Add provider' }).click();
    const card = page.getByRole('region', { name: 'Fake local', exact: true });
    await card.getByText('key stored').waitFor();
    assert(!(await page.content()).includes(fakeKey), 'the key is not on the page once saved');

    await card.getByRole('button', { name: 'Test connection of Fake local' }).click();
    await card.getByText('Connected: 3 models listed.').waitFor();
    const listed = await card.getByRole('list', { name: 'Models of Fake local' }).locator('code').allTextContents();
    assertEqual(listed, ['e2e-embed', 'e2e-llama-large', 'e2e-llama-small'], 'the models the provider lists');
    assert(fake.keys.includes(fakeKey), 'the test used the stored key');
    await card.getByText(/3 offered models have no price/).waitFor();

    // Offer two models only.
    await card.getByRole('checkbox', { name: 'e2e-embed' }).uncheck();
    await card.getByRole('button', { name: 'Offer the ticked models' }).click();
    await page.getByText('Fake local offers 2 models.').waitFor();
    await card.getByText('offers 2 models').waitFor();

    // Price one of them from the test's "no price" link, and see it in the table as an override.
    await card.getByRole('listitem').filter({ hasText: 'e2e-llama-small' }).getByRole('button', { name: 'no price: set one' }).click();
    assertEqual(await page.getByLabel('Model', { exact: true }).inputValue(), 'e2e-llama-small', 'the price form names the model');
    await page.locator('#pf-input').fill('0.10');
    await page.locator('#pf-output').fill('0.30');
    await page.getByRole('button', { name: 'Save price' }).click();
    await page.getByText('e2e-llama-small now costs $0.10 in and $0.30 out per million tokens.').waitFor();
    await page.getByLabel('Find a model').fill('e2e-llama-small');
    const row = page.locator('tr[data-model="e2e-llama-small"]');
    await row.getByText('your price').waitFor();
    const prices = await api('/prices', { token: S.token });
    const p = prices.json.items.find((x) => x.model === 'e2e-llama-small');
    assertEqual([p?.from, p?.input, p?.output], ['override', 0.1, 0.3], 'the stored override');
    // The shipped table is there too, with its date.
    await page.getByLabel('Find a model').fill('gpt-4o-mini');
    await page.locator('tr[data-model="gpt-4o-mini"]').getByText(/^table, /).waitFor();
    await page.getByLabel('Find a model').fill('');

    // A wrong key: the test says what the provider answered, without the key.
    await card.getByRole('button', { name: 'Edit Fake local' }).click();
    await card.getByLabel('New API key').fill('sk-wrong-e2e-key-9999');
    await card.getByRole('button', { name: 'Save', exact: true }).click();
    await page.getByText('Fake local is saved.').waitFor();
    await card.getByRole('button', { name: 'Test connection of Fake local' }).click();
    await card.getByText(/answered 401: Incorrect API key provided\. Check the API key\./).waitFor();
    await card.getByRole('button', { name: 'Edit Fake local' }).click();
    await card.getByLabel('New API key').fill(fakeKey);
    await card.getByRole('button', { name: 'Save', exact: true }).click();
    await card.getByRole('button', { name: 'Test connection of Fake local' }).click();
    await card.getByText('Connected: 3 models listed.').waitFor();

    const listedApi = await api('/providers', { token: S.token });
    assertEqual(listedApi.json.items.map((x) => [x.name, x.hasKey, x.models]), [['Fake local', true, ['e2e-llama-large', 'e2e-llama-small']]], 'GET /providers');
    assert(!listedApi.text.includes('SECRET'), 'no key in GET /providers');
    await settle(page);
    await shoot(page, 'admin-providers');
    await assertNoPageOverflow(page, 'admin-providers');

    // One shared Open WebUI: an app whose keys may name the member each request bills.
    await page.goto(`${base}/admin/apps`);
    await page.getByLabel('App name').fill('Family Open WebUI');
    await page.getByRole('button', { name: 'Create app and key' }).click();
    const app = page.getByRole('region', { name: 'Family Open WebUI', exact: true });
    await app.getByRole('button', { name: 'Allow naming members for Family Open WebUI' }).click();
    await app.getByText('names members', { exact: true }).waitFor();
    const apps = await api('/apps', { token: S.token });
    assertEqual(apps.json.items.find((a) => a.name === 'Family Open WebUI')?.namesMembers, true, 'the app may name members');
  } finally {
    await fake.close();
  }
});

test('a member opens Connect an AI app and makes a key for this device', async () => {
  const member = { email: 'connect@example.org', name: 'Casey Connect', password: 'connect-password-1' };
  const made = await api('/members', { token: S.token, method: 'POST', body: { ...member, role: 'member' } });
  assertEqual(made.status, 201, `POST /members (${made.text.slice(0, 200)})`);
  const page = (S.current = await newPage('connect'));
  await page.goto(`${base}/login`);
  await page.getByLabel('Email').fill(member.email);
  await page.getByLabel('Password').fill(member.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Overview', level: 1 }).waitFor();
  await page.getByRole('link', { name: 'Connect AI', exact: true }).click();
  await page.getByRole('heading', { name: 'Connect an AI app', level: 1 }).waitFor();
  assertEqual(await page.getByLabel('Base URL (OpenAI API)').inputValue(), `${base}/v1`, 'the base URL');
  assertEqual(await page.getByRole('link', { name: 'AI providers' }).count(), 0, 'no admin links for a member');
  const snippet = page.getByTestId('connect-snippet');
  assert((await snippet.textContent()).includes('tj_pat_YOUR_TOKEN'), 'a placeholder before a key is made');

  await page.getByRole('button', { name: 'Make a key' }).click();
  const key = await waitFor(async () => (await page.getByLabel(/Token/).inputValue()) || null, 'the new key');
  assert(key.startsWith('tj_pat_'), 'the key is a personal token');
  assertEqual((await api('/me', { token: key })).json?.email, member.email, 'the key is the member’s');
  const tokens = await api('/tokens', { token: key });
  assert(tokens.json.items.some((t) => /^AI app on /.test(t.name)), 'the token is named after the device');

  // Each client's setup names this server and the key.
  for (const [tab, want] of [
    ['OpenAI Python', `base_url="${base}/v1"`],
    ['OpenAI JavaScript', `baseURL: '${base}/v1'`],
    ['Anthropic SDK', `base_url="${base}",`],
    ['curl', `'${base}/v1/chat/completions'`],
    ['Open WebUI', `URL:  ${base}/v1`],
    ['LibreChat', `baseURL: "${base}/v1"`],
    ['Continue', `apiBase: ${base}/v1`],
  ]) {
    await page.getByRole('tab', { name: tab }).click();
    await waitFor(async () => {
      const text = await snippet.textContent();
      return text.includes(want) && text.includes(key);
    }, `the ${tab} setup to name this server and the key`);
  }
  await page.getByText('ENABLE_FORWARD_USER_INFO_HEADERS=true', { exact: false }).first().waitFor();
  await page.getByRole('tab', { name: 'OpenAI Python' }).click();
  await settle(page);
  await shoot(page, 'connect');
  await assertNoPageOverflow(page, 'connect');
  await page.context().close();
  S.current = null;
});

test('the openai package streams a chat through the gateway while the usage page shows it live', async () => {
  const fakeKey = 'sk-e2e-stream-SECRET-7777';
  const model = 'e2e-stream-chat';
  const fake = await startFakeOpenAI({ key: fakeKey, models: [model], streamChunks: 10, streamDelayMs: 200 });
  try {
    // The provider and its price, through the admin API: $10 in and $30 out per million tokens.
    const prov = await api('/providers', {
      token: S.token,
      method: 'POST',
      body: { name: 'Streaming fake', kind: 'openai-compatible', baseUrl: fake.baseUrl, apiKey: fakeKey, models: [model] },
    });
    assertEqual(prov.status, 201, `POST /providers (${prov.text.slice(0, 200)})`);
    const price = await api(`/prices/${model}`, { token: S.token, method: 'PUT', body: { input: '10', output: '30' } });
    assertEqual(price.status, 200, `PUT /prices/${model} (${price.text.slice(0, 200)})`);

    // A member with 100 credits of their own and a personal token.
    const member = { email: 'streamer@example.org', name: 'Sam Streamer', password: 'stream-password-1' };
    const made = await api('/members', { token: S.token, method: 'POST', body: { ...member, role: 'member' } });
    assertEqual(made.status, 201, `POST /members (${made.text.slice(0, 200)})`);
    const grant = await api(`/members/${made.json.id}/grants`, { token: S.token, method: 'POST', body: { kind: 'addon', credits: 100 } });
    assertEqual(grant.status, 201, 'grant to the member');
    const client = cookieClient(base);
    assertEqual((await client.call('/auth/login', { method: 'POST', body: { email: member.email, password: member.password } })).status, 200, 'the member signs in (API)');
    const tok = await client.call('/tokens', { method: 'POST', body: { name: 'e2e node script' } });
    assertEqual(tok.status, 201, 'a personal token');
    const token = tok.json.token;

    // The member's usage log in the browser, live, with what they can spend.
    const page = (S.current = await newPage('streamer'));
    await page.goto(`${base}/login`);
    await page.getByLabel('Email').fill(member.email);
    await page.getByLabel('Password').fill(member.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Overview', level: 1 }).waitFor();
    // The Overview shows the spending power too.
    await waitFor(async () => (await page.getByTestId('spend-available').textContent()) === '100', 'Overview: can spend 100');
    await page.goto(`${base}/usage`);
    await page.locator('[data-live="live"]').waitFor();
    const held = page.getByTestId('spend-held');
    const available = page.getByTestId('spend-available');
    await waitFor(async () => (await available.textContent()) === '100' && (await held.textContent()) === '0', 'before: 100 available, 0 held');
    assertEqual(await page.locator('table.usage tbody tr').count(), 0, 'no requests yet');
    await page.evaluate(() => (window.__notReloaded = true));

    // While the stream runs, watch the page's figures.
    let streaming = true;
    const seen = { held: new Set(), available: new Set() };
    const watcher = (async () => {
      while (streaming) {
        seen.held.add(await held.textContent());
        seen.available.add(await available.textContent());
        await sleep(50);
      }
    })();

    const openai = new OpenAI({ baseURL: `${base}/v1`, apiKey: token, maxRetries: 0 });
    const t0 = Date.now();
    const arrivals = [];
    let text = '';
    let usageChunks = 0;
    try {
      const stream = await openai.chat.completions.create({
        model,
        messages: [{ role: 'user', content: 'Count to ten, slowly.' }],
        max_tokens: 1000,
        stream: true,
      });
      for await (const chunk of stream) {
        arrivals.push(Date.now() - t0);
        text += chunk.choices[0]?.delta?.content ?? '';
        if (chunk.usage) usageChunks++;
      }
    } finally {
      streaming = false;
      await watcher;
    }
    assertEqual(text, 'w0 w1 w2 w3 w4 w5 w6 w7 w8 w9 ', 'the streamed text');
    // A real pass-through: the first chunk long before the last (10 chunks, 200 ms apart).
    assert(arrivals.length >= 10, `chunks: ${arrivals.length}`);
    const spread = arrivals.at(-1) - arrivals[0];
    assert(arrivals[0] < 1000 && spread >= 1500, `chunks arrive as sent, not buffered: first at ${arrivals[0]} ms, last at ${arrivals.at(-1)} ms`);
    // tokenjar asked the provider for the usage chunk and kept it from this client, which did not ask.
    assertEqual(fake.streams.map((x) => x.includeUsage), [true], 'include_usage injected upstream');
    assertEqual(usageChunks, 0, 'no usage chunk for a client that did not ask');
    assert(!fake.keys.some((k) => k.startsWith('tj_')), 'the member token never reaches the provider');

    // The hold showed while the stream ran: 1000 output tokens at $30/M and the input, about 30 credits.
    const heldDuring = [...seen.held].map(Number).filter((n) => n > 0);
    assert(heldDuring.length > 0 && heldDuring.every((n) => n >= 30 && n < 32), `"held now" while streaming: ${[...seen.held].join(', ')}`);
    const availDuring = [...seen.available].map(Number);
    assert(availDuring.some((n) => n <= 70 && n > 68), `"can spend now" while streaming: ${availDuring.join(', ')}`);

    // The row arrives live, with the model and the provider; the hold settles to the actual cost:
    // 20 tokens in at $10/M and 10 out at $30/M = $0.0005 = 0.5 credits.
    const row = page.locator('table.usage tbody tr').first();
    await row.waitFor();
    await waitFor(async () => (await row.textContent()).includes(model) && (await row.textContent()).includes('Streaming fake'), 'the live row names the model and the provider');
    assertEqual((await row.locator('td.credits').textContent()).trim(), '0.5', 'the row’s credits');
    await waitFor(async () => (await held.textContent()) === '0' && (await available.textContent()) === '99.5', 'after: 0 held, 99.5 available');
    assert(await page.evaluate(() => window.__notReloaded === true), 'the page was not reloaded');
    const bal = (await client.call('/balance')).json;
    assertEqual([bal.total, bal.available, bal.reserved], [99.5, 99.5, 0], 'GET /balance after the stream');
    const ev = (await client.call('/usage')).json.items[0];
    assertEqual([ev.model, ev.provider, ev.inputTokens, ev.outputTokens, ev.estimated, ev.prices?.input, ev.prices?.output], [model, 'Streaming fake', 20, 10, false, 10, 30], 'the event');
    await row.getByRole('button').first().click();
    await page.getByRole('dialog').getByText('Streaming fake').waitFor();
    await page.getByTestId('detail-prices').getByText('10 in · 30 out', { exact: false }).waitFor();
    await page.keyboard.press('Escape');
    await settle(page);
    await shoot(page, 'usage-gateway');
    await page.context().close();
    S.current = null;

    // The CSV export carries the gateway columns at the end.
    const csv = parseCsv((await client.call('/usage/export?format=csv')).text);
    const r = csv.rows[0];
    assertEqual([r.model, r.provider, r.estimated, r.overHold, r.priceInput, r.priceOutput], [model, 'Streaming fake', 'false', 'false', '10', '30'], 'the CSV row');

    // A member whose allowance cannot cover the hold gets 402 from the openai package, in words a child reads.
    const tiny = { email: 'tiny@example.org', name: 'Tia Tiny', password: 'tiny-password-1' };
    const madeTiny = await api('/members', { token: S.token, method: 'POST', body: { ...tiny, role: 'member' } });
    assertEqual(madeTiny.status, 201, 'POST /members (tiny)');
    const del = await api('/delegations', {
      token: S.token,
      method: 'POST',
      body: { granteeEmail: tiny.email, credits: 0.01, period: 'day', note: 'Homework' },
    });
    assertEqual(del.status, 201, `POST /delegations (${del.text.slice(0, 200)})`);
    const tinyClient = cookieClient(base);
    assertEqual((await tinyClient.call('/auth/login', { method: 'POST', body: { email: tiny.email, password: tiny.password } })).status, 200, 'tiny signs in');
    const tinyTok = await tinyClient.call('/tokens', { method: 'POST', body: { name: 'homework laptop', delegationId: del.json.id } });
    assertEqual(tinyTok.status, 201, 'a token bound to the allowance');
    const streamsBefore = fake.streams.length;
    let refused;
    try {
      const s2 = await new OpenAI({ baseURL: `${base}/v1`, apiKey: tinyTok.json.token, maxRetries: 0 }).chat.completions.create({
        model,
        messages: [{ role: 'user', content: 'Write my essay.' }],
        max_tokens: 1000,
        stream: true,
      });
      for await (const _ of s2) {
        /* never reached */
      }
    } catch (e) {
      refused = e;
    }
    assert(refused instanceof OpenAI.APIError, `an APIError from the openai package, got ${refused}`);
    assertEqual(refused.status, 402, 'the status');
    assert(
      /Your Homework allowance from Olivia Owner (is used up|has only [\d.]+ credits left) until /.test(refused.message),
      `a readable message: ${refused.message}`,
    );
    assertEqual(fake.streams.length, streamsBefore, 'nothing reached the provider');
    const tinyBal = (await tinyClient.call('/balance')).json;
    assertEqual([tinyBal.total, tinyBal.debt, tinyBal.reserved], [0, 0, 0], 'no charge, no debt, nothing held');
  } finally {
    await fake.close();
  }
});

// ---- i20-class ----
test("the teacher's student × assignment table: each cell is the allowance's part plus the student's own", async () => {
  const page = S.ownerPage;
  const s5 = S.students.find((s) => s.i === 5);
  assert(s5 && S.fellThrough, "needs student 5's split Essay request");
  await page.goto(`${base}/granted?range=7d`);
  const table = page.getByTestId('assignments');
  await table.locator('tbody tr').first().waitFor();
  // Student 5's Essay: the allowance paid the second report and its part of the split one; the
  // rest of the split one came from the student's own credits.
  const part = s5.delegated.find((e) => e.id === S.fellThrough.id).milli;
  const essayAllowance = toMilli(reportCredits(5)[1]) + part;
  const essayOwn = 600_000 - part;
  const cell = table.locator(`tr[data-student="${s5.id}"] td[data-project="Essay"]`);
  assertEqual(await cell.locator('.total').textContent(), formatMilli(essayAllowance + essayOwn), "student 5's Essay total");
  assertEqual(await cell.locator('.allowance').textContent(), formatMilli(essayAllowance), "student 5's Essay, from the allowance");
  assertEqual((await cell.locator('.own').textContent()).trim(), `${formatMilli(essayOwn)} own`, "student 5's Essay, their own part");
  // Fractions is one report per student, all paid by the allowances; the footer agrees.
  // Student 7's Fractions request was refunded (see 'refund by id'): a refund takes it off again.
  const fractions = S.students.reduce((a, s) => a + (s.i === 7 ? 0 : toMilli(reportCredits(s.i)[0])), 0);
  const api20 = (await api('/granted/assignments?from=2000-01-01', { token: S.token })).json;
  const fr = api20.projects.find((p) => p.project === 'Fractions');
  const classIds = new Set(S.students.map((s) => s.id));
  const classFractions = api20.students.filter((s) => classIds.has(s.userId)).reduce((a, s) => a + toMilli(s.cells.Fractions?.allowance ?? 0), 0);
  assertEqual(classFractions, fractions, "the class's Fractions, from the allowances");
  assertEqual(await table.locator('td[data-total="Fractions"] .total').textContent(), formatMilli(toMilli(fr.total)), 'the Fractions column total');
  assertEqual(await table.getByTestId('assignments-total').locator('.total').textContent(), formatMilli(toMilli(api20.totals.total)), 'the grand total');
  // No personal request of a student (those named no assignment) is counted as own spending.
  const noAssignment = api20.projects.find((p) => p.project === '');
  assert(!noAssignment || toMilli(noAssignment.own) === 0, 'own spending on no assignment is not shown');
  await settle(page);
  await table.scrollIntoViewIfNeeded();
  await shoot(page, 'granted-assignments', { fullPage: false });
  await assertNoPageOverflow(page, 'the Granted page with the assignment table');
});

test('the teacher pauses the whole class at once, and a student is then charged personally', async () => {
  const page = S.ownerPage;
  await page.goto(`${base}/granted`);
  const bulk = page.getByTestId('bulk-actions');
  await bulk.getByLabel('Group to change').fill(CLASS);
  acceptNextDialog(page);
  await bulk.getByRole('button', { name: 'Pause', exact: true }).click();
  await bulk.getByText(/^Paused \d+ allowances\.$/).waitFor();
  const given = (await api('/delegations', { token: S.token })).json.given;
  for (const s of S.students) {
    const d = given.find((x) => x.id === s.delegationId);
    assertEqual(d.status, 'paused', `the allowance for ${s.name} after the bulk pause`);
  }
  const s2 = S.students.find((s) => s.i === 2);
  const r = await api('/usage', { token: s2.token, method: 'POST', body: { description: 'while the class is paused', credits: 1 } });
  assertEqual([r.status, r.json?.billingSource], [201, 'personal'], 'a report while the class is paused');
  s2.personal.push(r.json.id);
  await page.locator(`tr[data-delegation="${s2.delegationId}"] .badge`).getByText('Paused').waitFor();
  await shoot(page, 'granted-bulk-paused', { fullPage: false });

  // Tick two students and resume them only.
  await bulk.getByLabel('Group to change').fill('');
  const s3 = S.students.find((s) => s.i === 3);
  await page.getByLabel(`Select the allowance for ${s2.name}`).check();
  await page.getByLabel(`Select the allowance for ${s3.name}`).check();
  await bulk.getByText('2 selected', { exact: false }).waitFor();
  acceptNextDialog(page);
  await bulk.getByRole('button', { name: 'Resume', exact: true }).click();
  await bulk.getByText('Resumed 2 allowances.').waitFor();
  const after = (await api('/delegations', { token: S.token })).json.given;
  const status = (s) => after.find((x) => x.id === s.delegationId).status;
  assertEqual([status(s2), status(s3), status(S.students.find((s) => s.i === 4))], ['active', 'active', 'paused'], 'only the ticked ones resumed');
  // The whole class again, so later pages see it as it was.
  await bulk.getByLabel('Group to change').fill(CLASS);
  acceptNextDialog(page);
  await bulk.getByRole('button', { name: 'Resume', exact: true }).click();
  await bulk.getByText(/^Resumed \d+ allowances\.$/).waitFor();
});

// ---- i20-shell ----

test('Esc closes the phone menu and returns focus to its button', async () => {
  const page = S.ownerPage;
  await page.goto(`${base}/`);
  await page.setViewportSize({ width: 375, height: 812 });
  try {
    const menu = page.getByRole('button', { name: 'Menu' });
    await menu.click();
    const usageLink = page.getByRole('link', { name: 'Usage', exact: true });
    await usageLink.waitFor();
    await page.keyboard.press('Escape');
    await usageLink.waitFor({ state: 'hidden' });
    assertEqual(await menu.getAttribute('aria-expanded'), 'false', 'the menu says it is closed');
    assertEqual(await page.evaluate(() => document.activeElement?.getAttribute('aria-controls')), 'main-nav', 'focus is back on the menu button');
  } finally {
    await page.setViewportSize({ width: 1280, height: 900 });
  }
});

test('a table that scrolls sideways on a phone is a named region reachable by keyboard', async () => {
  const page = S.ownerPage;
  await page.goto(`${base}/admin/audit`);
  await page.locator('[data-action="signin"]').first().waitFor();
  // The audit log names members instead of "member 4".
  assertEqual(await page.getByRole('cell', { name: /^member \d+$/ }).count(), 0, 'audit targets shown as "member N"');
  await page.getByRole('cell', { name: owner.name, exact: true }).first().waitFor();
  await page.setViewportSize({ width: 375, height: 812 });
  try {
    const region = page.getByRole('region', { name: 'Audit log' });
    await region.waitFor();
    assertEqual(await region.getAttribute('tabindex'), '0', 'the scrolling table takes focus');
    await region.focus();
    await page.keyboard.press('ArrowRight');
    await page.keyboard.press('ArrowRight');
    await waitFor(async () => (await region.evaluate((el) => el.scrollLeft)) > 0, 'arrow keys to scroll the focused table');
  } finally {
    await page.setViewportSize({ width: 1280, height: 900 });
  }
});

test('an error about a field marks the input instead of saying "(field: x)"', async () => {
  const page = S.ownerPage;
  await page.goto(`${base}/admin/settings`);
  const tz = page.locator('#st-tz');
  await tz.waitFor();
  await tz.fill('Mars/Olympus_Mons');
  await page.getByRole('button', { name: 'Save settings' }).click();
  const box = page.getByRole('alert').filter({ hasText: 'Could not save' });
  await box.getByText('unknown time zone').waitFor();
  assert(!(await box.textContent()).includes('field'), `no field name in the message: ${await box.textContent()}`);
  assertEqual(await tz.getAttribute('aria-invalid'), 'true', 'the time zone input is marked');
});

test('when tokenjar cannot be reached one banner says so, and it goes once tokenjar answers again', async () => {
  const page = S.ownerPage;
  await page.goto(`${base}/usage`);
  await page.locator('[data-live="live"]').waitFor();
  const banner = page.getByTestId('offline-banner');
  assertEqual(await banner.count(), 0, 'no banner while tokenjar answers');
  // Every API request (the live stream and the health probe too) now fails like a stopped server.
  const down = (r) => r.abort('connectionrefused');
  await page.route('**/api/**', down);
  try {
    await page.getByRole('link', { name: 'Ledger', exact: true }).click();
    await banner.waitFor();
    await page.getByRole('link', { name: 'Usage', exact: true }).click();
    await page.getByRole('heading', { name: 'Usage', level: 1 }).waitFor();
    await page.locator('[data-live="offline"]').waitFor();
    await sleep(500);
    assertEqual(await banner.count(), 1, 'one banner');
    assertEqual(await page.getByText(/can.t reach tokenjar/i).count(), 1, 'the page says it once, not once per part');
    await shoot(page, 'offline-usage');
  } finally {
    await page.unroute('**/api/**', down);
  }
  await banner.waitFor({ state: 'hidden', timeout: 20_000 });
  // The page loads what failed meanwhile, and the live stream reconnects by itself.
  await page.locator('table.usage tbody tr').first().waitFor({ timeout: 20_000 });
  await page.locator('[data-live="live"]').waitFor({ timeout: 20_000 });
});

// ---- i20-ledger ----
test('the ledger pages with Load more, explains a grant that repaid debt, links charges and updates live', async () => {
  const lena = { email: 'lena@example.org', name: 'Lena Ledger', password: 'lena-password-1' };
  const made = await api('/members', { token: S.token, method: 'POST', body: { ...lena, role: 'member' } });
  assertEqual(made.status, 201, `POST /members (${made.text.slice(0, 200)})`);
  const lenaId = made.json.id;
  const client = cookieClient(base);
  assertEqual((await client.call('/auth/login', { method: 'POST', body: { email: lena.email, password: lena.password } })).status, 200, 'Lena signs in');
  const tok = await client.call('/tokens', { method: 'POST', body: { name: 'ledger test' } });
  assertEqual(tok.status, 201, 'a personal token');
  const report = async (credits, description) => {
    const r = await api('/usage', { token: tok.json.token, method: 'POST', body: { description, credits } });
    assertEqual(r.status, 201, `POST /usage (${r.text.slice(0, 200)})`);
    return r.json.id;
  };
  // 10 credits, 110 one-credit charges (100 of them into debt) and a 140 one: 240 of debt.
  const grant = (credits, note) => api(`/members/${lenaId}/grants`, { token: S.token, method: 'POST', body: { kind: 'addon', credits, note } });
  assertEqual((await grant(10, 'start')).status, 201, 'the first grant');
  for (let i = 0; i < 110; i++) await report(1, `small ${i}`);
  await report(140, 'a big picture');
  assertEqual((await client.call('/balance')).json.debt, 240, 'Lena owes 240');
  const reward = await grant(300, 'reward');
  assertEqual(reward.status, 201, 'the reward');
  // 1 + 10 + 100 + 1 rows before the reward, and its 3 (the grant and the repayment pair): 115.

  const page = (S.current = await newPage('ledger'));
  await page.goto(`${base}/login?next=%2Fledger`);
  await page.getByLabel('Email').fill(lena.email);
  await page.getByLabel('Password').fill(lena.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL((u) => u.pathname === '/ledger');
  const rows = page.getByTestId('ledger-row');
  await page.getByRole('button', { name: 'Load more' }).waitFor();
  assertEqual(await rows.count(), 100, 'the first page has 100 rows');
  assertEqual((await page.getByTestId('ledger-count').textContent()).replace(/\s+/g, ' ').trim(), '100 movements shown so far', 'the count before Load more');
  // The month's totals come from the server whatever is loaded; the repayment counts once.
  assertEqual(await page.getByTestId('ledger-in').textContent(), '+310', 'In: the grants');
  assertEqual(await page.getByTestId('ledger-out').textContent(), '-250', 'Out: the charges');
  assertEqual(await page.getByText('240 repaid debt, 60 left').count(), 0, 'the reward is on the next page');

  await page.getByRole('button', { name: 'Load more' }).click();
  await waitFor(async () => (await rows.count()) === 115, 'the second page');
  assertEqual(await page.getByRole('button', { name: 'Load more' }).count(), 0, 'no more pages');
  const ids = await rows.evaluateAll((rs) => rs.map((r) => Number(r.dataset.id)));
  assertEqual(new Set(ids).size, 115, 'no row twice');
  const rewardRow = rows.filter({ hasText: 'reward: 240 repaid debt, 60 left' });
  await rewardRow.first().waitFor();
  assert((await rewardRow.first().textContent()).includes('+300'), 'the reward row shows +300');
  await shoot(page, 'ledger-debt');
  await assertNoPageOverflow(page, 'ledger-debt');
  // On a phone the amount is in view and whole.
  await page.setViewportSize({ width: 375, height: 812 });
  const cut = await page.evaluate(() => {
    const cells = [...document.querySelectorAll('td.amount')];
    return cells.filter((td) => td.getBoundingClientRect().right > window.innerWidth || td.scrollWidth > td.clientWidth).length;
  });
  assertEqual(cut, 0, 'amount cells cut or out of view at 375 px');
  await page.setViewportSize({ width: 1280, height: 900 });

  // Live: a new charge and a new grant appear without a reload.
  const liveId = await report(2.5, 'live one');
  await page.locator(`tr[data-testid="ledger-row"]:has(a[href*="event=${liveId}"])`).first().waitFor();
  assertEqual((await grant(5, 'pocket money')).status, 201, 'a grant while the page is open');
  await rows.filter({ hasText: 'pocket money' }).first().waitFor();
  assertEqual(await page.getByTestId('ledger-in').textContent(), '+315', 'In after the live grant');

  // A charge's row opens that request's details.
  await page.locator(`a[href*="event=${liveId}"]`).first().click();
  await page.waitForURL((u) => u.searchParams.get('event') === String(liveId));
  await page.getByRole('heading', { name: 'Request details' }).waitFor();
  await page.getByRole('dialog').getByText('live one').first().waitFor();
  await page.getByRole('button', { name: 'Close details' }).click();
  await page.waitForURL((u) => !u.searchParams.has('event'));
  await page.context().close();
  S.current = null;
});


// ---- i20-usage ----

const sam = { email: 'sam@example.org', name: 'Sam Split', password: 'sam-password-1' };

/** Signs a member in on a fresh page and returns it. */
async function signInAs(who, label) {
  const page = (S.current = await newPage(label));
  await page.goto(`${base}/login`);
  await page.getByLabel('Email').fill(who.email);
  await page.getByLabel('Password').fill(who.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL((u) => u.pathname === '/');
  return page;
}

/** The credits a test id shows, as the page formats them. */
async function shown(page, testId, nth = 0) {
  return (await page.getByTestId(testId).nth(nth).textContent()).replace(/\s*credits$/, '').trim();
}

test("a kid's spending power before and after a split charge, and whose allowance paid in the charts", async () => {
  const made = await api('/members', { token: S.token, method: 'POST', body: { ...sam, role: 'member' } });
  assertEqual(made.status, 201, `POST /members (${made.text.slice(0, 200)})`);
  // Sam's own credits are Limited-time ones: the owner's Recharge must never show as Sam's.
  const expiresAt = new Date(Date.now() + 30 * 86_400_000).toISOString();
  const grant = await api(`/members/${made.json.id}/grants`, { token: S.token, method: 'POST', body: { kind: 'event', credits: 100, expiresAt } });
  assertEqual(grant.status, 201, `grant to Sam (${grant.text.slice(0, 200)})`);
  const del = await api('/delegations', {
    token: S.token,
    method: 'POST',
    body: { granteeEmail: sam.email, credits: 20, period: 'day', note: 'Pocket money' },
  });
  assertEqual(del.status, 201, `an allowance of 20 a day (${del.text.slice(0, 200)})`);

  const page = await signInAs(sam, 'sam');
  const balance = async () => (await page.request.get(`${base}/api/v1/balance`)).json();
  await page.getByTestId('spend-available').waitFor();
  let b = await balance();
  assertEqual(toMilli(b.available), 120_000, 'before: 100 own + 20 of the allowance');
  await waitFor(async () => (await shown(page, 'spend-available')) === formatMilli(toMilli(b.available)), 'can spend now = /balance.available');
  assertEqual(await shown(page, 'spend-own'), '100', 'the own part');
  assertEqual(await shown(page, 'spend-allowance'), '20', "the allowance's part");

  // A report of 80: the allowance pays its 20, Sam's own credits the other 60.
  const rep = await api('/usage', {
    token: S.appKey,
    method: 'POST',
    body: { aiAgentId: S.appSlug, userEmail: sam.email, description: 'a picture for the history project', model: 'img-1', modality: 'image', credits: 80 },
  });
  assertEqual(rep.status, 201, `the split report (${rep.text.slice(0, 200)})`);
  // A part is per bucket: the allowance's 20 may come from more than one of the granter's buckets.
  const bySource = {};
  for (const p of rep.json.parts) bySource[p.source] = (bySource[p.source] ?? 0) + toMilli(p.credits);
  assertEqual(bySource, { [String(del.json.id)]: 20_000, personal: 60_000 }, 'the allowance paid 20, Sam 60');
  b = await balance();
  assertEqual(toMilli(b.available), 40_000, 'after: 40 own, the allowance used up');
  // The page follows live, without a reload.
  await waitFor(async () => (await shown(page, 'spend-available')) === formatMilli(toMilli(b.available)), 'can spend now after the split');
  assertEqual(await shown(page, 'spend-own'), '40', 'the own part after');
  assertEqual(await shown(page, 'spend-allowance'), '0', "the allowance's part after");

  // Sam's daily chart: Sam's own Limited-time credits and "Paid by Olivia Owner's allowance", no Recharge.
  await page.goto(`${base}/?range=7d`);
  const daily = page.locator('[aria-labelledby="c-daily"] [data-series]');
  await daily.waitFor();
  assertEqual(
    (await daily.getAttribute('data-series')).split(' | '),
    ['Limited-time', "Paid by Olivia Owner's allowance (Pocket money)"],
    "the daily chart's series",
  );
  const label = await daily.getAttribute('aria-label');
  assert(label.includes("Limited-time 60 credits") && label.includes("Paid by Olivia Owner's allowance (Pocket money) 20 credits"), `daily chart label: ${label}`);
  const monthlySeries = (await page.locator('[aria-labelledby="c-monthly"] [data-series]').getAttribute('data-series')).split(' | ');
  assert(monthlySeries.includes("Paid by Olivia Owner's allowance (Pocket money)"), `monthly series: ${monthlySeries}`);
  await settle(page);
  await shoot(page, 'overview-grantee');
  await page.context().close();
  S.current = null;
});

test("the granter's cycle adds up: what their allowances paid for others is shown by name", async () => {
  const page = S.ownerPage;
  const me = (await api('/me', { token: S.token })).json;
  const plan = await api(`/members/${me.id}/plan?now=true`, { token: S.token, method: 'PUT', body: { monthlyCredits: 3000 } });
  assertEqual(plan.status, 200, `monthly credits for the owner (${plan.text.slice(0, 200)})`);
  await page.goto(`${base}/?range=cycle`);
  const b = (await api('/balance', { token: S.token })).json;
  assert(b.cycle.paidFor.length >= 2, `the owner paid for Kim and Sam: ${JSON.stringify(b.cycle.paidFor)}`);
  await page.getByTestId('cycle-sum').waitFor();
  // The three paid for most by name (Sam's 20 first), the class summed in one line.
  const top = [...b.cycle.paidFor].sort((x, y) => toMilli(y.credits) - toMilli(x.credits) || x.name.localeCompare(y.name));
  const rows = await page.getByTestId('cycle-paid-for').allTextContents();
  assertEqual(
    rows.map((t) => t.replace(/\s+/g, ' ').trim()),
    top.slice(0, 3).map((p) => `Paid for ${p.name}'s allowance ${formatMilli(toMilli(p.credits))}`),
    'paid for, by name',
  );
  const rest = top.slice(3);
  assertEqual(
    (await page.getByTestId('cycle-paid-for-rest').textContent()).replace(/\s+/g, ' ').trim(),
    `Paid for ${rest.length} other members' allowances ${formatMilli(rest.reduce((s, p) => s + toMilli(p.credits), 0))}`,
    'the rest in one line',
  );
  assertEqual(toMilli(b.cycle.paidForOthers), b.cycle.paidFor.reduce((s, p) => s + toMilli(p.credits), 0), 'paidFor adds up to paidForOthers');
  assertEqual(await shown(page, 'cycle-used'), formatMilli(toMilli(b.cycle.used)), 'used by the owner');
  const left = toMilli(b.cycle.allowance) - toMilli(b.cycle.used) - toMilli(b.cycle.paidForOthers);
  const leftText = (await page.getByTestId('cycle-left').textContent()).replace(/\s+/g, ' ');
  assert(leftText.includes(`${formatMilli(left)} of your monthly credits left`), `left: ${leftText} (want ${formatMilli(left)})`);
  await settle(page);
  await shoot(page, 'overview-granter');
});

test("the usage log's footer is the range total from the server, without requests not charged", async () => {
  const page = S.ownerPage;
  const rec = await api('/usage', {
    token: S.appKey,
    method: 'POST',
    body: { aiAgentId: S.appSlug, userEmail: owner.email, description: 'recorded, not charged', model: 'gpt-4o', credits: 7, chargeUser: false },
  });
  assertEqual(rec.status, 201, 'a report that is not charged');
  await page.goto(`${base}/usage?range=all`);
  await page.getByTestId('range-total').waitFor();
  const agg = (await api('/usage/aggregate?by=day', { token: S.token })).json;
  await waitFor(async () => (await shown(page, 'range-total-credits')) === formatMilli(toMilli(agg.totals.credits)), 'footer = the API total');
  const rows = await page.locator('table.usage tbody tr').count();
  assertEqual(agg.totals.requests, rows, 'every request of the range is on this page');
  const listed = (await api('/usage?limit=500', { token: S.token })).json.items;
  const charged = listed.filter((e) => e.charged && !e.refunded).reduce((s, e) => s + toMilli(e.credits), 0);
  assertEqual(toMilli(agg.totals.credits), charged, 'the API total is the charged rows');
  assert(listed.some((e) => !e.charged), 'a row not charged is listed');
  // What the request was, its modality and tokens in/out, at 1280px.
  for (const name of ['Request', 'Modality', 'Tokens in', 'Tokens out']) {
    assert(await page.getByRole('columnheader', { name, exact: true }).isVisible(), `the ${name} column at 1280px`);
  }
  assert(await page.getByText('recorded, not charged').isVisible(), 'the description at 1280px');
  await settle(page);
  await shoot(page, 'usage-footer');
});

// ---- i20-firstrun ----

test('the sign-in page names the instance', async () => {
  const page = await newPage('signed-out');
  await page.goto(`${base}/login`);
  await page.getByRole('heading', { name: 'Sign in to Family jar', level: 1 }).waitFor();
  await page.context().close();
});

test("an invitation's monthly credits start at once", async () => {
  const page = S.ownerPage;
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.goto(`${base}/admin/invites`);
  await page.getByTestId('invite-plan-when').getByText('Monthly credits start at once').waitFor();
  await page.getByLabel('Monthly credits').fill('40');
  await page.getByLabel('Note').fill('Fay, monthly credits at once');
  await page.getByRole('button', { name: 'Create invitation link' }).click();
  const link = await waitFor(async () => (await page.getByLabel('Invitation link').inputValue()) || null, 'the link');
  const guest = await newPage('invitee-credits');
  await guest.goto(new URL(new URL(link).pathname, base).href);
  await guest.getByTestId('invite-monthly').getByText('You get 40 monthly credits as soon as you join').waitFor();
  await guest.getByLabel('Email').fill('fay@example.org');
  await guest.getByLabel('Your name').fill('Fay First');
  await guest.getByLabel('Password').fill('fay-password-1');
  await guest.getByRole('button', { name: 'Accept and sign in' }).click();
  await guest.getByRole('heading', { name: 'Overview', level: 1 }).waitFor();
  await waitFor(
    async () => (await guest.getByTestId('balance-total').textContent()).replace(/\s*credits$/, '').trim() === '40',
    'the monthly credits on the Overview at once',
  );
  const bal = await guest.request.get(`${base}/api/v1/balance`);
  assertEqual(toMilli((await bal.json()).total), 40_000, 'balance right after accepting');
  await guest.context().close();
});

test('the Integrate snippets make a fresh idempotency key per report', async () => {
  const page = S.ownerPage;
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.goto(`${base}/integrate`);
  const makers = {
    curl: '/dev/urandom',
    'Python (urllib)': 'str(uuid.uuid4())',
    'Python (requests)': 'str(uuid.uuid4())',
    'JavaScript (fetch)': 'crypto.randomUUID()',
  };
  for (const [tab, maker] of Object.entries(makers)) {
    await page.getByRole('tab', { name: tab }).click();
    const text = await waitFor(async () => {
      const t = await page.getByTestId('snippet').textContent();
      return t.includes(maker) ? t : null;
    }, `the ${tab} snippet to make its key`);
    assert(!text.includes('req-0001'), `the ${tab} snippet has no constant key`);
  }
});

// ---- i20-household ----

/** The day `daysBack` days before today in the instance time zone, as YYYY-MM-DD. */
async function instanceDay(daysBack) {
  const settings = await api('/settings', { token: S.token });
  const zone = settings.json?.timeZone || 'UTC';
  return new Intl.DateTimeFormat('en-CA', { timeZone: zone }).format(new Date(Date.now() - daysBack * 86_400_000));
}

/** The household table's rows: member id → the credits the page shows (attribute and text). */
async function householdRows(page) {
  return page.locator('tr[data-household-member]').evaluateAll((rows) =>
    rows.map((r) => ({ id: r.dataset.householdMember, credits: r.dataset.credits, shown: r.querySelector('.credits').textContent.trim() })),
  );
}

/** Checks the table against GET /usage/aggregate?by=member for the same range and scope. */
async function assertHouseholdMatches(page, scope, from, to) {
  const agg = await api(`/usage/aggregate?scope=${scope}&by=member&from=${from}&to=${to}`, { token: S.token });
  assertEqual(agg.status, 200, `the ${scope} aggregate by member`);
  const want = agg.json.items.filter((i) => toMilli(i.credits) > 0 || i.requests > 0).map((i) => [i.key, toMilli(i.credits)]);
  await waitFor(async () => (await householdRows(page)).length === want.length, `${want.length} rows on the household page (${scope})`);
  const rows = await householdRows(page);
  assertEqual(
    rows.map((r) => [r.id, toMilli(r.credits)]).sort(),
    want.sort(),
    `per-member credits on the household page equal the API's (${scope}, ${from} to ${to})`,
  );
  for (const r of rows) assertEqual(r.shown, formatMilli(toMilli(r.credits)), `the credits shown for member ${r.id}`);
  return want;
}

test("the parent's household page over a custom range equals the API's per-member sums", async () => {
  const page = (S.current = S.ownerPage);
  const from = await instanceDay(6);
  const to = await instanceDay(0);
  await page.goto(`${base}/household`);
  await page.getByRole('heading', { name: 'Household', level: 1 }).waitFor();
  await page.getByLabel('Date range').selectOption('custom');
  await page.getByLabel('From', { exact: true }).fill(from);
  await page.getByLabel('To', { exact: true }).fill(to);
  await page.waitForURL((u) => u.searchParams.get('from') === from && u.searchParams.get('to') === to);
  const all = await assertHouseholdMatches(page, 'all', from, to);
  assert(all.length >= 25, `the class and the family spent in the range (${all.length} members)`);
  await page.getByTestId('household-summary').getByText(/credits in .* requests by/).waitFor();
  await settle(page);
  await shoot(page, 'household');
  await assertNoPageOverflow(page, 'household');

  // What the parent's own allowances paid: only their grantees, only their share.
  await page.getByLabel('Show').selectOption('granted');
  await page.waitForURL((u) => u.searchParams.get('scope') === 'granted');
  await page.getByRole('columnheader', { name: 'Paid by your allowances' }).waitFor();
  const granted = await assertHouseholdMatches(page, 'granted', from, to);
  const sum = (xs) => xs.reduce((n, [, m]) => n + m, 0);
  assert(sum(granted) < sum(all), 'the allowances paid less than everyone spent');
  await settle(page);
  await shoot(page, 'household-granted');

  // A range with nothing in it says so.
  await page.getByLabel('From', { exact: true }).fill(await instanceDay(390));
  await page.getByLabel('To', { exact: true }).fill(await instanceDay(380));
  await page.getByText('No usage in this range', { exact: true }).waitFor();
  assertEqual(await page.getByTestId('household-idle').count(), 0, 'no list of idle members when nobody spent');
});

// ---- i20-sweepfe ----

/**
 * Every table wrapper on the page that scrolls sideways is a focusable, named region, so a keyboard
 * can reach and scroll it. Returns how many such wrappers there were.
 */
async function assertScrollersReachable(page, name) {
  await sleep(300); // the wrappers notice a new width through a ResizeObserver
  const found = await page.locator('.table-wrap').evaluateAll((els) =>
    els
      .filter((el) => el.offsetParent !== null && el.scrollWidth > el.clientWidth + 1)
      .map((el) => ({
        ok: el.getAttribute('tabindex') === '0' && el.getAttribute('role') === 'region' && !!el.getAttribute('aria-label'),
        what: el.querySelector('caption')?.textContent?.trim() || el.querySelector('table')?.className || 'a table',
      })),
  );
  const bad = found.filter((f) => !f.ok).map((f) => f.what);
  assertEqual(bad, [], `${name}: tables that scroll sideways but cannot be reached by keyboard`);
  return found.length;
}

test("the admin's header fits a 1280px screen in one row, the admin pages under one menu", async () => {
  const page = (S.current = S.ownerPage);
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.goto(`${base}/`);
  await page.getByRole('heading', { name: 'Overview', level: 1 }).waitFor();
  await settle(page);
  const measure = () =>
    page.evaluate(() => {
      const shown = [...document.querySelectorAll('#main-nav a, #main-nav button')].filter((a) => a.getBoundingClientRect().width > 0);
      const off = shown.filter((a) => {
        const r = a.getBoundingClientRect();
        return r.left < 0 || r.right > window.innerWidth;
      });
      return {
        width: document.documentElement.scrollWidth,
        shown: shown.map((a) => a.textContent.trim()),
        off: off.map((a) => a.textContent.trim()),
        header: Math.round(document.querySelector('header.top').getBoundingClientRect().height),
      };
    });
  const closed = await measure();
  assertEqual(closed.width, 1280, 'the admin Overview stays 1280px wide');
  assertEqual(closed.off, [], 'header links cut off at 1280px');
  for (const name of ['Overview', 'Usage', 'Ledger', 'Granted', 'Household', 'Tokens', 'Connect AI', 'Integrate', 'Admin ▾', 'Sign out']) {
    assert(closed.shown.includes(name), `"${name}" is in the header at 1280px (${closed.shown.join(', ')})`);
  }
  assert(closed.header <= 64, `the header is one row (${closed.header}px)`);
  await page.screenshot({ path: path.join(SHOTS, 'admin-header-1280.png'), clip: { x: 0, y: 0, width: 1280, height: 120 } });

  const admin = page.getByRole('button', { name: 'Admin', exact: true });
  await admin.click();
  assertEqual(await admin.getAttribute('aria-expanded'), 'true', 'the admin menu opens');
  const open = await measure();
  for (const name of ['Members', 'Invites', 'Apps', 'AI providers', 'Settings', 'Audit']) {
    assert(open.shown.includes(name), `"${name}" is in the open admin menu`);
  }
  assertEqual(open.off, [], 'admin links cut off at 1280px');
  assertEqual(open.width, 1280, 'the open menu does not widen the page');
  await page.screenshot({ path: path.join(SHOTS, 'admin-menu-1280.png'), clip: { x: 0, y: 0, width: 1280, height: 400 } });
  await page.keyboard.press('Escape');
  assertEqual(await admin.getAttribute('aria-expanded'), 'false', 'Esc closes the admin menu');
  assertEqual(await page.evaluate(() => document.activeElement?.getAttribute('aria-controls')), 'admin-nav', 'focus is back on the Admin button');
  await admin.click();
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Members' }).click();
  await page.getByRole('heading', { name: 'Members', level: 1 }).waitFor();
  assertEqual(await admin.getAttribute('aria-expanded'), 'false', 'the menu closes after navigating');
});

test('tables that scroll sideways can be reached and scrolled by keyboard', async () => {
  const page = (S.current = S.ownerPage);
  let scrollers = 0;
  for (const [pathname, heading] of [
    ['/usage', 'Usage log'],
    ['/ledger', 'Ledger'],
    ['/granted', 'Granted usage'],
    ['/household', 'Household'],
    ['/admin/members', 'Members'],
    ['/admin/invites', 'Invitations'],
  ]) {
    await page.setViewportSize({ width: 1280, height: 900 });
    await page.goto(`${base}${pathname}`);
    await page.getByRole('heading', { name: heading, level: 1 }).waitFor();
    await settle(page);
    scrollers += await assertScrollersReachable(page, `${pathname} at 1280px`);
    await page.setViewportSize({ width: 375, height: 812 });
    scrollers += await assertScrollersReachable(page, `${pathname} at 375px`);
  }
  await page.setViewportSize({ width: 1280, height: 900 });
  assert(scrollers > 0, 'some table scrolls sideways on a phone, so the check means something');
});

test("a granter's log shows their allowance's part of a split charge, with the whole request beside it", async () => {
  const page = (S.current = S.ownerPage);
  assert(S.fellThrough, 'needs the split event');
  const s5 = S.students.find((s) => s.i === 5);
  const part = s5.delegated.find((e) => e.id === S.fellThrough.id).milli;
  await page.goto(`${base}/granted?sort=-credits`);
  const row = page.locator(`table.usage tr[data-id="${S.fellThrough.id}"]`);
  await row.waitFor();
  const cell = row.locator('td.credits');
  assertEqual((await cell.locator(':scope > span.num').first().textContent()).trim(), formatMilli(part), "the credits cell is the allowance's part");
  assertEqual((await cell.getByTestId('granted-of').textContent()).trim(), 'of 600', 'and the whole request under it');
  await row.scrollIntoViewIfNeeded();
  await row.screenshot({ path: path.join(SHOTS, 'granted-split-row-1280.png') });
  await page.setViewportSize({ width: 375, height: 812 });
  await settle(page);
  await row.screenshot({ path: path.join(SHOTS, 'granted-split-row-375.png') });
  await page.setViewportSize({ width: 1280, height: 900 });
  // A request the allowance paid in full shows just its credits.
  const whole = s5.delegated.find((e) => e.id !== S.fellThrough.id);
  const other = page.locator(`table.usage tr[data-id="${whole.id}"]`);
  if (await other.count()) {
    assertEqual(await other.getByTestId('granted-of').count(), 0, 'no "of" on a request paid in full');
  }
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
  console.log(`# tokenjar at ${base} (data ${tj.dataDir})`);
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: HEADLESS,
    args: CHROMIUM_ARGS,
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
if (failed && serverLog()) {
  console.log('# server log (last 40 lines):');
  console.log(serverLog().trim().split('\n').slice(-40).map((l) => `#   ${l}`).join('\n'));
}
console.log(`# ${((Date.now() - started) / 1000).toFixed(1)} s, screenshots in ${path.relative(process.cwd(), SHOTS) || SHOTS}`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
