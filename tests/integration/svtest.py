"""svtest: shared helpers for StreamVerse integration tests (python3 stdlib only).

- Server: starts the real binary ($SV_BIN) on a free loopback port with a
  temporary data directory and a generated config file, waits for /healthz,
  stops it with SIGTERM and checks that it exits 0 in time with no sanitizer
  report on its stderr.
- Conn / request(): raw-socket HTTP/1.1 with timeouts; responses are read by
  their framing (Content-Length, chunked, or close), HEAD-aware, so pipelined
  answers can be read one by one.
- Tap: TAP output ("ok N - name" / "not ok N - name", then "1..N") and the
  exit status; each test is a function run with exceptions caught.
"""

import glob
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SANITIZER_MARKS = (
    "ERROR: AddressSanitizer",
    "ERROR: LeakSanitizer",
    "ERROR: ThreadSanitizer",
    "runtime error:",
    "UndefinedBehaviorSanitizer",
)


def sv_bin():
    b = os.environ.get("SV_BIN") or os.path.join(REPO, "build", "streamverse")
    return os.path.abspath(b)


def is_sanitized():
    """True when the binary is the ASan/UBSan build (slower: give it more time)."""
    return os.environ.get("SV_VARIANT") == "san" or "/san/" in sv_bin()


def slow_factor():
    return 2.0 if is_sanitized() else 1.0


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# ---------------------------------------------------------------- TAP


class Tap:
    """Numbers results and prints them as TAP; done() prints the plan and exits."""

    def __init__(self):
        self.n = 0
        self.failed = 0

    def ok(self, cond, name, diag=None):
        self.n += 1
        if not cond:
            self.failed += 1
        print("%s %d - %s" % ("ok" if cond else "not ok", self.n, name), flush=True)
        if not cond and diag:
            self.diag(diag)
        return cond

    def diag(self, text):
        for line in str(text).splitlines():
            print("# " + line, flush=True)

    def run(self, fn, *args):
        """Runs fn(*args); it passes unless it raises (AssertionError or other)."""
        name = fn.__name__
        if name.startswith("test_"):
            name = name[5:]
        t0 = time.monotonic()
        try:
            fn(*args)
        except Exception as e:  # noqa: BLE001 - every failure becomes a TAP line
            detail = "%s: %s" % (type(e).__name__, e)
            if not isinstance(e, AssertionError):
                detail += "\n" + traceback.format_exc()
            return self.ok(False, name, detail)
        ok = self.ok(True, name)
        if os.environ.get("SV_TEST_TIMES"):
            self.diag("%s took %.2f s" % (name, time.monotonic() - t0))
        return ok

    def done(self):
        print("1..%d" % self.n, flush=True)
        sys.exit(1 if self.failed else 0)


def check(cond, msg="check failed"):
    if not cond:
        raise AssertionError(msg)


def check_eq(got, want, what="value"):
    if got != want:
        raise AssertionError("%s: got %r, expected %r" % (what, got, want))


# ---------------------------------------------------------------- HTTP client


class Response:
    def __init__(self):
        self.status = 0
        self.reason = ""
        self.version = ""
        self.headers = []  # (name, value) in order
        self.body = b""
        self.raw_head = b""

    def header(self, name, default=None):
        name = name.lower()
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return default

    def header_all(self, name):
        name = name.lower()
        return [v for k, v in self.headers if k.lower() == name]

    def __repr__(self):
        return "<Response %d %r, %d body bytes>" % (self.status, self.reason, len(self.body))


class ConnClosed(Exception):
    pass


class Conn:
    """A raw TCP connection to the server with a read buffer."""

    def __init__(self, port, host="127.0.0.1", timeout=5.0, rcvbuf=None):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.settimeout(timeout)
        self.sock.connect((host, port))
        self.timeout = timeout
        self.buf = b""
        self.eof = False

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()

    def send(self, data):
        if isinstance(data, str):
            data = data.encode("latin-1")
        self.sock.sendall(data)

    def _fill(self, timeout=None):
        """Reads more bytes; returns how many (0 at EOF). Raises socket.timeout."""
        self.sock.settimeout(self.timeout if timeout is None else timeout)
        try:
            d = self.sock.recv(262144)
        except ConnectionResetError:
            d = b""
        if not d:
            self.eof = True
            return 0
        self.buf += d
        return len(d)

    def _need(self, n):
        while len(self.buf) < n:
            if self._fill() == 0:
                raise ConnClosed("connection closed after %d of %d bytes" % (len(self.buf), n))

    def _line(self):
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                line, self.buf = self.buf[:i], self.buf[i + 2:]
                return line
            if self._fill() == 0:
                raise ConnClosed("connection closed in a line")

    def read_response(self, head=False):
        """Reads one response (a 1xx is a response too). head: answer to HEAD."""
        while b"\r\n\r\n" not in self.buf:
            if self._fill() == 0:
                raise ConnClosed("connection closed before a response head (%r)" % self.buf[:200])
        i = self.buf.index(b"\r\n\r\n")
        raw, self.buf = self.buf[:i], self.buf[i + 4:]
        r = Response()
        r.raw_head = raw
        lines = raw.decode("latin-1").split("\r\n")
        m = re.match(r"^(HTTP/\d\.\d) (\d{3}) ?(.*)$", lines[0])
        if not m:
            raise AssertionError("bad status line %r" % lines[0])
        r.version, r.status, r.reason = m.group(1), int(m.group(2)), m.group(3)
        for line in lines[1:]:
            k, _, v = line.partition(":")
            r.headers.append((k, v.strip()))
        if head or r.status < 200 or r.status in (204, 304):
            return r
        te = r.header("Transfer-Encoding")
        cl = r.header("Content-Length")
        if te and te.lower() == "chunked":
            parts = []
            while True:
                size = int(self._line().split(b";")[0], 16)
                if size == 0:
                    while self._line() != b"":
                        pass
                    break
                self._need(size + 2)
                parts.append(self.buf[:size])
                check(self.buf[size:size + 2] == b"\r\n", "chunk not followed by CRLF")
                self.buf = self.buf[size + 2:]
            r.body = b"".join(parts)
        elif cl is not None:
            n = int(cl)
            self._need(n)
            r.body, self.buf = self.buf[:n], self.buf[n:]
        else:
            while self._fill() > 0:
                pass
            r.body, self.buf = self.buf, b""
        return r

    def request(self, method, path, headers=None, body=b"", version="HTTP/1.1"):
        """Sends one request (Host added for HTTP/1.1) and reads its response."""
        self.send(build_request(method, path, headers, body, version))
        return self.read_response(head=(method == "HEAD"))

    def closed_within(self, seconds):
        """True if the server closes (EOF or reset) within seconds; bytes that
        arrive meanwhile are kept in self.buf."""
        end = time.monotonic() + seconds
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return False
            try:
                if self._fill(timeout=left) == 0:
                    return True
            except (socket.timeout, TimeoutError):
                return False
            except OSError:
                return True


def build_request(method, path, headers=None, body=b"", version="HTTP/1.1"):
    if isinstance(body, str):
        body = body.encode("latin-1")
    hs = list(headers.items()) if isinstance(headers, dict) else list(headers or [])
    names = {k.lower() for k, _ in hs}
    if version == "HTTP/1.1" and "host" not in names:
        hs.insert(0, ("Host", "127.0.0.1"))
    if body and "content-length" not in names and "transfer-encoding" not in names:
        hs.append(("Content-Length", str(len(body))))
    head = "%s %s %s\r\n" % (method, path, version)
    head += "".join("%s: %s\r\n" % (k, v) for k, v in hs)
    return head.encode("latin-1") + b"\r\n" + body


def request(port, method, path, headers=None, body=b"", version="HTTP/1.1", timeout=5.0):
    """One request on a fresh connection."""
    with Conn(port, timeout=timeout) as c:
        return c.request(method, path, headers, body, version)


def raw_exchange(port, data, timeout=5.0, wait_close=3.0):
    """Sends raw bytes on a fresh connection and reads one response. Returns
    (response or None, closed_after) where closed_after says whether the server
    closed the connection within wait_close seconds after answering (None when
    wait_close is 0: not checked)."""
    with Conn(port, timeout=timeout) as c:
        try:
            c.send(data)
        except OSError:
            pass
        try:
            r = c.read_response(head=bytes(data[:5]) == b"HEAD ")
        except ConnClosed:
            return None, True
        return r, (c.closed_within(wait_close) if wait_close else None)


# ---------------------------------------------------------------- the server


class Server:
    """The real streamverse binary on a private data dir and port.

    config: extra "key = value" settings (values written as given: quote
    strings yourself). The data dir has media/ ready before the start, so
    tests can put files there first with media_path()."""

    def __init__(self, name, config=None):
        self.name = name
        self.bin = sv_bin()
        self.dir = tempfile.mkdtemp(prefix="sv-%s-" % name)
        self.data = os.path.join(self.dir, "data")
        self.media = os.path.join(self.data, "media")
        os.makedirs(self.media)
        self.config = dict(config or {})
        self.port = None
        self.proc = None
        self.stdout_path = os.path.join(self.dir, "stdout.log")
        self.stderr_path = os.path.join(self.dir, "stderr.log")
        self.conf_path = os.path.join(self.dir, "streamverse.conf")
        self.exit_code = None

    def media_path(self, rel):
        p = os.path.join(self.media, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        return p

    def put_media(self, rel, data):
        with open(self.media_path(rel), "wb") as f:
            f.write(data)
        return self.media_path(rel)

    def _write_config(self, port):
        lines = [
            "# generated by tests/integration/svtest.py",
            'data_dir = "%s"' % self.data,
            'listen = "127.0.0.1:%d"' % port,
            'access_log = ""',
            "workers = 2",
            "job_workers = 1",
            "log_level = info",
        ]
        for k, v in self.config.items():
            lines.append("%s = %s" % (k, v))
        with open(self.conf_path, "w") as f:
            f.write("\n".join(lines) + "\n")

    def start(self, timeout=None):
        timeout = timeout or 15 * slow_factor()
        env = dict(os.environ)
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0:halt_on_error=1")
        env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
        supp = os.path.join(REPO, "tests", "lsan.supp")
        if os.path.exists(supp):
            env.setdefault("LSAN_OPTIONS", "suppressions=%s:print_suppressions=0" % supp)
        last = ""
        for _attempt in range(5):
            port = free_port()
            self._write_config(port)
            out = open(self.stdout_path, "wb")
            err = open(self.stderr_path, "wb")
            self.proc = subprocess.Popen(
                [self.bin, "serve", "--config", self.conf_path],
                stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env, cwd=self.dir)
            out.close()
            err.close()
            self.port = port
            end = time.monotonic() + timeout
            while time.monotonic() < end:
                if self.proc.poll() is not None:
                    break
                try:
                    r = request(port, "GET", "/healthz", timeout=1.0)
                    if r.status == 200:
                        return self
                except (OSError, ConnClosed):
                    pass
                time.sleep(0.05)
            last = self.stderr_text()[-2000:]
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
                raise RuntimeError("server did not answer /healthz in %.0f s:\n%s" % (timeout, last))
            if "listen" not in last and "bind" not in last:
                break  # not a port clash: do not retry
        raise RuntimeError("server failed to start (exit %s):\n%s" % (self.proc.returncode, last))

    def stderr_text(self):
        try:
            with open(self.stderr_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def sanitizer_report(self):
        """The first sanitizer report line in the server's stderr, or None."""
        for line in self.stderr_text().splitlines():
            if any(m in line for m in SANITIZER_MARKS):
                return line
        return None

    def stop(self, timeout=None):
        """SIGTERM, then waits. Returns (ok, message): ok when it exited 0 within
        timeout with no sanitizer report."""
        timeout = timeout or 5 * slow_factor()
        if self.proc is None:
            return False, "not started"
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                return False, "did not exit within %.0f s of SIGTERM" % timeout
        self.exit_code = self.proc.returncode
        rep = self.sanitizer_report()
        if rep:
            return False, "sanitizer report: %s\n%s" % (rep, self.stderr_text()[-4000:])
        if self.exit_code != 0:
            return False, "exit status %d\n%s" % (self.exit_code, self.stderr_text()[-2000:])
        return True, "exited 0"

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def cleanup(self):
        self.kill()
        if os.environ.get("SV_KEEP_TMP"):
            print("# kept %s" % self.dir)
            return
        shutil.rmtree(self.dir, ignore_errors=True)

    # -- conveniences

    def get(self, path, headers=None, **kw):
        return request(self.port, "GET", path, headers, **kw)

    def conn(self, **kw):
        return Conn(self.port, **kw)

    def metrics(self):
        r = self.get("/metrics")
        check_eq(r.status, 200, "/metrics status")
        return r.body.decode()

    def metric(self, name):
        """The value of an unlabelled metric line, or None."""
        m = re.search(r"^%s (\S+)$" % re.escape(name), self.metrics(), re.M)
        return float(m.group(1)) if m else None

    def wait_open_connections(self, most, seconds=5.0):
        """Waits until the server reports at most `most` open connections
        besides the one asking."""
        end = time.monotonic() + seconds
        v = None
        while time.monotonic() < end:
            v = self.metric("streamverse_http_connections_open")
            if v is not None and v - 1 <= most:
                return True
            time.sleep(0.1)
        return False


RECORDINGS = os.path.join(REPO, "build", "test-media")


def real_recordings():
    """The real recordings ORACLES.md names, fetched once into build/test-media/
    with `apt-get download` (never committed): a sorted list of paths."""
    os.makedirs(RECORDINGS, exist_ok=True)
    want = {"python3-imageio": "*/imageio/resources/images/*.mp4",
            "golang-github-gabriel-vasile-mimetype-dev": "*/mimetype/testdata/*"}
    files = []
    for pkg, pattern in want.items():
        root = os.path.join(RECORDINGS, pkg)
        if not os.path.isdir(root):
            debdir = tempfile.mkdtemp(dir=RECORDINGS)
            subprocess.run(["apt-get", "download", pkg], cwd=debdir, check=True,
                           capture_output=True, timeout=300)
            deb = glob.glob(os.path.join(debdir, "*.deb"))[0]
            subprocess.run(["dpkg-deb", "-x", deb, root + ".tmp"], check=True)
            os.rename(root + ".tmp", root)
        files += glob.glob(os.path.join(root, "**", pattern.split("/")[-2], pattern.split("/")[-1]),
                           recursive=True)
    media = [f for f in files if f.rsplit(".", 1)[-1] in ("mp4", "mov", "webm", "ogv", "3gp", "flv", "mkv")]
    return sorted(media)


def wait_until(pred, seconds, step=0.05):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return pred()


def select_readable(sock, timeout):
    r, _, _ = select.select([sock], [], [], timeout)
    return bool(r)
