#!/usr/bin/env python3
"""t_http_protocol: HTTP/1.1 semantics of the real `streamverse serve`.

Files under data_dir/media/ served at /media/...: ranges (206/416 exactly
right), conditionals (304), If-Range, HEAD, Content-Type by extension, CORS,
X-Request-Id, Date, keep-alive and pipelining, HTTP/1.0 close, /metrics,
/api/openapi.json, the access log, and SIGTERM finishing a slow download.
"""

import email.utils
import hashlib
import json
import os
import re
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import svtest  # noqa: E402
from svtest import check, check_eq  # noqa: E402

VIDEO_SIZE = 100000
VIDEO = bytes((i * 7 + (i >> 8)) & 0xFF for i in range(VIDEO_SIZE))
BIG_SIZE = 24 * 1024 * 1024

TYPES = {
    "a.m3u8": "application/vnd.apple.mpegurl",
    "a.mpd": "application/dash+xml",
    "seg.m4s": "video/iso.segment",
    "v.mp4": "video/mp4",
    "sub.vtt": "text/vtt",
    "d.json": "application/json",
    "p.html": "text/html",
}

srv = svtest.Server("proto", {"http_keepalive_timeout": "10s"})
tap = svtest.Tap()


def setup():
    srv.put_media("video.mp4", VIDEO)
    for name in TYPES:
        srv.put_media("types/" + name, b"x" * 10)
    for i in range(10):
        srv.put_media("seq/f%d.txt" % i, ("file number %d\n" % i).encode() * (i + 1))
    # big enough that a slow reader is still downloading when SIGTERM comes
    with open(srv.media_path("big.bin"), "wb") as f:
        block = bytes(range(256)) * 4096
        for _ in range(BIG_SIZE // len(block)):
            f.write(block)
    srv.start()


def get_video(headers=None, method="GET"):
    return svtest.request(srv.port, method, "/media/video.mp4", headers)


# ---------------------------------------------------------------- ranges


def test_range_single_is_206_with_exact_content_range():
    r = get_video({"Range": "bytes=0-99"})
    check_eq(r.status, 206, "status")
    check_eq(r.header("Content-Range"), "bytes 0-99/%d" % VIDEO_SIZE, "Content-Range")
    check_eq(r.header("Content-Length"), "100", "Content-Length")
    check_eq(r.body, VIDEO[0:100], "body")
    r = get_video({"Range": "bytes=1000-1000"})
    check_eq(r.status, 206, "one byte")
    check_eq(r.header("Content-Range"), "bytes 1000-1000/%d" % VIDEO_SIZE, "one byte range")
    check_eq(r.body, VIDEO[1000:1001], "one byte body")
    r = get_video({"Range": "bytes=50000-99999"})
    check_eq(r.status, 206)
    check_eq(r.body, VIDEO[50000:], "large range body")


def test_range_suffix_and_open_ended():
    r = get_video({"Range": "bytes=-500"})
    check_eq(r.status, 206, "suffix status")
    check_eq(r.header("Content-Range"), "bytes %d-%d/%d" % (VIDEO_SIZE - 500, VIDEO_SIZE - 1,
                                                           VIDEO_SIZE), "suffix range")
    check_eq(r.body, VIDEO[-500:], "suffix body")
    r = get_video({"Range": "bytes=99990-"})
    check_eq(r.status, 206, "open status")
    check_eq(r.header("Content-Range"), "bytes 99990-99999/%d" % VIDEO_SIZE, "open range")
    check_eq(r.body, VIDEO[99990:], "open body")
    # a suffix longer than the file is the whole file, as a 206
    r = get_video({"Range": "bytes=-999999"})
    check_eq(r.status, 206, "long suffix")
    check_eq(r.header("Content-Range"), "bytes 0-99999/%d" % VIDEO_SIZE)
    check_eq(len(r.body), VIDEO_SIZE)
    # an end past the file is clamped
    r = get_video({"Range": "bytes=99000-200000"})
    check_eq(r.status, 206, "clamped")
    check_eq(r.header("Content-Range"), "bytes 99000-99999/%d" % VIDEO_SIZE)
    check_eq(r.body, VIDEO[99000:])


def test_range_unsatisfiable_is_416_with_size():
    for rng in ("bytes=100000-", "bytes=200000-300000", "bytes=-0"):
        r = get_video({"Range": rng})
        check_eq(r.status, 416, rng)
        check_eq(r.header("Content-Range"), "bytes */%d" % VIDEO_SIZE, rng + " Content-Range")


def test_range_multiple_or_malformed_gives_full_200():
    for rng in ("bytes=0-1,5-6", "bytes=5-2", "items=0-5", "bytes=abc", "bytes=0-1, 3-4"):
        r = get_video({"Range": rng})
        check_eq(r.status, 200, rng)
        check_eq(len(r.body), VIDEO_SIZE, rng + " length")
        check(r.header("Content-Range") is None, rng + ": no Content-Range on a 200")


# ---------------------------------------------------------------- conditionals


def test_if_none_match_gives_304_with_etag():
    r = get_video()
    check_eq(r.status, 200)
    etag = r.header("ETag")
    check(etag and etag.startswith('"') and etag.endswith('"'), "strong ETag: %r" % etag)
    check_eq(r.header("Accept-Ranges"), "bytes")
    r2 = get_video({"If-None-Match": etag})
    check_eq(r2.status, 304, "If-None-Match status")
    check_eq(r2.header("ETag"), etag, "304 carries the ETag")
    check_eq(r2.body, b"", "304 body")
    check(r2.header("X-Request-Id"), "X-Request-Id on a 304")
    r3 = get_video({"If-None-Match": '"other", W/%s' % etag})
    check_eq(r3.status, 304, "weak comparison in a list")
    r4 = get_video({"If-None-Match": '"something-else"'})
    check_eq(r4.status, 200, "mismatch")
    check_eq(len(r4.body), VIDEO_SIZE)


def test_if_modified_since_gives_304():
    r = get_video()
    lm = r.header("Last-Modified")
    check(lm is not None, "Last-Modified present")
    r2 = get_video({"If-Modified-Since": lm})
    check_eq(r2.status, 304, "same date")
    older = email.utils.parsedate_to_datetime(lm).timestamp() - 3600
    r3 = get_video({"If-Modified-Since": email.utils.formatdate(older, usegmt=True)})
    check_eq(r3.status, 200, "modified since an earlier date")


def test_if_range_mismatch_gives_full_200():
    etag = get_video().header("ETag")
    r = get_video({"Range": "bytes=0-9", "If-Range": '"not-the-etag"'})
    check_eq(r.status, 200, "mismatching If-Range")
    check_eq(len(r.body), VIDEO_SIZE)
    r = get_video({"Range": "bytes=0-9", "If-Range": etag})
    check_eq(r.status, 206, "matching If-Range")
    check_eq(r.body, VIDEO[:10])
    r = get_video({"Range": "bytes=0-9",
                   "If-Range": email.utils.formatdate(time.time() - 86400 * 400, usegmt=True)})
    check_eq(r.status, 200, "If-Range with another date")


# ---------------------------------------------------------------- HEAD, types


def test_head_has_headers_and_no_body():
    with srv.conn() as c:
        r = c.request("HEAD", "/media/video.mp4")
        check_eq(r.status, 200)
        check_eq(r.header("Content-Length"), str(VIDEO_SIZE), "Content-Length of the GET")
        check_eq(r.header("Content-Type"), "video/mp4")
        check(r.header("ETag") is not None, "ETag on HEAD")
        check(r.header("Last-Modified") is not None, "Last-Modified on HEAD")
        # no body bytes follow: the next response starts right away
        r2 = c.request("GET", "/media/types/d.json")
        check_eq(r2.status, 200, "next response on the connection")
        check_eq(r2.body, b"x" * 10)
        r3 = c.request("HEAD", "/media/video.mp4", {"Range": "bytes=0-9"})
        check_eq(r3.status, 206, "HEAD with Range")
        check_eq(r3.header("Content-Length"), "10")
        r4 = c.request("GET", "/healthz")
        check_eq(r4.status, 200, "after HEAD 206")


def test_content_type_by_extension():
    for name, want in TYPES.items():
        r = srv.get("/media/types/" + name)
        check_eq(r.status, 200, name)
        ct = r.header("Content-Type") or ""
        check(ct.split(";")[0].strip() == want, "%s: Content-Type %r, expected %r" % (name, ct, want))


# ---------------------------------------------------------------- CORS, ids, Date


def test_cors_preflight_for_media_and_api():
    for path in ("/media/video.mp4", "/api/v1/jobs"):
        r = svtest.request(srv.port, "OPTIONS", path, {
            "Origin": "https://player.example",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "range, x-request-id"})
        check_eq(r.status, 204, path + " preflight status")
        methods = [m.strip() for m in (r.header("Access-Control-Allow-Methods") or "").split(",")]
        check("GET" in methods, path + ": Allow-Methods %r" % methods)
        check_eq(r.header("Access-Control-Allow-Origin"), "*", path + " Allow-Origin")
        check(r.header("Access-Control-Allow-Headers") is not None, path + " Allow-Headers")
        check(r.header("Access-Control-Max-Age") is not None, path + " Max-Age")
        check(r.header("X-Request-Id"), path + " X-Request-Id")


def test_cors_allow_origin_on_get_with_origin():
    r = get_video({"Origin": "https://player.example"})
    check_eq(r.status, 200)
    check_eq(r.header("Access-Control-Allow-Origin"), "*")
    exp = r.header("Access-Control-Expose-Headers") or ""
    check("Content-Range" in exp, "Expose-Headers lets players read Content-Range: %r" % exp)
    r = get_video({"Origin": "https://player.example", "Range": "bytes=0-0"})
    check_eq(r.header("Access-Control-Allow-Origin"), "*", "on a 206")
    r = get_video()
    check(r.header("Access-Control-Allow-Origin") is None, "no CORS header without Origin")


def test_request_id_on_every_response_and_echoed():
    seen = set()
    reqs = [("GET", "/media/video.mp4", {}), ("GET", "/media/missing.mp4", {}),
            ("GET", "/media/video.mp4", {"Range": "bytes=999999-"}),
            ("HEAD", "/healthz", {}), ("POST", "/healthz", {}),
            ("OPTIONS", "/media/video.mp4", {}), ("GET", "/api/openapi.json", {})]
    for m, p, h in reqs:
        r = svtest.request(srv.port, m, p, h)
        rid = r.header("X-Request-Id")
        check(rid, "%s %s (%d): X-Request-Id missing" % (m, p, r.status))
        check(rid not in seen, "request ids are unique: %r twice" % rid)
        seen.add(rid)
    r, _ = svtest.raw_exchange(srv.port, b"GET / HTTP/1.1\r\nBad Header: x\r\n\r\n",
                               wait_close=0)
    check(r is not None and r.status == 400, "bad request answered")
    check(r.header("X-Request-Id"), "X-Request-Id on a 400")
    r = srv.get("/healthz", {"X-Request-Id": "client-id_1.2-XYZ"})
    check_eq(r.header("X-Request-Id"), "client-id_1.2-XYZ", "valid id echoed")
    r = srv.get("/healthz", {"X-Request-Id": "has spaces and <angle>"})
    check(r.header("X-Request-Id") not in (None, "has spaces and <angle>"), "invalid id replaced")
    r = srv.get("/healthz", {"X-Request-Id": "a" * 200})
    check(r.header("X-Request-Id") != "a" * 200, "overlong id replaced")


def test_date_header_is_http_date_and_now():
    r = srv.get("/healthz")
    d = r.header("Date")
    check(d is not None, "Date present")
    check(d.endswith(" GMT"), "IMF-fixdate: %r" % d)
    t = email.utils.parsedate_to_datetime(d).timestamp()
    check(abs(t - time.time()) < 5, "Date %r is now" % d)


# ---------------------------------------------------------------- connections


def test_keep_alive_reuses_the_connection():
    with srv.conn() as c:
        for i in range(5):
            r = c.request("GET", "/media/seq/f%d.txt" % i)
            check_eq(r.status, 200, "request %d" % i)
            check_eq(r.body, ("file number %d\n" % i).encode() * (i + 1), "body %d" % i)
            check(r.header("Connection") != "close", "kept alive")
            time.sleep(0.05)
        check(not c.closed_within(0.3), "still open after 5 requests")


def test_pipelining_ten_requests_answered_in_order():
    with srv.conn() as c:
        data = b"".join(svtest.build_request("GET", "/media/seq/f%d.txt" % i) for i in range(10))
        c.send(data)
        for i in range(10):
            r = c.read_response()
            check_eq(r.status, 200, "answer %d" % i)
            check_eq(r.body, ("file number %d\n" % i).encode() * (i + 1), "answer %d in order" % i)
    # mixed methods and a range in one write, answered in order
    with srv.conn() as c:
        c.send(svtest.build_request("HEAD", "/media/video.mp4") +
               svtest.build_request("GET", "/media/video.mp4", {"Range": "bytes=10-19"}) +
               svtest.build_request("GET", "/healthz") +
               svtest.build_request("GET", "/media/nope"))
        r = c.read_response(head=True)
        check_eq((r.status, r.header("Content-Length")), (200, str(VIDEO_SIZE)), "HEAD first")
        r = c.read_response()
        check_eq((r.status, r.body), (206, VIDEO[10:20]), "range second")
        r = c.read_response()
        check_eq(r.status, 200, "healthz third")
        r = c.read_response()
        check_eq(r.status, 404, "404 fourth")


def test_http10_without_keep_alive_closes():
    with srv.conn() as c:
        c.send(b"GET /media/seq/f0.txt HTTP/1.0\r\n\r\n")
        r = c.read_response()
        check_eq(r.status, 200)
        check_eq(r.body, b"file number 0\n")
        check(c.closed_within(2.0), "closed after an HTTP/1.0 response")
    with srv.conn() as c:
        r = c.request("GET", "/media/seq/f1.txt", {"Connection": "keep-alive"}, version="HTTP/1.0")
        check_eq(r.status, 200)
        check_eq((r.header("Connection") or "").lower(), "keep-alive", "1.0 keep-alive answered")
        r = c.request("GET", "/media/seq/f2.txt", {"Connection": "keep-alive"}, version="HTTP/1.0")
        check_eq(r.status, 200, "second request on a 1.0 keep-alive connection")
    with srv.conn() as c:
        r = c.request("GET", "/healthz", {"Connection": "close"})
        check_eq(r.header("Connection"), "close")
        check(c.closed_within(2.0), "closed after Connection: close")


def test_requests_after_connection_close_are_not_answered():
    with srv.conn() as c:
        c.send(svtest.build_request("GET", "/media/seq/f0.txt", {"Connection": "close"}) +
               svtest.build_request("GET", "/media/seq/f1.txt"))
        r = c.read_response()
        check_eq(r.status, 200)
        check_eq(r.header("Connection"), "close")
        check(c.closed_within(3), "closed after the response with Connection: close")
        check_eq(c.buf, b"", "no answer to the request after Connection: close")


def test_options_asterisk_lists_methods():
    r = svtest.request(srv.port, "OPTIONS", "*")
    check_eq(r.status, 204)
    allow = [m.strip() for m in (r.header("Allow") or "").split(",")]
    check("GET" in allow and "HEAD" in allow, "Allow: %r" % allow)
    r = svtest.request(srv.port, "OPTIONS", "/media/video.mp4")
    check_eq(r.status, 204)
    check_eq(r.header("Allow"), "GET, HEAD, OPTIONS", "Allow for a media file")


# ---------------------------------------------------------------- observability


def test_metrics_count_requests_by_route_and_status():
    for _ in range(3):
        get_video({"Range": "bytes=0-0"})
    srv.get("/media/does-not-exist")
    text = srv.metrics()
    route = '/media/{path*}'
    for status in ("200", "206", "304", "404", "416"):
        line = 'streamverse_http_requests_total{route="%s",status="%s"}' % (route, status)
        check(line in text, "missing %s" % line)
    check('streamverse_http_request_duration_seconds_bucket{route="%s",le="+Inf"}' % route in text,
          "latency histogram +Inf bucket")
    check('streamverse_http_request_duration_seconds_count{route="%s"}' % route in text,
          "latency histogram count")
    check('streamverse_http_request_duration_seconds_bucket{route="%s",le="0.005"}' % route
          in text, "latency histogram buckets")
    for name in ("streamverse_http_connections_open", "streamverse_http_sent_bytes_total"):
        check(("\n%s " % name) in text, "missing %s" % name)
    # every sample line is "name{labels} value" or "name value"
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        series, _, value = line.rpartition(" ")
        name = series.split("{", 1)[0]
        check(re.match(r"^[a-z_:][a-z0-9_:]*$", name), "bad metric name in %r" % line)
        check(series == name or (series.startswith(name + "{") and series.endswith("}")),
              "bad labels in %r" % line)
        float(value)


def test_openapi_is_json_31():
    r = srv.get("/api/openapi.json")
    check_eq(r.status, 200)
    check((r.header("Content-Type") or "").startswith("application/json"), "JSON type")
    with open(os.path.join(svtest.REPO, "src", "api", "openapi.json"), "rb") as f:
        want = f.read()
    check(b"\x00" not in r.body, "NUL byte in the served document (%d bytes, file has %d)"
          % (len(r.body), len(want)))
    check_eq(r.body, want, "served document is src/api/openapi.json byte for byte")
    doc = json.loads(r.body)
    check(str(doc.get("openapi", "")).startswith("3.1."), "openapi %r" % doc.get("openapi"))
    check(isinstance(doc.get("paths"), dict) and doc["paths"], "paths present")


def test_access_log_has_json_lines_with_request_id():
    rid = "accesslog-check-%d" % os.getpid()
    ua = 'evil"},{"fake":1} \\ caf\xc3\xa9'  # sent as bytes: UTF-8 "café"
    srv.get("/media/video.mp4", {"X-Request-Id": rid, "User-Agent": ua})
    path = os.path.join(srv.data, "logs", "access.log")

    def found():
        try:
            with open(path, "rb") as f:
                return rid.encode() in f.read()
        except OSError:
            return False

    check(svtest.wait_until(found, 3.0), "request id %s in %s within 3 s" % (rid, path))
    with open(path, "rb") as f:
        lines = f.read().decode("utf-8").splitlines()
    check(len(lines) > 10, "one line per request (%d lines)" % len(lines))
    mine = None
    for line in lines:
        obj = json.loads(line)  # raises on a line that is not one JSON object
        check(isinstance(obj, dict) and obj.get("id"), "line with an id: %r" % line)
        if obj["id"] == rid:
            mine = obj
    check(mine is not None, "the line of our request")
    check_eq(mine.get("status"), 200, "status in the log")
    check_eq(mine.get("target"), "/media/video.mp4", "target in the log")
    check_eq(mine.get("ua"), 'evil"},{"fake":1} \\ caf\u00e9', "user agent escaped, not injected")


# ---------------------------------------------------------------- shutdown


def test_sigterm_completes_a_slow_download_then_exits_0():
    got = {"n": 0, "hash": None, "err": None, "end": None, "status": None}
    started = threading.Event()

    def slow_reader():
        try:
            s = socket.create_connection(("127.0.0.1", srv.port), timeout=15)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
            s.sendall(b"GET /media/big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
            h = hashlib.sha256()
            buf = b""
            while b"\r\n\r\n" not in buf:
                buf += s.recv(65536)
            head, _, rest = buf.partition(b"\r\n\r\n")
            got["status"] = int(head.split(b" ")[1])
            h.update(rest)
            n = len(rest)
            started.set()
            # at most 8 MB/s: the 24 MB download takes ~3 s
            t0 = time.monotonic()
            while n < BIG_SIZE:
                d = s.recv(min(65536, BIG_SIZE - n))
                if not d:
                    break
                h.update(d)
                n += len(d)
                ahead = n / (8 * 1024 * 1024) - (time.monotonic() - t0)
                if ahead > 0:
                    time.sleep(ahead)
            got["n"], got["hash"], got["end"] = n, h.hexdigest(), time.monotonic()
            s.close()
        except Exception as e:  # noqa: BLE001
            got["err"] = repr(e)
            started.set()

    th = threading.Thread(target=slow_reader)
    th.start()
    check(started.wait(10), "download started")
    time.sleep(0.3)
    t_term = time.monotonic()
    srv.proc.send_signal(15)
    th.join(60)
    ok, msg = srv.stop(timeout=30)
    t_exit = time.monotonic()
    check(got["err"] is None, "download error: %s" % got["err"])
    check_eq(got["status"], 200, "download status")
    check_eq(got["n"], BIG_SIZE, "bytes received after SIGTERM")
    want = hashlib.sha256()
    block = bytes(range(256)) * 4096
    for _ in range(BIG_SIZE // len(block)):
        want.update(block)
    check_eq(got["hash"], want.hexdigest(), "download content")
    check(got["end"] - t_term > 0.5, "the download was still running at SIGTERM")
    check(ok, "server exit after SIGTERM: %s" % msg)
    check(t_exit - got["end"] < 5, "exit soon after the download ended")


def main():
    try:
        setup()
    except Exception as e:  # noqa: BLE001
        tap.ok(False, "server_starts", str(e))
        srv.cleanup()
        tap.done()
    tests = [
        test_range_single_is_206_with_exact_content_range,
        test_range_suffix_and_open_ended,
        test_range_unsatisfiable_is_416_with_size,
        test_range_multiple_or_malformed_gives_full_200,
        test_if_none_match_gives_304_with_etag,
        test_if_modified_since_gives_304,
        test_if_range_mismatch_gives_full_200,
        test_head_has_headers_and_no_body,
        test_content_type_by_extension,
        test_cors_preflight_for_media_and_api,
        test_cors_allow_origin_on_get_with_origin,
        test_request_id_on_every_response_and_echoed,
        test_date_header_is_http_date_and_now,
        test_keep_alive_reuses_the_connection,
        test_pipelining_ten_requests_answered_in_order,
        test_http10_without_keep_alive_closes,
        test_requests_after_connection_close_are_not_answered,
        test_options_asterisk_lists_methods,
        test_metrics_count_requests_by_route_and_status,
        test_openapi_is_json_31,
        test_access_log_has_json_lines_with_request_id,
        test_sigterm_completes_a_slow_download_then_exits_0,
    ]
    try:
        for t in tests:
            tap.run(t)
    finally:
        if srv.proc and srv.proc.poll() is None:
            ok, msg = srv.stop()
            tap.ok(ok, "server_exits_cleanly_on_sigterm", msg)
        elif srv.sanitizer_report():
            tap.ok(False, "no_sanitizer_report", srv.sanitizer_report())
        srv.cleanup()
    tap.done()


if __name__ == "__main__":
    main()
