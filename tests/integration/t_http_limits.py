#!/usr/bin/env python3
"""t_http_limits: bad input, limits and timeouts of the real `streamverse serve`.

Each bad request gets the right 4xx/5xx, the connection is closed after it,
and the server still answers a good request on a new connection. Then the
timeouts (header, keep-alive, send) and the connection limit, with small
values in the generated config so the file runs in well under a minute.
"""

import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import svtest  # noqa: E402
from svtest import check, check_eq  # noqa: E402

MAX_CONN = 20
SECRET = b"TOP-SECRET-%d-do-not-serve" % os.getpid()
SLOW_FILE_SIZE = 20 * 1024 * 1024

srv = svtest.Server("limits", {
    "http_header_timeout": "2s",
    "http_keepalive_timeout": "2s",
    "http_send_timeout": "2s",
    "http_body_timeout": "2s",
    "http_max_header_bytes": "16k",
    "http_max_headers": "50",
    "http_max_body_bytes": "64k",
    "http_max_connections": str(MAX_CONN),
})
tap = svtest.Tap()


def setup():
    web = os.path.join(srv.dir, "web")
    os.makedirs(os.path.join(web, "docs"))
    with open(os.path.join(web, "index.html"), "wb") as f:
        f.write(b"<!doctype html><title>web root</title>\n")
    srv.config["web_root"] = '"%s"' % web
    srv.put_media("ok.txt", b"fine\n")
    srv.put_media(".hidden", SECRET)
    with open(os.path.join(srv.data, "secret.txt"), "wb") as f:
        f.write(SECRET)
    with open(os.path.join(srv.dir, "secret.txt"), "wb") as f:
        f.write(SECRET)
    with open(srv.media_path("big.bin"), "wb") as f:
        f.write(b"\xab" * SLOW_FILE_SIZE)
    srv.start()


def server_still_serves():
    r = svtest.request(srv.port, "GET", "/media/ok.txt")
    check_eq((r.status, r.body), (200, b"fine\n"), "good request on a new connection")


def bad(data, statuses, what, closed=True):
    """Sends raw bytes, expects one of statuses and (by default) a close; then
    checks that the server still serves."""
    if isinstance(data, str):
        data = data.encode("latin-1")
    if isinstance(statuses, int):
        statuses = (statuses,)
    r, was_closed = svtest.raw_exchange(srv.port, data)
    check(r is not None, "%s: no response" % what)
    check(r.status in statuses, "%s: status %d, expected %s" % (what, r.status, statuses))
    check(SECRET not in r.body, "%s: secret served" % what)
    if closed:
        check(was_closed, "%s: connection not closed after the error" % what)
    server_still_serves()
    return r


# ---------------------------------------------------------------- syntax


def test_malformed_request_line_is_400():
    bad("GARBAGE\r\n\r\n", 400, "no target")
    bad("GET\r\n\r\n", 400, "method only")
    bad("GET /\r\n\r\n", 400, "HTTP/0.9")
    bad("GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400, "double space")
    bad("GET / HTTP/1.1 extra\r\nHost: a\r\n\r\n", 400, "extra field")
    bad("G@T / HTTP/1.1\r\nHost: a\r\n\r\n", 400, "bad method char")
    bad("GET / HTTP/1.1\rHost: a\r\n\r\n", 400, "bare CR")
    bad("GET / http/1.1\r\nHost: a\r\n\r\n", 400, "lowercase version")


def test_bad_header_syntax_is_400():
    bad("GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400, "space before colon")
    bad("GET / HTTP/1.1\r\nHost: a\r\nBad Header: x\r\n\r\n", 400, "space in name")
    bad("GET / HTTP/1.1\r\nHost: a\r\nX: one\r\n two\r\n\r\n", 400, "obs-fold")
    bad("GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n", 400, "no colon")
    bad("GET / HTTP/1.1\r\nHost: a\r\n: empty\r\n\r\n", 400, "empty name")
    bad("GET / HTTP/1.1\r\nHost: a\r\nX: a\x7fb\r\n\r\n", 400, "DEL in value")
    bad("GET / HTTP/1.1\r\n\r\n", 400, "no Host in HTTP/1.1")
    bad("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, "two Hosts")


def test_huge_header_is_431():
    bad("GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + "v" * 20000 + "\r\n\r\n", 431, "20 KB header")
    many = "".join("X-H%d: %d\r\n" % (i, i) for i in range(200))
    bad("GET / HTTP/1.1\r\nHost: a\r\n" + many + "\r\n", 431, "many small headers over 16 KB")


def test_too_many_headers_is_431():
    hs = "".join("X-H%d: v\r\n" % i for i in range(60))
    bad("GET /media/ok.txt HTTP/1.1\r\nHost: a\r\n" + hs + "\r\n", 431, "60 headers, limit 50")
    # at the limit is fine
    hs = "".join("X-H%d: v\r\n" % i for i in range(49))
    r, _ = svtest.raw_exchange(srv.port, ("GET /media/ok.txt HTTP/1.1\r\nHost: a\r\n" + hs +
                                          "\r\n").encode(), wait_close=0)
    check(r is not None and r.status == 200, "50 headers accepted: %r" % r)


def test_uri_over_8k_is_414():
    bad("GET /media/" + "a" * 9000 + " HTTP/1.1\r\nHost: a\r\n\r\n", 414, "9000-byte target")
    r = srv.get("/media/" + "a" * 3000)
    check_eq(r.status, 404, "a 3000-byte target is fine (no such file)")


def test_http2_request_line_is_505():
    bad("GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505, "HTTP/2.0")
    bad("GET / HTTP/3.0\r\nHost: a\r\n\r\n", 505, "HTTP/3.0")
    # the HTTP/2 preface is not an HTTP/1.1 request either
    r, closed = svtest.raw_exchange(srv.port, b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
    check(r is None or r.status in (400, 505), "h2 preface: %r" % r)
    check(closed, "h2 preface: closed")
    server_still_serves()


# ---------------------------------------------------------------- framing


def test_conflicting_content_length_is_400():
    bad("GET /healthz HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 5\r\n\r\nabcde",
        400, "two different Content-Lengths")
    bad("GET /healthz HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 5\r\n\r\nabcde", 400, "CL list")
    bad("GET /healthz HTTP/1.1\r\nHost: a\r\nContent-Length: +3\r\n\r\nabc", 400, "CL sign")
    bad("GET /healthz HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999999\r\n\r\n",
        (400, 413), "CL overflow")


def test_content_length_with_transfer_encoding_is_400():
    bad("GET /healthz HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
        "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400, "CL + TE")
    bad("GET /healthz HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
        "Content-Length: 5\r\n\r\n0\r\n\r\n", 400, "TE + CL")
    bad("GET /healthz HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
        "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400, "TE twice")
    bad("GET /healthz HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400, "TE in 1.0")


def test_transfer_encoding_gzip_is_501():
    bad("GET /healthz HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", 501, "gzip")
    bad("GET /healthz HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
        501, "gzip, chunked")


def test_invalid_chunk_size_is_400():
    te = "GET /healthz HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
    bad(te + "zz\r\nabc\r\n0\r\n\r\n", 400, "non-hex size")
    bad(te + "-1\r\nabc\r\n0\r\n\r\n", 400, "negative size")
    bad(te + "fffffffffffffffff\r\n", (400, 413), "size overflowing 64 bits")
    bad(te + "3\r\nabcX\r\n0\r\n\r\n", 400, "no CRLF after chunk data")
    bad(te + "3\rabc\r\n0\r\n\r\n", 400, "bare CR after size")
    # a valid chunked body on a route that takes none is read and the request served
    r, _ = svtest.raw_exchange(srv.port, (te + "3\r\nabc\r\n0\r\n\r\n").encode(), wait_close=0)
    check(r is not None and r.status == 200, "valid chunked body accepted: %r" % r)


def test_body_over_limit_is_refused_and_connection_closed():
    # a route that exists but takes at most http_max_body_bytes
    r = bad("GET /healthz HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n" % (2 * 1024 * 1024),
            413, "2 MB declared on GET /healthz")
    check_eq(r.header("Connection"), "close", "413 says close")
    # a chunked body that grows over the limit
    with srv.conn() as c:
        c.send("GET /healthz HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n")
        try:
            for _ in range(20):
                c.send(b"4000\r\n" + b"x" * 0x4000 + b"\r\n")
        except OSError:
            pass
        r = c.read_response()
        check_eq(r.status, 413, "chunked over the limit")
        check(c.closed_within(3), "closed after 413")
    # no route takes POST: answered without reading the body, and closed
    r = bad("POST /nowhere HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n" % (2 * 1024 * 1024),
            (404, 405, 413), "2 MB POST to a route that takes none")
    server_still_serves()


# ---------------------------------------------------------------- paths


def _traversal_paths():
    abs_secret = os.path.join(srv.data, "secret.txt")
    abs_secret2 = os.path.join(srv.dir, "secret.txt")
    return [
        "/media/../secret.txt",
        "/media/%2e%2e/secret.txt",
        "/media/%2E%2E/secret.txt",
        "/media/..%2fsecret.txt",
        "/media/%2e%2e%2fsecret.txt",
        "/media/.%2e/secret.txt",
        "/media/../../secret.txt",
        "/%2e%2e/etc/passwd",
        "/media/%2e%2e/%2e%2e/secret.txt",
        "/media/..\\secret.txt",
        "/media/.hidden",
        "/media/%2ehidden",
        # the data dir's secret by absolute path, through /media/.. and directly
        "/media/.." + abs_secret,
        "/media/..%2f.." + abs_secret2.replace("/", "%2f"),
        abs_secret,
        abs_secret2,
        # out of the web root (web/ is next to secret.txt)
        "/../secret.txt",
        "/..%2fsecret.txt",
        "/%2e%2e/secret.txt",
        "/.%2e/secret.txt",
        "/web/../../secret.txt",
    ]


def test_path_traversal_never_serves_files_outside_media():
    leaks = []
    for path in _traversal_paths():
        for method in ("GET", "HEAD"):
            r, _ = svtest.raw_exchange(srv.port, svtest.build_request(method, path), wait_close=0)
            if r is None:
                continue
            if SECRET in r.body or r.status not in (400, 403, 404):
                leaks.append("%s %s -> %d (%d bytes%s)" % (method, path, r.status, len(r.body),
                                                          ", the secret" if SECRET in r.body
                                                          else ""))
    check(not leaks, "served outside media/:\n  " + "\n  ".join(leaks))
    server_still_serves()


def test_web_route_does_not_serve_the_filesystem():
    # The web route serves web_root only: never the filesystem root.
    r = srv.get("/")
    check_eq(r.status, 200, "the web root's index.html")
    check(b"web root" in r.body, "index.html served at /")
    leaks = []
    for path in ("/etc/passwd", "/etc/hostname", "/proc/self/environ", "/proc/self/cmdline"):
        r = srv.get(path)
        if r.status == 200:
            leaks.append("%s -> 200 (%d bytes)" % (path, len(r.body)))
    check(not leaks, "filesystem served through the web route:\n  " + "\n  ".join(leaks))


def test_directory_redirect_is_never_protocol_relative():
    # A directory without its slash is redirected; "//docs" must not become
    # "Location: //docs/", which a browser follows to the host "docs".
    r = srv.get("/docs")
    check_eq((r.status, r.header("Location")), (301, "/docs/"), "plain directory redirect")
    bad = []
    for path in ("//docs", "///docs", "/%2fdocs", "/%2F%2Fdocs", "/.//docs"):
        r = srv.get(path)
        loc = r.header("Location") or ""
        if r.status in (301, 302, 303, 307, 308) and (loc.startswith("//") or
                                                        loc.startswith("/\\")):
            bad.append("%s -> %d Location: %s" % (path, r.status, loc))
    check(not bad, "protocol-relative redirects (open redirect):\n  " + "\n  ".join(bad))


def test_encoded_nul_is_400():
    bad("GET /media/ok.txt%00.jpg HTTP/1.1\r\nHost: a\r\n\r\n", 400, "%00 in the path")
    bad("GET /media/%00 HTTP/1.1\r\nHost: a\r\n\r\n", 400, "%00 alone")
    bad("GET /media/ok%zz.txt HTTP/1.1\r\nHost: a\r\n\r\n", 400, "bad escape")


def test_raw_nul_byte_is_400():
    bad(b"GET /media/ok.txt\x00 HTTP/1.1\r\nHost: a\r\n\r\n", 400, "NUL in the target")
    bad(b"GET /media/ok.txt HTTP/1.1\r\nHost: a\x00b\r\n\r\n", 400, "NUL in a value")
    bad(b"GET /media/ok.txt HTTP/1.1\r\nHo\x00st: a\r\n\r\n", 400, "NUL in a name")
    bad(b"\x00GET / HTTP/1.1\r\nHost: a\r\n\r\n", 400, "NUL first")


# ---------------------------------------------------------------- timeouts and limits


def test_one_byte_per_second_is_cut_off_by_header_timeout():
    req = b"GET /media/ok.txt HTTP/1.1\r\nHost: a\r\nX-Slow: " + b"z" * 100
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    t0 = time.monotonic()
    got = b""
    closed_at = None
    try:
        for i in range(len(req)):
            try:
                s.sendall(req[i:i + 1])
            except OSError:
                closed_at = time.monotonic()
                break
            if svtest.select_readable(s, 1.0):
                try:
                    d = s.recv(65536)
                except ConnectionResetError:
                    d = b""
                got += d
                if not d:
                    closed_at = time.monotonic()
                    break
                # the response came: read on to the close
                s.settimeout(3)
                while True:
                    try:
                        d = s.recv(65536)
                    except (ConnectionResetError, socket.timeout):
                        d = b""
                    if not d:
                        break
                    got += d
                closed_at = time.monotonic()
                break
            if time.monotonic() - t0 > 8:
                break
    finally:
        s.close()
    check(closed_at is not None, "still open after %.1f s of a 1 byte/s client"
          % (time.monotonic() - t0))
    dt = closed_at - t0
    check(1.5 <= dt <= 4.5, "cut off after %.1f s, expected ~2 s" % dt)
    if got:
        check(got.startswith(b"HTTP/1.1 408 "), "answer is a 408: %r" % got[:40])
    server_still_serves()


def test_slow_body_is_cut_off_by_body_timeout():
    with srv.conn() as c:
        c.send("GET /healthz HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nab")
        t0 = time.monotonic()
        r = c.read_response()
        dt = time.monotonic() - t0
        check_eq(r.status, 408, "stalled body")
        check(1.5 <= dt <= 4.5, "408 after %.1f s, expected ~2 s" % dt)
        check(c.closed_within(3), "closed after the 408")
    server_still_serves()


def test_idle_keep_alive_connection_is_closed_after_timeout():
    with srv.conn() as c:
        r = c.request("GET", "/media/ok.txt")
        check_eq(r.status, 200)
        t0 = time.monotonic()
        check(not c.closed_within(1.2), "closed too early (keep-alive is 2 s)")
        check(c.closed_within(3.5), "idle connection not closed after 2 s")
        dt = time.monotonic() - t0
        check(1.5 <= dt <= 4.5, "closed after %.1f s, expected ~2 s" % dt)
        check_eq(c.buf, b"", "closed without a response")


def test_connection_limit_answers_503_to_the_21st():
    check(srv.wait_open_connections(0, 6), "connections from earlier tests did not close")
    conns = []
    try:
        for i in range(MAX_CONN):
            c = srv.conn()
            conns.append(c)
            r = c.request("GET", "/media/ok.txt")  # accepted and kept alive
            check_eq(r.status, 200, "connection %d" % (i + 1))
        extra = srv.conn()
        try:
            check(extra.closed_within(3), "the 21st connection is not closed")
            raw = extra.buf
        finally:
            extra.close()
        head, sep, body = raw.partition(b"\r\n\r\n")
        check(head.startswith(b"HTTP/1.1 503 "), "the 21st connection: %r" % raw[:60])
        check(b"\r\nretry-after:" in head.lower(), "503 has Retry-After")
        cl = [ln.split(b":", 1)[1].strip() for ln in head.split(b"\r\n")
              if ln.lower().startswith(b"content-length:")]
        overload_503["head"] = head
        check(cl and int(cl[0]) == len(body),
              "503 framing: Content-Length %s but %d body bytes" % (cl and cl[0].decode(), len(body)))
        # the 20 still work
        r = conns[0].request("GET", "/media/ok.txt")
        check_eq(r.status, 200, "an open connection still served at the limit")
        # one leaves: a new one gets in
        conns.pop().close()
        ok = svtest.wait_until(lambda: _try_request(), 3)
        check(ok, "a new connection is served once one closed")
    finally:
        for c in conns:
            c.close()


overload_503 = {}


def test_overload_503_has_date_and_request_id():
    head = overload_503.get("head")
    check(head is not None, "no 503 from the connection-limit test")
    lower = head.lower()
    check(b"\r\ndate:" in lower, "503 without Date: %r" % head)
    check(b"\r\nx-request-id:" in lower, "503 without X-Request-Id: %r" % head)


def _try_request():
    try:
        r = svtest.request(srv.port, "GET", "/media/ok.txt", timeout=2)
        return r.status == 200
    except (OSError, svtest.ConnClosed):
        return False


def test_slow_reader_is_cut_off_and_others_served():
    check(srv.wait_open_connections(0, 6), "connections from earlier tests did not close")
    before = srv.metric("streamverse_http_timeouts_total") or 0
    slow = svtest.Conn(srv.port, rcvbuf=32768)
    try:
        slow.send(svtest.build_request("GET", "/media/big.bin"))
        t0 = time.monotonic()
        # others are served at once while the slow reader is stuck
        for _ in range(5):
            t = time.monotonic()
            server_still_serves()
            check(time.monotonic() - t < 1.0, "a good request took over 1 s")
        # the server gives up after http_send_timeout without progress
        cut = svtest.wait_until(
            lambda: (srv.metric("streamverse_http_timeouts_total") or 0) > before, 8, step=0.2)
        dt = time.monotonic() - t0
        check(cut, "no send timeout within 8 s")
        check(1.5 <= dt <= 6, "send timeout after %.1f s, expected ~2 s" % dt)
        # reading now: the response stops short of 20 MB and the connection ends
        got = 0
        slow.sock.settimeout(5)
        while True:
            try:
                d = slow.sock.recv(1 << 20)
            except (ConnectionResetError, socket.timeout):
                break
            if not d:
                break
            got += len(d)
        check(got < SLOW_FILE_SIZE, "the slow reader got all %d bytes" % got)
    finally:
        slow.close()
    server_still_serves()


def test_keepalive_timeout_zero_disables_keep_alive():
    # "0 disables keep-alive" (streamverse config): answers say close and
    # the connection does not stay open idle.
    other = svtest.Server("nokeepalive", {"http_keepalive_timeout": "0"})
    try:
        other.start()
        with other.conn() as c:
            r = c.request("GET", "/healthz")
            check_eq(r.status, 200)
            closed = c.closed_within(3)
            check(closed or r.header("Connection") == "close",
                  "keep-alive still on: Connection %r, idle connection open after 3 s"
                  % r.header("Connection"))
        ok, msg = other.stop()
        check(ok, "second server exit: %s" % msg)
    finally:
        other.cleanup()


def main():
    try:
        setup()
    except Exception as e:  # noqa: BLE001
        tap.ok(False, "server_starts", str(e))
        srv.cleanup()
        tap.done()
    tests = [
        test_malformed_request_line_is_400,
        test_bad_header_syntax_is_400,
        test_huge_header_is_431,
        test_too_many_headers_is_431,
        test_uri_over_8k_is_414,
        test_http2_request_line_is_505,
        test_conflicting_content_length_is_400,
        test_content_length_with_transfer_encoding_is_400,
        test_transfer_encoding_gzip_is_501,
        test_invalid_chunk_size_is_400,
        test_body_over_limit_is_refused_and_connection_closed,
        test_path_traversal_never_serves_files_outside_media,
        test_web_route_does_not_serve_the_filesystem,
        test_directory_redirect_is_never_protocol_relative,
        test_encoded_nul_is_400,
        test_raw_nul_byte_is_400,
        test_one_byte_per_second_is_cut_off_by_header_timeout,
        test_slow_body_is_cut_off_by_body_timeout,
        test_idle_keep_alive_connection_is_closed_after_timeout,
        test_connection_limit_answers_503_to_the_21st,
        test_overload_503_has_date_and_request_id,
        test_slow_reader_is_cut_off_and_others_served,
        test_keepalive_timeout_zero_disables_keep_alive,
    ]
    try:
        for t in tests:
            tap.run(t)
    finally:
        ok, msg = srv.stop()
        tap.ok(ok, "server_exits_cleanly_on_sigterm", msg)
        srv.cleanup()
    tap.done()


if __name__ == "__main__":
    main()
