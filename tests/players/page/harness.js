// harness.js: runs in the page that play.mjs opens in Chromium. It starts one
// player (hls.js, dash.js or shaka-player, loaded by the page before this
// file) on a muted <video>, and records what the player and the media element
// report, for play.mjs to poll with window.svState().
//
//   window.svStart({player, url, startAt, probe: [mime types]})  -> Promise
//   window.svState()  -> a plain snapshot (see state below)
//
// Nothing here decides pass or fail: play.mjs does, from the snapshots.
/* global Hls, dashjs, shaka */
'use strict';

(function () {
  const video = document.getElementById('v');
  const state = {
    started: false, // svStart was called and the player was created
    startedAt: null, // currentTime at the first 'playing' event
    errors: [], // {source, fatal, ...details}
    switches: [], // {at, id?, url?, bandwidth, width, height, codecs}
    playerCodecs: null, // {video, audio} as the player reports the playing rendition
    ended: false,
  };
  let current = null; // key of the rendition last pushed to state.switches
  let poll = () => {}; // per-player: refreshes the playing rendition

  // Records a rendition the player now plays, once per change.
  function playing(r) {
    if (!r) return;
    const key = JSON.stringify([r.id ?? null, r.url ?? null, r.bandwidth, r.width, r.height]);
    if (key === current) return;
    current = key;
    state.switches.push({ at: video.currentTime, ...r });
    if (r.codecs) state.playerCodecs = r.codecs;
  }

  function error(source, fatal, details) {
    state.errors.push({ source, fatal, ...details });
  }

  // The media element's own errors are always fatal: the pipeline stopped.
  video.addEventListener('error', () => {
    const e = video.error;
    error('video', true, { code: e ? e.code : null, message: e ? e.message : '' });
  });
  video.addEventListener('playing', () => {
    if (state.startedAt === null) state.startedAt = video.currentTime;
  });
  video.addEventListener('ended', () => { state.ended = true; });

  function play() {
    const p = video.play();
    if (p && p.catch) p.catch((e) => error('video', false, { message: `play(): ${e.message}` }));
  }

  // ---------------------------------------------------------------- hls.js
  function startHls(cfg) {
    if (!Hls.isSupported()) {
      error('hls.js', true, { message: 'Hls.isSupported() is false (no MediaSource?)' });
      return;
    }
    const hls = new Hls({
      startPosition: cfg.startAt ?? -1,
      enableWorker: true,
      debug: false,
    });
    window.svPlayer = hls;
    hls.on(Hls.Events.ERROR, (_, d) => {
      error('hls.js', !!d.fatal, {
        type: d.type, details: d.details,
        message: d.error ? String(d.error.message || d.error) : (d.reason || ''),
        url: (d.frag && d.frag.url) || d.url || (d.context && d.context.url) || null,
        httpStatus: d.response ? d.response.code : null,
      });
    });
    const level = (i) => {
      const l = hls.levels && hls.levels[i];
      if (!l) return null;
      return {
        url: Array.isArray(l.url) ? l.url[0] : l.url,
        bandwidth: l.bitrate, width: l.width, height: l.height,
        codecs: { video: l.videoCodec || null, audio: l.audioCodec || null },
      };
    };
    hls.on(Hls.Events.LEVEL_SWITCHED, (_, d) => playing(level(d.level)));
    hls.on(Hls.Events.MANIFEST_PARSED, () => play());
    poll = () => { if (hls.currentLevel >= 0) playing(level(hls.currentLevel)); };
    hls.loadSource(cfg.url);
    hls.attachMedia(video);
  }

  // ---------------------------------------------------------------- dash.js
  function startDash(cfg) {
    const p = dashjs.MediaPlayer().create();
    window.svPlayer = p;
    p.updateSettings({ debug: { logLevel: dashjs.Debug.LOG_LEVEL_WARNING } });
    const ev = dashjs.MediaPlayer.events;
    // dash.js raises 'error' only for what it cannot recover from (it retries
    // segment downloads itself), and 'playbackError' for the media element's.
    p.on(ev.ERROR, (e) => {
      const err = e.error || {};
      error('dash.js', true, { code: err.code ?? null, message: String(err.message || '') });
    });
    p.on(ev.PLAYBACK_ERROR, (e) => {
      error('dash.js', true, { message: `playbackError: ${e.error && e.error.message}` });
    });
    const rep = (r) => r && {
      id: r.id, bandwidth: r.bandwidth, width: r.width, height: r.height,
      codecs: { video: r.codecs || null, audio: audioCodecs() },
    };
    const audioCodecs = () => {
      const a = p.getCurrentRepresentationForType && p.getCurrentRepresentationForType('audio');
      return (a && a.codecs) || null;
    };
    p.on(ev.QUALITY_CHANGE_RENDERED, (e) => {
      if (e.mediaType === 'video') playing(rep(e.newRepresentation));
    });
    poll = () => {
      try { playing(rep(p.getCurrentRepresentationForType('video'))); } catch (_) { /* not ready */ }
    };
    // autoplay true; the start time, when given, is a presentation time.
    p.initialize(video, cfg.url, true, cfg.startAt ?? NaN);
  }

  // ---------------------------------------------------------------- shaka
  async function startShaka(cfg) {
    shaka.polyfill.installAll();
    if (!shaka.Player.isBrowserSupported()) {
      error('shaka', true, { message: 'shaka.Player.isBrowserSupported() is false' });
      return;
    }
    const p = new shaka.Player();
    window.svPlayer = p;
    // severity 2 is CRITICAL (playback stopped); 1 is RECOVERABLE.
    p.addEventListener('error', (ev) => {
      const d = ev.detail || {};
      error('shaka', d.severity === 2, {
        code: d.code ?? null, category: d.category ?? null, severity: d.severity ?? null,
        message: shakaMessage(d),
      });
    });
    const active = () => {
      const t = p.getVariantTracks().find((x) => x.active);
      return t && {
        id: t.originalVideoId, bandwidth: t.videoBandwidth || t.bandwidth,
        width: t.width, height: t.height,
        codecs: { video: t.videoCodec || null, audio: t.audioCodec || null },
      };
    };
    p.addEventListener('adaptation', () => playing(active()));
    p.addEventListener('variantchanged', () => playing(active()));
    poll = () => playing(active());
    await p.attach(video);
    try {
      await p.load(cfg.url, cfg.startAt ?? null);
    } catch (e) {
      // The same error also came as an 'error' event unless load() itself
      // failed before the player started (then record it here).
      if (!state.errors.some((x) => x.source === 'shaka' && x.code === e.code)) {
        error('shaka', true, { code: e.code ?? null, category: e.category ?? null, message: shakaMessage(e) });
      }
      return;
    }
    play();
  }

  // shaka.util.Error carries a numeric code and data, no message in release builds.
  function shakaMessage(e) {
    const name = Object.keys(shaka.util.Error.Code).find((k) => shaka.util.Error.Code[k] === e.code);
    let data = '';
    try { data = JSON.stringify(e.data).slice(0, 300); } catch (_) { /* cyclic */ }
    return `${name || 'error'} ${data}`;
  }

  // ---------------------------------------------------------------- API
  window.svStart = async function (cfg) {
    state.started = true;
    state.probe = {};
    for (const t of cfg.probe || []) {
      state.probe[t] = window.MediaSource ? MediaSource.isTypeSupported(t) : false;
    }
    try {
      if (cfg.player === 'hls') startHls(cfg);
      else if (cfg.player === 'dash') startDash(cfg);
      else if (cfg.player === 'shaka') await startShaka(cfg);
      else throw new Error(`unknown player ${cfg.player}`);
    } catch (e) {
      error(cfg.player, true, { message: `start: ${e && e.message}` });
    }
  };

  window.svState = function () {
    try { poll(); } catch (_) { /* a player not ready yet */ }
    const q = video.getVideoPlaybackQuality ? video.getVideoPlaybackQuality() : {};
    return {
      ...state,
      currentTime: video.currentTime,
      duration: Number.isFinite(video.duration) ? video.duration : null,
      paused: video.paused,
      readyState: video.readyState,
      ended: state.ended || video.ended,
      videoWidth: video.videoWidth,
      videoHeight: video.videoHeight,
      decodedFrames: q.totalVideoFrames ?? null,
      droppedFrames: q.droppedVideoFrames ?? null,
      // Chromium's counters: bytes its decoders took, proof that audio and
      // video were decoded and not only buffered.
      videoDecodedBytes: video.webkitVideoDecodedByteCount ?? null,
      audioDecodedBytes: video.webkitAudioDecodedByteCount ?? null,
    };
  };
})();
