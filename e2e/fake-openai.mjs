// A small fake OpenAI-compatible provider for the browser tests: GET /v1/models lists a few models for the
// right key (401 with an OpenAI-style error otherwise), POST /v1/chat/completions answers a short reply with
// usage. It records the keys it was sent, so a test can check the stored key is the one used.
//
// A streamed chat ("stream": true) is sent slowly: streamChunks content chunks, one every streamDelayMs,
// then, when stream_options.include_usage is set, the usage chunk (no choices), then [DONE]. The fake
// records what each streamed request asked for (fake.streams: {includeUsage, maxTokens}).
//
//   const fake = await startFakeOpenAI({ key: 'sk-e2e' });
//   ... fake.baseUrl (http://127.0.0.1:PORT/v1), fake.keys, fake.streams ...
//   await fake.close();

import http from 'node:http';
import { once } from 'node:events';

export async function startFakeOpenAI({
  key,
  models = ['e2e-llama-small', 'e2e-llama-large', 'e2e-embed'],
  host = '127.0.0.1',
  streamChunks = 10,
  streamDelayMs = 200,
  usage = { prompt_tokens: 20, completion_tokens: 10, total_tokens: 30 },
} = {}) {
  const keys = [];
  const streams = [];
  const timers = new Set();
  const later = (ms) =>
    new Promise((resolve) => {
      const t = setTimeout(() => {
        timers.delete(t);
        resolve();
      }, ms);
      timers.add(t);
    });
  async function streamChat(res, model, req) {
    streams.push({ includeUsage: req.stream_options?.include_usage === true, maxTokens: req.max_tokens ?? req.max_completion_tokens ?? null });
    res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' });
    const chunk = (delta, finish = null) => ({
      id: 'chatcmpl-e2e-stream',
      object: 'chat.completion.chunk',
      created: Math.floor(Date.now() / 1000),
      model,
      choices: [{ index: 0, delta, finish_reason: finish }],
    });
    const send = (obj) => res.write(`data: ${JSON.stringify(obj)}\n\n`);
    for (let i = 0; i < streamChunks; i++) {
      if (res.destroyed) return;
      send(chunk(i === 0 ? { role: 'assistant', content: `w${i} ` } : { content: `w${i} ` }));
      await later(streamDelayMs);
    }
    send(chunk({}, 'stop'));
    if (req.stream_options?.include_usage) {
      send({ id: 'chatcmpl-e2e-stream', object: 'chat.completion.chunk', created: Math.floor(Date.now() / 1000), model, choices: [], usage });
    }
    res.end('data: [DONE]\n\n');
  }
  const server = http.createServer((req, res) => {
    const got = (req.headers.authorization ?? '').replace(/^Bearer /, '');
    keys.push(got);
    const send = (status, body) => {
      res.writeHead(status, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (got !== key) {
      send(401, { error: { message: 'Incorrect API key provided.', type: 'invalid_request_error', code: 'invalid_api_key' } });
      return;
    }
    if (req.method === 'GET' && req.url === '/v1/models') {
      send(200, { object: 'list', data: models.map((id) => ({ id, object: 'model', owned_by: 'e2e' })) });
      return;
    }
    if (req.method === 'POST' && req.url === '/v1/chat/completions') {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        const parsed = JSON.parse(body || '{}');
        const model = parsed.model ?? models[0];
        if (parsed.stream) {
          streamChat(res, model, parsed).catch(() => res.destroy());
          return;
        }
        send(200, {
          id: 'chatcmpl-e2e',
          object: 'chat.completion',
          model,
          choices: [{ index: 0, message: { role: 'assistant', content: 'Bonjour !' }, finish_reason: 'stop' }],
          usage: { prompt_tokens: 12, completion_tokens: 3, total_tokens: 15 },
        });
      });
      return;
    }
    send(404, { error: { message: `no route ${req.method} ${req.url}`, type: 'invalid_request_error' } });
  });
  server.listen(0, host);
  await once(server, 'listening');
  const { port } = server.address();
  return {
    baseUrl: `http://${host}:${port}/v1`,
    keys,
    streams,
    close: async () => {
      for (const t of timers) clearTimeout(t);
      server.closeAllConnections?.();
      server.close();
      await once(server, 'close').catch(() => {});
    },
  };
}
