// Playground benchmark: prints
//  1. the animation while 16 hypervisors and 64 hosts ping each other (the `#load` script:
//     2 sites x 8 hypervisors x 4 hosts, every host pinging every 20 ms), over 5 s of playing
//     in headless Chromium, at the default pace (0.6 s of screen time per hop) and at the
//     fastest (1 ms per hop); then the same under BGP EVPN (`#load-evpn`: the same fabric
//     with a route reflector in dc1, every VTEP's speaker peering with it, the sessions
//     and UPDATEs drawn and badged beside the pings):
//     - "app fps": animation frames the app itself handled per second (each one steps the
//       simulator, moves the frames on the links and patches the DOM; counted by the app,
//       web/src/dom.rs `Phases`). This is the figure the target (a steady 60) is about.
//     - "display rate": requestAnimationFrame callbacks per second in the page. The browser
//       caps it at the display's refresh, so it only shows whether the main thread kept up.
//     - the app's own split of each frame (simulator, model, view + DOM patch), and how far
//       the simulated clock moved;
//  2. time to interactive: navigation start to the first topology node in the DOM (seen by a
//     MutationObserver in the page, so Playwright's polling does not add to it);
//  3. the gzipped size of the wasm + JS the page loads (target: under 1 MiB).
// Serves the release build in ../dist (trunk build --release). Fails when the page does not
// load, reports an error, or playback stalled (the app handled no frames, stopped playing, or
// the simulated clock did not advance while playing); the numbers are reported, not judged.
//
// Usage: node e2e/bench.mjs [--dist DIR] [--seconds N]

import { readdir, readFile } from 'node:fs/promises';
import { gzipSync } from 'node:zlib';
import { join, resolve } from 'node:path';
import { openPlayground, option, root } from './run.mjs';

const dist = resolve(option('--dist', join(root, 'dist')));
const seconds = Number(option('--seconds', '5'));

/** Plays the loaded script at two paces and reports the animation; problems go to `stalled`. */
async function play(page, mode, stalled) {
  const hosts = await page.locator('svg.topology .node.host').count();
  const hvs = await page.locator('svg.topology .node.hv').count();
  // Play at two paces: the default (0.6 s of screen time per hop: what a learner watches)
  // and the fastest (1 ms per hop: the pacer moves the clock through dozens of hops per
  // animation frame, frames come and go by the dozen), and count animation frames.
  await page.click('.ctl.play');
  for (const [speed, pace] of [['30', 'default pace (0.6 s per hop)'], ['100', 'fastest pace (1 ms per hop)']]) {
    await page.locator('input[aria-label=speed]').fill(speed);
    await page.waitForTimeout(1000);
    const phases0 = await page.evaluate(() => window.__phases || null);
    const t0 = Number(await page.locator('.app').getAttribute('data-t'));
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
            else done({ fps: (frames * 1000) / (t - start), ms: t - start, worst, glyphs: document.querySelectorAll('.frames > g:not(.pooled)').length });
          };
          requestAnimationFrame(tick);
        }),
      seconds * 1000,
    );
    const phases1 = await page.evaluate(() => window.__phases || null);
    const playing = await page.locator('.app').getAttribute('data-playing');
    const t = Number(await page.locator('.app').getAttribute('data-t'));
    // The app publishes its count every 10 frames, so this is exact to 10 frames.
    const handled = phases0 && phases1 ? phases1.frames - phases0.frames : 0;
    console.log(`bench: ${mode}, ${pace}: topology ${hvs} hypervisors, ${hosts} hosts, all pinging; still playing: ${playing}; simulated clock ${(t0 / 1000).toFixed(3)} -> ${(t / 1000).toFixed(3)} ms over the measurement`);
    console.log(`bench: ${mode}, ${pace}: app fps ${((handled * 1000) / result.ms).toFixed(1)} (${handled} frames handled in ${(result.ms / 1000).toFixed(1)} s) [target 60]; display rate ${result.fps.toFixed(1)} rAF/s (worst gap ${result.worst.toFixed(1)} ms; ${result.glyphs} frames on screen at the end)`);
    if (handled > 0) {
      // The app's own timings (web/src/dom.rs `Phases`), per animation frame it handled.
      const per = (k) => ((phases1[`${k}_ms`] - phases0[`${k}_ms`]) / handled).toFixed(2);
      console.log(`bench: ${mode}, ${pace}: app time per frame: sim ${per('sim')} ms, model ${per('model')} ms, view + DOM patch ${per('view')} ms`);
    }
    if (playing !== 'true') stalled.push(`${mode}, ${pace}: playback stopped`);
    if (!(t > t0)) stalled.push(`${mode}, ${pace}: the simulated clock did not advance (${t0} -> ${t} us)`);
    if (handled <= 0) stalled.push(`${mode}, ${pace}: the app handled no animation frame`);
  }
}

async function main() {
  let wasm = 0;
  let js = 0;
  for (const f of await readdir(dist)) {
    const gz = gzipSync(await readFile(join(dist, f)), { level: 9 }).length;
    if (f.endsWith('.wasm')) wasm += gz;
    else if (f.endsWith('.js')) js += gz;
  }
  const { server, url, browser } = await openPlayground(dist);
  try {
    const stalled = [];
    const errors = [];
    let tti = null;
    for (const [script, mode] of [['load', 'flood and learn'], ['load-evpn', 'BGP EVPN']]) {
      const page = await browser.newPage({ viewport: { width: 1280, height: 720 } });
      page.on('pageerror', (e) => errors.push(e.message));
      // Time to interactive, taken in the page the moment the first node is drawn.
      await page.addInitScript(() => {
        new MutationObserver((_, observer) => {
          if (document.querySelector('svg.topology .node')) {
            window.__tti = performance.now();
            observer.disconnect();
          }
        }).observe(document, { childList: true, subtree: true });
      });
      await page.goto(`${url}#${script}`, { waitUntil: 'load' });
      await page.locator('svg.topology .node').first().waitFor({ timeout: 30_000 });
      await page.locator('.ctl.play').waitFor();
      tti ??= await page.evaluate(() => window.__tti ?? performance.now());
      await play(page, mode, stalled);
      await page.close();
    }
    console.log(`bench: time to interactive: ${tti.toFixed(0)} ms [target < 1000]`);
    console.log(`bench: gzipped size: wasm ${(wasm / 1024).toFixed(0)} KiB + JS ${(js / 1024).toFixed(0)} KiB = ${((wasm + js) / 1024).toFixed(0)} KiB [target < 1024 KiB]`);
    if (errors.length) {
      console.error(`bench: page errors: ${errors.join('; ')}`);
      process.exitCode = 1;
    }
    if (stalled.length) {
      console.error(`bench: FAILED: playback stalled: ${stalled.join('; ')}`);
      process.exitCode = 1;
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
