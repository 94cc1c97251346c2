#!/usr/bin/env node
// play.mjs: plays an HLS or DASH presentation with a real player library
// (hls.js, dash.js or shaka-player) in Debian's headless Chromium, driven by
// playwright-core, and prints one JSON line saying how it went.
//
//   node tests/players/play.mjs --player hls|dash|shaka --url URL
//        [--until S | --to-end] [--start-at S] [--timeout S]
//        [--throttle-kbps N [--throttle-after S] [--release-after S]]
//        [--format hls|dash] [--verbose]
//
// --player        hls (hls.js), dash (dash.js) or shaka (shaka-player; plays both)
// --url           the master playlist or MPD, usually http://127.0.0.1:PORT/...
// --format        hls or dash: the manifest type; default: hls for --player hls,
//                 dash for --player dash, and for shaka from the URL (.mpd -> dash)
// --until S       pass once currentTime >= S (media time; default 5)
// --to-end        pass once the video ended at its duration (within 0.5 s)
// --start-at S    start playback at media time S (the player's own start
//                 option: hls.js startPosition, dash.js startTime, shaka load());
//                 --until stays an absolute media time, so give one past S
// --timeout S     wall-clock budget for the playback, default 60; when it runs
//                 out the result is {"ok":false,...} and the browser is closed
// --throttle-kbps N  limit the page's download throughput to N kbit/s with
//                 Chromium's network emulation (CDP Network.emulateNetworkConditions)
// --throttle-after S  apply that limit only once currentTime >= S (start
//                 unthrottled: ABR climbs, then must step down)
// --release-after S   lift the limit once currentTime >= S (start throttled:
//                 ABR starts low, then must step up); both may be given.
//                 The throttle starts when the player does (the page and the
//                 player's script load at full speed). On loopback a player
//                 buffers far ahead at once (hls.js 30 s, shaka 10 s), so for a
//                 short asset release early: --throttle-kbps 1200 --release-after 4
// --verbose       progress on stderr (one line a second)
//
// Output: ONE JSON line on stdout:
//   ok           currentTime passed the asked point (or ended at the duration
//                for --to-end) and no fatal player error was reported
//   reason       why not, when ok is false
//   player, format, url, currentTime, duration, ended, startedAt (currentTime
//                at the first 'playing' event)
//   errors       every error event: {source: hls.js|dash.js|shaka|video|page,
//                fatal, ...the player's details}
//   renditions   distinct video renditions fetched or switched to, in the order
//                first seen: the variant playlist URI as the master writes it
//                (HLS) or the Representation@id (DASH); segment request URLs
//                are mapped back to renditions through the manifest (parsed
//                with m3u8-parser/mpd-parser, see lib/manifest.mjs)
//   bitrates     the manifest bandwidths of those renditions, ascending
//   switches     the player's rendition changes: {at (currentTime), id,
//                bandwidth, width, height}
//   codecs       {manifest: codec strings the manifest declares,
//                 isTypeSupported: {mime type: MediaSource.isTypeSupported},
//                 player: {video, audio} as the player reports them,
//                 videoWidth, videoHeight, decodedFrames, droppedFrames,
//                 videoDecodedBytes, audioDecodedBytes (Chromium's counters)}
//   requests     requests the page made for the presentation (the player page
//                and its scripts not counted); segments: those by rendition
//                kind {video, audio, subtitles, other}
//   httpErrors   [{url, status}] for answers >= 400; failedRequests [{url, error}]
//   console      the page's console error lines, first 20 (Chromium reports
//                a CORS refusal there and nowhere else)
//   throttle     {kbps, appliedAt, releasedAt} (currentTime of each), or null
//   elapsed_ms   wall-clock time of the whole run
// Exit status: 0 when ok, 1 otherwise, 2 for bad arguments.
//
// How the page is served: play.mjs starts its own HTTP server on 127.0.0.1 (a
// free port) for the page, harness.js and the player's script from
// node_modules. The page is thus a real http:// origin, a secure context (so
// MSE and EME behave as on a deployed site), and a different origin from the
// media server, so the media server's CORS headers are exercised as a real
// deployment would; no request is intercepted (page.route would put every
// request of the run through the DevTools protocol).
//
// Chromium: /usr/bin/chromium (Debian's, with its H.264/AAC decoders), never
// a browser downloaded by Playwright. chromium.launch() gives it a new,
// temporary --user-data-dir for each run and deletes it on close. Whatever
// happens, the browser is closed: on the normal path, on --timeout, and by a
// watchdog (timeout + 30 s) that kills its process group should anything hang.

import { chromium } from 'playwright-core';
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { read as readManifest } from './lib/manifest.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const T0 = Date.now();

// The flags ORACLES.md prescribes, and why:
const CHROMIUM_FLAGS = [
  '--headless', // no display on test machines
  '--no-sandbox', // runs as root in containers, where the sandbox cannot start
  '--disable-gpu', // no GPU: software decoding and compositing, the same everywhere
  '--disable-quic', // plain HTTP/1.1 or 2 over TCP to the server under test
  '--no-first-run', // no first-run UI or profile import
  '--disable-background-networking', // no requests of Chromium's own during a test
  '--disable-component-update', // no component downloads (and none can succeed here)
  '--disable-sync', // no sign-in or sync traffic
  '--autoplay-policy=no-user-gesture-required', // play() without a click
];

// The player libraries, as the page loads them (UMD builds: globals Hls,
// dashjs, shaka).
const PLAYER_SCRIPTS = {
  hls: 'node_modules/hls.js/dist/hls.min.js',
  dash: 'node_modules/dashjs/dist/modern/umd/dash.all.min.js',
  shaka: 'node_modules/shaka-player/dist/shaka-player.compiled.js',
};

// Codecs probed with MediaSource.isTypeSupported besides the manifest's own.
const PROBE = [
  'video/mp4; codecs="avc1.42E01E"', // H.264 Constrained Baseline 3.0
  'video/mp4; codecs="avc1.4D401F"', // H.264 Main 3.1
  'video/mp4; codecs="avc1.64001F"', // H.264 High 3.1
  'video/mp4; codecs="avc1.640028"', // H.264 High 4.0
  'video/mp4; codecs="hvc1.1.6.L93.B0"', // HEVC Main
  'video/mp4; codecs="hev1.1.6.L93.B0"',
  'video/mp4; codecs="av01.0.05M.08"', // AV1 Main 8-bit
  'video/mp4; codecs="vp09.00.10.08"', // VP9 profile 0
  'video/webm; codecs="vp9"',
  'audio/mp4; codecs="mp4a.40.2"', // AAC-LC
  'audio/mp4; codecs="mp4a.40.5"', // HE-AAC
  'audio/mp4; codecs="opus"',
  'audio/mp4; codecs="flac"',
  'audio/mp4; codecs="ac-3"',
  'audio/mp4; codecs="ec-3"',
  'video/mp2t; codecs="avc1.64001F,mp4a.40.2"', // MPEG-TS in MSE (hls.js transmuxes)
];

// ------------------------------------------------------------ arguments

function usage(msg) {
  if (msg) process.stderr.write(`play.mjs: ${msg}\n`);
  process.stderr.write('usage: node play.mjs --player hls|dash|shaka --url URL [--until S | --to-end] '
    + '[--start-at S] [--timeout S] [--throttle-kbps N [--throttle-after S] [--release-after S]] '
    + '[--format hls|dash] [--verbose]\n');
  process.exit(2);
}

function parseArgs(argv) {
  const o = {
    player: null, url: null, format: null, until: null, toEnd: false, startAt: null,
    timeout: 60, throttleKbps: null, throttleAfter: null, releaseAfter: null, verbose: false,
  };
  const num = (a, v) => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0) usage(`${a} needs a non-negative number`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => (i + 1 < argv.length ? argv[++i] : usage(`${a} needs a value`));
    switch (a) {
      case '--player': o.player = val(); break;
      case '--url': o.url = val(); break;
      case '--format': o.format = val(); break;
      case '--until': o.until = num(a, val()); break;
      case '--to-end': o.toEnd = true; break;
      case '--start-at': o.startAt = num(a, val()); break;
      case '--timeout': o.timeout = num(a, val()); break;
      case '--throttle-kbps': o.throttleKbps = num(a, val()); break;
      case '--throttle-after': o.throttleAfter = num(a, val()); break;
      case '--release-after': o.releaseAfter = num(a, val()); break;
      case '--verbose': o.verbose = true; break;
      case '-h': case '--help': usage(); break;
      default: usage(`unknown argument ${a}`);
    }
  }
  if (!['hls', 'dash', 'shaka'].includes(o.player)) usage('--player must be hls, dash or shaka');
  if (!o.url) usage('--url is required');
  if (o.toEnd && o.until !== null) usage('give --until or --to-end, not both');
  if (!o.toEnd && o.until === null) o.until = 5;
  if (o.startAt !== null && o.until !== null && o.until <= o.startAt) usage('--until must be past --start-at');
  if ((o.throttleAfter !== null || o.releaseAfter !== null) && o.throttleKbps === null) {
    usage('--throttle-after and --release-after need --throttle-kbps');
  }
  if (o.throttleKbps !== null && !(o.throttleKbps > 0)) usage('--throttle-kbps must be > 0');
  if (!(o.timeout > 0)) usage('--timeout must be > 0');
  if (!o.format) {
    if (o.player === 'shaka') o.format = /\.mpd(\?|$)/i.test(o.url) ? 'dash' : 'hls';
    else o.format = o.player;
  }
  if (!['hls', 'dash'].includes(o.format)) usage('--format must be hls or dash');
  if (o.player !== 'shaka' && o.player !== o.format) usage(`--player ${o.player} cannot play ${o.format}`);
  return o;
}

const opts = parseArgs(process.argv.slice(2));
const log = (...a) => { if (opts.verbose) process.stderr.write(`[play ${((Date.now() - T0) / 1000).toFixed(1)}s] ${a.join(' ')}\n`); };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Resolves with p, or rejects after ms: no single browser call may hang the run.
function within(ms, p, what) {
  let t;
  return Promise.race([
    p.finally(() => clearTimeout(t)),
    new Promise((_, rej) => { t = setTimeout(() => rej(new Error(`${what}: no answer in ${ms} ms`)), ms); }),
  ]);
}

// ------------------------------------------------------------ the page server

// Serves the player page, harness.js and the player's script on 127.0.0.1.
function startPageServer() {
  const files = {
    '/harness.js': path.join(HERE, 'page', 'harness.js'),
    '/player.js': path.join(HERE, PLAYER_SCRIPTS[opts.player]),
  };
  const html = '<!doctype html><html><head><meta charset="utf-8"><title>StreamVerse player test</title></head>'
    + '<body><video id="v" muted playsinline width="640" height="360"></video>'
    + '<script src="/player.js"></script><script src="/harness.js"></script></body></html>';
  const srv = http.createServer((req, res) => {
    const p = new URL(req.url, 'http://x').pathname;
    const send = (type, body) => {
      res.writeHead(200, { 'Content-Type': type, 'Cache-Control': 'no-store' });
      res.end(body);
    };
    if (p === '/') return send('text/html; charset=utf-8', html);
    if (files[p]) return send('text/javascript', fs.readFileSync(files[p]));
    if (p === '/favicon.ico') { res.writeHead(204); return res.end(); } // no console noise
    res.writeHead(404, { 'Content-Type': 'text/plain' });
    return res.end('not found\n');
  });
  return new Promise((resolve, reject) => {
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => resolve(srv));
  });
}

// ------------------------------------------------------------ renditions

// Maps the URLs of the manifest's segments (and init segments) to their
// rendition: {kind: video|audio|subtitles, id, bandwidth, width, height}.
// Also returns the video renditions and the codec strings the manifest gives.
function renditionIndex(manifest) {
  const byUrl = new Map();
  const video = [];
  const codecs = new Set();
  for (const r of manifest.renditions) {
    let kind;
    if (r.kind === 'variant' || r.kind === 'video' || r.kind === 'media') kind = 'video';
    else if (r.kind === 'audio' || r.kind === 'subtitles') kind = r.kind;
    else continue; // I-frame playlists share their segments' URLs with the variants
    const info = {
      kind, id: r.id, url: r.url, bandwidth: r.bandwidth ?? null,
      width: r.resolution ? r.resolution.width : null, height: r.resolution ? r.resolution.height : null,
    };
    if (kind === 'video') video.push(info);
    for (const c of String(r.codecs || '').split(',')) if (c.trim()) codecs.add(c.trim());
    for (const s of [r.init, ...(r.segments || [])]) {
      if (s && s.url && !byUrl.has(s.url)) byUrl.set(s.url, info);
    }
  }
  return { byUrl, video, codecs: [...codecs] };
}

// The mime type to probe for one codec string from a manifest.
function probeType(codec) {
  if (/^(avc[13]|hvc1|hev1|av01|vp09|dvh[1e])\./.test(codec)) return `video/mp4; codecs="${codec}"`;
  if (/^(mp4a|ac-3|ec-3|opus|flac)/.test(codec)) return `audio/mp4; codecs="${codec}"`;
  return null; // wvtt, stpp, ...: text, not for MSE
}

// Which video rendition a player's switch event names: by Representation@id
// (DASH), by the playlist URL (hls.js), else by resolution and the closest
// bandwidth (shaka with HLS).
function switchRendition(sw, video) {
  if (sw.id != null) {
    const r = video.find((v) => String(v.id) === String(sw.id));
    if (r) return r;
  }
  if (sw.url) {
    const r = video.find((v) => v.url === sw.url);
    if (r) return r;
  }
  const same = video.filter((v) => v.width === sw.width && v.height === sw.height);
  const pool = same.length ? same : video;
  if (!pool.length) return null;
  return pool.reduce((a, b) => (Math.abs((b.bandwidth || 0) - sw.bandwidth) < Math.abs((a.bandwidth || 0) - sw.bandwidth) ? b : a));
}

// ------------------------------------------------------------ main

let browser = null;
let pageServer = null;
let printed = false;

function emit(result) {
  if (printed) return;
  printed = true;
  result.elapsed_ms = Date.now() - T0;
  process.stdout.write(JSON.stringify(result) + '\n');
}

// The pid of the Chromium that this process started: Playwright spawns it as
// our direct child, leader of its own process group (its renderers, GPU and
// utility processes are in that group). Playwright 1.65's Browser has no
// process() any more, so it is read from /proc.
function ourChromiumPid() {
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      // pid (comm) state ppid ...: comm may hold spaces, so split after ')'.
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === process.pid && comm.startsWith('chromium')) return Number(d);
    } catch (_) { /* the process ended meanwhile */ }
  }
  return null;
}

let browserPid = null;

// The processes (pid, state) of one process group, from /proc.
function groupMembers(pgid) {
  const out = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // state ppid pgrp ...
      if (Number(f[2]) === pgid) out.push({ pid: Number(d), state: f[0] });
    } catch (_) { /* ended meanwhile */ }
  }
  return out;
}

// Kills the browser's whole process group; used when a graceful close did not
// work or could not be tried. Only the group of the Chromium we started.
function killBrowser() {
  if (!browserPid) return;
  try { process.kill(-browserPid, 'SIGKILL'); } catch (_) { /* already gone */ }
}

// Closes the browser, then waits (at most 5 s) until no process of its group
// is left, not even a zombie waiting for init to reap it, so that a test
// checking for leftover Chromium processes right after play.mjs finds none.
async function closeAll() {
  if (browser) {
    try { await within(10000, browser.close(), 'browser.close'); } catch (e) { log(String(e.message)); }
    for (let i = 0; browserPid && i < 50; i++) {
      const left = groupMembers(browserPid);
      if (!left.length) break;
      if (left.some((m) => m.state !== 'Z')) killBrowser();
      await sleep(100);
    }
  }
  if (pageServer) pageServer.close();
}

// Last resort: if anything hangs past the budget, kill the browser and report.
const watchdog = setTimeout(() => {
  log('watchdog: killing the browser');
  killBrowser();
  emit({ ok: false, reason: `watchdog: the run hung past ${opts.timeout + 30} s`, player: opts.player, url: opts.url });
  process.exit(1);
}, (opts.timeout + 30) * 1000);

async function run() {
  const result = {
    ok: false, reason: null, player: opts.player, format: opts.format, url: opts.url,
    currentTime: null, duration: null, ended: false, startedAt: null,
    errors: [], renditions: [], bitrates: [], switches: [], codecs: {},
    requests: 0, segments: { video: 0, audio: 0, subtitles: 0, other: 0 },
    httpErrors: [], failedRequests: [], console: [], throttle: null,
  };

  // The manifest, parsed independently of the player, to name renditions.
  const manifestP = readManifest(opts.format, opts.url, { timeout: 10 });
  pageServer = await startPageServer();
  const pageOrigin = `http://127.0.0.1:${pageServer.address().port}`;
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: CHROMIUM_FLAGS,
    timeout: 30000,
  });
  browserPid = ourChromiumPid();
  log(`chromium ${browser.version()} pid ${browserPid}`);
  const manifest = await manifestP;
  if (manifest.errors.length) log(`manifest: ${manifest.errors.join('; ')}`);
  const index = renditionIndex(manifest);

  const context = await browser.newContext();
  const page = await context.newPage();

  // Every request the page makes for the presentation, mapped to renditions.
  const fetched = []; // video rendition ids in request order (with repeats)
  page.on('request', (req) => {
    const u = req.url();
    if (u.startsWith(pageOrigin)) return;
    result.requests++;
    const r = index.byUrl.get(u) || index.byUrl.get(u.split('?')[0]);
    if (!r) {
      result.segments.other++;
      return;
    }
    result.segments[r.kind]++;
    if (r.kind === 'video') fetched.push(r.id);
  });
  page.on('response', (res) => {
    if (res.status() >= 400) result.httpErrors.push({ url: res.url(), status: res.status() });
  });
  page.on('requestfailed', (req) => {
    const f = req.failure();
    result.failedRequests.push({ url: req.url(), error: f ? f.errorText : 'failed' });
  });
  page.on('pageerror', (e) => result.errors.push({ source: 'page', fatal: false, message: String(e.message || e) }));
  // Chromium's own error lines (a CORS refusal shows only there), first 20.
  page.on('console', (m) => {
    if (m.type() === 'error' && result.console.length < 20) result.console.push(m.text().slice(0, 500));
  });

  // Network emulation through the DevTools protocol.
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  const shape = async (kbps) => {
    await cdp.send('Network.emulateNetworkConditions', {
      offline: false, latency: 0, uploadThroughput: -1,
      downloadThroughput: kbps === null ? -1 : (kbps * 1000) / 8, // bytes per second
    });
    log(kbps === null ? 'throttle: released' : `throttle: ${kbps} kbit/s`);
  };
  await page.goto(`${pageOrigin}/`, { waitUntil: 'load', timeout: 15000 });

  // The throttle starts after the page and the player's script loaded, so
  // it limits the presentation's requests only.
  let throttled = false;
  if (opts.throttleKbps !== null) {
    result.throttle = { kbps: opts.throttleKbps, appliedAt: null, releasedAt: null };
    if (opts.throttleAfter === null) {
      await shape(opts.throttleKbps);
      throttled = true;
      result.throttle.appliedAt = 0;
    }
  }
  const probe = [...new Set([...index.codecs.map(probeType).filter(Boolean), ...PROBE])];
  // Not awaited in the page: svStart may wait on the network (shaka's load()).
  await page.evaluate((cfg) => { window.svStart(cfg); }, {
    player: opts.player, url: opts.url, startAt: opts.startAt, probe,
  });

  // Poll the page until the goal, a fatal error, or the timeout.
  const deadline = T0 + opts.timeout * 1000;
  let s = null;
  let lastLog = 0;
  for (;;) {
    s = await within(5000, page.evaluate(() => window.svState()), 'svState');
    const t = s.currentTime;
    if (Date.now() - lastLog >= 1000) {
      lastLog = Date.now();
      log(`t=${t.toFixed(2)} dur=${s.duration} ready=${s.readyState} paused=${s.paused} `
        + `${s.videoWidth}x${s.videoHeight} reqs=${result.requests}`);
    }
    // Throttle transitions, by media time.
    if (result.throttle) {
      if (!throttled && result.throttle.appliedAt === null && opts.throttleAfter !== null && t >= opts.throttleAfter) {
        await shape(opts.throttleKbps);
        throttled = true;
        result.throttle.appliedAt = t;
      }
      if (throttled && opts.releaseAfter !== null && t >= opts.releaseAfter) {
        await shape(null);
        throttled = false;
        result.throttle.releasedAt = t;
      }
    }
    const fatal = s.errors.concat(result.errors).find((e) => e.fatal);
    if (fatal) {
      result.reason = `fatal ${fatal.source} error: ${fatal.details || fatal.code || ''} ${fatal.message || ''}`.trim();
      break;
    }
    if (opts.toEnd) {
      if (s.ended) {
        const atEnd = s.duration !== null && Math.abs(t - s.duration) <= 0.5;
        result.ok = atEnd;
        if (!atEnd) result.reason = `ended at ${t} but the duration is ${s.duration}`;
        break;
      }
    } else {
      if (t >= opts.until) {
        result.ok = true;
        break;
      }
      if (s.ended) {
        result.reason = `ended at ${t}, before ${opts.until}`;
        break;
      }
    }
    if (Date.now() >= deadline) {
      result.reason = `timeout after ${opts.timeout} s at currentTime ${t}`
        + (opts.toEnd ? ` (duration ${s.duration}, not ended)` : ` (< ${opts.until})`);
      break;
    }
    await sleep(200);
  }

  // The result, from the last snapshot.
  result.currentTime = s.currentTime;
  result.duration = s.duration;
  result.ended = s.ended;
  result.startedAt = s.startedAt;
  result.errors = s.errors.concat(result.errors);
  result.switches = s.switches.map((sw) => {
    const r = switchRendition(sw, index.video);
    return { at: sw.at, id: r ? r.id : null, bandwidth: sw.bandwidth, width: sw.width, height: sw.height };
  });
  const ids = [];
  for (const id of fetched.concat(result.switches.map((x) => x.id))) {
    if (id != null && !ids.includes(id)) ids.push(id);
  }
  result.renditions = ids;
  result.bitrates = [...new Set(ids.map((id) => index.video.find((v) => v.id === id)?.bandwidth)
    .filter((b) => b != null))].sort((a, b) => a - b);
  result.codecs = {
    manifest: index.codecs,
    isTypeSupported: s.probe,
    player: s.playerCodecs,
    videoWidth: s.videoWidth,
    videoHeight: s.videoHeight,
    decodedFrames: s.decodedFrames,
    droppedFrames: s.droppedFrames,
    videoDecodedBytes: s.videoDecodedBytes,
    audioDecodedBytes: s.audioDecodedBytes,
  };
  if (manifest.errors.length) result.manifestErrors = manifest.errors;
  if (result.ok) result.reason = null;
  return result;
}

let result;
try {
  result = await run();
} catch (e) {
  result = { ok: false, reason: `play.mjs: ${e && e.message ? e.message : e}`, player: opts.player, url: opts.url };
}
await closeAll();
clearTimeout(watchdog);
emit(result);
process.exit(result.ok ? 0 : 1);
