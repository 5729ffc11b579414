// End-to-end check of the Overlay Lab playground.
//
// Serves the release build in ../dist (made by `trunk build --release`; `cargo xtask test`
// builds it first) on 127.0.0.1 with a tiny static server, opens it in Debian's Chromium via
// playwright-core, and checks what a visitor sees: the title, the core version, the sample
// frame's hex dump, and no console or page errors. Saves a screenshot to
// target/e2e/home.png. Exits non-zero with a message on any failure.
//
// Usage: node e2e/run.mjs [--dist DIR] [--screenshot FILE]
// Env: CHROMIUM (default /usr/bin/chromium).

import { createServer } from 'node:http';
import { readFile, stat, mkdir } from 'node:fs/promises';
import { dirname, extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const arg = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] ? resolve(args[i + 1]) : fallback;
};
const dist = arg('--dist', join(root, 'dist'));
const screenshot = arg('--screenshot', join(root, 'target', 'e2e', 'home.png'));
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.wasm': 'application/wasm',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.ico': 'image/x-icon',
};

/** Serves `dir` on 127.0.0.1 on a free port; resolves to the server once listening. */
function serve(dir) {
  const server = createServer(async (req, res) => {
    try {
      const path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
      let file = normalize(join(dir, path));
      if (file !== dir && !file.startsWith(dir + sep)) {
        res.writeHead(403).end('forbidden');
        return;
      }
      if ((await stat(file).catch(() => null))?.isDirectory()) file = join(file, 'index.html');
      const body = await readFile(file);
      res.writeHead(200, {
        'content-type': TYPES[extname(file)] || 'application/octet-stream',
        'cache-control': 'no-store',
      });
      res.end(body);
    } catch {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
    }
  });
  return new Promise((ok, fail) => {
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => ok(server));
  });
}

class Failure extends Error {}
const check = (cond, message) => {
  if (!cond) throw new Failure(message);
};

async function main() {
  check(
    (await stat(join(dist, 'index.html')).catch(() => null))?.isFile(),
    `${dist}/index.html not found: build the page first (trunk build --release)`,
  );
  check(
    (await stat(executablePath).catch(() => null))?.isFile(),
    `${executablePath} not found: install Debian's chromium (cargo xtask setup)`,
  );

  const server = await serve(dist);
  const url = `http://127.0.0.1:${server.address().port}/`;
  const browser = await chromium.launch({
    executablePath,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  const problems = [];
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    page.on('console', (msg) => {
      if (msg.type() === 'error') problems.push(`console error: ${msg.text()}`);
    });
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
    page.on('requestfailed', (req) =>
      problems.push(`request failed: ${req.url()} (${req.failure()?.errorText})`),
    );

    console.log(`e2e: opening ${url} in ${executablePath}`);
    const response = await page.goto(url, { waitUntil: 'load' });
    check(response && response.ok(), `GET ${url} answered ${response?.status()}`);

    // The app renders after the wasm module loads: wait for it.
    const title = page.locator('h1.title');
    await title.waitFor({ state: 'visible', timeout: 30_000 }).catch(() => {
      throw new Failure(`the app did not render within 30 s${problems.length ? ': ' + problems.join('; ') : ''}`);
    });
    check((await title.textContent()) === 'Overlay Lab', `title is "${await title.textContent()}"`);

    const version = (await page.locator('.version').textContent())?.trim();
    check(/^\d+\.\d+\.\d+/.test(version ?? ''), `core version not shown (got "${version}")`);

    const hexLines = await page.locator('.hex-bytes').allTextContents();
    const bytes = hexLines.join(' ').split(/\s+/).filter(Boolean);
    check(bytes.length > 0, 'the hex dump of the sample frame is empty (vtep_core::sample::encapsulated_arp() returned no bytes?)');
    check(bytes.every((b) => /^[0-9a-f]{2}$/.test(b)), 'the hex dump contains something other than hex bytes');
    await page.locator('pre.hexdump').waitFor({ state: 'visible' });
    const shownLen = Number((await page.locator('.frame-len .len').textContent())?.trim());
    check(shownLen === bytes.length, `frame length says ${shownLen} but the dump has ${bytes.length} bytes`);

    await mkdir(dirname(screenshot), { recursive: true });
    await page.screenshot({ path: screenshot, fullPage: true });
    console.log(`e2e: screenshot saved to ${screenshot}`);

    check(problems.length === 0, `the page reported errors:\n  ${problems.join('\n  ')}`);
    console.log(`e2e: ok: "Overlay Lab", core ${version}, ${bytes.length}-byte frame shown, no errors`);
  } finally {
    await browser.close();
    server.close();
  }
}

main().catch((err) => {
  if (err instanceof Failure) {
    console.error(`e2e: FAILED: ${err.message}`);
  } else {
    console.error(`e2e: FAILED with an unexpected error: ${err.stack || err}`);
  }
  process.exit(1);
});
