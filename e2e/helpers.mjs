// Shared helpers of the browser tests (run.mjs) and the demo screenshots (demo-screens.mjs).

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export async function freePort() {
  const srv = net.createServer();
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const { port } = srv.address();
  srv.close();
  await once(srv, 'close');
  return port;
}

export async function waitFor(fn, what, ms = 15_000, step = 100) {
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

export function assert(cond, msg) {
  if (!cond) throw new Error(`assertion failed: ${msg}`);
}
export function assertEqual(actual, expected, msg) {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e) throw new Error(`${msg}: expected ${e}, got ${a}`);
}

/** Millicredits from a JSON credits number, exactly (as the SPA's format.ts does). */
export function toMilli(v) {
  const s = typeof v === 'number' ? String(v) : String(v).trim();
  const m = /^(-)?(\d*)(?:\.(\d*))?$/.exec(s);
  if (!m) throw new Error(`not a decimal: ${v}`);
  const frac = (m[3] ?? '') + '000';
  const n = Number(m[2] || '0') * 1000 + Number(frac.slice(0, 3));
  return m[1] ? -n : n;
}
/** Formats millicredits like the SPA does in en-US: thousands separators, up to 3 decimals. */
export function formatMilli(m) {
  const neg = m < 0;
  const a = Math.abs(m);
  const whole = Math.floor(a / 1000).toLocaleString('en-US');
  const frac = String(a % 1000).padStart(3, '0').replace(/0+$/, '');
  return (neg ? '-' : '') + whole + (frac ? `.${frac}` : '');
}

/** A small RFC 4180 CSV parser (quotes, doubled quotes, newlines in quotes). */
export function parseCsv(text) {
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

/**
 * Starts a tokenjar binary on a free loopback port with its own data folder (or the given one).
 * Returns { base, port, dataDir, log(), stop() }.
 */
export async function startTokenjar({ bin, env = {}, dataDir, port, keepData = false } = {}) {
  if (!fs.existsSync(bin)) {
    throw new Error(`tokenjar binary not found at ${bin}. Build it first (npm run build && go build -o tokenjar .) or set TOKENJAR_BIN.`);
  }
  const dir = dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'tokenjar-e2e-'));
  const p = port ?? (await freePort());
  const base = `http://127.0.0.1:${p}`;
  let out = '';
  const child = spawn(bin, ['serve', '--addr', `127.0.0.1:${p}`, '--data', dir, '--no-browser'], {
    cwd: dir,
    env: { ...process.env, TOKENJAR_ADDR: '', TOKENJAR_DATA: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  let exited = null;
  child.on('exit', (code, sig) => (exited = `exited with ${code ?? sig}`));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const done = once(child, 'exit');
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      await done.catch(() => {});
      clearTimeout(t);
    }
    if (!keepData) fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitFor(
      async () => {
        if (exited) throw new Error(`the server ${exited}:\n${out}`);
        const r = await fetch(`${base}/api/v1/setup`);
        return r.ok;
      },
      'the server to answer GET /api/v1/setup',
      30_000,
      200,
    );
  } catch (e) {
    await stop();
    throw e;
  }
  return { base, port: p, dataDir: dir, log: () => out, stop, child };
}

export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export const VIEWPORTS = [
  [1280, 900],
  [375, 812],
];

/** Full-page screenshots at 1280 and 375 pixels wide: DIR/NAME-1280.png and DIR/NAME-375.png. */
export async function shootBoth(page, dir, name, { settleMs = 200, fullPage = true } = {}) {
  fs.mkdirSync(dir, { recursive: true });
  // From the top, so that the sticky header is where it belongs in a full-page picture.
  if (fullPage) await page.evaluate(() => window.scrollTo(0, 0));
  for (const [w, h] of VIEWPORTS) {
    await page.setViewportSize({ width: w, height: h });
    await sleep(settleMs);
    // Let charts follow the new width before the picture is taken.
    for (let i = 0; i < 10; i++) {
      const over = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      if (over <= 1) break;
      await sleep(200);
    }
    await page.screenshot({ path: path.join(dir, `${name}-${w}.png`), fullPage });
  }
  await page.setViewportSize({ width: 1280, height: 900 });
}

/** How much wider than the viewport the page is at 375px (0 when it fits). */
export async function overflowAt375(page) {
  await page.setViewportSize({ width: 375, height: 812 });
  // Charts resize a frame or two after the viewport does: give them up to 2 s.
  let over = 0;
  for (let i = 0; i < 10; i++) {
    await sleep(200);
    over = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    if (over <= 1) break;
  }
  await page.setViewportSize({ width: 1280, height: 900 });
  return over;
}

/**
 * A tiny cookie-keeping client of the tokenjar API, as a browser would be: it keeps tj_session and tj_csrf,
 * and sends the CSRF header on state-changing requests.
 */
export function cookieClient(base) {
  const jar = new Map();
  async function call(pathname, { method = 'GET', body, token } = {}) {
    const headers = { Accept: 'application/json' };
    if (jar.size) headers.Cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
    if (method !== 'GET' && jar.has('tj_csrf')) headers['X-CSRF-Token'] = decodeURIComponent(jar.get('tj_csrf'));
    if (token) headers.Authorization = `Bearer ${token}`;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const r = await fetch(`${base}/api/v1${pathname}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    for (const c of r.headers.getSetCookie?.() ?? []) {
      const [pair] = c.split(';');
      const eq = pair.indexOf('=');
      const k = pair.slice(0, eq).trim();
      const v = pair.slice(eq + 1).trim();
      if (v === '' || /max-age=0|expires=thu, 01 jan 1970/i.test(c)) jar.delete(k);
      else jar.set(k, v);
    }
    const text = await r.text();
    let json = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      /* not JSON */
    }
    return { status: r.status, json, text };
  }
  return { call, jar };
}
