// The Integrate page's copy-ready code for reporting usage. Each snippet makes a fresh idempotencyKey per
// report: a constant key made every second report of a pasted snippet a 409 repeat. A retry after a network
// error should resend the same key, so each snippet computes it once, before sending.

import { shellQuote } from './connect';

export interface SnippetInput {
  /** The reporting URL, e.g. https://jar.example.org/api/v1/usage. */
  url: string;
  /** The app key or personal token. */
  secret: string;
  /** The app's slug (aiAgentId). */
  agent: string;
  /** Whose usage it is (userEmail). */
  email: string;
}

export type SnippetLang = 'curl' | 'python' | 'requests' | 'js';

/** A sample report, without its idempotencyKey (each snippet adds a fresh one). */
export function sampleReport(agent: string, email: string): Record<string, string | number> {
  return {
    aiAgentId: agent,
    userEmail: email,
    description: 'Explained long division',
    usageType: 'token_usage',
    model: 'gpt-4o',
    provider: 'OpenAI',
    modality: 'text',
    inputTokens: 1200,
    outputTokens: 350,
    totalCost: 0.0123,
    project: 'maths',
  };
}

/** Adds a last member `line` (already indented) to a pretty-printed JSON object. */
function withLastLine(json: string, line: string): string {
  return json.replace(/\n}$/, `,\n${line}\n}`);
}

function pythonDict(body: object): string {
  const text = JSON.stringify(body, null, 4)
    .replace(/\btrue\b/g, 'True')
    .replace(/\bfalse\b/g, 'False')
    .replace(/\bnull\b/g, 'None');
  return withLastLine(text, '    "idempotencyKey": str(uuid.uuid4()),  # new for each report; resend it only on a retry');
}

/** The report snippets, one per language. */
export function usageSnippets(inp: SnippetInput): Record<SnippetLang, string> {
  const body = sampleReport(inp.agent, inp.email);
  const json = JSON.stringify(body, null, 2);
  // curl: the JSON is one single-quoted shell word; the key is spliced in from the shell variable.
  const curlData = shellQuote(withLastLine(json, '  "idempotencyKey": "@KEY@"')).replace('@KEY@', `'"$KEY"'`);
  const py = pythonDict(body);
  return {
    curl: `# A new key for each report; resend the same key only when retrying that report.
KEY="req-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \\n')"
curl -sS -X POST '${inp.url}' \\
  -H 'Authorization: Bearer ${inp.secret}' \\
  -H 'Content-Type: application/json' \\
  -d ${curlData}`,
    python: `import json
import urllib.request
import uuid

event = ${py}

req = urllib.request.Request(
    "${inp.url}",
    data=json.dumps(event).encode(),
    headers={
        "Authorization": "Bearer ${inp.secret}",
        "Content-Type": "application/json",
    },
    method="POST",
)
with urllib.request.urlopen(req, timeout=10) as resp:
    reply = json.load(resp)
print(reply["creditsCharged"], "credits charged; balance", reply["balanceAfter"])`,
    requests: `import uuid

import requests

event = ${py}

resp = requests.post(
    "${inp.url}",
    json=event,
    headers={"Authorization": "Bearer ${inp.secret}"},
    timeout=10,
)
resp.raise_for_status()
reply = resp.json()
print(reply["creditsCharged"], "credits charged; balance", reply["balanceAfter"])`,
    js: `const event = ${withLastLine(json, '  "idempotencyKey": crypto.randomUUID(), // new for each report; resend it only on a retry')};

const resp = await fetch('${inp.url}', {
  method: 'POST',
  headers: {
    Authorization: 'Bearer ${inp.secret}',
    'Content-Type': 'application/json',
  },
  body: JSON.stringify(event),
});
if (!resp.ok) throw new Error((await resp.json()).error?.message ?? resp.statusText);
const reply = await resp.json();
console.log(reply.creditsCharged, 'credits charged; balance', reply.balanceAfter);`,
  };
}

/** The balance check: what the member can spend before expensive work. */
export function balanceSnippet(origin: string, secret: string, email: string): string {
  return `curl -sS '${origin}/api/v1/balance?userEmail=${encodeURIComponent(email)}' \\\n  -H 'Authorization: Bearer ${secret}'`;
}
