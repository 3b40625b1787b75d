// tests/server/js/manage.test.mjs: embeddings and the routes that manage models, through the `ollama`
// client where it has a call: embed/embeddings, pull, push, copy, delete, blobs and create.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Ollama } from 'ollama';
import { MODEL, serverUrl, json, request, ndjsonLines } from './helpers.mjs';

const ollama = () => new Ollama({ host: serverUrl() });
const names = async () => (await ollama().list()).models.map((m) => m.name);

test('embed: one normalised vector per input; dimensions cut and renormalise (E-01..E-05)', async () => {
  const r = await ollama().embed({ model: MODEL, input: ['the cat sat', 'a dog ran'] });
  assert.equal(r.model, MODEL);
  assert.equal(r.embeddings.length, 2);
  for (const v of r.embeddings) {
    assert.equal(v.length, 64);
    assert.ok(Math.abs(Math.hypot(...v) - 1) < 1e-4);
  }
  assert.notDeepEqual(r.embeddings[0], r.embeddings[1]);
  assert.ok(Number.isInteger(r.total_duration) && Number.isInteger(r.load_duration) && r.prompt_eval_count > 0);
  const single = await ollama().embed({ model: MODEL, input: 'the cat sat' });
  // The same text gives the same vector (up to float rounding: a cached prefix is evaluated in
  // another batch shape).
  for (let i = 0; i < 64; i++) assert.ok(Math.abs(single.embeddings[0][i] - r.embeddings[0][i]) < 1e-5);
  const cut = await ollama().embed({ model: MODEL, input: 'the cat sat', dimensions: 8 });
  assert.equal(cut.embeddings[0].length, 8);
  assert.ok(Math.abs(Math.hypot(...cut.embeddings[0]) - 1) < 1e-4);
  const empty = await json('/api/embed', { body: { model: MODEL, input: [] } });
  assert.deepEqual(empty.body, { model: MODEL, embeddings: [] });
  const badType = await json('/api/embed', { body: { model: MODEL, input: [1, 2] } });
  assert.equal(badType.status, 400);
  assert.equal(badType.body.error, 'invalid input type');
  const long = 'one two three four five six seven eight nine ten '.repeat(30);
  const tooLong = await json('/api/embed', { body: { model: MODEL, input: long, truncate: false } });
  assert.equal(tooLong.status, 400);
  assert.equal(tooLong.body.error, 'the input length exceeds the context length');
  const truncated = await ollama().embed({ model: MODEL, input: long });
  assert.equal(truncated.embeddings.length, 1);
  await assert.rejects(ollama().embed({ model: 'nope', input: 'x' }), (e) => e.status_code === 404);
});

test('embeddings (legacy): raw vector, empty prompt gives [] (E-06)', async () => {
  const r = await ollama().embeddings({ model: MODEL, prompt: 'the cat sat' });
  assert.equal(r.embedding.length, 64);
  const normed = (await ollama().embed({ model: MODEL, input: 'the cat sat' })).embeddings[0];
  const n = Math.hypot(...r.embedding);
  assert.ok(Math.abs(n - 1) > 1e-3, 'the legacy route does not normalise');
  for (let i = 0; i < 64; i++) assert.ok(Math.abs(r.embedding[i] / n - normed[i]) < 1e-5);
  assert.deepEqual(await ollama().embeddings({ model: MODEL, prompt: '' }), { embedding: [] });
});

test('pull: a local model succeeds (stream and not); an unknown one is an error (PL-01, PL-02)', async () => {
  assert.deepEqual(await ollama().pull({ model: MODEL }), { status: 'success' });
  const stream = await ollama().pull({ model: MODEL, stream: true });
  const statuses = [];
  for await (const p of stream) statuses.push(p.status);
  assert.equal(statuses.at(-1), 'success');
  await assert.rejects(ollama().pull({ model: 'llama3.2' }), (e) => e.status_code >= 400 && /not available locally/.test(e.error));
  const push = await json('/api/push', { body: { name: MODEL } });
  assert.equal(push.status, 400);
  assert.equal(push.body.error, 'push is not supported');
});

test('copy, then delete (CP-01, DL-01)', async () => {
  await ollama().copy({ source: MODEL, destination: 'my-stories:v1' });
  assert.ok((await names()).includes('my-stories:v1'));
  const copied = await ollama().generate({ model: 'my-stories:v1', prompt: 'Once', options: { num_predict: 2 } });
  assert.equal(copied.done, true);
  const missing = await json('/api/copy', { body: { source: 'nope', destination: 'x' } });
  assert.equal(missing.status, 404);
  assert.equal(missing.body.error, 'model "nope" not found');
  const invalid = await json('/api/copy', { body: { source: MODEL, destination: 'bad name' } });
  assert.equal(invalid.status, 400);
  await ollama().delete({ model: 'my-stories:v1' });
  assert.ok(!(await names()).includes('my-stories:v1'));
  await assert.rejects(ollama().delete({ model: 'my-stories:v1' }), (e) => e.status_code === 404);
});

test('blobs and create from an uploaded GGUF; create from a model with overrides (B-01, B-02, CR-01..CR-03)', async () => {
  const bytes = readFileSync(process.env.STRATA_MODEL);
  const digest = 'sha256:' + createHash('sha256').update(bytes).digest('hex');
  assert.equal((await request(`/api/blobs/${digest}`, { method: 'HEAD' })).status, 404);
  assert.equal((await request('/api/blobs/sha256:123', { method: 'HEAD' })).status, 400);
  const wrong = await json(`/api/blobs/sha256:${'0'.repeat(64)}`, { body: 'not the right bytes' });
  assert.equal(wrong.status, 400);
  assert.match(wrong.body.error, /^digest mismatch/);
  const up = await fetch(`${serverUrl()}/api/blobs/${digest}`, { method: 'POST', body: bytes });
  assert.equal(up.status, 201);
  assert.equal((await request(`/api/blobs/${digest}`, { method: 'HEAD' })).status, 200);
  assert.equal((await fetch(`${serverUrl()}/api/blobs/${digest}`, { method: 'POST', body: bytes })).status, 200);

  const progress = await ollama().create({ model: 'uploaded', files: { 'stories260K.gguf': digest }, stream: true });
  const statuses = [];
  for await (const p of progress) statuses.push(p.status);
  assert.equal(statuses.at(-1), 'success');
  assert.ok(statuses.includes('parsing GGUF'));
  assert.ok((await names()).includes('uploaded:latest'));
  const r = await ollama().generate({ model: 'uploaded', prompt: 'Once', options: { num_predict: 3 } });
  assert.equal(r.eval_count, 3);

  const derived = await ollama().create({ model: 'storyteller', from: 'uploaded', system: 'Once upon a time', parameters: { temperature: 0, stop: ['zzz'] } });
  assert.equal(derived.status, 'success');
  const show = await ollama().show({ model: 'storyteller' });
  assert.equal(show.system, 'Once upon a time');
  assert.match(show.parameters, /temperature\s+0/);
  assert.equal(show.details.parent_model, 'uploaded:latest');
  // The model's temperature 0 applies: two runs agree without any request options.
  const a = await ollama().generate({ model: 'storyteller', prompt: 'the dog', options: { num_predict: 8 } });
  const b = await ollama().generate({ model: 'storyteller', prompt: 'the dog', options: { num_predict: 8 } });
  assert.equal(a.response, b.response);

  for (const [body, status] of [
    [{ model: 'x' }, 400],
    [{ model: 'bad name', from: MODEL }, 400],
    [{ model: 'x', from: MODEL, quantize: 'q4_K_M' }, 400],
    [{ model: 'x', files: { 'a.gguf': 'sha256:zz' } }, 400],
    [{ model: 'x', files: { '/abs.gguf': digest } }, 400],
    [{ model: 'x', from: 'not-there' }, 404],
    [{ model: 'x', from: MODEL, template: '{{ .Prompt }}' }, 400],
  ]) {
    const e = await json('/api/create', { body });
    assert.equal(e.status, status, JSON.stringify(body));
    assert.ok(e.body.error.length > 0);
  }
  const notGguf = 'plain text, not a GGUF';
  const ngDigest = 'sha256:' + createHash('sha256').update(notGguf).digest('hex');
  assert.equal((await request(`/api/blobs/${ngDigest}`, { body: notGguf })).status, 201);
  const ng = await json('/api/create', { body: { model: 'x', files: { 'x.gguf': ngDigest }, stream: false } });
  assert.equal(ng.status, 400);
  assert.match(ng.body.error, /not in GGUF format/);

  await ollama().delete({ model: 'storyteller' });
  await ollama().delete({ model: 'uploaded' });
  assert.ok(!(await names()).includes('uploaded:latest'));
  assert.equal((await request(`/api/blobs/${digest}`, { method: 'HEAD' })).status, 404, 'an unreferenced blob is removed');
});

test('a command-line model cannot be deleted through the API', async () => {
  const r = await json('/api/delete', { method: 'DELETE', body: { model: MODEL } });
  assert.equal(r.status, 400);
  assert.ok((await names()).includes(`${MODEL}:latest`));
});

test('create streams progress lines ending in success (G-10)', async () => {
  const r = await request('/api/create', { body: { model: 'tmp-alias', from: MODEL } });
  const lines = await ndjsonLines(r);
  assert.deepEqual(lines.at(-1), { status: 'success' });
  await ollama().delete({ model: 'tmp-alias' });
});
