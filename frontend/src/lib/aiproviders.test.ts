import { describe, expect, it } from 'vitest';
import type { ModelPrice } from './api';
import { emptyPriceForm, filterPrices, formatUSD, kindLabel, parseModelList, priceBody, priceFormOf } from './aiproviders';

const price = (model: string, from: 'table' | 'override', input = 1, output = 2): ModelPrice => ({
  model,
  input,
  output,
  cachedInput: null,
  cacheWrite: null,
  cacheWrite1h: null,
  perImage: null,
  source: 'x',
  asOf: '2025-11',
  from,
});

describe('parseModelList', () => {
  it('splits on lines and commas, trims, drops blanks and repeats, keeps order', () => {
    expect(parseModelList(' llama3.2 \n\nqwen2.5-coder:7b, llama3.2 ,mistral\n')).toEqual(['llama3.2', 'qwen2.5-coder:7b', 'mistral']);
    expect(parseModelList('  \n ')).toEqual([]);
  });
});

describe('formatUSD', () => {
  it('shows at least cents and every digit the server sent', () => {
    expect(formatUSD(2.5)).toBe('$2.50');
    expect(formatUSD(0.075)).toBe('$0.075');
    expect(formatUSD(10)).toBe('$10.00');
    expect(formatUSD(0.000001)).toBe('$0.000001');
    expect(formatUSD(null)).toBe('—');
  });
});

describe('kindLabel', () => {
  it('names each kind shortly', () => {
    expect(kindLabel('openai')).toBe('OpenAI');
    expect(kindLabel('anthropic')).toBe('Anthropic');
    expect(kindLabel('openai-compatible')).toBe('OpenAI-compatible');
  });
});

describe('filterPrices', () => {
  const items = [price('gpt-4o', 'table'), price('gpt-4o-mini', 'override'), price('claude-3-5-haiku', 'table')];
  it('matches every word', () => {
    expect(filterPrices(items, 'gpt mini').map((p) => p.model)).toEqual(['gpt-4o-mini']);
    expect(filterPrices(items, '').length).toBe(3);
  });
  it('keeps only overrides when asked', () => {
    expect(filterPrices(items, '', true).map((p) => p.model)).toEqual(['gpt-4o-mini']);
  });
});

describe('priceBody', () => {
  it('keeps amounts as text, drops empty optional rates and a leading $', () => {
    const f = { ...emptyPriceForm('my-model'), input: '$0.15', output: '0.6', cachedInput: ' 0.075 ' };
    expect(priceBody(f)).toEqual({ body: { input: '0.15', output: '0.6', cachedInput: '0.075' } });
  });
  it('names the first field at fault', () => {
    expect(priceBody(emptyPriceForm(''))).toMatchObject({ field: 'model' });
    expect(priceBody({ ...emptyPriceForm('m'), output: '1' })).toMatchObject({ field: 'input' });
    expect(priceBody({ ...emptyPriceForm('m'), input: '1', output: '1.0000001' })).toMatchObject({ field: 'output' });
    expect(priceBody({ ...emptyPriceForm('m'), input: '1', output: '2', perImage: '-1' })).toMatchObject({ field: 'perImage' });
  });
  it('round-trips a row into the form', () => {
    const p = { ...price('gpt-4o', 'table', 2.5, 10), cachedInput: 1.25 };
    expect(priceBody(priceFormOf(p))).toEqual({ body: { input: '2.5', output: '10', cachedInput: '1.25' } });
  });
});
