// tests/server/js/batch_load.test.mjs: the bounded load test of issue 16 against continuous batching
// (OLLAMA_NUM_PARALLEL=4): 32 clients send a mix of /api/generate, /api/chat (a quarter of them with a
// forced tool call through a real chat template), /api/embed and OpenAI chat, and some go away mid-stream
// (an aborted fetch, or a raw socket destroyed after the first bytes). Every request must be answered
// correctly or refused with 503; the server must survive, nothing may fail, several sequences must have
// shared passes, and resident memory must come back within 8 MiB of its warm-up baseline.
// STRATA_LOAD_REQUESTS sets the count (default the 1,000: about 8 s on the 2-core machine).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { stats, waitFor } from './helpers.mjs';
import { BASE_MODEL, WEATHER_TOOL, familyModel, startAgentServer } from './agent_helpers.mjs';

const CLIENTS = 32, MAX_QUEUE = 24, PARALLEL = 4;
const REQUESTS = Number(process.env.STRATA_LOAD_REQUESTS ?? 1000);
const BUSY = 'server busy, please try again.  maximum pending requests exceeded';
const RSS_TOLERANCE = 8 * 2 ** 20;
let server, chatModel;

before(async () => {
  server = await startAgentServer({ env: { OLLAMA_NUM_PARALLEL: String(PARALLEL) }, args: ['--max-queue', String(MAX_QUEUE)] });
  chatModel = await familyModel(server.url, 'qwen3');
});
after(async () => server?.stop());

// A fixed pseudo-random sequence, so a failure replays.
function rng(seed) {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

function body(i, r) {
  const options = { num_predict: 4 + Math.floor(r() * 12), temperature: 0.8, seed: i };
  const kind = Math.floor(r() * 5);
  const stream = r() < 0.5;
  switch (kind) {
    case 0: return ['/api/generate', { model: BASE_MODEL, prompt: `Once upon a time ${i}`, options, stream }];
    case 1: return ['/api/chat', { model: chatModel, messages: [{ role: 'user', content: `Hello ${i % 7}` }], options, stream, think: false }];
    case 2: return ['/api/chat', { model: chatModel, messages: [{ role: 'user', content: `Weather in Paris? ${i % 3}` }],
                                   tools: [WEATHER_TOOL], tool_choice: 'required', options: { ...options, num_predict: 120 }, stream, think: false }];
    case 3: return ['/api/embed', { model: BASE_MODEL, input: [`text ${i}`, `more text ${i % 5}`] }];
    default: return ['/v1/chat/completions', { model: chatModel, messages: [{ role: 'user', content: `Hi ${i}` }], max_tokens: 6, stream: true }];
  }
}

// Sends the request on a raw socket and destroys it once the first bytes of the answer arrive.
function rawAbort(path, payload) {
  const u = new URL(server.url);
  const text = JSON.stringify(payload);
  return new Promise((resolve, reject) => {
    const sock = net.connect(Number(u.port), u.hostname, () => {
      sock.write(`POST ${path} HTTP/1.1\r\nHost: ${u.host}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`);
    });
    sock.once('data', (d) => {
      const status = Number(/^HTTP\/1\.1 (\d+)/.exec(d.toString())?.[1]);
      sock.destroy();
      if (status === 200 || status === 503) resolve(status === 503 ? 'busy' : 'aborted');
      else reject(new Error(`raw request to ${path} got ${d.toString().slice(0, 200)}`));
    });
    sock.once('error', reject);
  });
}

function check(path, payload, text) {
  const streamed = payload.stream !== false && path !== '/api/embed';
  if (path === '/api/embed') {
    const j = JSON.parse(text);
    assert.equal(j.embeddings.length, 2);
    assert.ok(j.embeddings[0].length > 0);
    return;
  }
  if (path === '/v1/chat/completions') {
    assert.ok(text.endsWith('data: [DONE]\n\n'));
    return;
  }
  const lines = streamed ? text.trim().split('\n').map((l) => JSON.parse(l)) : [JSON.parse(text)];
  const last = lines.at(-1);
  assert.equal(last.done, true, text.slice(0, 300));
  if (payload.tools) {
    const calls = lines.flatMap((l) => l.message?.tool_calls ?? []);
    // A forced call is whole unless num_predict cut it short.
    if (last.done_reason === 'stop') assert.equal(calls[0]?.function.name, 'get_weather', text.slice(0, 300));
  }
}

// One request; returns 'ok', 'busy' or 'aborted', and throws on anything else.
async function one(i, r) {
  const [path, payload] = body(i, r);
  const streamedRoute = path !== '/api/embed' && payload.stream !== false;
  const abort = streamedRoute && r() < 0.1 ? (r() < 0.5 ? 'fetch' : 'socket') : null;
  if (abort === 'socket') return rawAbort(path, payload);
  const ctl = abort ? new AbortController() : null;
  const res = await fetch(server.url + path, { method: 'POST', body: JSON.stringify(payload), signal: ctl?.signal });
  if (res.status === 503) {
    const j = await res.json();
    assert.equal(path.startsWith('/v1') ? j.error.message : j.error, BUSY);
    return 'busy';
  }
  const text = ctl ? null : await res.text();
  assert.equal(res.status, 200, `request ${i} ${path}: ${text}`);
  if (ctl) {
    const reader = res.body.getReader();
    await reader.read();
    ctl.abort();
    reader.cancel().catch(() => {});
    return 'aborted';
  }
  check(path, payload, text);
  return 'ok';
}

test(`${CLIENTS} clients, ${REQUESTS} mixed requests over ${PARALLEL} parallel sequences: answered or 503, memory back`,
     { timeout: Math.max(60000, REQUESTS * 120) }, async () => {
  const r = rng(16);
  for (let i = 0; i < 10; i++) await one(i, r);  // warm-up: the load, every route, the template prefix
  await waitFor(async () => (await stats(server.url)).jobs_pending === 0, 10000, 'warm-up to finish');
  const baseline = (await stats(server.url)).rss_bytes;

  const counts = { ok: 0, busy: 0, aborted: 0 };
  let next = 0, maxInFlight = 0;
  const sampler = setInterval(async () => {
    try {
      const s = await stats(server.url);
      for (const m of s.models ?? []) maxInFlight = Math.max(maxInFlight, m.sequences_in_flight);
    } catch { /* the server is busy answering; the next sample counts */ }
  }, 50);
  const t0 = Date.now();
  try {
    await Promise.all(Array.from({ length: CLIENTS }, async (_, c) => {
      const cr = rng(1000 + c);
      while (next < REQUESTS) {
        const i = next++;
        const outcome = await one(i, cr);
        counts[outcome]++;
        if (outcome === "busy") await new Promise((res) => setTimeout(res, 100));
      }
    }));
  } finally {
    clearInterval(sampler);
  }
  const seconds = (Date.now() - t0) / 1000;
  assert.equal(counts.ok + counts.busy + counts.aborted, REQUESTS);
  assert.ok(counts.ok > REQUESTS / 4, `enough requests were served: ${JSON.stringify(counts)}`);
  const s = await waitFor(async () => { const x = await stats(server.url); return x.jobs_pending === 0 && x; }, 20000, 'the queue to drain');
  assert.equal(s.jobs_failed, 0, 'no request failed');
  assert.equal(s.rejected_busy, counts.busy, 'every 503 a client saw is one the server counted');
  const model = s.models.find((m) => m.num_parallel === PARALLEL);
  assert.ok(model, JSON.stringify(s.models));
  assert.ok(model.batched_steps > 0, 'sequences shared passes');
  assert.ok(maxInFlight > 1, `several sequences were in flight at once (max seen ${maxInFlight})`);
  assert.ok(model.prefix_cache.reused_tokens > 0, 'the chat template prefix was reused');
  assert.equal((await fetch(server.url + '/')).status, 200, 'still serving');
  console.log(`batch load: ${REQUESTS} requests ${JSON.stringify(counts)} in ${seconds.toFixed(1)} s; ` +
              `steps ${model.steps} (${model.batched_steps} batched), max in flight ${maxInFlight}; prompt tokens ` +
              `${model.prefix_cache.prompt_tokens} (${model.prefix_cache.reused_tokens} reused); rss ` +
              `${(s.rss_bytes / 2 ** 20).toFixed(1)} MiB (baseline ${(baseline / 2 ** 20).toFixed(1)} MiB)`);
  // A sanitizer build keeps freed memory in quarantine: its RSS says nothing about leaks.
  if (!process.env.ASAN_OPTIONS) assert.ok(s.rss_bytes - baseline < RSS_TOLERANCE, 'memory back near its baseline');
});
