// tests/server/js/load.test.mjs: a bounded load test on loopback: 32 clients send 500 requests (native
// and OpenAI, streamed and not, some aborted mid-stream) to a private server with a small queue. Every
// request must be answered correctly or refused with 503; the server must survive and its memory
// return to where it was after warm-up.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { MODEL, startServer, stats, waitFor, assertMetrics } from './helpers.mjs';

const CLIENTS = 32, REQUESTS = 500, MAX_QUEUE = 16;
const BUSY = 'server busy, please try again.  maximum pending requests exceeded';
let server;

before(async () => { server = await startServer(['--max-queue', String(MAX_QUEUE), '--token-delay-ms', '1']); });
after(async () => { assert.equal(await server.stop(), 0, 'the server exits cleanly on SIGTERM'); });

function body(i) {
  const options = { num_predict: 4 + (i % 5), temperature: 0.8, seed: i };
  switch (i % 4) {
    case 0: return ['/api/generate', { model: MODEL, prompt: `Once upon a time ${i}`, options }];
    case 1: return ['/api/chat', { model: MODEL, messages: [{ role: 'user', content: `Hello ${i}` }], options, stream: false }];
    case 2: return ['/v1/chat/completions', { model: MODEL, messages: [{ role: 'user', content: `Hi ${i}` }], max_tokens: 6, stream: true }];
    default: return ['/v1/completions', { model: MODEL, prompt: `The dog ${i}`, max_tokens: 5 }];
  }
}

// One request; returns 'ok', 'busy' or 'aborted', and throws on anything else.
async function one(i) {
  const [path, payload] = body(i);
  // Every 18th request (always a streamed one) is abandoned after its first chunk.
  const abort = i % 18 === 4 ? new AbortController() : null;
  let res;
  try {
    res = await fetch(server.url + path, { method: 'POST', body: JSON.stringify(payload), signal: abort?.signal });
  } catch (e) {
    throw new Error(`request ${i} failed to connect: ${e}`);
  }
  if (res.status === 503) {
    assert.match(res.headers.get('content-type'), /application\/json/);
    const j = await res.json();
    assert.equal(path.startsWith('/v1') ? j.error.message : j.error, BUSY);
    return 'busy';
  }
  assert.equal(res.status, 200, `request ${i} ${path}`);
  if (abort) {
    const reader = res.body.getReader();
    await reader.read();  // the first chunk arrived: now go away mid-stream
    abort.abort();
    reader.cancel().catch(() => {});
    return 'aborted';
  }
  const text = await res.text();
  if (path === '/api/generate') {
    const lines = text.trim().split('\n').map((l) => JSON.parse(l));
    const last = lines.at(-1);
    assert.equal(last.done, true);
    assertMetrics(last);
    assert.equal(lines.slice(0, -1).map((l) => l.response).join('').length > 0 || last.done_reason === 'stop', true);
  } else if (path === '/api/chat') {
    const j = JSON.parse(text);
    assert.equal(j.done, true);
    assert.equal(j.message.role, 'assistant');
    assertMetrics(j);
  } else if (path === '/v1/chat/completions') {
    assert.ok(text.endsWith('data: [DONE]\n\n'));
    const events = text.split('\n\n').filter((b) => b.startsWith('data: {')).map((b) => JSON.parse(b.slice(6)));
    assert.ok(events.at(-1).choices[0].finish_reason);
  } else {
    const j = JSON.parse(text);
    assert.equal(j.object, 'text_completion');
    assert.equal(typeof j.choices[0].text, 'string');
  }
  return 'ok';
}

test(`${CLIENTS} clients, ${REQUESTS} requests: answered or 503, no crash, memory back to baseline`, { timeout: 60000 }, async () => {
  // Warm-up: load the model and touch every route once, then take the baseline.
  for (let i = 0; i < 4; i++) assert.equal(await one(i), 'ok');
  await waitFor(async () => (await stats(server.url)).jobs_pending === 0, 5000, 'warm-up to finish');
  const baseline = (await stats(server.url)).rss_bytes;

  // Two rounds: the first shows the server copes, the second that memory does not creep per request.
  const round = async () => {
    const counts = { ok: 0, busy: 0, aborted: 0 };
    let next = 0;
    const t0 = Date.now();
    await Promise.all(Array.from({ length: CLIENTS }, async () => {
      while (next < REQUESTS) {
        const i = next++;
        const outcome = await one(i);
        counts[outcome]++;
        // A refused client backs off a little before its next request, as real clients do.
        if (outcome === 'busy') await new Promise((r) => setTimeout(r, 100));
      }
    }));
    const seconds = (Date.now() - t0) / 1000;
    assert.equal(counts.ok + counts.busy + counts.aborted, REQUESTS);
    assert.ok(counts.ok > 100, `enough requests were served: ${JSON.stringify(counts)}`);
    assert.ok(counts.busy > 0, `a full queue refuses with 503: ${JSON.stringify(counts)}`);
    const s = await waitFor(async () => { const x = await stats(server.url); return x.jobs_pending === 0 && x; }, 10000, 'the queue to drain');
    assert.equal(s.jobs_failed, 0);
    assert.equal((await fetch(server.url + '/')).status, 200, 'still serving');
    console.log(`load: ${JSON.stringify(counts)} in ${seconds.toFixed(1)} s; rss ${(s.rss_bytes / 2 ** 20).toFixed(1)} MiB ` +
                `(baseline ${(baseline / 2 ** 20).toFixed(1)} MiB); cancelled so far ${s.jobs_cancelled}`);
    return { ...s, busy: counts.busy };
  };
  const first = await round();
  const second = await round();
  // Every 503 a client saw is one the server counted, and no other.
  assert.equal(first.rejected_busy, first.busy);
  assert.equal(second.rejected_busy, first.busy + second.busy);
  // A sanitizer build keeps freed memory in quarantine: its RSS says nothing about leaks (LeakSanitizer
  // checks those when the server exits).
  if (!process.env.ASAN_OPTIONS) {
    assert.ok(second.rss_bytes - baseline < 8 * 2 ** 20, 'memory back near its baseline');
    assert.ok(second.rss_bytes - first.rss_bytes < 2 ** 20, `no growth per request (${second.rss_bytes - first.rss_bytes} bytes over ${REQUESTS})`);
  }
});
