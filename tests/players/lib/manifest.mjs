// lib/manifest.mjs: fetches and parses HLS and DASH manifests with
// m3u8-parser and mpd-parser; shared by manifests.mjs (which prints the
// result) and play.mjs (which maps the segment URLs a player fetches back to
// the renditions they belong to). See manifests.mjs for the output format.

import m3u8Parser from 'm3u8-parser';
import * as mpdParser from 'mpd-parser';

// read(kind, url, {timeout}): kind 'hls' or 'dash'. Never throws: fetch and
// parse failures land in errors. Returns
// {renditions, errors, warnings, duration (DASH; null for HLS)}.
export async function read(kind, url, { timeout = 10 } = {}) {
  const ctx = { url, timeout, errors: [], warnings: [] };
  let renditions = [];
  let duration = null;
  try {
    if (kind === 'hls') {
      renditions = await readHls(ctx, url);
    } else {
      ({ renditions, duration } = await readDash(ctx, url));
    }
  } catch (e) {
    ctx.errors.push(String(e.message || e));
  }
  return { renditions, errors: ctx.errors, warnings: ctx.warnings, duration };
}

// Fetches a text resource; throws with the URL and status on failure.
async function fetchText(ctx, url) {
  const res = await fetch(url, { signal: AbortSignal.timeout(ctx.timeout * 1000) });
  if (res.status !== 200) throw new Error(`${url}: HTTP ${res.status}`);
  return res.text();
}

// A byterange as {length, offset}, or null.
const range = (br) => (br ? { length: br.length, offset: br.offset ?? null } : null);

// Sum of durations, rounded to the microsecond so float noise does not show.
const total = (segs) => Math.round(segs.reduce((s, x) => s + (x.duration || 0), 0) * 1e6) / 1e6;

// ------------------------------------------------------------ HLS

function parseM3u8(ctx, text, url) {
  const p = new m3u8Parser.Parser();
  p.on('warn', (w) => ctx.warnings.push(`${url}: ${w.message}`));
  p.push(text);
  p.end();
  return p.manifest;
}

// The media playlist facts shared by every kind of HLS rendition.
function mediaFacts(m, url) {
  const segs = m.segments || [];
  const first = segs.find((s) => s.map);
  const abs = (u) => new URL(u, url).href;
  return {
    version: m.version ?? null,
    targetDuration: m.targetDuration ?? null,
    mediaSequence: m.mediaSequence ?? null,
    playlistType: m.playlistType ?? null,
    endList: !!m.endList,
    iFramesOnly: !!m.iFramesOnly,
    init: first ? { uri: first.map.uri, url: abs(first.map.uri), byterange: range(first.map.byterange) } : null,
    segmentCount: segs.length,
    totalDuration: total(segs),
    segments: segs.map((s) => ({
      uri: s.uri, url: abs(s.uri), duration: s.duration, byterange: range(s.byterange),
    })),
  };
}

async function readHls(ctx, url) {
  const master = parseM3u8(ctx, await fetchText(ctx, url), url);
  const isMaster = (master.playlists || []).length > 0 || (master.iFramePlaylists || []).length > 0;
  if (!isMaster) {
    return [{ kind: 'media', id: url, url, ...mediaFacts(master, url) }];
  }
  // Every playlist the master names, with what the master says of it.
  const todo = [];
  for (const p of master.playlists || []) {
    const a = p.attributes || {};
    todo.push({
      kind: 'variant', id: p.uri,
      codecs: a.CODECS ?? null, bandwidth: a.BANDWIDTH ?? null,
      averageBandwidth: a['AVERAGE-BANDWIDTH'] ?? null, resolution: a.RESOLUTION ?? null,
      frameRate: a['FRAME-RATE'] ?? null, audio: a.AUDIO ?? null, subtitles: a.SUBTITLES ?? null,
    });
  }
  for (const p of master.iFramePlaylists || []) {
    const a = p.attributes || {};
    todo.push({
      kind: 'iframe', id: p.uri, codecs: a.CODECS ?? null, bandwidth: a.BANDWIDTH ?? null,
      averageBandwidth: a['AVERAGE-BANDWIDTH'] ?? null, resolution: a.RESOLUTION ?? null,
    });
  }
  for (const [type, groups] of Object.entries(master.mediaGroups || {})) {
    for (const [group, names] of Object.entries(groups)) {
      for (const [name, r] of Object.entries(names)) {
        if (!r.uri) continue; // CLOSED-CAPTIONS, or audio muxed into the variant
        todo.push({
          kind: type.toLowerCase(), id: r.uri, group, name, language: r.language ?? null,
          default: !!r.default, autoselect: !!r.autoselect,
        });
      }
    }
  }
  // Fetch the media playlists concurrently; one failure does not stop the rest.
  return Promise.all(todo.map(async (r) => {
    const purl = new URL(r.id, url).href;
    try {
      const m = parseM3u8(ctx, await fetchText(ctx, purl), purl);
      return { ...r, url: purl, ...mediaFacts(m, purl) };
    } catch (e) {
      ctx.errors.push(String(e.message || e));
      return { ...r, url: purl, error: String(e.message || e) };
    }
  }));
}

// ------------------------------------------------------------ DASH

function dashFacts(ctx, kind, p, extra) {
  const a = p.attributes || {};
  const segs = p.segments || [];
  const first = segs.find((s) => s.map);
  return {
    kind, id: a.NAME ?? null, url: ctx.url, ...extra,
    codecs: a.CODECS ?? null, bandwidth: a.BANDWIDTH ?? null,
    resolution: a.RESOLUTION ?? null, frameRate: a['FRAME-RATE'] ?? null,
    targetDuration: p.targetDuration ?? null, endList: !!p.endList,
    init: first ? {
      uri: first.map.uri, url: first.map.resolvedUri ?? null, byterange: range(first.map.byterange),
    } : null,
    segmentCount: segs.length,
    totalDuration: total(segs),
    segments: segs.map((s) => ({
      number: s.number, duration: s.duration, uri: s.uri, url: s.resolvedUri ?? null,
      byterange: range(s.byterange), presentationTime: s.presentationTime ?? null,
    })),
  };
}

async function readDash(ctx, url) {
  const text = await fetchText(ctx, url);
  const m = mpdParser.parse(text, { manifestUri: url });
  const out = (m.playlists || []).map((p) => dashFacts(ctx, 'video', p, {}));
  for (const [type, groups] of Object.entries(m.mediaGroups || {})) {
    for (const [group, labels] of Object.entries(groups)) {
      for (const [name, r] of Object.entries(labels)) {
        for (const p of r.playlists || []) {
          out.push(dashFacts(ctx, type.toLowerCase(), p, { group, name, language: r.language || null }));
        }
      }
    }
  }
  return { renditions: out, duration: m.duration ?? null };
}
