#!/usr/bin/env node
// manifests.mjs: reads an HLS or DASH presentation the way a player's manifest
// layer does, with independent parsers (m3u8-parser, mpd-parser; the ones
// video.js uses), and prints what they understood as one JSON document, so a
// test can compare it with what the media files hold.
//
//   node tests/players/manifests.mjs --hls URL  [--timeout S] [--pretty]
//   node tests/players/manifests.mjs --dash URL [--timeout S] [--pretty]
//
// --hls URL   a master playlist (every variant, I-frame playlist and
//             EXT-X-MEDIA rendition with a URI is fetched and parsed too), or
//             a media playlist (reported as one rendition of kind "media")
// --dash URL  an MPD; mpd-parser derives every Representation's segment list
//             (SegmentTemplate/SegmentTimeline/$Number$, SegmentList, SegmentBase)
// --timeout S per-request timeout in seconds (default 10)
// --pretty    indent the JSON
//
// Output (stdout, one JSON document):
//   {"ok":bool, "type":"hls"|"dash", "url":..., "errors":[...], "warnings":[...],
//    "renditions":[{
//       "kind": "variant"|"iframe"|"audio"|"video"|"subtitles"|"media",
//       "id": the playlist URI as written (HLS) or the Representation@id (DASH),
//       "url": the playlist's absolute URL (HLS; for DASH the MPD's URL),
//       "group", "name", "language": rendition groups (EXT-X-MEDIA / AdaptationSet),
//       "codecs", "bandwidth", "averageBandwidth", "resolution":{"width","height"},
//       "frameRate", "audio", "subtitles" (the variant's group ids, HLS),
//       "targetDuration", "mediaSequence", "playlistType", "endList", "iFramesOnly",
//       "version", "init": {"uri", "url", "byterange":{"length","offset"}|null} | null,
//       "segmentCount", "totalDuration" (sum of segment durations, seconds),
//       "segments": [{"uri", "url", "duration", "byterange":{"length","offset"}|null,
//                     "number" (DASH), "presentationTime" (DASH)}]}],
//    "duration": the MPD's mediaPresentationDuration in seconds (DASH)}
// "uri" is as written: in HLS relative to the media playlist; in DASH
// mpd-parser's, with $RepresentationID$/$Number$/$Time$ substituted. "url" is
// the absolute URL (for DASH, mpd-parser's resolvedUri, BaseURL included).
// Note mpd-parser's "number" is its own 0-based media-sequence index, not the
// $Number$ value (which is in the uri).
// A failed media playlist fetch leaves its rendition with an "error" field.
// "warnings" holds the parsers' own warnings (m3u8-parser's "warn" events,
// e.g. a missing required attribute) as "url: message".
// Exit status: 0 when every manifest was fetched (HTTP 200) and parsed, else 1.

import { read } from './lib/manifest.mjs';

// ------------------------------------------------------------ arguments

function usage(msg) {
  if (msg) process.stderr.write(`manifests.mjs: ${msg}\n`);
  process.stderr.write('usage: node manifests.mjs --hls URL | --dash URL [--timeout S] [--pretty]\n');
  process.exit(2);
}

function parseArgs(argv) {
  const o = { hls: null, dash: null, timeout: 10, pretty: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => (i + 1 < argv.length ? argv[++i] : usage(`${a} needs a value`));
    if (a === '--hls') o.hls = val();
    else if (a === '--dash') o.dash = val();
    else if (a === '--timeout') o.timeout = Number(val());
    else if (a === '--pretty') o.pretty = true;
    else if (a === '-h' || a === '--help') usage();
    else usage(`unknown argument ${a}`);
  }
  if (!o.hls === !o.dash) usage('give exactly one of --hls and --dash');
  if (!(o.timeout > 0)) usage('--timeout must be a positive number');
  return o;
}

const opts = parseArgs(process.argv.slice(2));

// ------------------------------------------------------------ main

const kind = opts.hls ? 'hls' : 'dash';
const url = opts.hls || opts.dash;
const r = await read(kind, url, { timeout: opts.timeout });
const result = {
  ok: r.errors.length === 0, type: kind, url,
  ...(kind === 'dash' ? { duration: r.duration } : {}),
  errors: r.errors, warnings: r.warnings, renditions: r.renditions,
};
process.stdout.write(JSON.stringify(result, null, opts.pretty ? 1 : 0) + '\n');
process.exitCode = result.ok ? 0 : 1;
