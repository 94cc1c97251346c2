#!/usr/bin/env python3
"""t_ingest: sources becoming assets, through the CLI and the HTTP upload.

Synthetic clips made by ffmpeg at test time, and the real recordings
ORACLES.md names (Debian packages python3-imageio and
golang-github-gabriel-vasile-mimetype-dev, fetched with `apt-get download`
into build/test-media/ and never committed). Good sources are probed, with
their streams recorded, and end "ready" (t_vod judges what they become);
every bad input the VoD issue lists ends "failed"
with a precise reason, and the server goes on serving the other assets.
"""

import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import svtest  # noqa: E402
from svtest import check, check_eq  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = svtest.sv_bin()
work = tempfile.mkdtemp(prefix="sv-ingest-")
tap = svtest.Tap()
srv = svtest.Server("ingest", {"job_poll": "100ms", "http_body_memory_bytes": "256k"})


def ffmpeg(*args):
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *args], check=True, cwd=work)


def make_fixtures():
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25:duration=3",
           "-f", "lavfi", "-i", "sine=frequency=440:duration=3",
           "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "clip.mp4")
    ffmpeg("-f", "lavfi", "-i", "sine=duration=2", "-c:a", "aac", "audio.m4a")
    with open(os.path.join(work, "text.mp4"), "w") as f:
        f.write("not a video at all\n" * 20)
    open(os.path.join(work, "empty.mp4"), "w").close()
    whole = open(os.path.join(work, "clip.mp4"), "rb").read()
    with open(os.path.join(work, "trunc.mp4"), "wb") as f:
        f.write(whole[: len(whole) // 2])  # moov is at the end: gone
    ffmpeg("-f", "lavfi", "-i", "testsrc=duration=2:size=160x120", "-c:v", "libx264",
           "-preset", "ultrafast", "-movflags", "+faststart", "damaged.mp4")
    with open(os.path.join(work, "damaged.mp4"), "r+b") as f:
        f.seek(40)
        f.write(b"\xff" * 400)  # inside moov, which faststart put first


def ingest(path, data, *extra):
    """Runs `streamverse ingest`; returns (exit code, asset id or None, stderr)."""
    p = subprocess.run([BIN, "ingest", path, "--data", data, "--log-level", "warn", *extra],
                       capture_output=True, text=True, timeout=120)
    lines = p.stdout.strip().splitlines()
    aid = int(lines[-1]) if lines and lines[-1].isdigit() else None
    return p.returncode, aid, p.stderr


def get_asset(aid):
    r = svtest.request(srv.port, "GET", "/api/v1/assets/%d" % aid)
    check_eq(r.status, 200, "GET asset %d" % aid)
    return json.loads(r.body)


ids = {}


def test_cli_ingests_a_clip_and_prints_the_id_last():
    rc, aid, err = ingest(os.path.join(work, "clip.mp4"), srv.data, "--title", "Clip")
    check_eq(rc, 0, "exit status (%s)" % err.strip())
    check(aid is not None, "asset id on the last line")
    check("probed: 2 streams" in err, "progress shown: %r" % err)
    ids["clip"] = aid
    rc, aid, err = ingest(os.path.join(work, "audio.m4a"), srv.data)
    check_eq(rc, 0, "audio-only exit status (%s)" % err.strip())
    ids["audio"] = aid


BAD = [
    ("text.mp4", "not a media file"),
    ("empty.mp4", "the file is empty (0 bytes)"),
    ("trunc.mp4", "moov atom not found"),
    ("damaged.mp4", ""),
]


def test_cli_refuses_bad_inputs_with_the_reason():
    for name, reason in BAD:
        rc, aid, err = ingest(os.path.join(work, name), srv.data)
        check_eq(rc, 1, "%s exit status" % name)
        check(aid is not None, "%s still has an asset id" % name)
        check("failed" in err and reason in err, "%s reason on stderr: %r" % (name, err))
        ids[name] = aid
    rc, aid, err = ingest(os.path.join(work, "missing.mp4"), srv.data)
    check_eq(rc, 2, "a missing file is a usage error")
    check("missing.mp4" in err, "names the file: %r" % err)


def test_each_audio_language_becomes_a_rendition():
    ffmpeg("-f", "lavfi", "-i", "testsrc=duration=2:size=320x180", "-f", "lavfi", "-i", "sine=duration=2",
           "-f", "lavfi", "-i", "sine=frequency=880:duration=2", "-f", "lavfi", "-i", "sine=frequency=660:duration=2",
           "-map", "0", "-map", "1", "-map", "2", "-map", "3", "-c:v", "libx264", "-preset", "ultrafast",
           "-c:a", "aac", "-metadata:s:a:0", "language=eng", "-metadata:s:a:1", "language=fra",
           "-metadata:s:a:2", "language=eng", "langs.mp4")
    rc, aid, err = ingest(os.path.join(work, "langs.mp4"), srv.data)
    check_eq(rc, 0, "exit status (%s)" % err)
    ids["langs"] = aid


def test_cli_refuses_a_picture_over_the_configured_limit():
    data = os.path.join(work, "limits")
    rc, aid, err = ingest(os.path.join(work, "clip.mp4"), data, "--media-max-width", "320")
    check_eq(rc, 1, "exit status")
    check("stream #0 (video, h264): 640x360 is larger than 320x4320" in err, "reason: %r" % err)


def test_api_shows_probe_and_failures():
    srv.start()
    a = get_asset(ids["clip"])
    check_eq(a["state"], "ready", "clip state")
    check_eq(a["title"], "Clip", "title")
    check(abs(a["duration"] - 3.0) < 0.1, "duration %r" % a["duration"])
    v, s = a["probe"]["streams"]
    check_eq((v["type"], v["codec"], v["width"], v["height"]), ("video", "h264", 640, 360), "video")
    check_eq((s["type"], s["codec"], s["sample_rate"]), ("audio", "aac", 44100), "audio")
    plan = a["plan"]
    check_eq(plan["codec"], "h264", "plan codec")
    check_eq([(r["name"], r["width"], r["height"]) for r in plan["video"]],
             [("360p", 640, 360), ("240p", 426, 240)], "ladder never above the 640x360 source")
    check_eq(plan["video"][0]["bitrate"], 800000, "360p bitrate")
    check_eq(plan["video"][0]["frame_rate"], "25/1", "frame rate kept")
    check_eq(len(plan["audio"]), 1, "one audio rendition")
    audio = get_asset(ids["audio"])
    check_eq(audio["state"], "ready", "audio-only state")
    check_eq(audio["plan"]["video"], [], "audio-only: no video rungs")
    check_eq([x["codec"] for x in audio["plan"]["audio"]], ["aac"], "audio-only: one AAC rendition")
    langs = get_asset(ids["langs"])["plan"]["audio"]
    check_eq([(x["language"], x["source_stream"]) for x in langs], [("eng", 1), ("fra", 2)],
             "one rendition per language, the first stream of each")
    for name, reason in BAD:
        b = get_asset(ids[name])
        check_eq(b["state"], "failed", "%s state" % name)
        check(b["error"] and reason in b["error"], "%s error %r" % (name, b["error"]))
        check(not os.path.exists(os.path.join(srv.data, "media", "vod", str(ids[name]))),
              "%s left no output" % name)
        check_eq(b["probe"], None, "%s has no probe" % name)


def upload(name, filename):
    with open(os.path.join(work, name), "rb") as f:
        body = f.read()
    r = svtest.request(srv.port, "POST", "/api/v1/assets?title=Up%%20%s&filename=%s" % (name, filename),
                       {"Content-Type": "application/octet-stream"}, body, timeout=30)
    return r


def wait_state(aid, seconds=15):
    end = time.monotonic() + seconds * svtest.slow_factor()
    while time.monotonic() < end:
        a = get_asset(aid)
        if a["state"] in ("ready", "failed"):
            return a
        time.sleep(0.1)
    return a


def test_upload_small_and_spooled_bodies():
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=25:duration=4",
           "-c:v", "libx264", "-preset", "ultrafast", "-b:v", "4M", "big.mp4")
    check(os.path.getsize(os.path.join(work, "big.mp4")) > 1024 * 1024, "big.mp4 is over 1 MiB")
    for name in ("audio.m4a", "big.mp4"):
        r = upload(name, name)
        check_eq(r.status, 202, "%s upload status" % name)
        a = json.loads(r.body)
        check_eq(r.header("Location"), "/api/v1/assets/%d" % a["id"], "Location")
        check_eq(a["source"]["name"], name, "source name")
        done = wait_state(a["id"])
        check_eq(done["state"], "ready", "%s state (%s)" % (name, done.get("error")))
    big = [a for a in json.loads(svtest.request(srv.port, "GET", "/api/v1/assets?limit=100").body)["items"]
           if a["source"]["name"] == "big.mp4"][0]
    check_eq(big["probe"]["streams"][0]["width"], 1280, "width of the spooled upload")
    check_eq(os.listdir(os.path.join(srv.data, "tmp")), [], "no spooled body left behind")


def test_bad_upload_fails_and_the_server_goes_on():
    r = upload("text.mp4", "notes.mp4")
    check_eq(r.status, 202, "accepted, then judged by the job")
    bad = wait_state(json.loads(r.body)["id"])
    check_eq(bad["state"], "failed", "state")
    check("not a media file" in bad["error"], "reason %r" % bad["error"])
    r = svtest.request(srv.port, "POST", "/api/v1/assets", {}, b"")
    check_eq(r.status, 400, "empty body")
    r = svtest.request(srv.port, "POST", "/api/v1/assets?filename=a/b.mp4", {}, b"x")
    check_eq(r.status, 400, "a path as filename")
    check_eq(get_asset(ids["clip"])["state"], "ready", "the other assets are untouched")
    check_eq(svtest.request(srv.port, "GET", "/healthz").status, 200, "still serving")


def test_queue_only_is_run_by_the_servers_workers():
    rc, aid, err = ingest(os.path.join(work, "clip.mp4"), srv.data, "--queue")
    check_eq(rc, 0, "exit status (%s)" % err)
    check_eq(wait_state(aid)["state"], "ready", "run by the server's worker")


def test_real_recordings_in_seven_containers_are_taken():
    files = svtest.real_recordings()
    names = sorted(os.path.basename(f) for f in files)
    for want in ("cockatoo.mp4", "realshort.mp4", "mp4.mp4", "mov.mov", "webm.webm", "ogg.ogv",
                 "3gp.3gp", "flv.flv", "mkv.mkv"):
        check(want in names, "%s present in the packages (have %r)" % (want, names))
    for f in files:
        # One small rung keeps the run short: every container still goes
        # through decoding, the ladder and packaging.
        rc, aid, err = ingest(f, srv.data, "--video-ladder", "240:400")
        check_eq(rc, 0, "%s (%s)" % (os.path.basename(f), err.strip()[-300:]))
        a = get_asset(aid)
        check_eq(a["state"], "ready", "%s state" % os.path.basename(f))
        ids[os.path.basename(f)] = aid
        kinds = [s["type"] for s in a["probe"]["streams"]]
        check("video" in kinds, "%s has video: %r" % (os.path.basename(f), kinds))
    v = [s for s in get_asset(ids["cockatoo.mp4"])["probe"]["streams"] if s["type"] == "video"][0]
    check_eq((v["codec"], v["width"], v["height"]), ("h264", 1280, 720), "cockatoo's picture")


def main():
    try:
        make_fixtures()
    except Exception as e:  # noqa: BLE001
        tap.ok(False, "fixtures", str(e))
        tap.done()
        return
    tests = [
        test_cli_ingests_a_clip_and_prints_the_id_last,
        test_cli_refuses_bad_inputs_with_the_reason,
        test_each_audio_language_becomes_a_rendition,
        test_cli_refuses_a_picture_over_the_configured_limit,
        test_api_shows_probe_and_failures,
        test_upload_small_and_spooled_bodies,
        test_bad_upload_fails_and_the_server_goes_on,
        test_queue_only_is_run_by_the_servers_workers,
        test_real_recordings_in_seven_containers_are_taken,
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
