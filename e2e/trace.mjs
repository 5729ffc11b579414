// Where the playground's frame time goes: plays the `#load` bench topology for a few seconds
// under Chromium's performance tracing and prints the time per trace event kind (script,
// style, layout, paint, GC) plus per-frame phase timings the app reports on `window.__phases`
// when present. A development aid next to bench.mjs.
//
// Usage: node e2e/trace.mjs [--dist DIR] [--seconds N] [--speed 0..100] [--out trace.json]

import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { openPlayground, option, root } from './run.mjs';

const dist = resolve(option('--dist', join(root, 'dist')));
const seconds = Number(option('--seconds', '4'));
// The speed slider's position (100: 1 ms of screen time per hop, as bench.mjs plays).
const speed = option('--speed', '100');
const out = option('--out', null);
// Experiments without a rebuild: extra CSS injected after load.
const css = option('--css', null);

const { server, url, browser } = await openPlayground(dist);
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 720 } });
  await page.goto(`${url}#load`, { waitUntil: 'load' });
  await page.locator('svg.topology .node').first().waitFor({ timeout: 30_000 });
  if (css) await page.addStyleTag({ content: css });
  await page.locator('input[aria-label=speed]').fill(speed);
  await page.click('.ctl.play');
  await page.waitForTimeout(1000);
  await browser.startTracing(page, {
    categories: ['devtools.timeline', 'disabled-by-default-devtools.timeline', 'v8', 'blink.user_timing', ...(process.env.INVALIDATIONS ? ['disabled-by-default-devtools.timeline.invalidationTracking'] : [])],
  });
  const frames = await page.evaluate(
    (ms) =>
      new Promise((done) => {
        let n = 0;
        const start = performance.now();
        const tick = (t) => {
          n += 1;
          if (t - start < ms) requestAnimationFrame(tick);
          else done(n);
        };
        requestAnimationFrame(tick);
      }),
    seconds * 1000,
  );
  const buf = await browser.stopTracing();
  if (out) await writeFile(out, buf);
  const events = JSON.parse(buf.toString()).traceEvents;
  // Self time per event name on the renderer main thread (complete events only).
  const main = events.find((e) => e.name === 'thread_name' && e.args?.name === 'CrRendererMain');
  const tid = main?.tid;
  const pid = main?.pid;
  const mine = events
    .filter((e) => e.tid === tid && e.pid === pid && (e.ph === 'X' || e.ph === 'B' || e.ph === 'E'))
    .sort((a, b) => a.ts - b.ts);
  // Turn B/E into durations.
  const spans = [];
  const stack = [];
  for (const e of mine) {
    if (e.ph === 'X') spans.push({ name: e.name, ts: e.ts, end: e.ts + (e.dur || 0) });
    else if (e.ph === 'B') stack.push(e);
    else if (e.ph === 'E') {
      const b = stack.pop();
      if (b) spans.push({ name: b.name, ts: b.ts, end: e.ts });
    }
  }
  spans.sort((a, b) => a.ts - b.ts || b.end - a.end);
  const self = new Map();
  const open = [];
  for (const s of spans) {
    while (open.length && open[open.length - 1].end <= s.ts) open.pop();
    s.self = s.end - s.ts;
    if (open.length) open[open.length - 1].self -= s.end - s.ts;
    open.push(s);
  }
  for (const s of spans) self.set(s.name, (self.get(s.name) || 0) + s.self);
  const total = seconds * 1000;
  console.log(`trace: ${frames} animation frames in ${seconds} s = ${(frames / seconds).toFixed(1)} fps`);
  const busy = [...self.values()].reduce((a, b) => a + b, 0);
  console.log(`trace: main thread busy ${(busy / 1000 / seconds).toFixed(0)} ms per second; self time per event (ms per second):`);
  for (const [name, us] of [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, 25)) {
    console.log(`  ${(us / 1000 / seconds).toFixed(1).padStart(7)}  ${name}`);
  }
  // Per rendered frame (everything up to and including a Commit): median, p90 and worst of
  // each phase, and the elements restyled.
  const per = [];
  let cur = null;
  for (const e of mine.filter((e) => e.ph === 'X')) {
    if (!cur) {
      cur = { script: 0, style: 0, restyled: 0, layout: 0, prepaint: 0, paint: 0, layerize: 0 };
      per.push(cur);
    }
    if (e.name === 'Commit') cur = null;
    const d = (e.dur || 0) / 1000;
    if (e.name === 'FunctionCall') cur.script += d;
    else if (e.name === 'UpdateLayoutTree') {
      cur.style += d;
      cur.restyled += e.args?.elementCount || 0;
    } else if (e.name === 'Layout') cur.layout += d;
    else if (e.name === 'PrePaint') cur.prepaint += d;
    else if (e.name === 'Paint' && e.args?.data?.nodeName === '#document') cur.paint += d;
    else if (e.name === 'Layerize') cur.layerize += d;
  }
  const stat = (k) => {
    const v = per.map((r) => r[k]).sort((a, b) => a - b);
    const med = v[Math.floor(v.length / 2)] || 0;
    const p90 = v[Math.floor(v.length * 0.9)] || 0;
    return `${k} ${med.toFixed(1)}/${p90.toFixed(1)}/${(v[v.length - 1] || 0).toFixed(1)}`;
  };
  console.log(`trace: per frame, median/p90/worst (ms; restyled: elements): ${['script', 'style', 'restyled', 'layout', 'prepaint', 'paint', 'layerize'].map(stat).join(', ')}`);
  const phases = await page.evaluate(() => window.__phases || null);
  if (phases) console.log('trace: app phases since load (web/src/dom.rs Phases: totals and worst, ms):', phases);
} finally {
  await browser.close();
  server.close();
}
