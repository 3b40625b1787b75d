// tests/server/js/helpers.mjs: what every client test shares: the server under test (started by
// run_js_tests.sh, or a private one with extra flags), raw HTTP helpers, and NDJSON/SSE readers.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';

export const MODEL = 'stories260k';  // stories260K.gguf, served as stories260k:latest

export function serverUrl() {
  const url = process.env.STRATA_URL;
  assert.ok(url, 'STRATA_URL is not set: run tests/server/run_js_tests.sh');
  return url;
}

// Starts a private `strata serve` (for flags the shared server must not have: a token delay, a tiny
// queue). Resolves to { url, stop() } once it prints its address.
// `env` adds environment variables; `port: false` leaves --port out (to test OLLAMA_HOST).
export async function startServer(extraArgs = [], { env = {}, port = true, model = process.env.STRATA_MODEL } = {}) {
  const bin = process.env.STRATA_BIN;
  assert.ok(bin && model, 'STRATA_BIN and STRATA_MODEL must be set: run tests/server/run_js_tests.sh');
  const store = mkdtempSync(join(tmpdir(), 'strata-js-'));
  const args = ['serve', model, ...(port ? ['--port', '0'] : []), '--threads', '1', '--store', store, '--no-ollama', ...extraArgs];
  const child = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } });
  let log = '';
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start: ${log}`)), 10000);
    child.stderr.on('data', (d) => {
      log += d;
      const m = /serving on (http:\/\/\S+)/.exec(log);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    });
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`server exited (${code}): ${log}`)); });
  });
  return {
    url,
    child,
    log: () => log,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(store, { recursive: true, force: true });
      return child.exitCode;
    },
  };
}

// fetch with a JSON body (or a raw string) and the given method.
export async function request(path, { method = 'POST', body, headers = {}, base = serverUrl(), signal } = {}) {
  const init = { method, headers: { ...headers }, signal };
  if (body !== undefined) init.body = typeof body === 'string' ? body : JSON.stringify(body);
  return fetch(base + path, init);
}

export async function json(path, opts) {
  const r = await request(path, opts);
  const text = await r.text();
  let parsed;
  try { parsed = JSON.parse(text); } catch { parsed = undefined; }
  return { status: r.status, headers: r.headers, text, body: parsed };
}

// Reads an NDJSON body line by line, checking every line is one complete JSON object.
export async function ndjsonLines(response) {
  const text = await response.text();
  assert.ok(text.endsWith('\n'), 'NDJSON body must end with a newline');
  return text.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l));
}

// Server-sent events: the `data:` payloads, [DONE] kept as the string.
export async function sseEvents(response) {
  const text = await response.text();
  const events = [];
  for (const block of text.split('\n\n')) {
    if (!block.trim()) continue;
    assert.ok(block.startsWith('data: '), `unexpected SSE block: ${block}`);
    const data = block.slice(6);
    events.push(data === '[DONE]' ? data : JSON.parse(data));
  }
  return events;
}

export async function stats(base = serverUrl()) {
  return (await (await fetch(base + '/api/strata/stats')).json());
}

// Polls until fn() is truthy (or throws after timeoutMs).
export async function waitFor(fn, timeoutMs = 5000, what = 'condition') {
  const t0 = Date.now();
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;
export const RFC3339_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{1,9}Z$/;

export const METRICS = ['total_duration', 'load_duration', 'prompt_eval_count', 'prompt_eval_duration', 'eval_count',
                        'eval_duration'];
export function assertMetrics(obj) {
  for (const k of METRICS) assert.ok(Number.isInteger(obj[k]) && obj[k] >= 0, `${k} must be a non-negative integer: ${obj[k]}`);
}

// Optional fields are left out, never null (ollama-ai-provider-v2 validates with zod).
export function assertNoNulls(obj, path = '') {
  for (const [k, v] of Object.entries(obj)) {
    assert.notEqual(v, null, `${path}${k} is null`);
    if (v && typeof v === 'object' && !Array.isArray(v)) assertNoNulls(v, `${path}${k}.`);
  }
}
