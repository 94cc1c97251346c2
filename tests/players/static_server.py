#!/usr/bin/env python3
"""static_server: serves a directory on 127.0.0.1 with CORS, for player fixtures.

    python3 tests/players/static_server.py --dir DIR [--port N] [--log]

Prints one line "PORT N" on stdout once it listens (--port 0, the default,
picks a free port), then serves until SIGTERM/SIGINT. Compared with
`python3 -m http.server` it adds what browser players need:
  - Access-Control-Allow-Origin: * (and an answer to OPTIONS preflights), so a
    page on another origin (play.mjs's page) may fetch the media;
  - single byte ranges (Range: bytes=A-B, A-, -N) answered with 206, for
    byte-range playlists (EXT-X-BYTERANGE, I-frame playlists, sidx);
  - the media types of HLS, DASH and CMAF files.
Python 3 standard library only; one thread per connection.
"""

import argparse
import http.server
import os
import re
import sys

TYPES = {
    ".m3u8": "application/vnd.apple.mpegurl",
    ".mpd": "application/dash+xml",
    ".m4s": "video/iso.segment",
    ".mp4": "video/mp4",
    ".m4a": "audio/mp4",
    ".m4v": "video/mp4",
    ".ts": "video/mp2t",
    ".vtt": "text/vtt",
    ".js": "text/javascript",
    ".html": "text/html; charset=utf-8",
    ".json": "application/json",
}


class Handler(http.server.SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as players and our origin use
    log_requests = False

    def guess_type(self, path):
        ext = os.path.splitext(path)[1].lower()
        return TYPES.get(ext) or super().guess_type(path)

    def end_headers(self):
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Access-Control-Expose-Headers", "Content-Length, Content-Range")
        self.send_header("Cache-Control", "no-cache")
        super().end_headers()

    def do_OPTIONS(self):
        self.send_response(204)
        self.send_header("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS")
        self.send_header("Access-Control-Allow-Headers", "Range, Content-Type")
        self.send_header("Access-Control-Max-Age", "600")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def send_head(self):
        """As the base class, plus one byte range when Range asks for it."""
        rng = self.headers.get("Range")
        path = self.translate_path(self.path)
        if not rng or not os.path.isfile(path):
            return super().send_head()
        size = os.path.getsize(path)
        m = re.fullmatch(r"bytes=(\d*)-(\d*)", rng.strip())
        if not m or (m.group(1) == "" and m.group(2) == ""):
            return super().send_head()  # multi-range or malformed: whole file
        if m.group(1) == "":  # suffix: the last N bytes
            start, end = max(0, size - int(m.group(2))), size - 1
        else:
            start = int(m.group(1))
            end = min(int(m.group(2)), size - 1) if m.group(2) else size - 1
        if start >= size or start > end:
            self.send_response(416)
            self.send_header("Content-Range", "bytes */%d" % size)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        f = open(path, "rb")
        f.seek(start)
        self.send_response(206)
        self.send_header("Content-Type", self.guess_type(path))
        self.send_header("Content-Range", "bytes %d-%d/%d" % (start, end, size))
        self.send_header("Content-Length", str(end - start + 1))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        self._range_left = end - start + 1
        return f

    def copyfile(self, source, outputfile):
        left = getattr(self, "_range_left", None)
        if left is None:
            return super().copyfile(source, outputfile)
        self._range_left = None
        while left > 0:
            buf = source.read(min(left, 64 * 1024))
            if not buf:
                break
            outputfile.write(buf)
            left -= len(buf)

    def log_message(self, fmt, *args):
        if self.log_requests:
            sys.stderr.write("%s\n" % (fmt % args))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", required=True, help="directory to serve")
    ap.add_argument("--port", type=int, default=0, help="0 picks a free port")
    ap.add_argument("--log", action="store_true", help="log each request on stderr")
    a = ap.parse_args()
    Handler.log_requests = a.log
    directory = os.path.abspath(a.dir)

    def handler(*args, **kw):
        return Handler(*args, directory=directory, **kw)

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", a.port), handler)
    srv.daemon_threads = True
    print("PORT %d" % srv.server_address[1], flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        srv.server_close()


if __name__ == "__main__":
    import signal

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    main()
