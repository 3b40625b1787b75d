// tests/server/js/strata_page.test.mjs: the /strata page in headless Chromium (Debian's chromium, driven over
// the DevTools protocol by playwright-core) while a generation streams: the page draws every loaded model,
// its figures are the ones /api/strata/stats gives, and the browser reports no console errors. The screenshot
// goes to $STRATA_SCREENSHOT (docs/strata-page.png is one), else a temporary folder.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { MODEL, startServer, stats, waitFor } from './helpers.mjs';

const CHROMIUM = process.env.STRATA_CHROMIUM || '/usr/bin/chromium';
const PROFILE = fileURLToPath(new URL('../../cli/profile_2core.json', import.meta.url));
const FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
               '--disable-component-update', '--disable-sync'];

// The page's formatting, restated: a figure's text must be its value in these units.
const FORMAT = {
  bytes(v) { const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB']; let i = 0; while (v >= 1024 && i < u.length - 1) { v /= 1024; i++; }
             return (i ? v.toFixed(1) : String(v)) + ' ' + u[i]; },
  count: (v) => String(v),
  tps: (v) => v.toFixed(1) + ' tok/s',
  pct: (v) => (100 * v).toFixed(1) + '%',
  gbps: (v) => v.toFixed(2) + ' GB/s',
};
const lookup = (obj, path) => path.split('.').reduce((o, k) => (o === null || o === undefined ? undefined : o[k]), obj);
// Figures fixed while the model stays loaded: the page must show exactly what a fresh fetch gives.
const FIXED = ['decode.predicted_tokens_per_s', 'prefill.predicted_tokens_per_s', 'context_length',
               'memory.budget_bytes', 'memory.planned_bytes', 'memory.resident_bytes', 'expert_cache.ram.predicted'];

test('/strata draws the loaded model live from /api/strata/stats, with no console errors', async () => {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing (tools/install-deps.sh installs Debian's chromium)`);
  const server = await startServer(['--profile', PROFILE, '--token-delay-ms', '40']);
  const userData = mkdtempSync(join(tmpdir(), 'strata-chromium-'));
  let browser;
  const generation = new AbortController();
  let keepGenerating = true;
  try {
    // Generations stream one after another (a short story may end early) until the page has been checked.
    const streaming = (async () => {
      while (keepGenerating) {
        await fetch(server.url + '/api/generate', {
          method: 'POST', signal: generation.signal,
          body: JSON.stringify({ model: MODEL, prompt: 'Once upon a time', stream: true,
                                 options: { num_predict: 300, temperature: 0.8 } }),
        }).then((r) => r.text()).catch(() => '');
      }
    })();
    await waitFor(async () => {
      const s = await stats(server.url);
      return s.models.length === 1 && s.models[0].generating && s.models[0].pieces_generated >= 3;
    }, 20000, 'the generation to start streaming');

    browser = await chromium.launchPersistentContext(userData, {
      executablePath: CHROMIUM, headless: true, args: FLAGS, viewport: { width: 1180, height: 900 },
    });
    const page = browser.pages()[0] || await browser.newPage();
    const errors = [];
    page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
    page.on('pageerror', (e) => errors.push(String(e)));
    page.on('requestfailed', (r) => errors.push(`request failed: ${r.url()}`));
    await page.goto(server.url + '/strata', { waitUntil: 'load' });
    // Two polls drawn, the plan picture in place, and the model shown generating with a live decode figure.
    await page.waitForFunction(() => Number(document.body.dataset.updates || 0) >= 2 &&
      document.querySelector('.model .plan svg') && document.querySelector('.model .state').textContent === 'generating' &&
      Number(document.querySelector('[data-field="decode.tokens_per_s"]').dataset.value) > 0, null, { timeout: 20000 });

    const shown = await page.evaluate(() => ({
      last: window.strataLast,
      header: [...document.querySelectorAll('header [data-field]')].map((e) => ({ field: e.dataset.field, unit: e.dataset.unit, value: e.dataset.value, text: e.textContent })),
      models: [...document.querySelectorAll('.model')].map((sec) => ({
        name: sec.dataset.name, path: sec.dataset.path,
        figures: [...sec.querySelectorAll('[data-field]')].map((e) => ({ field: e.dataset.field, unit: e.dataset.unit, value: e.dataset.value, text: e.textContent })),
        tiers: [...sec.querySelectorAll('.plan svg g.tier')].map((g) => ({ tier: g.dataset.tier, weight_bytes: Number(g.dataset.weightBytes), kv_bytes: Number(g.dataset.kvBytes) })),
      })),
    }));
    const fresh = await stats(server.url);

    // Every figure on the page is the number of the stats object it last drew, in the page's units.
    const check = (figs, obj) => {
      for (const f of figs) {
        const v = lookup(obj, f.field);
        if (typeof v !== 'number') { assert.equal(f.text, '–', `${f.field} has no value but shows ${f.text}`); continue; }
        assert.equal(Number(f.value), v, `${f.field}`);
        assert.equal(f.text, FORMAT[f.unit](v), `${f.field} text`);
      }
    };
    check(shown.header, shown.last);
    assert.equal(shown.models.length, 1);
    assert.equal(fresh.models.length, 1);
    const pageModel = shown.models[0], lastModel = shown.last.models[0], freshModel = fresh.models[0];
    check(pageModel.figures, lastModel);
    assert.equal(pageModel.name, freshModel.name);
    assert.equal(pageModel.path, freshModel.path);
    assert.ok(pageModel.figures.length >= 15, 'every card is drawn');
    // ... and the same as what the server says now, for the figures that do not move while it is loaded.
    for (const field of FIXED) assert.deepEqual(lookup(lastModel, field), lookup(freshModel, field), field);
    assert.ok(typeof freshModel.decode.predicted_tokens_per_s === 'number' && freshModel.decode.predicted_tokens_per_s > 0);
    assert.ok(lastModel.decode.tokens_per_s > 0 && freshModel.decode.tokens_per_s > 0, 'live decode speed');
    assert.ok(lastModel.sequences_in_flight >= 1, 'the streaming generation is in flight');
    assert.ok(shown.last.tokens_generated <= fresh.tokens_generated);
    // The plan picture: one bar per tier, weights and KV cache as the stats give them.
    assert.deepEqual(pageModel.tiers.map((t) => t.tier), ['gpu', 'pinned', 'ram', 'disk']);
    for (const t of pageModel.tiers) {
      const s = freshModel.plan.tiers.find((x) => x.tier === t.tier);
      assert.ok(s, `tier ${t.tier} in the stats`);
      assert.equal(t.weight_bytes, s.weight_bytes, `${t.tier} weights`);
      assert.equal(t.kv_bytes, s.kv_bytes, `${t.tier} kv`);
    }
    assert.ok(pageModel.tiers.reduce((a, t) => a + t.weight_bytes, 0) > 0);

    const out = process.env.STRATA_SCREENSHOT || join(userData, 'strata-page.png');
    await page.screenshot({ path: out, fullPage: true });
    assert.ok(existsSync(out));
    assert.deepEqual(errors, [], 'the page logged errors');
    await browser.close();
    browser = undefined;
    keepGenerating = false;
    generation.abort();
    await streaming;
  } finally {
    keepGenerating = false;
    generation.abort();
    if (browser) await browser.close().catch(() => {});
    rmSync(userData, { recursive: true, force: true });
    assert.equal(await server.stop(), 0);
  }
});
