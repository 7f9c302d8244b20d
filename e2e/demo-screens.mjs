#!/usr/bin/env node
// Screenshots of every page with the demo family's three months, at 1280px and 375px.
//
//   TOKENJAR_BIN=./tokenjar CHROMIUM=/usr/bin/chromium node e2e/demo-screens.mjs
//
// It runs `tokenjar demo --data <tmp>`, starts the binary on that folder, signs in as alex@example.org
// (and as emma@example.org, a child with an allowance), and writes e2e/screenshots/demo-*.png. The 1280px
// overview also goes to docs/screenshot-overview.png, which the README shows. Every page must fit a
// 375px screen without a horizontal scroll of the whole page, and no page may throw.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { CHROMIUM_ARGS, overflowAt375, shootBoth, sleep, startTokenjar } from './helpers.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');
const BIN = path.resolve(root, process.env.TOKENJAR_BIN || './tokenjar');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const SHOTS = path.join(here, 'screenshots');
const README_SHOT = path.join(root, 'docs', 'screenshot-overview.png');
const PASSWORD = 'demo-password';

let passed = 0;
let failed = 0;
const pageErrors = [];
function check(ok, what) {
  if (ok) passed++;
  else {
    failed++;
    console.log(`not ok - ${what}`);
  }
}

async function settle(page) {
  await page.waitForLoadState('domcontentloaded');
  await page.waitForFunction(() => !document.querySelector('.loading'), null, { timeout: 15_000 }).catch(() => {});
  await sleep(400);
}

async function signIn(browser, base, email) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'en-US', timezoneId: 'UTC' });
  const page = await context.newPage();
  page.setDefaultTimeout(20_000);
  page.on('pageerror', (e) => pageErrors.push(`[${email}] ${e.message}`));
  await page.goto(`${base}/login`);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Overview', level: 1 }).waitFor();
  return page;
}

async function visit(page, base, name, url, heading, extra, { fullPage = true } = {}) {
  const t0 = Date.now();
  try {
    await page.goto(`${base}${url}`);
    await page.getByRole('heading', { name: heading, level: 1 }).waitFor();
    await settle(page);
    if (extra) await extra(page);
    await shootBoth(page, SHOTS, `demo-${name}`, { settleMs: 350, fullPage });
    const over = await overflowAt375(page);
    check(over <= 1, `demo-${name} is ${over}px wider than a 375px screen`);
    if (over <= 1) console.log(`ok - demo-${name} (${Date.now() - t0} ms)`);
  } catch (e) {
    check(false, `demo-${name}: ${String(e?.message || e).split('\n')[0]}`);
  }
}

const data = fs.mkdtempSync(path.join(os.tmpdir(), 'tokenjar-demo-'));
let tj;
let browser;
const started = Date.now();
try {
  if (!fs.existsSync(BIN)) throw new Error(`tokenjar binary not found at ${BIN}; build it or set TOKENJAR_BIN`);
  const demo = spawnSync(BIN, ['demo', '--data', data], { encoding: 'utf8', timeout: 120_000 });
  check(demo.status === 0, `tokenjar demo exits 0 (${demo.status}): ${demo.stderr || demo.stdout}`);
  if (demo.status !== 0) throw new Error('tokenjar demo failed');
  console.log(`# ${demo.stdout.trim().split('\n').pop()}`);
  tj = await startTokenjar({ bin: BIN, dataDir: data, keepData: true });
  console.log(`# tokenjar at ${tj.base} with the demo data in ${data}`);
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });

  // The sign-in page, before anyone signs in.
  {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'en-US', timezoneId: 'UTC' });
    const page = await context.newPage();
    await page.goto(`${tj.base}/login`);
    await page.getByRole('heading', { name: /Sign in/ }).waitFor();
    await settle(page);
    await shootBoth(page, SHOTS, 'demo-login');
    await context.close();
  }

  const alex = await signIn(browser, tj.base, 'alex@example.org');
  await visit(alex, tj.base, 'overview', '/?range=90d', 'Overview', async (page) => {
    await page.locator('canvas').first().waitFor();
    await sleep(300);
    // The README picture: the top of the overview at 1280px.
    await page.setViewportSize({ width: 1280, height: 900 });
    await sleep(300);
    const height = await page.evaluate(() => {
      const charts = document.querySelectorAll('.grid-2 > .card');
      const second = charts[1]?.getBoundingClientRect();
      return Math.ceil((second ? second.bottom + window.scrollY : 1400) + 24);
    });
    fs.mkdirSync(path.dirname(README_SHOT), { recursive: true });
    await page.screenshot({ path: README_SHOT, clip: { x: 0, y: 0, width: 1280, height: Math.min(height, 2000) }, fullPage: true });
    check(fs.statSync(README_SHOT).size > 20_000, 'docs/screenshot-overview.png was written');
  });
  await visit(alex, tj.base, 'usage', '/usage?range=90d', 'Usage log', async (page) => {
    await page.locator('table.usage tbody tr').first().waitFor();
  });
  await visit(alex, tj.base, 'usage-detail', '/usage?range=90d', 'Usage log', async (page) => {
    await page.locator('table.usage tbody tr button.open').first().click();
    await page.getByRole('dialog').getByRole('heading', { name: 'Paid from' }).waitFor();
  }, { fullPage: false });
  await visit(alex, tj.base, 'ledger', '/ledger', 'Ledger');
  await visit(alex, tj.base, 'granted', '/granted?range=90d', 'Granted usage', async (page) => {
    await page.getByTestId('per-grantee').waitFor();
  });
  await visit(alex, tj.base, 'granted-edit', '/granted?range=90d', 'Granted usage', async (page) => {
    await page.getByRole('button', { name: /^Edit the allowance for/ }).first().click();
    await page.getByRole('dialog').getByRole('heading', { name: 'Change the terms' }).waitFor();
  }, { fullPage: false });
  await visit(alex, tj.base, 'tokens', '/tokens', 'Personal tokens');
  await visit(alex, tj.base, 'integrate', '/integrate', 'Integrate');
  await visit(alex, tj.base, 'account', '/account', 'Your account');
  await visit(alex, tj.base, 'admin-members', '/admin/members', 'Members');
  await visit(alex, tj.base, 'admin-member-manage', '/admin/members', 'Members', async (page) => {
    await page.getByRole('button', { name: 'Manage Emma Parker' }).click();
    await page.getByRole('dialog').getByRole('heading', { name: 'Grant credits' }).waitFor();
  }, { fullPage: false });
  await visit(alex, tj.base, 'admin-invites', '/admin/invites', 'Invitations');
  await visit(alex, tj.base, 'admin-apps', '/admin/apps', 'Apps and keys');
  await visit(alex, tj.base, 'admin-settings', '/admin/settings', 'Settings');
  await visit(alex, tj.base, 'admin-audit', '/admin/audit', 'Audit log');
  await visit(alex, tj.base, 'not-found', '/no-such-page', 'Page not found');

  // A child's view: what is left of the allowance, and when it refills.
  const emma = await signIn(browser, tj.base, 'emma@example.org');
  await visit(emma, tj.base, 'emma-overview', '/?range=90d', 'Overview', async (page) => {
    await page.getByTestId('my-allowances').waitFor();
  });
  await visit(emma, tj.base, 'emma-usage', '/usage?range=90d', 'Usage log');

  check(pageErrors.length === 0, `no uncaught errors in the browser: ${pageErrors.join('; ')}`);
} catch (e) {
  check(false, `demo screenshots: ${e?.message || e}`);
  if (tj) console.log(tj.log().trim().split('\n').slice(-20).map((l) => `#   ${l}`).join('\n'));
} finally {
  await browser?.close().catch(() => {});
  await tj?.stop();
  fs.rmSync(data, { recursive: true, force: true });
}
console.log(`# demo screenshots: ${((Date.now() - started) / 1000).toFixed(1)} s, in ${path.relative(process.cwd(), SHOTS) || SHOTS}`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
