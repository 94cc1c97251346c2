#!/usr/bin/env python3
"""make_ladder: a known-good VoD fixture made by the ffmpeg CLI, to prove the
player and manifest oracles (play.mjs, manifests.mjs) before, and beside, our
own origin.

    python3 tests/players/make_ladder.py OUTDIR [--seconds 20]

Makes, from ffmpeg's test pattern and a sine tone, one H.264/AAC ladder of
three renditions (640x360 @ 800k, 960x540 @ 1500k, 1280x720 @ 3000k; High
profile, a keyframe every 2 s, no scene-cut keyframes, AAC-LC 128k stereo):
  OUTDIR/hls/master.m3u8          fMP4 HLS: <r>/index.m3u8, <r>/init.mp4,
                                  <r>/<n>.m4s for r in 360p 540p 720p audio;
                                  the audio is its own rendition (group "aud")
  OUTDIR/hls/subs/index.m3u8      a WebVTT subtitle rendition (2 s segments),
                                  added to the master by this script
  OUTDIR/hls/<r>/iframes.m3u8     an I-frame playlist per video rendition:
                                  byte ranges (moof .. end of the keyframe)
                                  into the same .m4s, computed here from the
                                  boxes; the master lists them
  OUTDIR/dash/manifest.mpd        DASH, SegmentTemplate + SegmentTimeline,
                                  $Number$, 4 s segments, one adaptation set
                                  for video and one for audio
The ffmpeg 5.1 hls muxer names init segments init_N.mp4 and cannot write
WebVTT renditions next to fMP4 ones, nor I-frame playlists: this script
renames, and writes those two itself. Takes about 15 s on 2 cores.
"""

import argparse
import os
import struct
import subprocess
import sys

RENDITIONS = [  # name, width, height, bitrate (kbit/s), H.264 level
    ("360p", 640, 360, 800, "3.0"),
    ("540p", 960, 540, 1500, "3.1"),
    ("720p", 1280, 720, 3000, "3.1"),
]
FPS = 30
GOP_SECONDS = 2


def ffmpeg_input_and_encode(seconds):
    """The ffmpeg arguments shared by the HLS and DASH runs: the sources, the
    ladder filter, the maps and the encoder settings."""
    split = "[0:v]split=%d%s;" % (len(RENDITIONS), "".join("[s%d]" % i for i in range(len(RENDITIONS))))
    scales = ";".join("[s%d]scale=%d:%d[v%d]" % (i, w, h, i) for i, (_, w, h, _, _) in enumerate(RENDITIONS))
    args = [
        "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=%d:duration=%d" % (FPS, seconds),
        "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=%d" % seconds,
        "-filter_complex", split + scales,
    ]
    for i in range(len(RENDITIONS)):
        args += ["-map", "[v%d]" % i]
    args += ["-map", "1:a"]
    args += [
        "-c:v", "libx264", "-preset", "veryfast", "-profile:v", "high", "-pix_fmt", "yuv420p",
        "-g", str(FPS * GOP_SECONDS), "-keyint_min", str(FPS * GOP_SECONDS), "-sc_threshold", "0",
        "-flags", "+global_header",
    ]
    for i, (_, _, _, kbps, level) in enumerate(RENDITIONS):
        args += [
            "-b:v:%d" % i, "%dk" % kbps, "-maxrate:v:%d" % i, "%dk" % (kbps * 11 // 10),
            "-bufsize:v:%d" % i, "%dk" % (kbps * 2), "-level:v:%d" % i, level,
        ]
    args += ["-c:a", "aac", "-b:a", "128k", "-ac", "2"]
    return args


def run(cmd):
    print("+ " + " ".join(cmd), file=sys.stderr)
    subprocess.run(cmd, check=True)


# ------------------------------------------------------------------ HLS


def make_hls(out, seconds):
    hls = os.path.join(out, "hls")
    os.makedirs(hls, exist_ok=True)
    vsm = "a:0,agroup:aud,name:audio,default:yes " + " ".join(
        "v:%d,agroup:aud,name:%s" % (i, r[0]) for i, r in enumerate(RENDITIONS))
    run(["ffmpeg", "-hide_banner", "-v", "error", "-y"] + ffmpeg_input_and_encode(seconds) + [
        "-f", "hls", "-hls_time", str(GOP_SECONDS), "-hls_playlist_type", "vod",
        "-hls_segment_type", "fmp4", "-hls_fmp4_init_filename", "init.mp4",
        "-hls_segment_filename", os.path.join(hls, "%v", "%d.m4s"),
        "-master_pl_name", "master.m3u8", "-var_stream_map", vsm,
        os.path.join(hls, "%v", "index.m3u8"),
    ])
    # init_N.mp4 -> init.mp4 (the layout our origin serves).
    for name in ["audio"] + [r[0] for r in RENDITIONS]:
        d = os.path.join(hls, name)
        for f in os.listdir(d):
            if f.startswith("init_") and f.endswith(".mp4"):
                os.rename(os.path.join(d, f), os.path.join(d, "init.mp4"))
                pl = os.path.join(d, "index.m3u8")
                text = open(pl).read().replace('URI="%s"' % f, 'URI="init.mp4"')
                open(pl, "w").write(text)
    make_subtitles(hls, seconds)
    iframe_lines = []
    for name, w, h, _, _ in RENDITIONS:
        iframe_lines.append(make_iframe_playlist(hls, name, w, h))
    # The master: subtitles group on every variant, then the I-frame streams.
    master = os.path.join(hls, "master.m3u8")
    lines = [l for l in open(master).read().splitlines() if l.strip()]
    outl = []
    for l in lines:
        if l.startswith("#EXT-X-STREAM-INF:"):
            l += ',SUBTITLES="subs"'
        outl.append(l)
        if l.startswith("#EXT-X-MEDIA:TYPE=AUDIO"):
            outl.append('#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",NAME="English",LANGUAGE="en",'
                        'DEFAULT=NO,AUTOSELECT=NO,URI="subs/index.m3u8"')
    outl += iframe_lines
    open(master, "w").write("\n".join(outl) + "\n")


def make_subtitles(hls, seconds):
    """One cue a segment, in 2 s WebVTT segments, with the timestamp map."""
    d = os.path.join(hls, "subs")
    os.makedirs(d, exist_ok=True)
    n = (seconds + GOP_SECONDS - 1) // GOP_SECONDS
    pl = ["#EXTM3U", "#EXT-X-VERSION:7", "#EXT-X-TARGETDURATION:%d" % GOP_SECONDS,
          "#EXT-X-MEDIA-SEQUENCE:0", "#EXT-X-PLAYLIST-TYPE:VOD"]
    for i in range(n):
        start = i * GOP_SECONDS
        dur = min(GOP_SECONDS, seconds - start)
        cue = "WEBVTT\nX-TIMESTAMP-MAP=LOCAL:00:00:00.000,MPEGTS:0\n\n%d\n%s --> %s\nsegment %d\n" % (
            i + 1, vtt_time(start + 0.1), vtt_time(start + dur - 0.1), i)
        open(os.path.join(d, "%d.vtt" % i), "w").write(cue)
        pl += ["#EXTINF:%.6f," % dur, "%d.vtt" % i]
    pl.append("#EXT-X-ENDLIST")
    open(os.path.join(d, "index.m3u8"), "w").write("\n".join(pl) + "\n")


def vtt_time(t):
    ms = int(round(t * 1000))
    return "%02d:%02d:%02d.%03d" % (ms // 3600000, ms // 60000 % 60, ms // 1000 % 60, ms % 1000)


def boxes(buf, start, end):
    """Yields (type, offset, size, header_size) for the boxes in buf[start:end]."""
    off = start
    while off + 8 <= end:
        size, typ = struct.unpack_from(">I4s", buf, off)
        hdr = 8
        if size == 1:
            size = struct.unpack_from(">Q", buf, off + 8)[0]
            hdr = 16
        elif size == 0:
            size = end - off
        yield typ.decode("latin-1"), off, size, hdr
        off += size


def keyframe_range(buf):
    """(offset, length) of moof .. end of the first sample of the first
    fragment of one fMP4 segment (its keyframe: segments start on one)."""
    for typ, off, size, hdr in boxes(buf, 0, len(buf)):
        if typ != "moof":
            continue
        for t2, o2, s2, h2 in boxes(buf, off + hdr, off + size):
            if t2 != "traf":
                continue
            base = off  # default-base-is-moof, as ffmpeg's fMP4 writes
            default_size = None
            first_size = None
            data_offset = None
            for t3, o3, s3, h3 in boxes(buf, o2 + h2, o2 + s2):
                p = o3 + h3
                flags = struct.unpack_from(">I", buf, p)[0] & 0xFFFFFF
                p += 4
                if t3 == "tfhd":
                    p += 4  # track_ID
                    if flags & 0x1:
                        base = struct.unpack_from(">Q", buf, p)[0]
                        p += 8
                    if flags & 0x2:
                        p += 4
                    if flags & 0x8:
                        p += 4
                    if flags & 0x10:
                        default_size = struct.unpack_from(">I", buf, p)[0]
                elif t3 == "trun":
                    p += 4  # sample_count
                    if flags & 0x1:
                        data_offset = struct.unpack_from(">i", buf, p)[0]
                        p += 4
                    if flags & 0x4:
                        p += 4  # first_sample_flags
                    if flags & 0x100:
                        p += 4  # sample_duration
                    first_size = struct.unpack_from(">I", buf, p)[0] if flags & 0x200 else default_size
            if data_offset is None or first_size is None:
                raise ValueError("no trun data offset or sample size")
            end = base + data_offset + first_size
            return off, end - off
    raise ValueError("no moof")


def make_iframe_playlist(hls, name, w, h):
    """Writes <name>/iframes.m3u8 and returns the master's I-frame line."""
    d = os.path.join(hls, name)
    segs = []
    for l in open(os.path.join(d, "index.m3u8")).read().splitlines():
        if l.endswith(".m4s"):
            segs.append(l)
    pl = ["#EXTM3U", "#EXT-X-VERSION:7", "#EXT-X-TARGETDURATION:%d" % GOP_SECONDS,
          "#EXT-X-MEDIA-SEQUENCE:0", "#EXT-X-PLAYLIST-TYPE:VOD", "#EXT-X-I-FRAMES-ONLY",
          '#EXT-X-MAP:URI="init.mp4"']
    peak = 0
    for s in segs:
        buf = open(os.path.join(d, s), "rb").read()
        off, length = keyframe_range(buf)
        peak = max(peak, length * 8 // GOP_SECONDS)
        pl += ["#EXTINF:%.6f," % GOP_SECONDS, "#EXT-X-BYTERANGE:%d@%d" % (length, off), s]
    pl.append("#EXT-X-ENDLIST")
    open(os.path.join(d, "iframes.m3u8"), "w").write("\n".join(pl) + "\n")
    codecs = video_codec(os.path.join(hls, "master.m3u8"), name)
    return '#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=%d,RESOLUTION=%dx%d,CODECS="%s",URI="%s/iframes.m3u8"' % (
        peak, w, h, codecs, name)


def video_codec(master, name):
    """The avc1 codec string the master gives the variant NAME."""
    lines = open(master).read().splitlines()
    for i, l in enumerate(lines):
        if l.startswith("#EXT-X-STREAM-INF:") and i + 1 < len(lines) and lines[i + 1] == name + "/index.m3u8":
            codecs = l.split('CODECS="', 1)[1].split('"', 1)[0]
            return [c for c in codecs.split(",") if c.startswith("avc1")][0]
    raise ValueError("no variant " + name)


# ------------------------------------------------------------------ DASH


def make_dash(out, seconds):
    dash = os.path.join(out, "dash")
    os.makedirs(dash, exist_ok=True)
    run(["ffmpeg", "-hide_banner", "-v", "error", "-y"] + ffmpeg_input_and_encode(seconds) + [
        "-f", "dash", "-seg_duration", "4", "-use_template", "1", "-use_timeline", "1",
        "-init_seg_name", "init-$RepresentationID$.mp4",
        "-media_seg_name", "chunk-$RepresentationID$-$Number%05d$.m4s",
        "-adaptation_sets", "id=0,streams=v id=1,streams=a",
        os.path.join(dash, "manifest.mpd"),
    ])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--seconds", type=int, default=20)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    make_hls(a.out, a.seconds)
    make_dash(a.out, a.seconds)


if __name__ == "__main__":
    main()
