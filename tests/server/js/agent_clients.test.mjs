// tests/server/js/agent_clients.test.mjs: tool round trips through the agent frameworks and the newer
// APIs: openai-node's Responses API (/v1/responses), the Anthropic SDK (/v1/messages), LangChain
// (@langchain/openai, @langchain/ollama: bindTools, withStructuredOutput) and the AI SDK (ai with
// @ai-sdk/openai-compatible and ollama-ai-provider-v2). Models and tools come from agent_helpers.mjs:
// synthetic weights in real chat templates; calls are forced, so random weights still make one.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { ChatOpenAI } from '@langchain/openai';
import { ChatOllama } from '@langchain/ollama';
import { AIMessage, HumanMessage, ToolMessage } from '@langchain/core/messages';
import { generateText, streamText, tool, jsonSchema, stepCountIs } from 'ai';
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import { createOllama } from 'ollama-ai-provider-v2';
import { json as jsonAt } from './helpers.mjs';
import { familyModel, WEATHER_TOOL, TIME_TOOL, startAgentServer } from './agent_helpers.mjs';

const CITIES = ['Paris', 'Tokyo', 'Lima'];
const weatherParams = WEATHER_TOOL.function.parameters;
let qwen, llama, server, url;
const json = (path, opts = {}) => jsonAt(path, { ...opts, base: url });
before(async () => {
  server = await startAgentServer();
  url = server.url;
  qwen = await familyModel(url, 'qwen3');
  llama = await familyModel(url, 'llama31');
});
after(async () => server?.stop());

test('openai-node responses: a forced function_call, then function_call_output round trip', async () => {
  const client = new OpenAI({ baseURL: url + '/v1', apiKey: 'strata' });
  const tools = [{ type: 'function', name: 'get_weather', description: 'weather', parameters: weatherParams, strict: false }];
  const r = await client.responses.create({ model: qwen, input: 'Weather in Paris?', instructions: 'Use tools.',
                                            tools, tool_choice: 'required', temperature: 0, max_output_tokens: 400 });
  assert.equal(r.object, 'response');
  const call = r.output.find((i) => i.type === 'function_call');
  assert.ok(call, JSON.stringify(r.output));
  assert.equal(call.name, 'get_weather');
  assert.ok(CITIES.includes(JSON.parse(call.arguments).city));
  const r2 = await client.responses.create({
    model: qwen, tools, max_output_tokens: 8,
    input: [{ role: 'user', content: 'Weather in Paris?' }, call,
            { type: 'function_call_output', call_id: call.call_id, output: '18 degrees' }] });
  assert.ok(['completed', 'incomplete'].includes(r2.status));
  assert.equal(typeof r2.output_text, 'string');
  assert.ok(r2.usage.input_tokens > r.usage.input_tokens);
  // Streamed: the events arrive in order and end with response.completed.
  const stream = await client.responses.create({ model: qwen, input: 'Weather?', tools, tool_choice: 'required',
                                                 temperature: 0, max_output_tokens: 400, stream: true });
  const types = [];
  let done;
  for await (const e of stream) {
    types.push(e.type);
    if (e.type === 'response.function_call_arguments.done') done = e;
  }
  assert.equal(types[0], 'response.created');
  assert.equal(types.at(-1), 'response.completed');
  assert.ok(types.includes('response.output_item.added') && types.includes('response.output_item.done'));
  assert.ok(CITIES.includes(JSON.parse(done.arguments).city));
  // An output for a call that never happened is refused.
  const bad = await json('/v1/responses', { body: { model: qwen, input: [{ type: 'function_call_output', call_id: 'x', output: '1' }] } });
  assert.equal(bad.status, 400);
  assert.match(bad.body.error.message, /No tool call found/);
});

test('anthropic sdk: tool_use forced with tool_choice any, tool_result round trip, streamed events', async () => {
  const client = new Anthropic({ baseURL: url, apiKey: 'strata' });
  const tools = [{ name: 'get_weather', description: 'weather', input_schema: weatherParams }];
  const messages = [{ role: 'user', content: 'Weather in Lima?' }];
  const m = await client.messages.create({ model: llama, max_tokens: 400, system: 'Be brief.', messages, tools,
                                           tool_choice: { type: 'any' }, temperature: 0 });
  assert.equal(m.type, 'message');
  assert.equal(m.stop_reason, 'tool_use');
  const use = m.content.find((b) => b.type === 'tool_use');
  assert.ok(use, JSON.stringify(m.content));
  assert.equal(use.name, 'get_weather');
  assert.ok(CITIES.includes(use.input.city));
  messages.push({ role: 'assistant', content: m.content },
                { role: 'user', content: [{ type: 'tool_result', tool_use_id: use.id, content: '18 degrees' }] });
  const m2 = await client.messages.create({ model: llama, max_tokens: 8, messages, tools });
  assert.ok(['end_turn', 'max_tokens', 'tool_use'].includes(m2.stop_reason));
  assert.ok(m2.usage.input_tokens > m.usage.input_tokens);
  // Streamed with the SDK's helper: the final message holds the tool_use block.
  const stream = client.messages.stream({ model: llama, max_tokens: 400, messages: messages.slice(0, 1), tools,
                                          tool_choice: { type: 'tool', name: 'get_weather' }, temperature: 0 });
  const names = [];
  stream.on('streamEvent', (e) => names.push(e.type));
  const final = await stream.finalMessage();
  assert.equal(final.stop_reason, 'tool_use');
  assert.equal(final.content.find((b) => b.type === 'tool_use').name, 'get_weather');
  assert.equal(names[0], 'message_start');
  assert.equal(names.at(-1), 'message_stop');
  assert.ok(names.includes('content_block_start') && names.includes('content_block_stop') && names.includes('message_delta'));
  // Errors in Anthropic's shape: a tool_result without its tool_use.
  const bad = await json('/v1/messages', { body: { model: llama, max_tokens: 8, messages: [
    { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_x', content: 'x' }] }] } });
  assert.equal(bad.status, 400);
  assert.equal(bad.body.type, 'error');
  assert.equal(bad.body.error.type, 'invalid_request_error');
  assert.match(bad.body.error.message, /tool_use_id/);
  const missing = await json('/v1/messages', { body: { model: 'nope', max_tokens: 8, messages } });
  assert.equal(missing.status, 404);
  assert.equal(missing.body.error.type, 'not_found_error');
});

test('langchain ChatOpenAI: bindTools with tool_choice, and withStructuredOutput both ways', async () => {
  const llm = new ChatOpenAI({ model: qwen, apiKey: 'strata', configuration: { baseURL: url + '/v1' },
                               temperature: 0, maxTokens: 400 });
  const bound = llm.bindTools([WEATHER_TOOL, TIME_TOOL], { tool_choice: 'required' });
  const ai = await bound.invoke([new HumanMessage('Weather in Tokyo?')]);
  assert.equal(ai.tool_calls.length, 1, JSON.stringify(ai));
  const call = ai.tool_calls[0];
  assert.ok(['get_weather', 'get_time'].includes(call.name));
  const after = await llm.bindTools([WEATHER_TOOL, TIME_TOOL]).invoke(
    [new HumanMessage('Weather in Tokyo?'), ai, new ToolMessage({ tool_call_id: call.id, content: '18 degrees' })],
    { maxTokens: 8 });
  assert.equal(typeof after.content, 'string');
  const schema = { type: 'object', title: 'weather', properties: { city: { enum: CITIES } }, required: ['city'] };
  for (const method of ['functionCalling', 'jsonSchema']) {
    const out = await llm.withStructuredOutput(schema, { name: 'weather', method }).invoke('Pick a city.');
    assert.ok(CITIES.includes(out.city), `${method}: ${JSON.stringify(out)}`);
  }
});

test('langchain ChatOllama: bindTools round trip and withStructuredOutput', async () => {
  const llm = new ChatOllama({ model: qwen, baseUrl: url, temperature: 0, numPredict: 8, think: false });
  const bound = llm.bindTools([WEATHER_TOOL]);
  const ai = await bound.invoke('Weather in Paris?');  // unforced: the synthetic model may answer in text
  assert.ok(ai instanceof AIMessage);
  // The tool result side: a call (as a model would make it) and its result go back through the template.
  const call = { id: 'call_1', name: 'get_weather', args: { city: 'Paris', metric: true }, type: 'tool_call' };
  const after = await bound.invoke([new HumanMessage('Weather in Paris?'), new AIMessage({ content: '', tool_calls: [call] }),
                                    new ToolMessage({ tool_call_id: 'call_1', content: '18 degrees' })]);
  assert.ok(after instanceof AIMessage);
  const structured = new ChatOllama({ model: qwen, baseUrl: url, temperature: 0, numPredict: 64, think: false })
    .withStructuredOutput({ type: 'object', properties: { city: { enum: CITIES } }, required: ['city'] });
  const out = await structured.invoke('Pick a city.');
  assert.ok(CITIES.includes(out.city), JSON.stringify(out));
});

const weatherTool = (calls) => tool({
  description: 'The current weather in a city',
  inputSchema: jsonSchema(weatherParams),
  execute: async (input) => { calls.push(input); return `18 degrees in ${input.city}`; },
});

for (const [label, provider] of [
  ['@ai-sdk/openai-compatible', () => createOpenAICompatible({ name: 'strata', baseURL: url + '/v1' })],
  ['ollama-ai-provider-v2', () => createOllama({ baseURL: url + '/api' })],
]) {
  test(`AI SDK (${label}): a forced call is executed and its result sent back`, async () => {
    const calls = [];
    const model = provider()(qwen);
    const r = await generateText({
      model, prompt: 'Weather in Paris?', tools: { get_weather: weatherTool(calls) }, temperature: 0,
      maxOutputTokens: 400, stopWhen: stepCountIs(2),
      prepareStep: ({ stepNumber }) => ({ toolChoice: stepNumber === 0 ? 'required' : 'none',
                                          maxOutputTokens: stepNumber === 0 ? 400 : 8 }),
      providerOptions: { ollama: { think: false } },
    });
    assert.equal(calls.length, 1, JSON.stringify(r.steps.map((s) => s.content)));
    assert.ok(CITIES.includes(calls[0].city));
    assert.equal(r.steps.length, 2);
    assert.equal(r.steps[0].finishReason, 'tool-calls');
    // Streamed: the call arrives as one tool-call part.
    const s = streamText({ model, prompt: 'Weather?', tools: { get_weather: weatherTool([]) }, toolChoice: 'required',
                           temperature: 0, maxOutputTokens: 400, providerOptions: { ollama: { think: false } } });
    const parts = [];
    for await (const p of s.fullStream) if (p.type === 'tool-call') parts.push(p);
    assert.equal(parts.length, 1);
    assert.equal(parts[0].toolName, 'get_weather');
  });
}
