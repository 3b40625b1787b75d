// server/strata_page.cc: the /strata page's HTML, CSS and script. Figures are written with textContent, each
// in an element carrying data-field (its path in /api/strata/stats) and data-value (the raw number shown).
#include "server/strata_page.h"

namespace strata::server {

const std::string_view kStrataPageHtml = R"STRATA(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>strata: live</title>
<style>
  :root { --fg: #1d232a; --muted: #5d6873; --line: #dde2e7; --bg: #f6f7f9; --accent: #4e79a7; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 14px/1.4 Helvetica, Arial, sans-serif; color: var(--fg); background: var(--bg); }
  header { display: flex; align-items: baseline; gap: 24px; padding: 14px 24px; background: #1d232a; color: #fff; }
  header h1 { margin: 0; font-size: 20px; }
  header .fig { font-variant-numeric: tabular-nums; }
  header span { color: #c8d0d8; }
  main { padding: 16px 24px; display: grid; gap: 16px; }
  .model { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 16px 18px; }
  .model h2 { margin: 0 0 4px; font-size: 17px; }
  .model .path { color: var(--muted); font-size: 12px; margin-bottom: 12px; word-break: break-all; }
  .grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(160px, 1fr)); gap: 10px; margin-bottom: 12px; }
  .card { border: 1px solid var(--line); border-radius: 6px; padding: 8px 10px; }
  .card .label { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
  .card .big { font-size: 22px; font-weight: bold; font-variant-numeric: tabular-nums; }
  .card .sub { color: var(--muted); font-size: 12px; font-variant-numeric: tabular-nums; }
  .meter { height: 6px; background: #eceff2; border-radius: 3px; margin-top: 6px; overflow: hidden; }
  .meter > div { height: 100%; background: var(--accent); width: 0; }
  .spark { width: 100%; height: 28px; display: block; margin-top: 4px; }
  .plan svg { max-width: 100%; height: auto; }
  .empty { color: var(--muted); padding: 24px; text-align: center; }
  .state { font-size: 12px; padding: 1px 8px; border-radius: 9px; background: #eceff2; margin-left: 8px; }
  .state.on { background: #d9ecd5; color: #2c6b22; }
  .note { color: var(--muted); font-size: 12px; font-style: italic; margin-top: 4px; }
</style>
</head>
<body>
<header>
  <h1>strata</h1>
  <span>resident memory <b class="fig" data-field="rss_bytes" data-unit="bytes">–</b></span>
  <span>tokens generated (finished requests) <b class="fig" data-field="tokens_generated" data-unit="count">–</b></span>
  <span>requests pending <b class="fig" data-field="jobs_pending" data-unit="count">–</b></span>
  <span id="updated">connecting…</span>
</header>
<main id="models"><div class="empty">no model loaded yet: send a request to /api/generate or /api/chat</div></main>
<template id="model-template">
  <section class="model">
    <h2><span class="name"></span><span class="state"></span></h2>
    <div class="path"></div>
    <div class="grid">
      <div class="card"><div class="label">decode</div>
        <div class="big"><span class="fig" data-field="decode.tokens_per_s" data-unit="tps"></span></div>
        <div class="sub">predicted <span class="fig" data-field="decode.predicted_tokens_per_s" data-unit="tps"></span></div>
        <div class="meter"><div data-meter="decode"></div></div>
        <svg class="spark" viewBox="0 0 120 28" preserveAspectRatio="none"><polyline fill="none" stroke="#4e79a7" stroke-width="1.5" points=""/></svg></div>
      <div class="card"><div class="label">prefill</div>
        <div class="big"><span class="fig" data-field="prefill.tokens_per_s" data-unit="tps"></span></div>
        <div class="sub">predicted <span class="fig" data-field="prefill.predicted_tokens_per_s" data-unit="tps"></span></div>
        <div class="meter"><div data-meter="prefill"></div></div></div>
      <div class="card"><div class="label">sequences in flight</div>
        <div class="big"><span class="fig" data-field="sequences_in_flight" data-unit="count"></span></div>
        <div class="sub">queued <span class="fig" data-field="queued" data-unit="count"></span>,
          context <span class="fig" data-field="context_length" data-unit="count"></span></div></div>
      <div class="card"><div class="label">expert cache hits</div>
        <div class="sub">RAM <span class="fig" data-field="expert_cache.ram.hit_rate" data-unit="pct"></span>
          (predicted <span class="fig" data-field="expert_cache.ram.predicted" data-unit="pct"></span>)</div>
        <div class="sub">GPU <span class="fig" data-field="expert_cache.gpu.hit_rate" data-unit="pct"></span>
          (predicted <span class="fig" data-field="expert_cache.gpu.predicted" data-unit="pct"></span>)</div>
        <div class="note" data-note="experts">dense model: no experts</div></div>
      <div class="card"><div class="label">disk and PCIe</div>
        <div class="sub">disk <span class="fig" data-field="disk.gb_per_s" data-unit="gbps"></span>,
          read <span class="fig" data-field="disk.bytes_read" data-unit="bytes"></span></div>
        <div class="sub">PCIe <span class="fig" data-field="pcie.gb_per_s" data-unit="gbps"></span></div>
        <div class="note" data-note="disk">every weight resident: no disk reads</div>
        <div class="note" data-note="pcie">no GPU computes in this build: no PCIe traffic</div></div>
      <div class="card"><div class="label">memory</div>
        <div class="big"><span class="fig" data-field="memory.resident_bytes" data-unit="bytes"></span></div>
        <div class="sub">budget <span class="fig" data-field="memory.budget_bytes" data-unit="bytes"></span>,
          planned <span class="fig" data-field="memory.planned_bytes" data-unit="bytes"></span></div>
        <div class="meter"><div data-meter="memory"></div></div></div>
    </div>
    <div class="plan"></div>
  </section>
</template>
<script>
"use strict";
// Formatting: one function per unit; "–" where the server has no figure (null or absent).
const fmt = {
  bytes(v) { const u = ["B", "KiB", "MiB", "GiB", "TiB"]; let i = 0; while (v >= 1024 && i < u.length - 1) { v /= 1024; i++; }
             return (i ? v.toFixed(1) : String(v)) + " " + u[i]; },
  count(v) { return String(v); },
  tps(v) { return v.toFixed(1) + " tok/s"; },
  pct(v) { return (100 * v).toFixed(1) + "%"; },
  gbps(v) { return v.toFixed(2) + " GB/s"; },
};
function lookup(obj, path) {
  return path.split(".").reduce((o, k) => (o === null || o === undefined) ? undefined : o[k], obj);
}
// Fills every data-field element under root from obj; keeps the raw number in data-value.
function fill(root, obj) {
  for (const el of root.querySelectorAll("[data-field]")) {
    const v = lookup(obj, el.dataset.field);
    const known = typeof v === "number";
    el.dataset.value = known ? String(v) : "";
    el.textContent = known ? fmt[el.dataset.unit](v) : "–";
  }
}
function meter(el, value, full) {
  el.style.width = (full > 0 && value > 0 ? Math.min(100, 100 * value / full) : 0) + "%";
}
const history = new Map();  // model path -> recent decode tok/s (one per poll, last 60)
const cards = new Map();    // model path -> its section
function draw_model(m) {
  let sec = cards.get(m.path);
  if (!sec) {
    sec = document.getElementById("model-template").content.firstElementChild.cloneNode(true);
    sec.dataset.path = m.path;
    cards.set(m.path, sec);
  }
  sec.dataset.name = m.name;
  sec.querySelector(".name").textContent = m.name;
  const state = sec.querySelector(".state");
  state.textContent = m.generating ? "generating" : (m.busy ? "busy" : "idle");
  state.classList.toggle("on", m.generating);
  sec.querySelector(".path").textContent = m.path + (m.plan ? " · mode " + m.plan.mode : " · loaded without a hardware profile: no plan");
  fill(sec, m);
  sec.querySelector("[data-note=experts]").hidden = m.moe;
  sec.querySelector("[data-note=disk]").hidden = m.disk !== null;
  sec.querySelector("[data-note=pcie]").hidden = m.pcie !== null;
  meter(sec.querySelector("[data-meter=decode]"), m.decode.tokens_per_s, m.decode.predicted_tokens_per_s);
  meter(sec.querySelector("[data-meter=prefill]"), m.prefill.tokens_per_s, m.prefill.predicted_tokens_per_s);
  meter(sec.querySelector("[data-meter=memory]"), m.memory.resident_bytes, m.memory.budget_bytes);
  const h = history.get(m.path) || [];
  h.push(m.generating ? m.decode.tokens_per_s : 0);
  while (h.length > 60) h.shift();
  history.set(m.path, h);
  const top = Math.max(1e-9, m.decode.predicted_tokens_per_s || 0, ...h);
  sec.querySelector(".spark polyline").setAttribute("points",
      h.map((v, i) => (i * 2) + "," + (27 - 26 * v / top).toFixed(1)).join(" "));
  const plan = sec.querySelector(".plan");
  const svg = m.plan ? m.plan.svg : "";
  if (plan.dataset.svgLength !== String(svg.length)) {  // the plan is fixed while loaded: draw it once
    plan.innerHTML = svg.replace(/^<\?xml[^>]*>\s*/, "");
    plan.dataset.svgLength = String(svg.length);
  }
  return sec;
}
function draw(stats) {
  fill(document.querySelector("header"), stats);
  const main = document.getElementById("models");
  const models = stats.models || [];
  const seen = new Set(models.map(m => m.path));
  for (const path of [...cards.keys()]) if (!seen.has(path)) { cards.get(path).remove(); cards.delete(path); history.delete(path); }
  if (!models.length) {
    main.replaceChildren(Object.assign(document.createElement("div"), {className: "empty",
      textContent: "no model loaded yet: send a request to /api/generate or /api/chat"}));
  } else {
    main.replaceChildren(...models.map(draw_model));
  }
  window.strataLast = stats;  // what the page shows now (for tests and the curious)
  document.getElementById("updated").textContent = "updated " + new Date().toLocaleTimeString();
  document.body.dataset.updates = String(Number(document.body.dataset.updates || 0) + 1);
}
async function poll() {
  try {
    const r = await fetch("/api/strata/stats", {cache: "no-store"});
    if (r.ok) draw(await r.json());
    else document.getElementById("updated").textContent = "stats answered " + r.status;
  } catch (e) {
    document.getElementById("updated").textContent = "server unreachable";
  }
  setTimeout(poll, 1000);
}
poll();
</script>
</body>
</html>
)STRATA";

}  // namespace strata::server
