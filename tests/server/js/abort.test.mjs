// tests/server/js/abort.test.mjs: a client that goes away stops its generation (G-18, C-18). A private
// server slows each token (--token-delay-ms) so a stream is still running when the client aborts.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Ollama } from 'ollama';
import OpenAI from 'openai';
import { MODEL, startServer, stats, waitFor } from './helpers.mjs';

const DELAY_MS = 25;  // 100 tokens would take 2.5 s
let server;

before(async () => { server = await startServer(['--token-delay-ms', String(DELAY_MS)]); });
after(async () => { assert.equal(await server.stop(), 0, 'the server exits cleanly on SIGTERM'); });

const long = { temperature: 1, top_k: 0, top_p: 1, seed: 5, num_predict: 100 };

async function settle() {
  return waitFor(async () => { const s = await stats(server.url); return s.jobs_pending === 0 && s; }, 10000, 'the runner to go idle');
}

test('ollama-js abort() mid-stream stops the generation on the server', async () => {
  const before = await settle();
  const ollama = new Ollama({ host: server.url });
  const stream = await ollama.generate({ model: MODEL, prompt: 'Once upon a time', options: long, stream: true });
  let n = 0;
  await assert.rejects(async () => {
    for await (const part of stream) {
      assert.equal(part.done, false);
      if (++n === 3) stream.abort();
    }
  }, (e) => e.name === 'AbortError');
  const t0 = Date.now();
  const s = await waitFor(async () => { const x = await stats(server.url); return x.jobs_cancelled > before.jobs_cancelled && x; },
                          3000, 'the cancellation');
  assert.ok(Date.now() - t0 < 1500, 'noticed within a few tokens');
  assert.ok(s.tokens_generated - before.tokens_generated < 40, `stopped early (${s.tokens_generated - before.tokens_generated} tokens)`);
  // The slot is free again: a short request is answered at once.
  const r = await ollama.generate({ model: MODEL, prompt: 'Hi', options: { num_predict: 2 } });
  assert.equal(r.done, true);
});

test('chat abort through ollama.abort() (all streams of a client)', async () => {
  const before = await settle();
  const ollama = new Ollama({ host: server.url });
  const stream = await ollama.chat({ model: MODEL, messages: [{ role: 'user', content: 'Tell me a story' }], options: long, stream: true });
  const it = stream[Symbol.asyncIterator]();
  await it.next();
  ollama.abort();
  await assert.rejects(async () => { for (;;) { const { done } = await it.next(); if (done) break; } }, (e) => e.name === 'AbortError');
  await waitFor(async () => (await stats(server.url)).jobs_cancelled > before.jobs_cancelled, 3000, 'the cancellation');
});

test('a request aborted while queued never runs', async () => {
  const before = await settle();
  const first = new AbortController(), second = new AbortController();
  const body = (prompt) => JSON.stringify({ model: MODEL, prompt, options: { ...long, num_predict: 40 } });
  const a = fetch(`${server.url}/api/generate`, { method: 'POST', body: body('Once'), signal: first.signal });
  await waitFor(async () => (await stats(server.url)).jobs_started > before.jobs_started, 3000, 'the first job to start');
  const b = fetch(`${server.url}/api/generate`, { method: 'POST', body: body('Twice'), signal: second.signal });
  await waitFor(async () => (await stats(server.url)).jobs_pending === 2, 3000, 'the second job to queue');
  second.abort();
  await assert.rejects(b, (e) => e.name === 'AbortError');
  const ra = await a;  // the first one is unaffected
  const text = await ra.text();
  assert.match(text.trim().split('\n').at(-1), /"done":true/);
  const s = await settle();
  assert.equal(s.jobs_cancelled - before.jobs_cancelled, 1, 'the queued job was skipped');
  assert.ok(s.tokens_generated - before.tokens_generated <= 40, 'only the first job generated');
});

test('openai SDK: aborting a streamed completion stops it too', async () => {
  const before = await settle();
  const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'x', maxRetries: 0 });
  const stream = await client.chat.completions.create({
    model: MODEL, messages: [{ role: 'user', content: 'Story' }], max_tokens: 100, temperature: 1, seed: 9, stream: true,
  });
  let n = 0;
  for await (const chunk of stream) {
    assert.equal(chunk.object, 'chat.completion.chunk');
    if (++n === 2) { stream.controller.abort(); break; }
  }
  const s = await waitFor(async () => { const x = await stats(server.url); return x.jobs_cancelled > before.jobs_cancelled && x; },
                          3000, 'the cancellation');
  assert.ok(s.tokens_generated - before.tokens_generated < 40);
});
