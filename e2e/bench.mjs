// Playground benchmark: prints
//  1. the animation frame rate while 16 hypervisors and 64 hosts ping each other (the `#load`
//     script: 2 sites x 8 hypervisors x 4 hosts, every host pinging every 20 ms), measured as
//     requestAnimationFrame callbacks per second over 5 s of playing in headless Chromium
//     (target: a steady 60);
//  2. time to interactive: navigation start to the topology drawn and the controls live;
//     with the app's own split of each frame (simulator, model, view + DOM patch);
//  3. the gzipped size of the wasm + JS the page loads (target: under 1 MiB).
// Serves the release build in ../dist (trunk build --release). Exits non-zero only when the
// page fails to load; the numbers are reported, not judged.
//
// Usage: node e2e/bench.mjs [--dist DIR] [--seconds N]

import { readdir, readFile } from 'node:fs/promises';
import { gzipSync } from 'node:zlib';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { serve, BROWSER_ARGS } from './run.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] ? args[i + 1] : fallback;
};
const dist = resolve(opt('--dist', join(root, 'dist')));
const seconds = Number(opt('--seconds', '5'));

async function main() {
  let wasm = 0;
  let js = 0;
  for (const f of await readdir(dist)) {
    const gz = gzipSync(await readFile(join(dist, f)), { level: 9 }).length;
    if (f.endsWith('.wasm')) wasm += gz;
    else if (f.endsWith('.js')) js += gz;
  }
  const server = await serve(dist);
  const url = `http://127.0.0.1:${server.address().port}/`;
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: BROWSER_ARGS,
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 720 } });
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${url}#load`, { waitUntil: 'load' });
    await page.locator('svg.topology .node').first().waitFor({ timeout: 30_000 });
    await page.locator('.ctl.play').waitFor();
    const tti = await page.evaluate(() => performance.now());
    const hosts = await page.locator('svg.topology .node.host').count();
    const hvs = await page.locator('svg.topology .node.hv').count();
    // Play at 1 ms of virtual time per second (every ping visible on the way), then count
    // animation frames in the page.
    await page.locator('input[aria-label=speed]').fill('50');
    await page.click('.ctl.play');
    await page.waitForTimeout(1000);
    const phases0 = await page.evaluate(() => window.__phases || null);
    const result = await page.evaluate(
      (ms) =>
        new Promise((done) => {
          let frames = 0;
          let worst = 0;
          let last = performance.now();
          const start = last;
          const tick = (t) => {
            frames += 1;
            worst = Math.max(worst, t - last);
            last = t;
            if (t - start < ms) requestAnimationFrame(tick);
            else done({ fps: (frames * 1000) / (t - start), worst, glyphs: document.querySelectorAll('.frames > g').length });
          };
          requestAnimationFrame(tick);
        }),
      seconds * 1000,
    );
    const phases1 = await page.evaluate(() => window.__phases || null);
    const playing = await page.locator('.app').getAttribute('data-playing');
    const t = Number(await page.locator('.app').getAttribute('data-t'));
    console.log(`bench: topology: ${hvs} hypervisors, ${hosts} hosts, all pinging; still playing: ${playing}; virtual time reached ${(t / 1000).toFixed(1)} ms`);
    console.log(`bench: animation: ${result.fps.toFixed(1)} fps over ${seconds} s (worst frame ${result.worst.toFixed(1)} ms; ${result.glyphs} frames on screen at the end) [target 60]`);
    if (phases0 && phases1 && phases1.frames > phases0.frames) {
      // The app's own timings (web/src/dom.rs `Phases`), per animation frame it handled.
      const n = phases1.frames - phases0.frames;
      const per = (k) => ((phases1[`${k}_ms`] - phases0[`${k}_ms`]) / n).toFixed(2);
      console.log(`bench: app time per frame: sim ${per('sim')} ms, model ${per('model')} ms, view + DOM patch ${per('view')} ms (worst since load: ${phases1.sim_worst_ms.toFixed(1)} / ${phases1.model_worst_ms.toFixed(1)} / ${phases1.view_worst_ms.toFixed(1)} ms)`);
    }
    console.log(`bench: time to interactive: ${tti.toFixed(0)} ms [target < 1000]`);
    console.log(`bench: gzipped size: wasm ${(wasm / 1024).toFixed(0)} KiB + JS ${(js / 1024).toFixed(0)} KiB = ${((wasm + js) / 1024).toFixed(0)} KiB [target < 1024 KiB]`);
    if (errors.length) {
      console.error(`bench: page errors: ${errors.join('; ')}`);
      process.exit(1);
    }
  } finally {
    await browser.close();
    server.close();
  }
}

main().catch((e) => {
  console.error(`bench: FAILED: ${e.stack || e}`);
  process.exit(1);
});
