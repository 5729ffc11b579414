// End-to-end check of the Overlay Lab playground.
//
// Serves the release build in ../dist (made by `trunk build --release`; `cargo xtask test`
// builds it first) on 127.0.0.1 with a tiny static server, opens it in Debian's Chromium via
// playwright-core, and does what a visitor does: loads every guided scenario S1..S10 and the
// BGP EVPN ones E1..E4 from the side panel, steps and plays it, runs it to the end, and checks
// the outcome box the page computed from the simulator (data-ok="true" plus the scenario's key
// numbers). It also checks the controls, the inspector (a BGP UPDATE dissected too), the
// tables (the EVPN table and its links), the learning modes and session badges in the sandbox,
// the scale view, the URL, JSON export, and downloads pcaps and reads them back with `tshark`
// (VXLAN, and BGP EVPN routes with their MAC mobility sequence). No console or page errors are allowed. Screenshots:
// target/e2e/<scenario>.png (plus home.png, scale.png, dark.png).
//
// Usage: node e2e/run.mjs [--dist DIR] [--out DIR]
// Env: CHROMIUM (default /usr/bin/chromium), TSHARK (default tshark).

import { createServer } from 'node:http';
import { readFile, stat, mkdir, writeFile } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { dirname, extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

/** The workspace root (this file's folder's parent). */
export const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';

/** The value after `name` on the command line (`--dist DIR`), or `fallback`. */
export function option(name, fallback) {
  const args = process.argv.slice(2);
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] ? args[i + 1] : fallback;
}

const dist = resolve(option('--dist', join(root, 'dist')));
const out = resolve(option('--out', join(root, 'target', 'e2e')));
const tshark = process.env.TSHARK || 'tshark';

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
export function serve(dir) {
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

/**
 * Serves `dir` and launches headless Chromium (`CHROMIUM`, default Debian's) to open it:
 * resolves to `{ server, url, browser }`; the caller closes the browser and the server.
 */
export async function openPlayground(dir) {
  const server = await serve(dir);
  const url = `http://127.0.0.1:${server.address().port}/`;
  const browser = await chromium.launch({ executablePath, headless: true, args: BROWSER_ARGS });
  return { server, url, browser };
}

export const BROWSER_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

class Failure extends Error {}
const check = (cond, message) => {
  if (!cond) throw new Failure(message);
};
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

/** The outcome box of scenario `id` once it shows: data-ok, the facts by key, the headline. */
async function outcomeOf(page, id) {
  const box = page.locator(`.outcome[data-scenario="${id}"]`);
  await box.waitFor({ state: 'visible', timeout: 60_000 }).catch(() => {
    throw new Failure(`${id}: no outcome box after running to the end`);
  });
  const facts = {};
  for (const dd of await box.locator('dd').all()) facts[await dd.getAttribute('data-fact')] = (await dd.textContent()).trim();
  return { ok: await box.getAttribute('data-ok'), facts, headline: (await box.locator('.headline').textContent()).trim() };
}

/** Saves the page's pcap download as `name` in the output folder and returns its path. */
async function downloadPcap(page, name) {
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('button.pcap')]);
  const path = join(out, name);
  await download.saveAs(path);
  return path;
}

/** tshark's `fields` of the frames of `pcap` that match `filter`, one array per frame. */
const tsharkFields = (pcap, filter, fields) =>
  execFileSync(tshark, ['-r', pcap, '-Y', filter, '-T', 'fields', ...fields.flatMap((f) => ['-e', f])], { encoding: 'utf8' })
    .split('\n')
    .filter(Boolean)
    .map((line) => line.split('\t'));

/** Name and value of every field the inspector shows, by layer: { 'Outer UDP': { 'Destination port': '4789 (VXLAN)' } }. */
async function inspectorFields(page) {
  const layers = {};
  for (const layer of await page.locator('.inspector .layer').all()) {
    const fields = {};
    for (const row of await layer.locator('tr.field').all()) {
      fields[(await row.locator('.fname').textContent()).trim()] = (await row.locator('.fvalue').textContent()).trim();
    }
    layers[(await layer.locator('.layer-name').textContent()).trim()] = fields;
  }
  return layers;
}


/**
 * ping6 in the sandbox through the actions panel (red-1 -> red-3, across sites, flood and
 * learn): red-3's IPv6 address is on its host, the ND filter shows the solicitation and the
 * advertisement, the inspector reads their fields (type, target, flags, the link-layer address
 * option) and lights a field's bytes, and the result line counts the replies.
 */
async function ping6(page) {
  const title = await page.locator('g.node.host[data-node="red-3"] > title').textContent();
  check(title.includes('10.0.0.4 and fd00:a00::4'), `red-3's addresses on the map: ${title}`);
  await page.locator('#act-what').selectOption('ping6');
  await page.locator('#act-from').selectOption('red-1');
  await page.locator('#act-to').selectOption('red-3');
  await page.click('#act-traffic');
  await page.click('button[data-filter=ND]');
  const row = (text) => page.locator('.event', { hasText: text }).filter({ hasText: 'fd00:a00::4' });
  const ns = row('neighbour solicitation who-has');
  const na = row('neighbour advertisement');
  for (let i = 0; i < 400 && (await na.count()) === 0; i++) await page.keyboard.press('ArrowRight');
  check((await ns.count()) > 0 && (await na.count()) > 0, `ping6: no solicitation and advertisement for fd00:a00::4: ${(await page.locator('.event').allTextContents()).slice(-5)}`);
  check((await page.locator('.event').count()) === (await page.locator('.event', { hasText: 'neighbour' }).count()), 'the ND filter lets other events through');
  const mac = /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/;
  const lit = async () => (await page.locator('.hexdump .b.lit').allTextContents()).map((b) => b.trim());
  // A field row by its name alone (values such as "2 (target link-layer address)" hold names).
  const field = (name) => page.locator('.inspector tr.field').filter({ has: page.locator('.fname', { hasText: new RegExp(`^\\s*${name}\\s*$`) }) }).first();
  // The advertisement first: selecting a row takes the clock to it, and the list to then.
  await na.first().click();
  let f = await inspectorFields(page);
  check(f.ICMPv6?.Type === '136 (neighbour advertisement)' && f.ICMPv6?.Target === 'fd00:a00::4', `the advertisement: ${JSON.stringify(f.ICMPv6)}`);
  check(f.ICMPv6?.['R (router)'] === '0' && f.ICMPv6?.['S (solicited)'] === '1' && /^0x[46]0000000/.test(f.ICMPv6?.Flags ?? ''), `the advertisement's flags: ${JSON.stringify(f.ICMPv6)}`);
  check(f['ND option']?.['Option type'] === '2 (target link-layer address)' && mac.test(f['ND option']?.['Link-layer address'] ?? ''), `the advertisement's option: ${JSON.stringify(f['ND option'])}`);
  await field('Link-layer address').click();
  check((await lit()).length === 6, `the link-layer address lights ${JSON.stringify(await lit())}`);
  await ns.first().click();
  f = await inspectorFields(page);
  check(f.IPv6?.['Hop limit'] === '255' && f.IPv6?.Destination === 'ff02::1:ff00:4', `the solicitation's IPv6 header: ${JSON.stringify(f.IPv6)}`);
  check(f.ICMPv6?.Type === '135 (neighbour solicitation)' && f.ICMPv6?.Code === '0' && /^0x[0-9a-f]{4}$/.test(f.ICMPv6?.Checksum ?? ''), `the solicitation: ${JSON.stringify(f.ICMPv6)}`);
  check(f.ICMPv6?.Target === 'fd00:a00::4', `the solicitation's target: ${JSON.stringify(f.ICMPv6)}`);
  check(f['ND option']?.['Option type'] === '1 (source link-layer address)' && mac.test(f['ND option']?.['Link-layer address'] ?? ''), `the solicitation's option: ${JSON.stringify(f['ND option'])}`);
  await field('Target').click();
  check(same(await lit(), ['fd', '00', '0a', '00', '00', '00', '00', '00', '00', '00', '00', '00', '00', '00', '00', '04']), `the target lights ${JSON.stringify(await lit())}`);
  await page.click('button[data-filter=ND]');
  await page.locator('#act-what').selectOption('ping');
  for (let i = 0; i < 3; i++) await page.click('.ctl.end');
  const lines = await page.locator('.results .result').allTextContents();
  check(lines.some((l) => /ping6 red-1 → red-3: 5\/5, rtt /.test(l)), `ping6 result line: ${JSON.stringify(lines)}`);
  console.log(`e2e: ping6 ok: the solicitation and advertisement for fd00:a00::4 in the inspector (type, target, flags, link-layer address option, bytes lit); ${lines.find((l) => l.includes('ping6'))}`);
}

/**
 * B4: while playing at the default speed, a drop's cross stays on the map for at least a
 * second. Steps S3 to its first drop, steps back once, plays, and samples every animation
 * frame for `ms`: returns how long (real ms) a cross was on screen, and the frames sampled.
 */
async function dropVisibleWhilePlaying(page, ms = 5000) {
  await page.click('button.scenario[data-scenario="S3"]');
  const drops = page.locator('svg.topology-frames .frames > g.drop');
  for (let i = 0; i < 600 && (await drops.count()) === 0; i++) await page.keyboard.press('ArrowRight');
  check((await drops.count()) > 0, 'S3: stepping never showed a drop');
  await page.keyboard.press('ArrowLeft');
  await page.click('.ctl.play');
  const seen = await page.evaluate(
    (ms) =>
      new Promise((done) => {
        const start = performance.now();
        let first = null;
        let last = null;
        let frames = 0;
        const tick = (t) => {
          frames += 1;
          if (document.querySelector('svg.topology-frames .frames > g.drop')) {
            if (first === null) first = t;
            last = t;
          }
          if (t - start < ms) requestAnimationFrame(tick);
          else done({ visible: first === null ? 0 : last - first, frames });
        };
        requestAnimationFrame(tick);
      }),
    ms,
  );
  if ((await page.locator('.app').getAttribute('data-playing')) === 'true') await page.click('.ctl.play');
  return seen;
}

/** The page's virtual time, microseconds. */
const timeOf = async (page) => Number(await page.locator('.app').getAttribute('data-t'));

/**
 * Issue #12 as a teacher uses it: the timeline (a chapter and an event row move the clock,
 * with the frame selected), next interesting event, result lines in the sandbox, a shared
 * moment's URL, and the layouts at 1366x768, 1024x768 and phone width.
 */
async function teacher(browser, url) {
  const context = await browser.newContext({ viewport: { width: 1366, height: 768 } });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${url}#S4`);
  await page.locator('svg.topology .node').first().waitFor();
  await page.click('.ctl.end');
  await page.locator('.outcome').waitFor();
  // Chapters: the migration is one; clicking it moves the clock there.
  const migrate = page.locator('.timeline .chapter', { hasText: 'migrate vm-b to hv1' });
  check((await migrate.count()) === 1, 'S4: no chapter for the migration');
  await migrate.click();
  check((await timeOf(page)) === 1_000_000, `S4: the migration chapter went to t = ${await timeOf(page)}`);
  const garp = page.locator('.timeline .chapter', { hasText: 'gratuitous ARP' });
  check((await garp.count()) === 1, 'S4: no chapter for the gratuitous ARP');
  // The whole run: show all, scroll to the top, click the first row: the clock goes back to it.
  await page.click('.events button.show-all');
  await page.locator('.event-list').evaluate((el) => { el.scrollTop = 0; el.dispatchEvent(new Event('scroll')); });
  const first = page.locator('.event[data-hop="0"]');
  await first.waitFor();
  await first.click();
  check((await timeOf(page)) < 10, `S4: clicking frame #0 left the clock at ${await timeOf(page)}`);
  check((await page.locator('.inspector h2').textContent()).startsWith('Frame #0'), 'S4: frame #0 is not in the inspector');
  check((await page.locator('.event.sel').getAttribute('data-hop')) === '0', 'S4: frame #0 is not selected in the list');
  // A shared moment: select a frame mid-run, the URL carries t and frame; opening it elsewhere
  // shows the same moment.
  await garp.click();
  await page.keyboard.press('n');
  const t = await timeOf(page);
  const frame = (await page.locator('.inspector h2').textContent()).match(/Frame #(\d+)/)[1];
  const link = page.url();
  check(link.includes(`&t=${t}`) && link.includes(`&frame=${frame}`), `the URL ${link} does not carry t = ${t} and frame ${frame}`);
  const other = await context.newPage();
  await other.goto(link);
  await other.locator('svg.topology .node').first().waitFor();
  check((await timeOf(other)) === t, `the shared link opened at t = ${await timeOf(other)}, not ${t}`);
  check((await other.locator('.inspector h2').textContent()).startsWith(`Frame #${frame}`), 'the shared link lost its frame');
  console.log(`e2e: timeline ok: chapters, frame #0 reachable and clicked, a shared moment (t = ${t} us, frame ${frame}) reopens`);
  await other.close();
  await page.screenshot({ path: join(out, 'S4-1366x768.png') });
  // 1366x768: the outcome box and the actions are reachable in the side panel, the map stays.
  const stage = await page.locator('.stage').boundingBox();
  for (const sel of ['.outcome', '.actions #act-traffic']) {
    await page.locator(sel).scrollIntoViewIfNeeded();
    const box = await page.locator(sel).boundingBox();
    check(box && box.y >= 0 && box.y + box.height <= 768, `1366x768: ${sel} cannot be brought into view`);
  }
  const after = await page.locator('.stage').boundingBox();
  check(after.y === stage.y && after.width > 600, `1366x768: the map moved or shrank (${JSON.stringify(stage)} -> ${JSON.stringify(after)})`);

  // The sandbox: a ping to the other tenant, then one to red-3 from the same host: both end
  // with a result line, and red-3 answers.
  await page.click('button.scenario[data-scenario="sandbox"]');
  await page.locator('#act-from').selectOption('red-1');
  await page.locator('#act-to').selectOption('blue-2');
  await page.click('#act-traffic');
  await page.locator('#act-to').selectOption('red-3');
  await page.click('#act-traffic');
  for (let i = 0; i < 5; i++) await page.click('.ctl.end');
  const lines = await page.locator('.results .result').allTextContents();
  const isolated = lines.find((l) => l.includes('red-1 → blue-2: 0/5') && l.includes('tenants are isolated'));
  const answered = lines.find((l) => /red-1 → red-3: 5\/5, rtt /.test(l));
  check(isolated && answered, `sandbox result lines: ${JSON.stringify(lines)}`);
  console.log(`e2e: result lines ok: ${JSON.stringify(lines)}`);
  await page.setViewportSize({ width: 1024, height: 768 });
  await page.locator('.event').last().click();
  await page.waitForTimeout(100);
  const narrow = await page.locator('.stage').boundingBox();
  check(narrow.width >= 1024 * 0.55, `1024 wide: the map is ${narrow.width} px wide`);
  await page.screenshot({ path: join(out, 'sandbox-1024x768.png') });
  await page.setViewportSize({ width: 390, height: 844 });
  await page.waitForTimeout(100);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth);
  const mapTop = (await page.locator('.stage').boundingBox()).y;
  const sideTop = (await page.locator('.side').boundingBox()).y;
  check(overflow <= 390 && mapTop < sideTop, `phone width: ${overflow} px wide, map at ${mapTop}, panels at ${sideTop}`);
  await page.screenshot({ path: join(out, 'sandbox-390.png'), fullPage: true });
  check(errors.length === 0, `page errors: ${errors.join('; ')}`);
  console.log('e2e: layouts ok: 1366x768 (outcome and actions reachable), 1024 (map keeps the width), 390 (map on top, no overflow)');
  await context.close();
}

/**
 * The control plane on the page: E2's pcap read by tshark (type-2 routes with vm-b's MAC in
 * VNI 100, the MAC mobility sequence 1 from hv1, hv2's withdrawal), an UPDATE dissected in the
 * inspector, the EVPN table with an FDB row linked to its route and the route to its UPDATE;
 * then the sandbox switched to static and to BGP EVPN, its VTEPs' badges reaching Established.
 */
async function bgp(page) {
  await page.click('button.scenario[data-scenario="E2"]');
  await page.click('.ctl.end');
  await outcomeOf(page, 'E2');
  const pcap = await downloadPcap(page, 'E2.pcap');
  const kinds = new Set(tsharkFields(pcap, 'bgp', ['bgp.type']).flatMap(([t]) => t.split(',')));
  check(['1', '2', '4'].every((k) => kinds.has(k)), `E2.pcap: BGP message types ${[...kinds]} (want OPEN 1, UPDATE 2, KEEPALIVE 4)`);
  const routes = tsharkFields(pcap, 'bgp.evpn.nlri.rt == 2 && bgp.update.path_attribute.mp_reach_nlri.afi == 25', ['bgp.evpn.nlri.mac_addr', 'bgp.evpn.nlri.mpls_ls1', 'bgp.evpn.nlri.vni', 'bgp.ext_com_evpn.mmac.seq']);
  const macs = new Set(routes.flatMap(([m]) => m.split(',')));
  check(macs.size === 3, `E2.pcap: type-2 routes for ${[...macs]} (want vm-a, vm-b, vm-c)`);
  // The label carries the VNI in its 24 bits: tshark reads it as MPLS label 6 (100 >> 4) and,
  // where it recognises the encapsulation, as VNI 100 (design/EVPN.md section 6).
  const all = (field, want) => field.split(',').filter(Boolean).every((x) => x === want);
  check(routes.every(([, ls1, vni]) => all(ls1, '6') && all(vni, '100')), `E2.pcap: labels ${JSON.stringify(routes.filter(([, l, v]) => !(all(l, '6') && all(v, '100'))))}`);
  const seqs = new Set(routes.flatMap(([, , , seq]) => seq.split(',').filter(Boolean)));
  check(seqs.has('1'), `E2.pcap: MAC mobility sequences ${[...seqs]} (want 1 for the move)`);
  const withdrawn = tsharkFields(pcap, 'bgp.update.path_attribute.mp_unreach_nlri.safi == 70', ['bgp.evpn.nlri.mac_addr']);
  check(withdrawn.length > 0, 'E2.pcap: no EVPN withdrawal (MP_UNREACH_NLRI, SAFI 70)');
  console.log(`e2e: BGP pcap ok: tshark reads ${routes.length} frames of type-2 routes for ${macs.size} MACs in VNI 100, MAC mobility sequence ${[...seqs].join('/')}, ${withdrawn.length} withdrawal frames`);

  // The inspector dissects an UPDATE: the EVPN route, its label as the VNI, the sequence.
  await page.click('button[data-filter=UPDATE]');
  check((await page.locator('.event').count()) > 0, 'E2: the UPDATE filter shows nothing');
  const carried = page.locator('.event', { hasText: 'UPDATE' });
  check((await carried.count()) === (await page.locator('.event').count()), 'E2: the UPDATE filter lets other events through');
  await carried.first().click();
  const layers = await page.locator('.inspector .layer-name').allTextContents();
  check(layers.some((l) => l.startsWith('BGP')), `an UPDATE's layers: ${JSON.stringify(layers)}`);
  const names = await page.locator('.inspector tr.field .fname').allTextContents();
  for (const want of ['Marker', 'Route type', 'MAC', 'Route distinguisher', 'Label (VNI)']) {
    check(names.some((n) => n.trim().startsWith(want)), `the inspector's BGP fields lack ${want}: ${JSON.stringify(names.slice(0, 40))}`);
  }
  await page.click('button[data-filter=UPDATE]');
  // Clicking the UPDATE took the clock back to it: to the end again for the tables.
  await page.click('.ctl.end');
  // The EVPN table beside hv3's FDB, an FDB row's link to its route, the route's to its UPDATE.
  await page.locator('.tables select').selectOption({ label: 'hv3' });
  await page.locator('.tables button[data-table="evpn"]').click();
  const evpn = await page.locator('table.live.evpn').textContent();
  check(/type 2/.test(evpn) && /type 3/.test(evpn), `hv3's EVPN table: ${evpn.slice(0, 200)}`);
  await page.locator('.tables button[data-table="fdb"]').click();
  await page.locator('table.live.fdb button.cell-link').first().click();
  check((await page.locator('table.live.evpn tr.lit').count()) === 1, 'an FDB row\'s link did not light its route');
  await page.locator('table.live.evpn tr.lit button.cell-link').first().click();
  const title = (await page.locator('.inspector h2').textContent()).match(/Frame #\d+/)?.[0];
  check(/UPDATE/.test(await page.locator('.inspector').textContent()), `the route's link opened ${title}, not an UPDATE`);
  await page.screenshot({ path: join(out, 'E2-route.png') });
  console.log(`e2e: EVPN table ok: hv3's FDB row -> its route -> the UPDATE that carried it (${title})`);

  // The sandbox: static, then BGP EVPN; a route reflector appears and every session comes up.
  await page.click('button.scenario[data-scenario="sandbox"]');
  await page.click('#act-static');
  check((await page.locator('.actions button.on', { hasText: 'static' }).count()) === 1, 'static is not shown as the learning mode');
  await page.click('#act-cp');
  check((await page.locator('.actions button.on', { hasText: 'BGP EVPN' }).count()) === 1, 'BGP EVPN is not shown as the learning mode');
  await page.locator('svg.topology .node.rs').waitFor();
  const badges = page.locator('svg.topology .bgp-badge');
  const states = async () => Promise.all((await badges.all()).map((b) => b.getAttribute('data-state')));
  const up = (all) => all.length >= 5 && all.every((s) => s && s.split(',').every((x) => x === 'Established'));
  for (let i = 0; i < 10 && !up(await states()); i++) await page.click('.ctl.end');
  const after = await states();
  check(up(after), `sandbox badges after switching to BGP EVPN: ${JSON.stringify(after)}`);
  await page.screenshot({ path: join(out, 'sandbox-bgp.png') });
  console.log(`e2e: sandbox learning modes ok: static, then BGP EVPN; rr1 added, the ${after.length} VTEPs' badges Established`);
}

// What each scenario's outcome box must say (data-fact key -> regular expression), on top of
// data-ok="true". The page computes these from the simulator; the numbers are the article's.
const EXPECT = {
  S1: { ping: /^5\/5 answered$/, crossings: /^3$/ },
  S2: { ping: /^3\/3 answered$/, tcp: /^1,000,000 bytes/, ping6: /^3\/3 answered$/, tcp6: /^1,000,000 bytes$/, ns: /^[1-9]\d*$/ },
  S3: { fits: /^3\/3/, 'too-big': /^0\/3/, jumbo: /^3\/3/, overhead: /^50$/ },
  S4: { lost: /^[1-6]$/, ip: /^192\.168\.10\.2$/, where: /^hv1$/ },
  S5: { router_macs: /^4$/, model: /^yes$/, k8s: /500,000 flat vs 5,000 VXLAN/ },
  S6: { leaks: /^0 of \d+$/, ids: /4,094 usable vs 16,777,216/ },
  S7: { blue: /^1000\/1000$/, red: /^1\d\d\/1000$/ },
  S8: { arp_underlay: /^0$/, cp: /^\d+ \(\d+\)$/, pings6: /^8\/8$/, ns_underlay: /^0$/, nd_suppressed: /^16$/ },
  S9: { overheads: /Geneve 50, NVGRE 42, VXLAN 50/ },
  S10: { where: /^hv2$/, fdb: /^hv2$/ },
  // BGP EVPN: one UPDATE in, reflected to the two other VTEPs, nothing flooded to learn.
  E1: { updates: /^1, 2$/, underlay: /^0 \/ 0$/, installed: /^\d+ us$/, flood: /^hv1 2, hv2 2, hv3 2$/ },
  E2: { seq: /^1$/, withdrew: /^yes$/, fdb: /^hv1$/, lost: /^[0-6]$/ },
  E3: { frozen: /^hv\d$/, moves: /^5$/ },
  E4: { expired: /^7\.0 s$/, back: /^\d+\.\d s$/, two: /^0$/ },
};
// Facts that must agree with each other: E2's loss under EVPN is S4's under flood and learn.
const SAME = { E2: [['lost', 'lost_fl']] };

async function main() {
  check(
    (await stat(join(dist, 'index.html')).catch(() => null))?.isFile(),
    `${dist}/index.html not found: build the page first (trunk build --release)`,
  );
  check(
    (await stat(executablePath).catch(() => null))?.isFile(),
    `${executablePath} not found: install Debian's chromium (cargo xtask setup)`,
  );
  // B12: dist/ must be the release build. A dev build (`trunk serve` used to write one here)
  // keeps trunk's live-reload script, which logs a failed WebSocket every 5 s.
  const html = await readFile(join(dist, 'index.html'), 'utf8');
  check(!/__TRUNK_ADDRESS__|__trunk_address__/i.test(html), `${dist}/index.html is a trunk serve (dev) build: rebuild with trunk build --release`);
  await mkdir(out, { recursive: true });

  const { server, url, browser } = await openPlayground(dist);
  const problems = [];
  try {
    const context = await browser.newContext({ viewport: { width: 1280, height: 720 }, acceptDownloads: true });
    const page = await context.newPage();
    page.on('console', (msg) => {
      if (msg.type() === 'error') problems.push(`console error: ${msg.text()}`);
    });
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
    page.on('requestfailed', (req) =>
      problems.push(`request failed: ${req.url()} (${req.failure()?.errorText})`),
    );

    console.log(`e2e: opening ${url} in ${executablePath}`);
    const t0 = Date.now();
    const response = await page.goto(url, { waitUntil: 'load' });
    check(response && response.ok(), `GET ${url} answered ${response?.status()}`);
    await page.locator('svg.topology .node').first().waitFor({ state: 'visible', timeout: 30_000 }).catch(() => {
      throw new Failure(`the app did not render within 30 s${problems.length ? ': ' + problems.join('; ') : ''}`);
    });
    console.log(`e2e: interactive after ${Date.now() - t0} ms`);
    check((await page.locator('h1.title').textContent()) === 'Overlay Lab', 'title missing');
    await page.screenshot({ path: join(out, 'home.png') });

    // Controls: play changes state, step moves the clock, step back returns to it.
    const time = async () => Number(await page.locator('.app').getAttribute('data-t'));
    await page.click('.ctl.play');
    check((await page.locator('.app').getAttribute('data-playing')) === 'true', 'play did not start');
    await page.waitForTimeout(400);
    await page.keyboard.press('Space');
    check((await page.locator('.app').getAttribute('data-playing')) === 'false', 'space did not pause');
    await page.click('.ctl.reset');
    check((await time()) === 0, 'reset did not return to t = 0');
    for (let i = 0; i < 6; i++) await page.keyboard.press('ArrowRight');
    const t6 = await time();
    await page.keyboard.press('ArrowRight');
    const t7 = await time();
    check(t7 > t6 && t6 > 0, `stepping did not move the clock (${t6}, ${t7})`);
    await page.keyboard.press('ArrowLeft');
    check((await time()) === t6, `step back went to ${await time()}, not ${t6}`);

    // Inspector: select the newest frame. Six steps into S1 it is hv3's ARP reply for vm-b,
    // wrapped in VXLAN on its way to hv1: check every layer, known fields and the bytes lit.
    await page.locator('.event').last().click();
    await page.locator('.inspector .layer').first().waitFor();
    const layers = await page.locator('.inspector .layer-name').allTextContents();
    const wantLayers = ['Outer Ethernet', 'Outer IPv4', 'Outer UDP', 'VXLAN', 'Inner Ethernet', 'ARP'];
    check(same(layers, wantLayers), `inspector shows layers ${JSON.stringify(layers)}, expected ${JSON.stringify(wantLayers)}`);
    const fields = await inspectorFields(page);
    const wantFields = {
      'Outer IPv4': { Protocol: '17 (UDP)' },
      'Outer UDP': { 'Destination port': '4789 (VXLAN)' },
      VXLAN: { Flags: '0x08 (I: VNI valid)', VNI: '100 (0x000064)' },
      'Inner Ethernet': { Type: '0x0806 (ARP)' },
      ARP: { Operation: '2 (reply)', 'Sender IP': '192.168.10.2', 'Target IP': '192.168.10.1' },
    };
    for (const [layer, want] of Object.entries(wantFields)) {
      for (const [name, value] of Object.entries(want)) {
        check(fields[layer]?.[name] === value, `inspector: ${layer} / ${name} is ${JSON.stringify(fields[layer]?.[name])}, expected ${JSON.stringify(value)}`);
      }
    }
    // The VNI is selected first: its three bytes are lit (100 = 00 00 64).
    const lit = async () => (await page.locator('.hexdump .b.lit').allTextContents()).map((b) => b.trim());
    check(same(await lit(), ['00', '00', '64']), `the VNI lights ${JSON.stringify(await lit())}`);
    await page.locator('.inspector tr.field', { hasText: 'Destination port' }).first().click();
    check(same(await lit(), ['12', 'b5']), `the outer UDP destination port (4789) lights ${JSON.stringify(await lit())}`);

    // Drops are drawn while playing, and stay long enough to see (B4).
    const dropSeen = await dropVisibleWhilePlaying(page);
    check(dropSeen.visible >= 1000, `S3 at the default speed: a drop's cross was on screen for ${dropSeen.visible.toFixed(0)} ms of ${dropSeen.frames} animation frames (want >= 1000 ms)`);
    console.log(`e2e: a drop's cross stays ${dropSeen.visible.toFixed(0)} ms while playing`);
    // The drop's row says why, with the arithmetic; pause on drop stops there, the drop
    // selected and explained in the inspector.
    await page.click('button[data-filter=drops]');
    const dropRow = await page.locator('.event.dropped').first().getAttribute('title');
    check(dropRow.includes('1500 + 50 = 1550 > underlay MTU 1500'), `S3: the drop row's tooltip does not explain it: ${dropRow}`);
    await page.click('button[data-filter=drops]');
    await page.keyboard.press('Home');
    await page.check('input[aria-label="pause on drop"]');
    await page.locator('input[aria-label=speed]').fill('70');
    await page.click('.ctl.play');
    await page.locator('.app[data-playing="false"]').waitFor({ timeout: 30_000 });
    const why = await page.locator('.inspector .why').textContent().catch(() => '');
    check(why.includes('1500 + 50 = 1550'), `pause on drop: the inspector does not show the drop: ${why}`);
    await page.uncheck('input[aria-label="pause on drop"]');
    console.log('e2e: pause on drop stops at the drop, explained: ' + why.slice(0, 80) + '...');
    // Idle time skipped while playing is said (S1, at a faster pace).
    await page.click('button.scenario[data-scenario="S1"]');
    await page.locator('input[aria-label=speed]').fill('60');
    await page.click('.ctl.play');
    await page.locator('.clock .skip').waitFor({ timeout: 20_000 }).catch(() => {
      throw new Failure('S1: playing never said it skipped idle time');
    });
    const skipped = Number(await page.locator('.clock .skip').getAttribute('data-skipped-us'));
    check(skipped > 0, `S1: skipped ${skipped} us`);
    await page.click('.ctl.play');
    await page.locator('input[aria-label=speed]').fill('30');
    console.log(`e2e: idle time skipped and said (${skipped} us)`);

    for (const [id, expect] of Object.entries(EXPECT)) {
      await page.click(`button.scenario[data-scenario="${id}"]`);
      check(new URL(page.url()).hash === `#${id}`, `URL is ${page.url()} after loading ${id}`);
      // Watch a little of it, then run it to the end.
      await page.keyboard.press('ArrowRight');
      await page.keyboard.press('ArrowRight');
      await page.click('.ctl.play');
      await page.waitForTimeout(300);
      await page.click('.ctl.end');
      const { ok, facts, headline } = await outcomeOf(page, id);
      check(ok === 'true', `${id}: outcome says the claim did not hold: ${JSON.stringify(facts)}`);
      for (const [key, re] of Object.entries(expect)) {
        check(re.test(facts[key] ?? ''), `${id}: ${key} is ${JSON.stringify(facts[key])}, expected ${re}`);
      }
      for (const [a, b] of SAME[id] ?? []) {
        check(facts[a] === facts[b], `${id}: ${a} (${facts[a]}) differs from ${b} (${facts[b]})`);
      }
      // Select a frame so the screenshot shows the inspector too.
      await page.locator('.event').last().click();
      await page.screenshot({ path: join(out, `${id}.png`) });
      console.log(`e2e: ${id} ok: ${headline}`);
    }

    // Tables: after S4, hv2's FDB has vm-b behind hv1.
    await page.locator('.tables select').selectOption({ label: 'hv2' });
    await page.locator('.tables button[data-table="fdb"]').click();
    const fdb = await page.locator('table.live.fdb').textContent();
    check(/\(hv1\)/.test(fdb), `hv2's FDB does not point anything to hv1: ${fdb}`);

    // pcap of S10, read back by tshark.
    await page.click('button.scenario[data-scenario="S10"]');
    await page.click('.ctl.end');
    const exported = await outcomeOf(page, 'S10');
    const pcap = await downloadPcap(page, 'S10.pcap');
    const vnis = tsharkFields(pcap, 'vxlan && icmp', ['vxlan.vni']).map(([v]) => v);
    check(vnis.length > 100 && vnis.every((v) => v === '100'), `tshark found ${vnis.length} VXLAN ICMP frames (VNIs ${[...new Set(vnis)]})`);
    console.log(`e2e: pcap ok: tshark reads ${vnis.length} VXLAN-encapsulated ICMP frames in VNI 100`);

    // JSON export; the exported script plus one more ping, through the URL, runs both: the
    // same outcome as the exported run, and the extra ping's replies. (vm-b pings vm-a:
    // a second ping app on vm-a, beside S10's own, would get no replies.)
    const [json] = await Promise.all([page.waitForEvent('download'), page.click('button.export')]);
    const jsonPath = join(out, 'S10.json');
    await json.saveAs(jsonPath);
    const script = JSON.parse(await readFile(jsonPath, 'utf8'));
    check(script.scenario === 'S10' && script.actions.length > 5, 'exported JSON is not the S10 script');
    script.actions.push({ at_us: 100_000, op: 'ping', app: 'extra', from: 'vm-b', to: [192, 168, 10, 1], count: 2, interval_ms: 10, size: 56 });
    await page.goto(`${url}#script=${encodeURIComponent(JSON.stringify(script))}`);
    await page.reload();
    await page.locator('svg.topology .node').first().waitFor();
    await page.click('.ctl.end');
    const imported = await outcomeOf(page, 'S10');
    check((await page.locator('button.scenario.on').getAttribute('data-scenario')) === 'S10', 'imported script lost its scenario');
    check(
      imported.ok === exported.ok && same(imported.facts, exported.facts),
      `the imported script's outcome differs from the exported run's: ${JSON.stringify(imported)} vs ${JSON.stringify(exported)}`,
    );
    // Echo replies to vm-b (192.168.10.2) on the access links: none in the exported run (only
    // vm-a pings), both of the extra ping's in the imported one.
    const replies = (path) =>
      new Set(tsharkFields(path, '!vxlan && icmp.type == 0 && ip.dst == 192.168.10.2', ['icmp.seq']).map(([seq]) => seq));
    const before = replies(pcap);
    const after = replies(await downloadPcap(page, 'S10-imported.pcap'));
    check(before.size === 0 && after.size === 2, `echo replies to vm-b: ${[...before]} exported, ${[...after]} imported (want none, then 2)`);
    console.log(`e2e: JSON + URL ok: the imported run has the exported outcome (${JSON.stringify(imported.facts)}) and the extra ping's 2 replies`);

    // Actions in the sandbox: a ping across sites; its reply reaches red-1 in the events, and
    // red-1's ARP cache holds red-3.
    await page.click('button.scenario[data-scenario="sandbox"]');
    await page.locator('#act-from').selectOption('red-1');
    await page.locator('#act-to').selectOption('red-3');
    await page.click('#act-traffic');
    for (let i = 0; i < 40; i++) await page.keyboard.press('ArrowRight');
    check((await page.locator('.event').count()) > 5, 'a ping from the actions panel made no frames');
    await page.click('button[data-filter=ICMP]');
    const reply = page.locator('.event', { hasText: 'ICMP echo reply' }).filter({ hasText: '→ red-1' }).filter({ hasText: 'received by the host' });
    for (let i = 0; i < 300 && (await reply.count()) === 0; i++) await page.keyboard.press('ArrowRight');
    check((await reply.count()) > 0, `no echo reply reached red-1: ${(await page.locator('.event').allTextContents()).slice(-5)}`);
    await page.click('button[data-filter=ICMP]');
    await page.locator('.tables select').selectOption({ label: 'red-1' });
    const arp = await page.locator('table.live.arp').textContent();
    check(arp.includes('10.0.0.4'), `red-1's ARP cache does not hold red-3 (10.0.0.4): ${arp}`);
    await page.screenshot({ path: join(out, 'sandbox.png') });
    await ping6(page);

    await bgp(page);
    await teacher(browser, url);

    // Scale view and dark theme.
    await page.click('.tab-scale');
    const flat = await page.locator('.scale-table tr.flat td.num').first().textContent();
    check(flat === '500,000', `scale view: flat L2 MAC entries at 5000 x 100 is ${flat}`);
    // Control traffic per server: ARP under flood and learn, BGP under EVPN (1, then 2 reflectors).
    const control = async () => (await page.locator('table.control tr.cp td.num').allTextContents());
    const one = await control();
    const floodArp = await page.locator('table.control tr.flood td.num').first().textContent();
    await page.locator('select[aria-label="route reflectors"]').selectOption('2');
    const two = await control();
    check(one[0] === '0' && one[2] === '15,004' && two[2] === '30,008' && floodArp === '999,802', `scale view: control traffic ${JSON.stringify({ one, two, floodArp })}`);
    console.log(`e2e: scale view ok: per server, ${floodArp} ARP frames on the uplink under flood and learn; ${one[2]} BGP messages (${one[3]} bytes) with one reflector, ${two[2]} with two`);
    await page.screenshot({ path: join(out, 'scale.png') });
    const theme = () =>
      page.evaluate(() => ({
        theme: document.documentElement.getAttribute('data-theme'),
        background: getComputedStyle(document.documentElement).backgroundColor,
        saved: localStorage.getItem('overlay-lab-theme'),
      }));
    const light = await theme();
    check(light.theme === 'light', `the page starts in the ${light.theme} theme (headless Chromium prefers light)`);
    await page.click('button.theme');
    const dark = await theme();
    check(
      dark.theme === 'dark' && dark.saved === 'dark' && dark.background !== light.background,
      `the theme button did not switch to dark: ${JSON.stringify(light)} -> ${JSON.stringify(dark)}`,
    );
    check((await page.locator('button.theme').textContent()) === '☀', 'the theme button does not offer the light theme back');
    await page.click('.tabs button >> nth=0');
    await page.screenshot({ path: join(out, 'dark.png') });
    await page.reload();
    await page.locator('svg.topology .node').first().waitFor();
    check((await theme()).theme === 'dark', 'the dark theme is not kept across a reload');

    check(problems.length === 0, `the page reported errors:\n  ${problems.join('\n  ')}`);
    console.log(`e2e: ok: 14 scenarios, controls, inspector, tables, pcap, BGP EVPN (tshark, inspector, EVPN table, learning modes, badges), JSON, URL, sandbox actions, scale view, dark theme; screenshots in ${out}`);
  } finally {
    await browser.close();
    server.close();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().catch((err) => {
    if (err instanceof Failure) {
      console.error(`e2e: FAILED: ${err.message}`);
    } else {
      console.error(`e2e: FAILED with an unexpected error: ${err.stack || err}`);
    }
    process.exit(1);
  });
}
