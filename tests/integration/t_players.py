#!/usr/bin/env python3
"""t_players: real players in Chromium, and real manifest parsers, on our origin.

A 16 s clip (three video rungs, AAC, a sidecar subtitle) is ingested and
served by the real server. Then, with Debian's Chromium driven by
playwright-core (tests/players/play.mjs):
- hls.js plays the HLS master to its end, dash.js and shaka-player the DASH
  MPD, shaka-player the HLS master; no player error, currentTime reaches the
  duration, and Chromium's decoders counted audio and video bytes;
- under a bandwidth throttle lifted after 4 s, hls.js fetches more than one
  video rendition (ABR);
and m3u8-parser / mpd-parser (tests/players/manifests.mjs) read every
playlist and the MPD: segment counts, durations and I-frame byte ranges
match the fragment indexes on disk. Last, real camera footage (cockatoo.mp4
from Debian's python3-imageio) goes through the default ladder and plays to
its end in hls.js and dash.js.
"""

import json
import os
import re
import struct
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import svtest  # noqa: E402
from svtest import check, check_eq  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PLAYERS = os.path.join(REPO, "tests", "players")
BIN = svtest.sv_bin()
work = tempfile.mkdtemp(prefix="sv-players-")
tap = svtest.Tap()
srv = svtest.Server("players", {"job_poll": "100ms"})
LADDER = "720:3000,360:800,240:400"
state = {}


def ffmpeg(*args):
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *args], check=True, cwd=work)


def node(script, *args, timeout=120):
    p = subprocess.run(["node", os.path.join(PLAYERS, script), *args], capture_output=True,
                       text=True, timeout=timeout)
    try:
        out = json.loads(p.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        out = None
    return p.returncode, out, p.stderr


def url(path):
    return "http://127.0.0.1:%d%s" % (srv.port, path)


def read_index(path):
    """(timescale, complete, [(start, duration, offset, size, iframe)]) of a track.idx."""
    data = open(path, "rb").read()
    check_eq(data[:8], b"SVCMAFI1", "index magic")
    timescale, = struct.unpack_from("<I", data, 16)
    flags, = struct.unpack_from("<I", data, 32)
    entries = []
    for off in range(64, len(data) - 31, 32):
        entries.append(struct.unpack_from("<qIIQII", data, off))
    return timescale, bool(flags & 1), [(e[0], e[1], e[3], e[4], e[5]) for e in entries]


def test_ingest_the_clip():
    with open(os.path.join(work, "subs.srt"), "w") as f:
        f.write("1\n00:00:01,000 --> 00:00:04,000\nHello from StreamVerse\n")
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=25:duration=16",
           "-f", "lavfi", "-i", "sine=frequency=440:duration=16",
           "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "clip.mp4")
    p = subprocess.run([BIN, "ingest", os.path.join(work, "clip.mp4"), "--data", srv.data,
                        "--log-level", "warn", "--video-ladder", LADDER,
                        "--subtitle", "eng=" + os.path.join(work, "subs.srt")],
                       capture_output=True, text=True, timeout=600)
    check_eq(p.returncode, 0, "ingest (%s)" % p.stderr[-400:])
    state["aid"] = int(p.stdout.split()[-1])
    srv.start()


def play(player, manifest, *extra):
    aid = state["aid"]
    for attempt in (1, 2):
        rc, out, err = node("play.mjs", "--player", player, "--url", url("/vod/%d/%s" % (aid, manifest)),
                            "--timeout", str(int(90 * svtest.slow_factor())), *extra, timeout=200)
        # A report without the player's fields means play.mjs itself failed
        # (Chromium did not start, say): that is the harness, try once more.
        if out is None or "errors" in out or attempt == 2:
            break
        tap.diag("%s: play.mjs failed (%s); once more" % (player, out.get("reason")))
    check(out is not None, "%s printed its JSON (stderr: %s)" % (player, err[-400:]))
    check("errors" in out and "codecs" in out,
          "%s gave a whole report: %s (stderr: %s)" % (player, json.dumps(out)[:800], err[-400:]))
    return rc, out


def check_played_to_end(player, manifest):
    rc, out = play(player, manifest, "--to-end")
    fatal = [e for e in out["errors"] if e.get("fatal", True)]
    check_eq((rc, out["ok"], fatal), (0, True, []), "%s on %s: %s" % (player, manifest, out.get("reason")))
    check(out["ended"] and abs(out["currentTime"] - 16.0) < 0.6, "played to the end: %r" % out["currentTime"])
    c = out["codecs"]
    check(c["videoDecodedBytes"] > 0 and c["audioDecodedBytes"] > 0, "Chromium decoded audio and video")
    check(c["player"]["video"].startswith("avc1.64") and c["player"]["audio"] == "mp4a.40.2",
          "codecs: %r" % c["player"])
    check_eq(out["httpErrors"], [], "no HTTP errors")
    tap.diag("%s/%s: played %.2f s, %d frames decoded, %d dropped, codecs %s + %s, renditions %r"
             % (player, manifest, out["currentTime"], c["decodedFrames"], c["droppedFrames"],
                c["player"]["video"], c["player"]["audio"], out["renditions"]))


def test_hlsjs_plays_hls_to_the_end():
    check_played_to_end("hls", "master.m3u8")


def test_dashjs_plays_dash_to_the_end():
    check_played_to_end("dash", "manifest.mpd")


def test_shaka_plays_dash_to_the_end():
    check_played_to_end("shaka", "manifest.mpd")


def test_shaka_plays_hls_to_the_end():
    check_played_to_end("shaka", "master.m3u8")


def test_hlsjs_switches_renditions_when_bandwidth_changes():
    rc, out = play("hls", "master.m3u8", "--to-end", "--throttle-kbps", "1000", "--release-after", "4")
    check_eq((rc, out["ok"]), (0, True), "played: %s" % out.get("reason"))
    check(len(out["renditions"]) > 1, "more than one video rendition fetched: %r" % out["renditions"])
    tap.diag("hls.js under a 1000 kbit/s throttle lifted at 4 s: %r" % out["switches"])


def test_parsers_agree_with_the_indexes():
    aid = state["aid"]
    root = os.path.join(srv.data, "media", "vod", str(aid))
    rc, hls, err = node("manifests.mjs", "--hls", url("/vod/%d/master.m3u8" % aid))
    check_eq((rc, hls and hls["ok"]), (0, True), "m3u8-parser read everything (%s)" % err[-300:])
    check_eq(hls["warnings"], [], "no m3u8-parser warnings")
    seen = set()
    for r in hls["renditions"]:
        name = r["id"].split("/")[0]
        if r["kind"] == "subtitles":
            check_eq(r["segmentCount"], 1, "one WebVTT segment")
            continue
        ts, complete, entries = read_index(os.path.join(root, name, "track.idx"))
        check(complete, "%s index complete" % name)
        check_eq(r["segmentCount"], len(entries), "%s %s segment count" % (r["kind"], name))
        for seg, e in zip(r["segments"], entries):
            check(abs(seg["duration"] - e[1] / ts) < 1e-5, "%s duration %r vs %r" % (name, seg["duration"], e[1] / ts))
            if r["kind"] == "iframe":
                br = seg["byterange"]
                check_eq((br["offset"], br["length"]), (0, e[4]), "%s I-frame byte range" % name)
        seen.add((r["kind"], name))
    check({k for k, _ in seen} >= {"variant", "iframe", "audio"}, "kinds %r" % seen)
    rc, dash, err = node("manifests.mjs", "--dash", url("/vod/%d/manifest.mpd" % aid))
    check_eq((rc, dash and dash["ok"]), (0, True), "mpd-parser read the MPD (%s)" % err[-300:])
    for r in dash["renditions"]:
        if r["kind"] not in ("video", "audio"):
            continue
        ts, _, entries = read_index(os.path.join(root, r["id"], "track.idx"))
        check_eq(r["segmentCount"], len(entries), "DASH %s segment count" % r["id"])
        check_eq([s["uri"].split("/")[-1] for s in r["segments"]],
                 ["%d.m4s" % (i + 1) for i in range(len(entries))], "DASH %s segment URIs" % r["id"])
        for seg, e in zip(r["segments"], entries):
            check(abs(seg["duration"] - e[1] / ts) < 1e-5, "DASH %s durations" % r["id"])


def test_camera_footage_plays_end_to_end():
    """cockatoo.mp4 (python3-imageio): hand-held camera, H.264 1280x720 at 20
    fps with MP3 audio, 14 s. Ingested with the default ladder, checked by
    ffmpeg and played by hls.js and dash.js to the end."""
    cockatoo = [f for f in svtest.real_recordings() if f.endswith("/cockatoo.mp4")]
    check_eq(len(cockatoo), 1, "cockatoo.mp4 fetched from python3-imageio")
    p = subprocess.run([BIN, "ingest", cockatoo[0], "--data", srv.data, "--log-level", "warn"],
                       capture_output=True, text=True, timeout=600)
    check_eq(p.returncode, 0, "ingest (%s)" % p.stderr[-400:])
    aid = int(p.stdout.split()[-1])
    text = svtest.request(srv.port, "GET", "/vod/%d/master.m3u8" % aid).body.decode()
    check("RESOLUTION=1280x720,FRAME-RATE=20.000" in text, "720p at the camera's 20 fps: %s" % text)
    names = re.findall(r"([a-z0-9_-]+)/index\.m3u8", text)
    check(len(names) >= 5 and any(n.startswith("audio-") for n in names), "ladder and audio: %r" % names)
    for name in names:
        q = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", url("/vod/%d/%s/index.m3u8" % (aid, name)),
                            "-f", "null", "-"], capture_output=True, text=True, timeout=300)
        check_eq((q.returncode, q.stderr.strip()), (0, ""), "%s decodes" % name)
    for player, manifest in (("hls", "master.m3u8"), ("dash", "manifest.mpd")):
        state["aid"], keep = aid, state["aid"]
        try:
            rc, out = play(player, manifest, "--to-end")
        finally:
            state["aid"] = keep
        fatal = [e for e in out["errors"] if e.get("fatal", True)]
        check_eq((rc, out["ok"], fatal), (0, True, []), "%s plays the camera footage: %s" % (player, out.get("reason")))
        check(abs(out["currentTime"] - out["duration"]) < 0.6 and out["duration"] > 13, "to the end: %r of %r"
              % (out["currentTime"], out["duration"]))
        tap.diag("cockatoo.mp4 in %s: %.2f s, %d frames, renditions %r" % (player, out["currentTime"],
                 out["codecs"]["decodedFrames"], out["renditions"]))


def main():
    tests = [
        test_ingest_the_clip,
        test_hlsjs_plays_hls_to_the_end,
        test_dashjs_plays_dash_to_the_end,
        test_shaka_plays_dash_to_the_end,
        test_shaka_plays_hls_to_the_end,
        test_hlsjs_switches_renditions_when_bandwidth_changes,
        test_parsers_agree_with_the_indexes,
        test_camera_footage_plays_end_to_end,
    ]
    try:
        for t in tests:
            tap.run(t)
    finally:
        if srv.proc:
            ok, msg = srv.stop()
            tap.ok(ok, "server_exits_cleanly_on_sigterm", msg)
        srv.cleanup()
        subprocess.run(["rm", "-rf", work])
    tap.done()


if __name__ == "__main__":
    main()
