// tests/server/js/agents.test.mjs: tool calls and thinking through the real clients (ollama-js,
// openai-node) against `strata serve`, on a synthetic-weight model dressed in real chat templates
// (../shared/templates) via /api/create. Random weights cannot be trusted to call a tool, so the calls
// here are forced (`tool_choice: "required"` or a named function): the server's grammar then makes the
// model write one call in its family's format, which the server parses back. Argument schemas use enums
// and booleans so that the forced JSON is short whatever the weights prefer.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Ollama } from 'ollama';
import OpenAI from 'openai';
import { json as jsonAt } from './helpers.mjs';
import { BASE_MODEL as MODEL, FAMILIES, WEATHER_TOOL, TIME_TOOL, familyModel, startAgentServer } from './agent_helpers.mjs';

const OPTIONS = { temperature: 0, num_predict: 400 };

function checkWeatherArgs(args) {
  assert.ok(['Paris', 'Tokyo', 'Lima'].includes(args.city), JSON.stringify(args));
  assert.equal(typeof args.metric, 'boolean');
}

const models = {};
let server, url;
const json = (path, opts = {}) => jsonAt(path, { ...opts, base: url });
before(async () => {
  server = await startAgentServer();
  url = server.url;
  for (const f of Object.keys(FAMILIES)) models[f] = await familyModel(url, f);
});
after(async () => server?.stop());

for (const family of Object.keys(FAMILIES)) {
  test(`ollama-js: a forced tool call and its result round trip (${family})`, async () => {
    const ollama = new Ollama({ host: url });
    const messages = [{ role: 'user', content: 'What is the weather in Paris?' }];
    const r = await ollama.chat({ model: models[family], messages, tools: [WEATHER_TOOL], tool_choice: 'required',
                                  options: OPTIONS, think: false });
    assert.equal(r.done, true);
    assert.equal(r.message.role, 'assistant');
    assert.equal(r.message.tool_calls?.length, 1, JSON.stringify(r.message));
    const call = r.message.tool_calls[0];
    assert.equal(call.function.name, 'get_weather');
    checkWeatherArgs(call.function.arguments);
    // The result goes back through the template as a tool message.
    messages.push(r.message, { role: 'tool', content: '18 degrees and sunny', tool_name: 'get_weather' });
    const r2 = await ollama.chat({ model: models[family], messages, tools: [WEATHER_TOOL], options: { ...OPTIONS, num_predict: 8 },
                                   think: false });
    assert.equal(r2.done, true);
    assert.ok(r2.prompt_eval_count > r.prompt_eval_count, 'the second prompt holds the call and its result');
  });
}

test('ollama-js: streamed tool calls arrive whole, in one chunk', async () => {
  const ollama = new Ollama({ host: url });
  const stream = await ollama.chat({ model: models.qwen3, messages: [{ role: 'user', content: 'Weather in Lima?' }],
                                     tools: [WEATHER_TOOL, TIME_TOOL], tool_choice: 'required', options: OPTIONS,
                                     stream: true, think: false });
  const calls = [];
  let content = '';
  for await (const part of stream) {
    content += part.message.content;
    for (const c of part.message.tool_calls ?? []) calls.push(c);
  }
  assert.equal(calls.length, 1);
  assert.ok(['get_weather', 'get_time'].includes(calls[0].function.name));
  assert.equal(typeof calls[0].function.arguments, 'object');
  assert.ok(!content.includes('<tool_call>'), 'the call markup is not content');
});

test('openai-node: tool_choice required, then the tool result round trip', async () => {
  const client = new OpenAI({ baseURL: url + '/v1', apiKey: 'strata' });
  const messages = [{ role: 'user', content: 'What is the weather in Tokyo?' }];
  const r = await client.chat.completions.create({ model: models.llama31, messages, tools: [WEATHER_TOOL],
                                                   tool_choice: 'required', temperature: 0, max_tokens: 400 });
  const choice = r.choices[0];
  assert.equal(choice.finish_reason, 'tool_calls');
  assert.equal(choice.message.tool_calls.length, 1);
  const call = choice.message.tool_calls[0];
  assert.equal(call.type, 'function');
  assert.match(call.id, /^call_/);
  assert.equal(call.function.name, 'get_weather');
  checkWeatherArgs(JSON.parse(call.function.arguments));
  messages.push(choice.message, { role: 'tool', tool_call_id: call.id, content: '{"temp": 18}' });
  const r2 = await client.chat.completions.create({ model: models.llama31, messages, tools: [WEATHER_TOOL], max_tokens: 8 });
  assert.ok(['stop', 'length', 'tool_calls'].includes(r2.choices[0].finish_reason));
  assert.ok(r2.usage.prompt_tokens > r.usage.prompt_tokens);
});

test('openai-node: a named function, streamed as delta.tool_calls', async () => {
  const client = new OpenAI({ baseURL: url + '/v1', apiKey: 'strata' });
  const stream = await client.chat.completions.create({
    model: models.hermes3, messages: [{ role: 'user', content: 'What time is it?' }], tools: [WEATHER_TOOL, TIME_TOOL],
    tool_choice: { type: 'function', function: { name: 'get_time' } }, temperature: 0, max_tokens: 400, stream: true });
  const deltas = [];
  let finish;
  for await (const chunk of stream) {
    const c = chunk.choices[0];
    if (!c) continue;
    for (const t of c.delta.tool_calls ?? []) deltas.push(t);
    if (c.finish_reason) finish = c.finish_reason;
  }
  assert.equal(finish, 'tool_calls');
  assert.equal(deltas.length, 1);
  assert.equal(deltas[0].index, 0);
  assert.equal(deltas[0].function.name, 'get_time');
  assert.ok(['UTC', 'CET'].includes(JSON.parse(deltas[0].function.arguments).zone));
});

test('openai-node: Mistral and Harmony formats parse back into calls', async () => {
  const client = new OpenAI({ baseURL: url + '/v1', apiKey: 'strata' });
  for (const family of ['mistral', 'gptoss']) {
    const r = await client.chat.completions.create({ model: models[family], messages: [{ role: 'user', content: 'Paris?' }],
                                                     tools: [WEATHER_TOOL, TIME_TOOL], tool_choice: 'required',
                                                     temperature: 0, max_tokens: 400 });
    const calls = r.choices[0].message.tool_calls;
    assert.equal(calls?.length, 1, `${family}: ${JSON.stringify(r.choices[0].message)}`);
    assert.ok(['get_weather', 'get_time'].includes(calls[0].function.name));
    assert.equal(r.choices[0].message.content, '');
  }
});

test('tool_choice none leaves the tools out; auto lets the model answer in text', async () => {
  const body = { model: models.qwen3, messages: [{ role: 'user', content: 'hi' }], tools: [WEATHER_TOOL], max_tokens: 6 };
  for (const tool_choice of ['none', 'auto']) {
    const r = await json('/v1/chat/completions', { body: { ...body, tool_choice } });
    assert.equal(r.status, 200, r.text);
  }
});

test('malformed tools, unmatched tool messages and bad think values are refused as each API does', async () => {
  const m = models.qwen3;
  const user = [{ role: 'user', content: 'hi' }];
  const cases = [
    ['/api/chat', { model: m, messages: user, tools: 'get_weather' }, /tools/],
    ['/api/chat', { model: m, messages: user, tools: [{ type: 'function', function: { description: 'x' } }] }, /name/],
    ['/api/chat', { model: m, messages: user, think: 'maybe' }, /invalid think value/],
    ['/api/generate', { model: m, prompt: 'hi', think: 7 }, /invalid think value/],
    ['/v1/chat/completions', { model: m, messages: user, tools: [{ type: 'function' }] }, /tools\[0\]/],
    ['/v1/chat/completions', { model: m, messages: user, tools: [WEATHER_TOOL], tool_choice: 'always' }, /tool_choice|Invalid value/],
    ['/v1/chat/completions', { model: m, messages: user, tools: [WEATHER_TOOL],
                               tool_choice: { type: 'function', function: { name: 'nope' } } }, /nope/],
    ['/v1/chat/completions', { model: m, messages: [...user, { role: 'tool', tool_call_id: 'call_x', content: '1' }] },
     /role 'tool' must be a response/],
    ['/v1/chat/completions', { model: m, messages: user, reasoning_effort: 'extreme' }, /invalid reasoning value/],
  ];
  for (const [path, body, pattern] of cases) {
    const r = await json(path, { body });
    assert.equal(r.status, 400, `${path} ${JSON.stringify(body)}: ${r.text}`);
    const message = path.startsWith('/v1') ? r.body.error.message : r.body.error;
    assert.match(message, pattern);
  }
  // Anthropic's route answers in Anthropic's error shape, with its messages.
  const anthropic = [
    [{ tools: [{ description: 'x', input_schema: { type: 'object' } }] }, 'tools.0.name: Field required'],
    [{ tools: [{ name: 'f', input_schema: 'nope' }] }, 'tools.0.input_schema: Field required'],
    [{ thinking: { type: 'sometimes' } }, "thinking.type: Input should be 'enabled' or 'disabled'"],
    [{ messages: [...user, { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_x', content: '1' }] }] },
     'messages.1.content.0: unexpected `tool_use_id` found in `tool_result` blocks: toolu_x. Each `tool_result` block ' +
     'must have a corresponding `tool_use` block in the previous message.'],
  ];
  for (const [extra, message] of anthropic) {
    const r = await json('/v1/messages', { body: { model: m, max_tokens: 4, messages: user, ...extra } });
    assert.equal(r.status, 400, r.text);
    assert.deepEqual(r.body, { type: 'error', error: { type: 'invalid_request_error', message } });
  }
  // The Responses route answers in OpenAI's shape.
  const responses = [
    [{ tools: [{ type: 'function' }] }, "Missing required parameter: 'tools[0].name'."],
    [{ reasoning: { effort: 'extreme' } }, /^Invalid value: 'extreme'\. Supported values are/],
    [{ input: [{ type: 'function_call_output', call_id: 'call_x', output: '1' }] },
     'No tool call found for function call output with call_id call_x.'],
    [{ tools: [WEATHER_TOOL.function].map((f) => ({ type: 'function', ...f })), tool_choice: 'always' }, /^Invalid value: 'always'/],
  ];
  for (const [extra, message] of responses) {
    const r = await json('/v1/responses', { body: { model: m, input: 'hi', ...extra } });
    assert.equal(r.status, 400, r.text);
    assert.deepEqual(Object.keys(r.body.error).sort(), ['code', 'message', 'param', 'type']);
    assert.equal(r.body.error.type, 'invalid_request_error');
    if (typeof message === 'string') assert.equal(r.body.error.message, message);
    else assert.match(r.body.error.message, message);
  }
  // Ollama renders a tool message that answers no call, as Ollama does (it checks nothing there).
  const orphan = await json('/api/chat', { body: { model: m, stream: false, options: { num_predict: 2 }, think: false,
                                                   messages: [...user, { role: 'tool', content: '1', tool_name: 'nope' }] } });
  assert.equal(orphan.status, 200, orphan.text);
  // A model whose template has no tools refuses them as Ollama does.
  const plain = await json('/api/chat', { body: { model: MODEL, messages: user, tools: [WEATHER_TOOL] } });
  assert.equal(plain.status, 400);
  assert.match(plain.body.error, /does not support tools/);
});

test('think on a thinking template: accepted on /api/chat, /api/generate and reasoning_effort', async () => {
  const ollama = new Ollama({ host: url });
  const r = await ollama.chat({ model: models.qwen3, messages: [{ role: 'user', content: 'hi' }], think: true,
                                options: { num_predict: 8 } });
  assert.equal(r.done, true);
  assert.equal(typeof r.message.content, 'string');
  const g = await ollama.generate({ model: models.gptoss, prompt: 'hi', think: 'low', options: { num_predict: 8 } });
  assert.equal(g.done, true);
  const o = await json('/v1/chat/completions', { body: { model: models.qwen3, messages: [{ role: 'user', content: 'hi' }],
                                                         reasoning_effort: 'low', max_tokens: 8 } });
  assert.equal(o.status, 200, o.text);
  // A model without thinking refuses think: true.
  const plain = await json('/api/chat', { body: { model: MODEL, messages: [{ role: 'user', content: 'hi' }], think: true } });
  assert.equal(plain.status, 400);
  assert.match(plain.body.error, /does not support thinking/);
});

test('/v1/completions takes a one-element prompt list (LangChain OpenAI) and refuses several', async () => {
  const one = await json('/v1/completions', { body: { model: MODEL, prompt: ['Once upon a time'], max_tokens: 4 } });
  assert.equal(one.status, 200, one.text);
  assert.equal(typeof one.body.choices[0].text, 'string');
  const two = await json('/v1/completions', { body: { model: MODEL, prompt: ['a', 'b'], max_tokens: 4 } });
  assert.equal(two.status, 400);
  assert.equal(two.body.error.type, 'invalid_request_error');
});
