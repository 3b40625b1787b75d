// tests/server/js/agent_helpers.mjs: what the agent tests share: the model families (synthetic weights
// dressed in real chat templates from ../shared/templates, created through /api/create) and the tools.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { json, startServer } from './helpers.mjs';

// The weights behind every templated model: a small llama-shaped synthetic model with byte tokens and
// a context long enough for tool prompts (stories260K holds 128 tokens). Switch the shape here (e.g. to
// `--arch qwen3` once synth has it); the served name is the file's name.
export const SYNTH_ARGS = ['--layers', '2', '--dim', '64', '--heads', '4', '--vocab', '320', '--ctx', '8192', '--seed', '7'];
export const BASE_MODEL = 'agent-base';

const TEMPLATES = join(dirname(dirname(process.env.STRATA_MODEL ?? '')), 'templates');
export const FAMILIES = {
  qwen3: 'Qwen-Qwen3-0.6B.jinja',
  llama31: 'meta-llama-Llama-3.1-8B-Instruct.jinja',
  hermes3: 'NousResearch-Hermes-3-Llama-3.1-8B-tool_use.jinja',
  mistral: 'Mistral-Small-3.2-24B-Instruct-2506.jinja',
  gptoss: 'openai-gpt-oss-120b.jinja',
};

export const WEATHER_TOOL = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'The current weather in a city',
    parameters: {
      type: 'object',
      properties: {
        city: { type: 'string', enum: ['Paris', 'Tokyo', 'Lima'] },
        metric: { type: 'boolean' },
      },
      required: ['city', 'metric'],
    },
  },
};
export const TIME_TOOL = {
  type: 'function',
  function: {
    name: 'get_time',
    description: 'The time in a timezone',
    parameters: { type: 'object', properties: { zone: { enum: ['UTC', 'CET'] } }, required: ['zone'] },
  },
};

// Starts a private `strata serve` on a fresh synthetic model; resolves to { url, stop() }.
// `env` and `args` go to the server (e.g. OLLAMA_NUM_PARALLEL, --max-queue).
export async function startAgentServer({ env = {}, args = [] } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'strata-agents-'));
  const gguf = join(dir, `${BASE_MODEL}.gguf`);
  execFileSync(process.env.STRATA_BIN, ['synth', gguf, ...SYNTH_ARGS, '-q']);
  const server = await startServer(args, { env, model: gguf });
  const stop = server.stop;
  server.stop = async () => {
    await stop();
    rmSync(dir, { recursive: true, force: true });
  };
  return server;
}

// Creates `agent-<family>` from the base weights with the family's template (once per server).
export async function familyModel(base, family) {
  const name = `agent-${family}`;
  const template = readFileSync(join(TEMPLATES, FAMILIES[family]), 'utf8');
  const r = await json('/api/create', { base, body: { model: name, from: BASE_MODEL, template, stream: false } });
  assert.equal(r.status, 200, r.text);
  return name;
}

