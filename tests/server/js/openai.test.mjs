// tests/server/js/openai.test.mjs: the /v1 API driven by the real `openai` SDK: chat completions and
// completions (streamed and not, usage), models, embeddings (base64 by default), errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { MODEL, serverUrl, json, request, sseEvents } from './helpers.mjs';

// maxRetries 0: a wrong 5xx must fail the test at once, not be retried into a pass.
const client = () => new OpenAI({ baseURL: `${serverUrl()}/v1/`, apiKey: 'anything', maxRetries: 0 });

test('chat completion, not streamed (O-01, O-02, O-05)', async () => {
  const r = await client().chat.completions.create({
    model: MODEL, messages: [{ role: 'system', content: 'Tell a story.' }, { role: 'user', content: 'Hello' }],
    max_tokens: 12, temperature: 0, seed: 1,
  });
  assert.match(r.id, /^chatcmpl-/);
  assert.equal(r.object, 'chat.completion');
  assert.ok(Number.isInteger(r.created));
  assert.equal(r.model, MODEL);
  assert.equal(r.system_fingerprint, 'fp_ollama');
  assert.equal(r.choices.length, 1);
  assert.equal(r.choices[0].message.role, 'assistant');
  assert.ok(r.choices[0].message.content.length > 0);
  assert.equal(r.choices[0].finish_reason, 'length');
  assert.equal(r.usage.completion_tokens, 12);
  assert.equal(r.usage.total_tokens, r.usage.prompt_tokens + r.usage.completion_tokens);
  // max_completion_tokens works too; temperature 0 is reproducible.
  const again = await client().chat.completions.create({
    model: MODEL, messages: [{ role: 'system', content: 'Tell a story.' }, { role: 'user', content: 'Hello' }],
    max_completion_tokens: 12, temperature: 0,
  });
  assert.equal(again.choices[0].message.content, r.choices[0].message.content);
});

test('chat completion, streamed with usage (O-03, O-04)', async () => {
  const stream = await client().chat.completions.create({
    model: MODEL, messages: [{ role: 'user', content: 'Hello' }], max_tokens: 10, temperature: 0, stream: true,
    stream_options: { include_usage: true },
  });
  const chunks = [];
  for await (const c of stream) chunks.push(c);
  const ids = new Set(chunks.map((c) => c.id)), created = new Set(chunks.map((c) => c.created));
  assert.equal(ids.size, 1, 'one id for the whole stream');
  assert.equal(created.size, 1);
  assert.ok(chunks.every((c) => c.object === 'chat.completion.chunk'));
  assert.equal(chunks[0].choices[0].delta.role, 'assistant');
  assert.ok(chunks.slice(1).every((c) => c.choices.length === 0 || !('role' in c.choices[0].delta)), 'role only in the first delta');
  const finish = chunks.at(-2);
  assert.deepEqual(finish.choices[0].delta, {});
  assert.equal(finish.choices[0].finish_reason, 'length');
  const usage = chunks.at(-1);
  assert.deepEqual(usage.choices, []);
  assert.equal(usage.usage.completion_tokens, 10);
  const text = chunks.map((c) => c.choices[0]?.delta?.content ?? '').join('');
  const whole = await client().chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'Hello' }], max_tokens: 10, temperature: 0 });
  assert.equal(text, whole.choices[0].message.content);
});

test('SSE framing on the wire: data lines, [DONE], no usage chunk unless asked (O-03)', async () => {
  const r = await request('/v1/chat/completions', {
    body: { model: MODEL, messages: [{ role: 'user', content: 'Hi' }], max_tokens: 3, stream: true },
    headers: { 'Content-Type': 'application/json' },
  });
  assert.equal(r.headers.get('content-type'), 'text/event-stream');
  const events = await sseEvents(r);
  assert.equal(events.at(-1), '[DONE]');
  assert.ok(events.slice(0, -1).every((e) => e.choices.length === 1), 'no usage chunk without include_usage');
});

test('stop as a string or a list (O-02)', async () => {
  const base = await client().chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'Once' }], max_tokens: 30, temperature: 0 });
  const text = base.choices[0].message.content;
  const word = text.split(' ').filter((w) => w.length >= 3)[2];
  for (const stop of [word, [word, 'zzzz']]) {
    const r = await client().chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'Once' }], max_tokens: 30, temperature: 0, stop });
    assert.equal(r.choices[0].message.content, text.slice(0, text.indexOf(word)));
    assert.equal(r.choices[0].finish_reason, 'stop');
  }
});

test('completions, streamed and not (O-12)', async () => {
  const r = await client().completions.create({ model: MODEL, prompt: 'Once upon a time', max_tokens: 8, temperature: 0 });
  assert.match(r.id, /^cmpl-/);
  assert.equal(r.object, 'text_completion');
  assert.equal(r.choices[0].index, 0);
  assert.equal(r.choices[0].finish_reason, 'length');
  assert.ok(r.choices[0].text.length > 0);
  assert.equal(r.usage.completion_tokens, 8);
  const stream = await client().completions.create({ model: MODEL, prompt: 'Once upon a time', max_tokens: 8, temperature: 0, stream: true, stream_options: { include_usage: true } });
  const chunks = [];
  for await (const c of stream) chunks.push(c);
  assert.ok(chunks.every((c) => c.object === 'text_completion'));
  assert.equal(chunks.at(-1).usage.completion_tokens, 8);
  assert.equal(chunks.at(-2).choices[0].finish_reason, 'length');
  assert.ok(chunks.slice(0, -2).every((c) => c.choices[0].finish_reason === null));
  assert.equal(chunks.map((c) => c.choices[0]?.text ?? '').join(''), r.choices[0].text);
  const arrayPrompt = await json('/v1/completions', { body: { model: MODEL, prompt: ['a', 'b'] } });
  assert.equal(arrayPrompt.status, 400);
  assert.equal(arrayPrompt.body.error.type, 'invalid_request_error');
});

test('models list and retrieve (O-13, O-14)', async () => {
  const ids = [];
  for await (const m of client().models.list()) {
    assert.equal(m.object, 'model');
    assert.ok(Number.isInteger(m.created));
    assert.equal(m.owned_by, 'library');
    ids.push(m.id);
  }
  assert.ok(ids.includes(`${MODEL}:latest`));
  const one = await client().models.retrieve(`${MODEL}:latest`);
  assert.equal(one.id, `${MODEL}:latest`);
  await assert.rejects(client().models.retrieve('nope:latest'), (e) => e.status === 404);
});

test('embeddings: base64 by default (decoded by the SDK), float on request (O-15, O-16)', async () => {
  const r = await client().embeddings.create({ model: MODEL, input: ['hello there', 'the dog'] });
  assert.equal(r.object, 'list');
  assert.equal(r.data.length, 2);
  for (const [i, d] of r.data.entries()) {
    assert.equal(d.object, 'embedding');
    assert.equal(d.index, i);
    assert.equal(d.embedding.length, 64);
    const norm = Math.hypot(...d.embedding);
    assert.ok(Math.abs(norm - 1) < 1e-3, `normalised, got ${norm}`);
  }
  assert.ok(r.usage.prompt_tokens > 0 && r.usage.total_tokens === r.usage.prompt_tokens);
  const f = await client().embeddings.create({ model: MODEL, input: 'hello there', encoding_format: 'float' });
  for (let i = 0; i < 64; i++) assert.ok(Math.abs(f.data[0].embedding[i] - r.data[0].embedding[i]) < 1e-6);
  const bad = await json('/v1/embeddings', { body: { model: MODEL, input: 'x', encoding_format: 'hex' } });
  assert.equal(bad.status, 400);
  const empty = await json('/v1/embeddings', { body: { model: MODEL, input: [] } });
  assert.equal(empty.status, 400);
  const tokens = await json('/v1/embeddings', { body: { model: MODEL, input: [1, 2, 3] } });
  assert.equal(tokens.status, 400);
  assert.equal(tokens.body.error.message, 'invalid input type');
});

test('errors use the OpenAI shape and status (O-09, O-10)', async () => {
  await assert.rejects(client().chat.completions.create({ model: 'nope', messages: [{ role: 'user', content: 'x' }] }),
                       (e) => e instanceof OpenAI.NotFoundError && e.status === 404);
  await assert.rejects(client().chat.completions.create({ model: MODEL, messages: [] }),
                       (e) => e instanceof OpenAI.BadRequestError && /too short/.test(e.message));
  const r = await json('/v1/chat/completions', { body: { model: 'nope', messages: [{ role: 'user', content: 'x' }] } });
  assert.deepEqual(r.body, { error: { message: "model 'nope' not found", type: 'not_found_error', param: null, code: null } });
  const img = await json('/v1/chat/completions', {
    body: { model: MODEL, messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://x/y.png' } }] }] },
  });
  assert.equal(img.status, 400);
  assert.equal(img.body.error.message, 'image URLs are not currently supported, please use base64 encoded data instead');
  for (const body of [
    { model: MODEL, messages: [{ role: 'user', content: 'x' }], response_format: { type: 'json_schema', json_schema: { name: 's' } } },
    { model: MODEL, messages: [{ role: 'user', content: 'x' }], response_format: { type: 'yaml' } },
    { model: MODEL, messages: [{ role: 'user', content: 'x' }], tools: [{ type: 'function', function: { name: 'f' } }] },
    { model: MODEL, messages: [{ role: 'user', content: 'x' }], max_tokens: 'ten' },
  ]) {
    const e = await json('/v1/chat/completions', { body });
    assert.equal(e.status, 400, JSON.stringify(body));
    assert.equal(e.body.error.type, 'invalid_request_error');
  }
});

test('response_format json_object: the reply is JSON (O-07)', async () => {
  const r = await client().chat.completions.create({
    model: MODEL, messages: [{ role: 'user', content: 'Hello' }], max_tokens: 48, temperature: 0, response_format: { type: 'json_object' },
  });
  const text = r.choices[0].message.content;
  assert.match(text, /^[ \n]*\{/, text);
  if (r.choices[0].finish_reason === 'stop') assert.equal(typeof JSON.parse(text), 'object');
  else assert.equal(r.choices[0].finish_reason, 'length');
  const plain = await client().chat.completions.create({
    model: MODEL, messages: [{ role: 'user', content: 'Hello' }], max_tokens: 48, temperature: 0, response_format: { type: 'text' },
  });
  assert.doesNotMatch(plain.choices[0].message.content, /^[ \n]*\{/);
});

test('response_format json_schema: the reply validates (O-07)', async () => {
  // Every member bounded (no free strings or numbers), so even this model's output must close in time.
  const schema = { type: 'object', properties: { answer: { enum: ['yes', 'no'] }, sure: { type: 'boolean' } }, required: ['answer'] };
  const r = await client().chat.completions.create({
    model: MODEL, messages: [{ role: 'user', content: 'Hello' }], max_tokens: 60, seed: 3,
    response_format: { type: 'json_schema', json_schema: { name: 'reply', schema } },
  });
  assert.equal(r.choices[0].finish_reason, 'stop', r.choices[0].message.content);
  const v = JSON.parse(r.choices[0].message.content);
  assert.ok(['yes', 'no'].includes(v.answer));
  if ('sure' in v) assert.equal(typeof v.sure, 'boolean');
});

test('content parts: text parts are joined (O-08)', async () => {
  const r = await client().chat.completions.create({
    model: MODEL, max_tokens: 3, messages: [{ role: 'user', content: [{ type: 'text', text: 'Once upon' }, { type: 'text', text: 'a time' }] }],
  });
  assert.equal(r.choices[0].message.role, 'assistant');
  assert.ok(r.usage.prompt_tokens > 3);
});
