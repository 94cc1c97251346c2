#!/usr/bin/env python3
"""t_api: the JSON API conventions on the real server, through the jobs API.

Creating jobs (201 + Location, validation errors in the one error shape with
the field named), pagination (limit, next_cursor, the last page's null
cursor, bad limits and cursors), the worker running queued jobs (done, and
failed with the reason for a kind nobody handles), job gauges in /metrics,
/readyz, and errors on unknown routes and methods.
"""

import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import svtest  # noqa: E402
from svtest import check, check_eq  # noqa: E402

srv = svtest.Server("api", {"job_poll": "100ms", "api_page_default": "2", "api_page_max": "3"})
tap = svtest.Tap()


def call(method, path, body=None, headers=None):
    data = json.dumps(body).encode() if isinstance(body, (dict, list)) else (body or b"")
    h = {"Content-Type": "application/json"} if data else {}
    h.update(headers or {})
    r = svtest.request(srv.port, method, path, h, data)
    doc = None
    if r.body and (r.header("Content-Type") or "").startswith("application/json"):
        doc = json.loads(r.body)
    return r, doc


def check_error(r, doc, status, code, field=None):
    check_eq(r.status, status, "status")
    check(isinstance(doc, dict) and set(doc) == {"error"}, "one error shape: %r" % (doc,))
    err = doc["error"]
    check_eq(err.get("code"), code, "error code")
    check(isinstance(err.get("message"), str) and err["message"], "a message")
    if field is not None:
        check_eq(err.get("field"), field, "error field")


def test_create_job_answers_201_with_location():
    r, doc = call("POST", "/api/v1/jobs", {"kind": "tmp.cleanup", "payload": {"max_age_seconds": 0},
                                          "priority": 5})
    check_eq(r.status, 201, "status")
    check_eq(r.header("Location"), "/api/v1/jobs/%d" % doc["id"], "Location")
    check_eq(doc["kind"], "tmp.cleanup", "kind")
    check_eq(doc["priority"], 5, "priority")
    check_eq(doc["payload"], {"max_age_seconds": 0}, "payload")
    check(doc["created_at"].endswith("Z"), "times are UTC ISO 8601")
    r2, doc2 = call("GET", r.header("Location"))
    check_eq(r2.status, 200, "GET Location")
    check_eq(doc2["id"], doc["id"], "same job")


def test_validation_errors_name_the_field():
    r, doc = call("POST", "/api/v1/jobs", {"payload": {}})
    check_error(r, doc, 400, "bad_request", "kind")
    r, doc = call("POST", "/api/v1/jobs", {"kind": "x", "priority": "high"})
    check_error(r, doc, 400, "bad_request", "priority")
    r, doc = call("POST", "/api/v1/jobs", {"kind": "x", "payload": [1]})
    check_error(r, doc, 400, "bad_request", "payload")
    r, doc = call("POST", "/api/v1/jobs", b'{"kind": "x", "kind": "y"}')
    check_error(r, doc, 400, "bad_request")
    check("line 1" in doc["error"]["message"], "parse errors say where: %r" % doc)
    r, doc = call("POST", "/api/v1/jobs", b"[" * 100 + b"]" * 100)
    check(r.status in (400, 413), "deep JSON refused: %d" % r.status)
    r, doc = call("GET", "/api/v1/jobs/abc")
    check_error(r, doc, 400, "bad_request", "id")
    r, doc = call("GET", "/api/v1/jobs/999999")
    check_error(r, doc, 404, "not_found", "id")


def test_pagination_walks_every_job_once():
    for i in range(5):
        r, _ = call("POST", "/api/v1/jobs", {"kind": "page.test.%d" % i, "delay_seconds": 3600})
        check_eq(r.status, 201, "created")
    seen, cursor, pages = [], None, 0
    while True:
        path = "/api/v1/jobs?limit=2" + ("&cursor=" + cursor if cursor else "")
        r, doc = call("GET", path)
        check_eq(r.status, 200, "status")
        check(set(doc) == {"items", "next_cursor"}, "list shape: %r" % list(doc))
        check(len(doc["items"]) <= 2, "at most limit items")
        seen += [j["id"] for j in doc["items"]]
        pages += 1
        cursor = doc["next_cursor"]
        if cursor is None:
            break
        check(pages < 20, "pagination ends")
    check_eq(seen, sorted(set(seen)), "ascending, no repeats")
    r, doc = call("GET", "/api/v1/jobs?limit=1000")
    check_error(r, doc, 400, "bad_request", "limit")
    r, doc = call("GET", "/api/v1/jobs?limit=0")
    check_error(r, doc, 400, "bad_request", "limit")
    r, doc = call("GET", "/api/v1/jobs?cursor=zz")
    check_error(r, doc, 400, "bad_request", "cursor")
    r, doc = call("GET", "/api/v1/jobs")
    check_eq(len(doc["items"]), 2, "api_page_default applies")
    r, doc = call("GET", "/api/v1/jobs?state=sleeping")
    check_error(r, doc, 400, "bad_request", "state")


def wait_state(job_id, states, seconds=10):
    end = time.monotonic() + seconds * svtest.slow_factor()
    doc = None
    while time.monotonic() < end:
        _, doc = call("GET", "/api/v1/jobs/%d" % job_id)
        if doc["state"] in states:
            return doc
        time.sleep(0.1)
    return doc


def test_workers_run_jobs_and_record_failures():
    _, done = call("POST", "/api/v1/jobs", {"kind": "tmp.cleanup"})
    _, nope = call("POST", "/api/v1/jobs", {"kind": "no.such.kind"})
    d = wait_state(done["id"], ("done", "failed"))
    check_eq(d["state"], "done", "tmp.cleanup state")
    check_eq(d["progress"], 1.0, "progress")
    check(d["finished_at"] is not None, "finished_at set")
    f = wait_state(nope["id"], ("done", "failed"))
    check_eq(f["state"], "failed", "unknown kind state")
    check("no handler for job kind no.such.kind" in (f["error"] or ""), "reason: %r" % f["error"])
    r, doc = call("GET", "/api/v1/jobs?state=failed")
    check(any(j["id"] == nope["id"] for j in doc["items"]), "state filter finds it")


def test_metrics_report_job_states_and_queue_depth():
    r = svtest.request(srv.port, "GET", "/metrics")
    text = r.body.decode()
    check('streamverse_jobs{state="done"}' in text, "done gauge")
    check('streamverse_jobs{state="failed"}' in text, "failed gauge")
    depth = [l for l in text.splitlines() if l.startswith("streamverse_jobs_queue_depth ")]
    check(len(depth) == 1 and int(depth[0].split()[1]) >= 5, "queue depth counts the delayed jobs: %r" % depth)
    check("streamverse_database_up 1" in text, "database up")


def test_readyz_and_unknown_routes():
    r, doc = call("GET", "/readyz")
    check_eq(r.status, 200, "readyz")
    check_eq(doc, {"status": "ready"}, "readyz body")
    r, doc = call("DELETE", "/api/v1/jobs")
    check_error(r, doc, 405, "method_not_allowed")
    allow = r.header("Allow") or ""
    check("GET" in allow and "POST" in allow, "Allow lists the methods: %r" % allow)
    r, doc = call("GET", "/api/v1/nothing-here")
    check_error(r, doc, 404, "not_found")


def main():
    try:
        srv.start()
    except Exception as e:  # noqa: BLE001
        tap.ok(False, "server_starts", str(e))
        tap.done()
        return
    tests = [
        test_create_job_answers_201_with_location,
        test_validation_errors_name_the_field,
        test_pagination_walks_every_job_once,
        test_workers_run_jobs_and_record_failures,
        test_metrics_report_job_states_and_queue_depth,
        test_readyz_and_unknown_routes,
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
