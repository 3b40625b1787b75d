// tests/server/js/progress.test.mjs: /api/pull and /api/create stream Ollama's progress objects: a layer's
// object carries status, digest, total and completed (ollama-js reads them for its progress bars).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { Ollama } from 'ollama';
import { MODEL, serverUrl } from './helpers.mjs';

const ollama = () => new Ollama({ host: serverUrl() });

function assertLayerProgress(objects, digest, size) {
  const layer = objects.find((p) => p.digest === digest);
  assert.ok(layer, `a progress object names ${digest}: ${JSON.stringify(objects)}`);
  assert.equal(layer.total, size);
  assert.equal(layer.completed, size);
  assert.equal(typeof layer.status, 'string');
  assert.equal(objects.at(-1).status, 'success');
}

test('pull streams a layer object with digest, total and completed', async () => {
  // The layer is the model's entry as /api/tags lists it (a served path's digest names the entry).
  const entry = (await ollama().list()).models.find((m) => m.name === `${MODEL}:latest`);
  assert.ok(entry, 'the test model is listed');
  const digest = 'sha256:' + entry.digest;
  const objects = [];
  for await (const p of await ollama().pull({ model: MODEL, stream: true })) objects.push(p);
  assertLayerProgress(objects, digest, statSync(process.env.STRATA_MODEL).size);
  assert.equal(objects.find((p) => p.digest === digest).status, 'pulling ' + digest.slice(7, 19));
});

test('create from an uploaded GGUF streams its layer with digest, total and completed', async () => {
  const bytes = readFileSync(process.env.STRATA_MODEL);
  const digest = 'sha256:' + createHash('sha256').update(bytes).digest('hex');
  const up = await fetch(`${serverUrl()}/api/blobs/${digest}`, { method: 'POST', body: bytes });
  assert.ok(up.status === 201 || up.status === 200);
  const objects = [];
  for await (const p of await ollama().create({ model: 'progress-check', files: { 'm.gguf': digest }, stream: true })) objects.push(p);
  assertLayerProgress(objects, digest, bytes.length);
  await ollama().delete({ model: 'progress-check' });
});
