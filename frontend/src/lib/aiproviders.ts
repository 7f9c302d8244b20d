// Logic of the admin's AI providers page: kinds and their usual addresses, the offered-models list,
// and the price table's rows and form.

import type { AIProviderKind, ModelPrice, PriceSet } from './api';

export interface KindInfo {
  id: AIProviderKind;
  label: string;
  /** The base URL the server uses when none is given ("" when one is required). */
  defaultUrl: string;
  placeholder: string;
  needsKey: boolean;
}

export const KINDS: KindInfo[] = [
  { id: 'openai', label: 'OpenAI', defaultUrl: 'https://api.openai.com/v1', placeholder: 'https://api.openai.com/v1', needsKey: true },
  {
    id: 'anthropic',
    label: 'Anthropic',
    defaultUrl: 'https://api.anthropic.com/v1',
    placeholder: 'https://api.anthropic.com/v1',
    needsKey: true,
  },
  {
    id: 'openai-compatible',
    label: 'OpenAI-compatible (Ollama, vLLM, llama.cpp, …)',
    defaultUrl: '',
    placeholder: 'http://localhost:11434/v1',
    needsKey: false,
  },
];

/** The usual base URLs of local servers, for the hint beside the base URL. */
export const LOCAL_SERVERS: { name: string; url: string }[] = [
  { name: 'Ollama', url: 'http://localhost:11434/v1' },
  { name: 'vLLM', url: 'http://localhost:8000/v1' },
  { name: 'llama.cpp (llama-server)', url: 'http://localhost:8080/v1' },
  { name: 'LM Studio', url: 'http://localhost:1234/v1' },
];

export function kindLabel(k: string): string {
  if (k === 'openai-compatible') return 'OpenAI-compatible';
  return KINDS.find((x) => x.id === k)?.label ?? k;
}

/** A model list as typed: one per line or separated by commas; blanks and repeats dropped, order kept. */
export function parseModelList(text: string): string[] {
  const out: string[] = [];
  for (const raw of text.split(/[\n,]/)) {
    const m = raw.trim();
    if (m && !out.includes(m)) out.push(m);
  }
  return out;
}

/** A USD amount per million tokens as the table shows it: "$2.50", "$0.075", "—" for none. */
export function formatUSD(v: number | null | undefined): string {
  if (v === null || v === undefined) return '—';
  const s = String(v);
  const [whole, frac = ''] = s.split('.');
  return `$${whole}.${frac.padEnd(2, '0')}`;
}

/** Price rows whose model id contains every word of q; overrides first when asked. */
export function filterPrices(items: ModelPrice[], q: string, overridesOnly = false): ModelPrice[] {
  const words = q.toLowerCase().split(/\s+/).filter(Boolean);
  return items.filter((p) => (!overridesOnly || p.from === 'override') && words.every((w) => p.model.toLowerCase().includes(w)));
}

export interface PriceForm {
  model: string;
  input: string;
  output: string;
  cachedInput: string;
  cacheWrite: string;
  perImage: string;
}

export function emptyPriceForm(model = ''): PriceForm {
  return { model, input: '', output: '', cachedInput: '', cacheWrite: '', perImage: '' };
}

/** The form for editing p's price: its current rates as text, exactly as the server sent them. */
export function priceFormOf(p: ModelPrice): PriceForm {
  const t = (v: number | null) => (v === null || v === undefined ? '' : String(v));
  return {
    model: p.model,
    input: t(p.input),
    output: t(p.output),
    cachedInput: t(p.cachedInput),
    cacheWrite: t(p.cacheWrite),
    perImage: t(p.perImage),
  };
}

const DECIMAL = /^\d+(\.\d{1,6})?$/;

/** The PUT body of a price form, or the first field at fault. Amounts stay text: the server reads them exactly. */
export function priceBody(f: PriceForm): { body: PriceSet } | { field: keyof PriceForm; message: string } {
  if (!f.model.trim()) return { field: 'model', message: 'Name the model.' };
  const body: PriceSet = { input: '', output: '' };
  for (const k of ['input', 'output', 'cachedInput', 'cacheWrite', 'perImage'] as const) {
    const v = f[k].trim().replace(/^\$/, '');
    const required = k === 'input' || k === 'output';
    if (!v) {
      if (required) return { field: k, message: 'Required: USD per million tokens, such as 2.50.' };
      continue;
    }
    if (!DECIMAL.test(v)) return { field: k, message: 'A USD amount such as 2.50, at most 6 decimals.' };
    body[k] = v;
  }
  return { body };
}
