// tests/server/js/protocol.test.mjs: transport conventions every client relies on: the root route,
// HEAD, any Content-Type, malformed bodies, error shapes, 404/405, CORS, Expect: 100-continue.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { MODEL, serverUrl, json, request, startServer } from './helpers.mjs';

// Sends raw bytes and returns the whole reply (the connection is closed by "Connection: close").
// `bytes` may be a function (sock, seen) that writes at its own pace.
function raw(bytes) {
  const { hostname, port } = new URL(serverUrl());
  return new Promise((resolve, reject) => {
    const sock = net.connect(Number(port), hostname);
    let out = '';
    sock.setTimeout(10000, () => { sock.destroy(); reject(new Error(`timeout; got ${out}`)); });
    sock.on('data', (d) => { out += d.toString('latin1'); });
    sock.on('end', () => resolve(out));
    sock.on('error', reject);
    if (typeof bytes === 'function') bytes(sock, () => out); else sock.write(bytes);
  });
}

test('GET / and HEAD / (R-01, R-02)', async () => {
  const r = await request('/', { method: 'GET' });
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('content-type'), 'text/plain; charset=utf-8');
  assert.equal(await r.text(), 'Ollama is running');
  const h = await request('/', { method: 'HEAD' });
  assert.equal(h.status, 200);
  assert.equal(await h.text(), '');
  for (const p of ['/api/version', '/api/tags']) assert.equal((await request(p, { method: 'HEAD' })).status, 200);
});

test('the body is JSON whatever the Content-Type (G-02); Authorization is ignored (G-07)', async () => {
  for (const ct of ['application/x-www-form-urlencoded', 'text/plain', undefined]) {
    const headers = ct ? { 'Content-Type': ct } : {};
    const r = await json('/api/generate', { body: { model: MODEL, prompt: 'Hi', stream: false, options: { num_predict: 2 } },
                                             headers: { ...headers, Authorization: 'Bearer ollama-local' } });
    assert.equal(r.status, 200, `Content-Type ${ct}`);
    assert.equal(r.body.done, true);
  }
});

test('empty, malformed and mistyped bodies are 400 with a JSON error (G-03..G-06)', async () => {
  const cases = [
    ['/api/chat', '', 400, 'missing request body'],
    ['/api/chat', '{', 400, null],
    ['/api/chat', '{"model":', 400, null],
    ['/api/chat', '[1,2]', 400, null],
    ['/api/chat', '{}', 400, 'model is required'],
    ['/api/chat', 'null', 400, 'model is required'],
    ['/api/generate', '{}', 404, "model '' not found"],
    ['/api/generate', `{"model":"${MODEL}","prompt":7}`, 400, null],
    ['/api/chat', `{"model":"${MODEL}","messages":"hi"}`, 400, null],
    ['/api/chat', `{"model":"${MODEL}","messages":[{"role":"user","content":{"a":1}}]}`, 400, null],
    ['/api/chat', `{"model":"${MODEL}","messages":[],"stream":"yes"}`, 400, null],
    ['/api/generate', `{"model":"${MODEL}","prompt":"x","options":[]}`, 400, null],
    ['/api/generate', `{"model":"${MODEL}","prompt":"x","keep_alive":{}}`, 400, null],
    ['/api/show', '{"model":5}', 400, null],
    ['/api/embed', `{"model":"${MODEL}","input":{"a":1}}`, 400, 'invalid input type'],
    ['/api/generate', '\xff\xfe{"model":1}', 400, null],
    ['/api/generate', '['.repeat(100000), 400, null],
  ];
  for (const [path, body, status, message] of cases) {
    const r = await json(path, { body });
    assert.equal(r.status, status, `${path} ${body.slice(0, 60)}`);
    assert.equal(r.headers.get('content-type'), 'application/json; charset=utf-8');
    assert.equal(typeof r.body.error, 'string');
    assert.ok(r.body.error.length > 0);
    if (message) assert.equal(r.body.error, message);
  }
  // The server is still healthy.
  assert.equal((await request('/', { method: 'GET' })).status, 200);
});

test('a body over the limit is refused with 413 before it is read', async () => {
  const big = 'x'.repeat(17 << 20);
  const r = await json('/api/chat', { body: big });
  assert.equal(r.status, 413);
  assert.match(r.body.error, /too large/);
  const reply = await raw(`POST /api/chat HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100000000000\r\nExpect: 100-continue\r\n\r\n`);
  assert.match(reply, /^HTTP\/1\.1 413 /);
  assert.doesNotMatch(reply, /100 Continue/);
});

test('unknown paths 404 (text), wrong methods 405 (G-21)', async () => {
  const nf = await request('/api/nope', { method: 'GET' });
  assert.equal(nf.status, 404);
  assert.equal(await nf.text(), '404 page not found');
  assert.equal((await request('/api/tags', { method: 'POST', body: '{}' })).status, 405);
  assert.equal((await request('/api/chat', { method: 'GET' })).status, 405);
  assert.equal((await request('/api/delete', { method: 'POST', body: '{}' })).status, 405);
});

test('CORS: local origins allowed, preflight 204 with x-stainless headers (G-08)', async () => {
  const pre = await request('/v1/chat/completions', {
    method: 'OPTIONS', headers: { Origin: 'http://localhost:5173', 'Access-Control-Request-Method': 'POST' },
  });
  assert.equal(pre.status, 204);
  assert.equal(pre.headers.get('access-control-allow-origin'), 'http://localhost:5173');
  assert.match(pre.headers.get('access-control-allow-headers'), /x-stainless-retry-count/);
  const get = await request('/api/version', { method: 'GET', headers: { Origin: 'app://obsidian.md' } });
  assert.equal(get.headers.get('access-control-allow-origin'), 'app://obsidian.md');
  const foreign = await request('/api/version', { method: 'GET', headers: { Origin: 'https://evil.example' } });
  assert.equal(foreign.headers.get('access-control-allow-origin'), null);
});

test('Expect: 100-continue is answered before the body is sent (G-20)', async () => {
  const body = JSON.stringify({ model: MODEL, prompt: 'Once', stream: false, options: { num_predict: 2 }, pad: 'x'.repeat(2000) });
  const reply = await raw((sock, seen) => {
    sock.write(`POST /api/generate HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nConnection: close\r\n` +
               `Expect: 100-continue\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n`);
    const wait = setInterval(() => {
      if (seen().includes('100 Continue')) { clearInterval(wait); sock.write(body); }
    }, 5);
    sock.on('close', () => clearInterval(wait));  // a refusal must fail the test, not hang the file
  });
  assert.match(reply, /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 OK\r\n/);
  assert.match(reply, /"done":true/);
});

test('chunked request bodies, pipelining and keep-alive', async () => {
  const body = JSON.stringify({ model: MODEL });
  const chunked = `${(body.length - 5).toString(16)}\r\n${body.slice(0, -5)}\r\n5\r\n${body.slice(-5)}\r\n0\r\n\r\n`;
  const reply = await raw(`POST /api/show HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n${chunked}` +
                          `GET /api/version HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`);
  const statuses = [...reply.matchAll(/HTTP\/1\.1 (\d+)/g)].map((m) => m[1]);
  assert.deepEqual(statuses, ['200', '200']);
  assert.match(reply, /"model_info"/);
  assert.match(reply, /"version":"\d+\.\d+\.\d+"/);
});

test('protocol garbage gets a 4xx and a closed connection, not a crash', async () => {
  for (const bytes of [
    'GARBAGE\r\n\r\n',
    'GET / HTTP/9.9\r\n\r\n',
    'POST /api/chat HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n',
    'POST /api/chat HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n',
    `GET / HTTP/1.1\r\nX-Big: ${'a'.repeat(70000)}\r\n\r\n`,
  ]) {
    const reply = await raw(bytes);
    assert.match(reply, /^HTTP\/1\.1 4\d\d /, JSON.stringify(bytes.slice(0, 50)));
  }
  assert.equal((await request('/', { method: 'GET' })).status, 200);
});

test('OLLAMA_HOST sets the address (G-01)', async () => {
  for (const value of ['http://127.0.0.1:0', '127.0.0.1:0']) {
    const s = await startServer([], { env: { OLLAMA_HOST: value }, port: false });
    try {
      assert.match(s.url, /^http:\/\/127\.0\.0\.1:\d+$/);
      assert.notEqual(new URL(s.url).port, '11434');
      assert.equal(await (await fetch(s.url + '/')).text(), 'Ollama is running');
    } finally {
      assert.equal(await s.stop(), 0);
    }
  }
});

test('unknown top-level fields and nulls are ignored (G-05)', async () => {
  const r = await json('/api/chat', {
    body: { model: MODEL, messages: [{ role: 'user', content: 'Hi', extra: 1 }], stream: false, format: null, think: null,
            keep_alive: null, options: null, future_field: { nested: true }, images: null, options2: 5 },
  });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.done, true);
});
