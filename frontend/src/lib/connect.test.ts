import { describe, expect, it } from 'vitest';
import {
  anthropicBase,
  connectSnippets,
  gatewayBase,
  KEY_PLACEHOLDER,
  APP_KEY_PLACEHOLDER,
  sharedOpenWebUI,
  shellQuote,
} from './connect';

const origin = 'https://jar.example.org';
const byId = (s: ReturnType<typeof connectSnippets>) => Object.fromEntries(s.map((x) => [x.id, x.code]));

describe('gateway addresses', () => {
  it('adds /v1 once, whatever slashes the origin ends in', () => {
    expect(gatewayBase('https://jar.example.org')).toBe('https://jar.example.org/v1');
    expect(gatewayBase('http://127.0.0.1:8080//')).toBe('http://127.0.0.1:8080/v1');
  });
  it('gives the Anthropic SDK the bare origin, since it adds /v1/messages itself', () => {
    expect(anthropicBase('https://jar.example.org/')).toBe('https://jar.example.org');
  });
});

describe('connectSnippets', () => {
  it('has every client the page promises, in order', () => {
    expect(connectSnippets({ origin }).map((s) => s.id)).toEqual([
      'python',
      'js',
      'anthropic',
      'curl',
      'openwebui',
      'librechat',
      'continue',
    ]);
  });

  it('puts the base URL, the key and the model in each snippet', () => {
    const s = byId(connectSnippets({ origin, key: ' tj_pat_abc123 ', model: 'llama3.2' }));
    for (const id of ['python', 'js', 'curl', 'openwebui', 'librechat', 'continue']) {
      expect(s[id], id).toContain('https://jar.example.org/v1');
      expect(s[id], id).toContain('tj_pat_abc123');
      expect(s[id], id).not.toContain(KEY_PLACEHOLDER);
    }
    for (const id of ['python', 'js', 'curl', 'librechat', 'continue']) expect(s[id], id).toContain('llama3.2');
    expect(s.python).toContain('base_url="https://jar.example.org/v1"');
    expect(s.js).toContain("baseURL: 'https://jar.example.org/v1'");
    expect(s.anthropic).toContain('base_url="https://jar.example.org",');
    expect(s.anthropic).not.toContain('/v1"');
    expect(s.anthropic).toContain('api_key="tj_pat_abc123"');
    expect(s.curl).toContain("'https://jar.example.org/v1/chat/completions'");
    expect(s.curl).toContain("'Authorization: Bearer tj_pat_abc123'");
    expect(s.continue).toContain('apiBase: https://jar.example.org/v1');
    expect(s.librechat).toContain('baseURL: "https://jar.example.org/v1"');
  });

  it('uses placeholders until a key is made, and a default model', () => {
    const s = byId(connectSnippets({ origin, key: '  ' }));
    expect(s.python).toContain(`api_key="${KEY_PLACEHOLDER}"`);
    expect(s.python).toContain('model="gpt-4o-mini"');
    expect(s.anthropic).toContain('model="claude-3-5-haiku-latest"');
  });

  it('sends valid JSON in the curl body, quoted for the shell', () => {
    const s = byId(connectSnippets({ origin, model: "it's-a-model" }));
    const m = s.curl.match(/-d ('(?:[^']|'\\'')*')/);
    expect(m).not.toBeNull();
    const unquoted = m![1].slice(1, -1).replace(/'\\''/g, "'");
    expect(JSON.parse(unquoted)).toEqual({ model: "it's-a-model", messages: [{ role: 'user', content: 'Say hello in French.' }] });
  });

  it('escapes quotes in Python and JavaScript strings', () => {
    const s = byId(connectSnippets({ origin, model: 'a"b\'c' }));
    expect(s.python).toContain('model="a\\"b\'c"');
    expect(s.js).toContain("model: 'a\"b\\'c'");
  });
});

describe('shellQuote', () => {
  it('survives single quotes', () => {
    expect(shellQuote("a'b")).toBe("'a'\\''b'");
  });
});

describe('sharedOpenWebUI', () => {
  it('forwards the user headers with an app key', () => {
    const s = sharedOpenWebUI(origin, 'tj_app_family');
    expect(s).toContain('ENABLE_FORWARD_USER_INFO_HEADERS=true');
    expect(s).toContain("OPENAI_API_BASE_URL='https://jar.example.org/v1'");
    expect(s).toContain("OPENAI_API_KEY='tj_app_family'");
    expect(sharedOpenWebUI(origin)).toContain(APP_KEY_PLACEHOLDER);
  });
});
