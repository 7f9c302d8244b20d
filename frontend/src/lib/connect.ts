// Copy-ready setup for AI clients pointed at tokenjar's gateway (the "Connect an AI app" page).
// Pure functions of the server's address, the key and a model, so they are tested without a browser.

export const KEY_PLACEHOLDER = 'tj_pat_YOUR_TOKEN';
export const APP_KEY_PLACEHOLDER = 'tj_app_YOUR_APP_KEY';
export const DEFAULT_MODEL = 'gpt-4o-mini';
export const DEFAULT_ANTHROPIC_MODEL = 'claude-3-5-haiku-latest';

export interface ConnectInput {
  /** The dashboard's origin, such as https://jar.example.org. */
  origin: string;
  /** A personal token; blank: a placeholder. */
  key?: string;
  /** An OpenAI-style model id; blank: DEFAULT_MODEL. */
  model?: string;
  /** A Claude model id for the Anthropic SDK; blank: DEFAULT_ANTHROPIC_MODEL. */
  anthropicModel?: string;
}

export interface Snippet {
  id: string;
  label: string;
  code: string;
  note?: string;
}

/** The OpenAI-compatible base URL: the origin (no trailing slash) plus /v1. */
export function gatewayBase(origin: string): string {
  return `${origin.trim().replace(/\/+$/, '')}/v1`;
}

/** The Anthropic SDK adds /v1/messages itself, so it takes the bare origin. */
export function anthropicBase(origin: string): string {
  return origin.trim().replace(/\/+$/, '');
}

/** A value safe inside single quotes in a POSIX shell. */
export function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** A value safe inside a double-quoted Python, JavaScript or YAML string. */
function dq(s: string): string {
  return JSON.stringify(s);
}

function sq(s: string): string {
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

function clean(v: string | undefined, fallback: string): string {
  const t = (v ?? '').trim();
  return t || fallback;
}

/** The setup of each client, for one member's own key. */
export function connectSnippets(input: ConnectInput): Snippet[] {
  const base = gatewayBase(input.origin);
  const key = clean(input.key, KEY_PLACEHOLDER);
  const model = clean(input.model, DEFAULT_MODEL);
  const claude = clean(input.anthropicModel, DEFAULT_ANTHROPIC_MODEL);
  const prompt = 'Say hello in French.';
  const chatBody = JSON.stringify({ model, messages: [{ role: 'user', content: prompt }] });
  return [
    {
      id: 'python',
      label: 'OpenAI Python',
      code: `# pip install openai
from openai import OpenAI

client = OpenAI(
    base_url=${dq(base)},
    api_key=${dq(key)},
)
reply = client.chat.completions.create(
    model=${dq(model)},
    messages=[{"role": "user", "content": ${dq(prompt)}}],
)
print(reply.choices[0].message.content)`,
      note: 'Or leave the code as it is and set OPENAI_BASE_URL and OPENAI_API_KEY in the environment.',
    },
    {
      id: 'js',
      label: 'OpenAI JavaScript',
      code: `// npm install openai
import OpenAI from 'openai';

const client = new OpenAI({
  baseURL: ${sq(base)},
  apiKey: ${sq(key)},
});
const reply = await client.chat.completions.create({
  model: ${sq(model)},
  messages: [{ role: 'user', content: ${sq(prompt)} }],
});
console.log(reply.choices[0].message.content);`,
    },
    {
      id: 'anthropic',
      label: 'Anthropic SDK',
      code: `# pip install anthropic
from anthropic import Anthropic

client = Anthropic(
    base_url=${dq(anthropicBase(input.origin))},  # the SDK adds /v1/messages
    api_key=${dq(key)},
)
reply = client.messages.create(
    model=${dq(claude)},
    max_tokens=1024,
    messages=[{"role": "user", "content": ${dq(prompt)}}],
)
print(reply.content[0].text)`,
      note: 'The TypeScript SDK takes the same two settings: new Anthropic({ baseURL, apiKey }). The Anthropic base URL has no /v1.',
    },
    {
      id: 'curl',
      label: 'curl',
      code: `curl -sS ${shellQuote(`${base}/chat/completions`)} \\
  -H ${shellQuote(`Authorization: Bearer ${key}`)} \\
  -H 'Content-Type: application/json' \\
  -d ${shellQuote(chatBody)}

# Which models may I use?
curl -sS ${shellQuote(`${base}/models`)} -H ${shellQuote(`Authorization: Bearer ${key}`)}`,
    },
    {
      id: 'openwebui',
      label: 'Open WebUI',
      code: `Open WebUI → Admin Panel → Settings → Connections → OpenAI API → Add connection (+)

  URL:  ${base}
  Key:  ${key}

Save, then pick a model in a new chat.`,
      note: 'For your own Open WebUI. A family or class sharing one Open WebUI uses an app key instead: see below.',
    },
    {
      id: 'librechat',
      label: 'LibreChat',
      code: `# librechat.yaml
version: 1.2.1
endpoints:
  custom:
    - name: "tokenjar"
      apiKey: ${dq(key)}  # or "user_provided": each person pastes their own token
      baseURL: ${dq(base)}
      models:
        default: [${dq(model)}]
        fetch: true
      titleConvo: true
      titleModel: "current_model"
      modelDisplayLabel: "tokenjar"`,
      note: 'Restart LibreChat after changing librechat.yaml.',
    },
    {
      id: 'continue',
      label: 'Continue',
      code: `# ~/.continue/config.yaml
name: tokenjar
version: 0.0.1
schema: v1
models:
  - name: ${model} (tokenjar)
    provider: openai
    model: ${model}
    apiBase: ${base}
    apiKey: ${key}
    roles: [chat, edit, apply]`,
    },
  ];
}

/** One Open WebUI for the whole family or class: an app key allowed to name members, and the forwarded user headers. */
export function sharedOpenWebUI(origin: string, appKey?: string): string {
  const base = gatewayBase(origin);
  const key = clean(appKey, APP_KEY_PLACEHOLDER);
  return `docker run -d -p 3000:8080 \\
  -e OPENAI_API_BASE_URL=${shellQuote(base)} \\
  -e OPENAI_API_KEY=${shellQuote(key)} \\
  -e ENABLE_FORWARD_USER_INFO_HEADERS=true \\
  -v open-webui:/app/backend/data \\
  --name open-webui ghcr.io/open-webui/open-webui:main`;
}
