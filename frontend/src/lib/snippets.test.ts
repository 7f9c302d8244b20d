// @ts-expect-error: the type check has no Node types; vitest runs these tests in Node.
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { balanceSnippet, sampleReport, usageSnippets } from './snippets';

const inp = {
  url: 'https://jar.example.org/api/v1/usage',
  secret: 'tj_app_SECRET',
  agent: 'homework-helper',
  email: "o'brien@example.org",
};
const snippets = usageSnippets(inp);
const expected = sampleReport(inp.agent, inp.email);
/** sh and python3 start slowly on a busy machine: more than vitest's 5 s default. */
const SLOW = 30_000;

function has(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Runs the curl snippet in sh with a stand-in curl that prints the body it was given. */
function curlBody(): Record<string, unknown> {
  const fake = `curl() { while [ $# -gt 0 ]; do if [ "$1" = -d ]; then printf '%s' "$2"; fi; shift; done; }\n`;
  return JSON.parse(execFileSync('sh', ['-c', fake + snippets.curl], { encoding: 'utf8' }));
}

/** Runs the fetch snippet with a stand-in fetch and returns the body it sent. */
async function jsBody(): Promise<Record<string, unknown>> {
  let sent = '';
  const fetch = async (_url: string, init: { body: string }) => {
    sent = init.body;
    return { ok: true, json: async () => ({ creditsCharged: 1, balanceAfter: 2 }) };
  };
  const AsyncFunction = Object.getPrototypeOf(async () => {}).constructor;
  await new AsyncFunction('fetch', 'console', snippets.js)(fetch, { log: () => {} });
  return JSON.parse(sent);
}

/** Runs the urllib snippet in python3 with a stand-in urlopen and returns the body it sent. */
function pythonBody(): Record<string, unknown> {
  const fake = `import io, json, urllib.request
_sent = []
class _Reply(io.BytesIO):
    def __enter__(self): return self
    def __exit__(self, *a): pass
def _urlopen(req, timeout=None):
    _sent.append(req.data.decode())
    return _Reply(b'{"creditsCharged": 1, "balanceAfter": 2}')
urllib.request.urlopen = _urlopen
`;
  const out = execFileSync('python3', ['-c', `${fake}${snippets.python}\nprint("SENT", _sent[0])`], { encoding: 'utf8' });
  return JSON.parse(out.split('SENT ')[1]);
}

describe('report snippets', () => {
  it('make a different idempotencyKey for every report, in every language', () => {
    for (const [lang, code] of Object.entries(snippets)) {
      expect(code, lang).not.toMatch(/req-0001/);
      expect(code, lang).toMatch(/idempotencyKey/);
    }
    expect(snippets.python).toMatch(/str\(uuid\.uuid4\(\)\)/);
    expect(snippets.requests).toMatch(/str\(uuid\.uuid4\(\)\)/);
    expect(snippets.js).toMatch(/crypto\.randomUUID\(\)/);
  });

  it.skipIf(!has('od') || !has('tr'))('curl: each run sends the sample with a fresh key', () => {
    const a = curlBody();
    const b = curlBody();
    expect(a.idempotencyKey).toMatch(/^req-[0-9a-f]{16}$/);
    expect(b.idempotencyKey).not.toBe(a.idempotencyKey);
    const { idempotencyKey: _k, ...rest } = a;
    expect(rest).toEqual(expected); // the email's own quote survives the shell quoting
  }, SLOW);

  it('JavaScript: each run sends the sample with a fresh key', async () => {
    const a = await jsBody();
    const b = await jsBody();
    expect(a.idempotencyKey).toMatch(/^[0-9a-f-]{36}$/);
    expect(b.idempotencyKey).not.toBe(a.idempotencyKey);
    const { idempotencyKey: _k, ...rest } = a;
    expect(rest).toEqual(expected);
  });

  it.skipIf(!has('python3'))('Python: each run sends the sample with a fresh key', () => {
    const a = pythonBody();
    const b = pythonBody();
    expect(a.idempotencyKey).toMatch(/^[0-9a-f-]{36}$/);
    expect(b.idempotencyKey).not.toBe(a.idempotencyKey);
    const { idempotencyKey: _k, ...rest } = a;
    expect(rest).toEqual(expected);
  }, SLOW);

  it('requests builds the same event as urllib', () => {
    const event = (code: string) => code.slice(code.indexOf('event = {'), code.indexOf('\n}\n') + 2);
    expect(event(snippets.requests)).toBe(event(snippets.python));
  });

  it('the balance check names the member', () => {
    expect(balanceSnippet('https://jar.example.org', 'k', 'a+b@example.org')).toContain('userEmail=a%2Bb%40example.org');
  });
});
