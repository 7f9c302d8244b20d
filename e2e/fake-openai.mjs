// A small fake OpenAI-compatible provider for the browser tests: GET /v1/models lists a few models for the
// right key (401 with an OpenAI-style error otherwise), POST /v1/chat/completions answers a short reply with
// usage. It records the keys it was sent, so a test can check the stored key is the one used.
//
//   const fake = await startFakeOpenAI({ key: 'sk-e2e' });
//   ... fake.baseUrl (http://127.0.0.1:PORT/v1), fake.keys ...
//   await fake.close();

import http from 'node:http';
import { once } from 'node:events';

export async function startFakeOpenAI({ key, models = ['e2e-llama-small', 'e2e-llama-large', 'e2e-embed'], host = '127.0.0.1' } = {}) {
  const keys = [];
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
        const model = JSON.parse(body || '{}').model ?? models[0];
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
    close: async () => {
      server.closeAllConnections?.();
      server.close();
      await once(server, 'close').catch(() => {});
    },
  };
}
