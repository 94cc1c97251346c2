/*
 * jobs.c: the job queue over the `jobs` table.
 *
 * Every transition after a claim is one UPDATE guarded by
 * `id = ? AND lease_token = ? AND state = 'running'`: a worker whose lease was
 * taken over changes nothing and learns it from zero changed rows.
 */
#include "store/jobs.h"
#include "base/clock.h"
#include "base/jsonx.h"
#include "base/rnd.h"
#include "base/status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const jobs_state_names[JOB_STATE_COUNT] = {"queued", "running", "done",
                                                              "failed"};

/* The column order jobs_row_read expects. */
#define JOBS_COLUMNS                                                                           \
    "id, kind, payload, state, priority, attempts, max_attempts, run_at_ms, lease_until_ms,"   \
    " lease_token, worker, progress_permille, progress_msg, error, created_at_ms,"             \
    " updated_at_ms, finished_at_ms"

/*
 * The claim. The subquery picks the best runnable row; the UPDATE takes it
 * in the same statement. On SQLite a writing statement holds the database
 * write lock from its first step, so two claims cannot both see the row as
 * runnable. On PostgreSQL, FOR UPDATE SKIP LOCKED makes concurrent claimers
 * skip a row another one is taking instead of queueing behind it.
 * %s: the optional kind filter, then the dialect's locking clause.
 */
#define JOBS_CLAIM_SQL                                                                         \
    "UPDATE jobs SET state = 'running', attempts = attempts + 1, lease_token = ?,"             \
    " lease_until_ms = ?, worker = ?, progress_permille = 0, progress_msg = NULL,"             \
    " updated_at_ms = ?"                                                                       \
    " WHERE id = (SELECT id FROM jobs"                                                         \
    "  WHERE ((state = 'queued' AND run_at_ms <= ?)"                                           \
    "   OR (state = 'running' AND lease_until_ms < ? AND attempts < max_attempts))%s"          \
    "  ORDER BY priority DESC, run_at_ms, id LIMIT 1%s)"                                       \
    " RETURNING " JOBS_COLUMNS

static const char jobs_claim_lock_sqlite[] = "";
static const char jobs_claim_lock_pg[] = " FOR UPDATE SKIP LOCKED";

/* A job whose lease expired on its last attempt will not be retried: its
 * worker died while running it, possibly because of it. */
static const char jobs_sql_sweep[] =
    "UPDATE jobs SET state = 'failed',"
    " error = 'lease expired on the last attempt (worker ' || COALESCE(worker, '?') ||"
    " ' lost)', lease_token = NULL, lease_until_ms = NULL, finished_at_ms = ?,"
    " updated_at_ms = ?"
    " WHERE state = 'running' AND lease_until_ms < ? AND attempts >= max_attempts";

#define JOBS_LEASE_GUARD " WHERE id = ? AND lease_token = ? AND state = 'running'"

void
jobs_free(job_t *job)
{
    if (job == NULL)
        return;
    free(job->payload);
    free(job->progress_msg);
    free(job->error);
    job->payload = NULL;
    job->progress_msg = NULL;
    job->error = NULL;
}

const char *
jobs_state_name(job_state_t state)
{
    if ((unsigned)state >= JOB_STATE_COUNT)
        return "unknown";
    return jobs_state_names[state];
}

int
jobs_state_parse(str_t name, job_state_t *out)
{
    for (int i = 0; i < JOB_STATE_COUNT; i++) {
        if (str_eq_cstr(name, jobs_state_names[i])) {
            *out = (job_state_t)i;
            return SV_OK;
        }
    }
    return SV_BAD_DATA;
}

/* Length of s cut to at most max bytes without splitting a UTF-8 sequence. */
static size_t
jobs_utf8_cut(const char *s, size_t max)
{
    size_t n = strlen(s);

    if (n <= max)
        return n;
    n = max;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
        n--;
    return n;
}

bool
jobs_kind_valid(const char *kind)
{
    size_t n;

    if (kind == NULL)
        return false;
    n = strlen(kind);
    if (n == 0 || n >= JOBS_KIND_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = kind[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
              c == '-'))
            return false;
    }
    return true;
}

/* malloc'd NUL-terminated copy of s, or NULL with *rc = SV_NO_MEMORY. */
static char *
jobs_dup(str_t s, int *rc)
{
    char *p = malloc(s.len + 1);

    if (p == NULL) {
        *rc = SV_NO_MEMORY;
        return NULL;
    }
    if (s.len > 0)
        memcpy(p, s.p, s.len);
    p[s.len] = '\0';
    return p;
}

/* Reads a row of JOBS_COLUMNS into *out (written only on success). */
static int
jobs_row_read(db_stmt_t *st, job_t *out)
{
    job_t j;
    str_t s;
    int rc = SV_OK;

    memset(&j, 0, sizeof(j));
    j.id = db_column_i64(st, 0);
    str_copy_cstr(j.kind, sizeof(j.kind), db_column_text(st, 1));
    s = db_column_text(st, 2);
    j.payload = jobs_dup(s, &rc);
    if (j.payload == NULL)
        goto out;
    j.payload_len = s.len;
    if (jobs_state_parse(db_column_text(st, 3), &j.state) != SV_OK) {
        rc = SV_DB; /* the CHECK constraint makes this impossible */
        goto out;
    }
    j.priority = (int)db_column_i64(st, 4);
    j.attempts = (int)db_column_i64(st, 5);
    j.max_attempts = (int)db_column_i64(st, 6);
    j.run_at_ms = db_column_i64(st, 7);
    j.lease_until_ms = db_column_i64(st, 8);
    str_copy_cstr(j.lease_token, sizeof(j.lease_token), db_column_text(st, 9));
    str_copy_cstr(j.worker, sizeof(j.worker), db_column_text(st, 10));
    j.progress_permille = (int)db_column_i64(st, 11);
    if (!db_column_is_null(st, 12)) {
        j.progress_msg = jobs_dup(db_column_text(st, 12), &rc);
        if (j.progress_msg == NULL)
            goto out;
    }
    if (!db_column_is_null(st, 13)) {
        j.error = jobs_dup(db_column_text(st, 13), &rc);
        if (j.error == NULL)
            goto out;
    }
    j.created_at_ms = db_column_i64(st, 14);
    j.updated_at_ms = db_column_i64(st, 15);
    j.finished_at_ms = db_column_i64(st, 16);
    *out = j;
    memset(&j, 0, sizeof(j)); /* ownership moved to *out */
    rc = SV_OK;
out:
    jobs_free(&j);
    return rc;
}

int
jobs_enqueue(db_t *db, const char *kind, const char *payload_json, int priority,
             int max_attempts, int64_t delay_ms, int64_t *id)
{
    db_stmt_t *st = NULL;
    json_t *parsed = NULL;
    str_t payload = str_from_cstr(payload_json ? payload_json : "{}");
    int64_t now = clock_wall_ms();
    int rc = SV_BAD_DATA;

    if (!jobs_kind_valid(kind) || max_attempts < 1 || max_attempts > JOBS_MAX_ATTEMPTS ||
        delay_ms < 0 || delay_ms > INT64_MAX - now)
        goto out;
    if (payload.len > JOBS_PAYLOAD_MAX) {
        rc = SV_TOO_BIG;
        goto out;
    }
    /* Refuse what later readers could not parse, while the caller is here. */
    rc = jsonx_parse(payload, JOBS_PAYLOAD_DEPTH, &parsed, NULL, 0);
    if (rc != SV_OK)
        goto out;
    rc = db_prepare(db,
                    "INSERT INTO jobs (kind, payload, state, priority, attempts, max_attempts,"
                    " run_at_ms, progress_permille, created_at_ms, updated_at_ms)"
                    " VALUES (?, ?, 'queued', ?, 0, ?, ?, 0, ?, ?) RETURNING id",
                    &st);
    if (rc != SV_OK)
        goto out;
    db_bind_cstr(st, 1, kind);
    db_bind_text(st, 2, payload);
    db_bind_i64(st, 3, priority);
    db_bind_i64(st, 4, max_attempts);
    db_bind_i64(st, 5, now + delay_ms);
    db_bind_i64(st, 6, now);
    db_bind_i64(st, 7, now);
    rc = db_step(st);
    if (rc != DB_ROW) {
        if (rc == SV_OK)
            rc = SV_DB; /* RETURNING always yields the row */
        goto out;
    }
    *id = db_column_i64(st, 0);
    rc = SV_OK;
out:
    json_decref(parsed);
    db_finalize(st);
    return rc;
}

/* Fails running jobs whose lease expired on their last attempt. */
static int
jobs_sweep_expired(db_t *db, int64_t now)
{
    db_stmt_t *st = NULL;
    int rc;

    rc = db_prepare(db, jobs_sql_sweep, &st);
    if (rc != SV_OK)
        goto out;
    db_bind_i64(st, 1, now);
    db_bind_i64(st, 2, now);
    db_bind_i64(st, 3, now);
    rc = db_step(st);
out:
    db_finalize(st);
    return rc;
}

/* The claim, narrowed to some kinds and/or (only_id > 0) to one job. */
static int
jobs_claim_where(db_t *db, const char *worker, const char *const *kinds, size_t nkinds,
                 int64_t only_id, int64_t lease_ms, int64_t now, job_t *out)
{
    char filter[32 + 3 * JOBS_CLAIM_KINDS_MAX];
    char sql[sizeof(JOBS_CLAIM_SQL) + sizeof(filter) + sizeof(jobs_claim_lock_pg)];
    char token[JOBS_TOKEN_LEN + 1];
    char worker_name[JOBS_WORKER_MAX];
    db_stmt_t *st = NULL;
    size_t flen = 0, i;
    int rc = SV_BAD_DATA, n, idx;

    if (lease_ms <= 0 || nkinds > JOBS_CLAIM_KINDS_MAX || (nkinds > 0 && kinds == NULL) ||
        now > INT64_MAX - lease_ms)
        goto out;
    filter[0] = '\0';
    if (nkinds > 0) {
        /* Bounded by construction: 16 + 3 bytes per kind fits " AND kind IN (?,...)". */
        n = snprintf(filter, sizeof(filter), " AND kind IN (?");
        flen = (size_t)n;
        for (i = 1; i < nkinds; i++)
            flen += (size_t)snprintf(filter + flen, sizeof(filter) - flen, ", ?");
        flen += (size_t)snprintf(filter + flen, sizeof(filter) - flen, ")");
    }
    if (only_id > 0)
        snprintf(filter + flen, sizeof(filter) - flen, " AND id = ?");
    n = snprintf(sql, sizeof(sql), JOBS_CLAIM_SQL, filter,
                 db_sql_for(db, jobs_claim_lock_sqlite, jobs_claim_lock_pg));
    if (n < 0 || (size_t)n >= sizeof(sql)) {
        rc = SV_ERROR;
        goto out;
    }
    rc = rnd_hex(token, JOBS_TOKEN_LEN / 2);
    if (rc != SV_OK)
        goto out;
    str_copy_cstr(worker_name, sizeof(worker_name), str_from_cstr(worker ? worker : ""));

    rc = jobs_sweep_expired(db, now);
    if (rc != SV_OK)
        goto out;
    rc = db_prepare(db, sql, &st);
    if (rc != SV_OK)
        goto out;
    db_bind_cstr(st, 1, token);
    db_bind_i64(st, 2, now + lease_ms);
    db_bind_cstr(st, 3, worker_name);
    db_bind_i64(st, 4, now);
    db_bind_i64(st, 5, now);
    db_bind_i64(st, 6, now);
    idx = 7;
    for (i = 0; i < nkinds; i++)
        db_bind_cstr(st, idx++, kinds[i]);
    if (only_id > 0)
        db_bind_i64(st, idx++, only_id);
    rc = db_step(st);
    if (rc == SV_OK) {
        rc = SV_NOT_FOUND;
        goto out;
    }
    if (rc != DB_ROW)
        goto out;
    /* If the copy fails (no memory) the job stays claimed by nobody alive: its
     * lease expires and another claim takes it, at the cost of one attempt. */
    rc = jobs_row_read(st, out);
out:
    db_finalize(st);
    return rc;
}

int
jobs_claim_kinds(db_t *db, const char *worker, const char *const *kinds, size_t nkinds,
                 int64_t lease_ms, int64_t now, job_t *out)
{
    return jobs_claim_where(db, worker, kinds, nkinds, 0, lease_ms, now, out);
}

int
jobs_enqueue_claimed(db_t *db, const char *kind, const char *payload_json, int priority,
                     int max_attempts, const char *worker, int64_t lease_ms, job_t *out)
{
    int64_t id = 0;
    int rc;

    /* One write transaction: no worker can claim the job between its
     * insertion and our claim. */
    rc = db_tx_begin(db);
    if (rc != SV_OK)
        return rc;
    rc = jobs_enqueue(db, kind, payload_json, priority, max_attempts, 0, &id);
    if (rc == SV_OK)
        rc = jobs_claim_where(db, worker, NULL, 0, id, lease_ms, clock_wall_ms(), out);
    if (rc == SV_OK)
        rc = db_tx_commit(db);
    if (rc != SV_OK) {
        db_tx_rollback(db);
        if (out->payload)
            jobs_free(out);
    }
    return rc;
}

int
jobs_claim(db_t *db, const char *worker, int64_t lease_ms, int64_t now, job_t *out)
{
    return jobs_claim_where(db, worker, NULL, 0, 0, lease_ms, now, out);
}

/* A value for a placeholder of jobs_update_leased: text when is_text. */
typedef struct {
    bool is_text;
    int64_t i64;
    const char *text;
} jobs_val_t;

#define JOBS_I64(v) ((jobs_val_t){false, (v), NULL})
#define JOBS_TEXT(v) ((jobs_val_t){true, 0, (v)})

/* Runs an UPDATE that ends in JOBS_LEASE_GUARD after nvals other
 * placeholders, bound from vals. SV_CONFLICT when no row matched, that is
 * when lease_token does not hold job id any more. */
static int
jobs_update_leased(db_t *db, const char *sql, int64_t id, const char *lease_token,
                   const jobs_val_t *vals, int nvals)
{
    db_stmt_t *st = NULL;
    int rc;

    if (lease_token == NULL || lease_token[0] == '\0') {
        rc = SV_CONFLICT;
        goto out;
    }
    rc = db_prepare(db, sql, &st);
    if (rc != SV_OK)
        goto out;
    for (int i = 0; i < nvals; i++) {
        if (vals[i].is_text)
            db_bind_cstr(st, i + 1, vals[i].text);
        else
            db_bind_i64(st, i + 1, vals[i].i64);
    }
    db_bind_i64(st, nvals + 1, id);
    db_bind_cstr(st, nvals + 2, lease_token);
    rc = db_step(st);
    if (rc != SV_OK)
        goto out;
    if (db_changes(db) == 0)
        rc = SV_CONFLICT;
out:
    db_finalize(st);
    return rc;
}

/* A copy of s (may be NULL) cut to max bytes at a UTF-8 boundary, in mem
 * (max + 1 bytes) or NULL. */
static const char *
jobs_cut(const char *s, char *mem, size_t max)
{
    size_t n;

    if (s == NULL)
        return NULL;
    n = jobs_utf8_cut(s, max);
    memcpy(mem, s, n);
    mem[n] = '\0';
    return mem;
}

int
jobs_progress(db_t *db, int64_t id, const char *lease_token, int64_t lease_ms, int permille,
              const char *msg)
{
    char msg_mem[JOBS_MSG_MAX + 1];
    int64_t now = clock_wall_ms();

    if (permille < 0 || permille > 1000 || lease_ms <= 0 || now > INT64_MAX - lease_ms)
        return SV_BAD_DATA;
    const jobs_val_t vals[] = {JOBS_I64(permille),
                               JOBS_TEXT(jobs_cut(msg, msg_mem, JOBS_MSG_MAX)),
                               JOBS_I64(now + lease_ms), JOBS_I64(now)};
    return jobs_update_leased(db,
                              "UPDATE jobs SET progress_permille = ?,"
                              " progress_msg = COALESCE(?, progress_msg),"
                              " lease_until_ms = ?, updated_at_ms = ?" JOBS_LEASE_GUARD,
                              id, lease_token, vals, 4);
}

int
jobs_heartbeat(db_t *db, int64_t id, const char *lease_token, int64_t lease_ms)
{
    int64_t now = clock_wall_ms();

    if (lease_ms <= 0 || now > INT64_MAX - lease_ms)
        return SV_BAD_DATA;
    const jobs_val_t vals[] = {JOBS_I64(now + lease_ms), JOBS_I64(now)};
    return jobs_update_leased(
        db, "UPDATE jobs SET lease_until_ms = ?, updated_at_ms = ?" JOBS_LEASE_GUARD, id,
        lease_token, vals, 2);
}

int
jobs_complete(db_t *db, int64_t id, const char *lease_token)
{
    int64_t now = clock_wall_ms();
    const jobs_val_t vals[] = {JOBS_I64(now), JOBS_I64(now)};

    return jobs_update_leased(db,
                              "UPDATE jobs SET state = 'done', progress_permille = 1000,"
                              " error = NULL, lease_token = NULL, lease_until_ms = NULL,"
                              " finished_at_ms = ?, updated_at_ms = ?" JOBS_LEASE_GUARD,
                              id, lease_token, vals, 2);
}

int
jobs_fail_final(db_t *db, int64_t id, const char *lease_token, const char *reason)
{
    char reason_mem[JOBS_ERROR_MAX + 1];
    int64_t now = clock_wall_ms();
    const jobs_val_t vals[] = {
        JOBS_TEXT(jobs_cut(reason ? reason : "failed", reason_mem, JOBS_ERROR_MAX)),
        JOBS_I64(now), JOBS_I64(now)};

    return jobs_update_leased(db,
                              "UPDATE jobs SET state = 'failed', error = ?,"
                              " lease_token = NULL, lease_until_ms = NULL,"
                              " finished_at_ms = ?, updated_at_ms = ?" JOBS_LEASE_GUARD,
                              id, lease_token, vals, 3);
}

int64_t
jobs_backoff_ms(int attempts, int64_t base_ms, int64_t max_ms)
{
    int64_t d, half;
    uint64_t r = 0;

    if (base_ms <= 0 || max_ms <= 0)
        return 0;
    if (attempts < 1)
        attempts = 1;
    d = base_ms;
    for (int i = 1; i < attempts && d < max_ms; i++)
        d = d > INT64_MAX / 2 ? INT64_MAX : d * 2;
    if (d > max_ms)
        d = max_ms;
    /* Equal jitter: never less than half the step, so retries still back off,
     * and spread over the other half, so a burst of failures does not retry
     * in lockstep. Without randomness, take the full step. */
    half = d / 2;
    if (rnd_bytes(&r, sizeof(r)) != SV_OK)
        return d;
    return half + (int64_t)(r % (uint64_t)(d - half + 1));
}

int
jobs_fail(db_t *db, int64_t id, const char *lease_token, const char *reason,
          int64_t backoff_base_ms, int64_t backoff_max_ms)
{
    char reason_mem[JOBS_ERROR_MAX + 1];
    db_stmt_t *st = NULL;
    int64_t attempts, max_attempts, now, delay;
    int rc;

    if (lease_token == NULL || lease_token[0] == '\0') {
        rc = SV_CONFLICT;
        goto out;
    }
    /* Read the attempt count under the lease; the guarded UPDATE below then
     * re-checks the token, so a lease lost in between changes nothing. */
    rc = db_prepare(db, "SELECT attempts, max_attempts FROM jobs" JOBS_LEASE_GUARD, &st);
    if (rc != SV_OK)
        goto out;
    db_bind_i64(st, 1, id);
    db_bind_cstr(st, 2, lease_token);
    rc = db_step(st);
    if (rc == SV_OK)
        rc = SV_CONFLICT;
    if (rc != DB_ROW)
        goto out;
    attempts = db_column_i64(st, 0);
    max_attempts = db_column_i64(st, 1);
    db_finalize(st);
    st = NULL;

    if (attempts >= max_attempts) {
        rc = jobs_fail_final(db, id, lease_token, reason);
        goto out;
    }
    now = clock_wall_ms();
    delay = jobs_backoff_ms((int)attempts, backoff_base_ms, backoff_max_ms);
    if (delay > INT64_MAX - now)
        delay = INT64_MAX - now;
    {
        const jobs_val_t vals[] = {
            JOBS_I64(now + delay),
            JOBS_TEXT(jobs_cut(reason ? reason : "failed", reason_mem, JOBS_ERROR_MAX)),
            JOBS_I64(now)};
        rc = jobs_update_leased(db,
                                "UPDATE jobs SET state = 'queued', run_at_ms = ?, error = ?,"
                                " lease_token = NULL, lease_until_ms = NULL,"
                                " updated_at_ms = ?" JOBS_LEASE_GUARD,
                                id, lease_token, vals, 3);
    }
out:
    db_finalize(st);
    return rc;
}

int
jobs_get(db_t *db, int64_t id, job_t *out)
{
    db_stmt_t *st = NULL;
    int rc;

    rc = db_prepare(db, "SELECT " JOBS_COLUMNS " FROM jobs WHERE id = ?", &st);
    if (rc != SV_OK)
        goto out;
    db_bind_i64(st, 1, id);
    rc = db_step(st);
    if (rc == SV_OK) {
        rc = SV_NOT_FOUND;
        goto out;
    }
    if (rc != DB_ROW)
        goto out;
    rc = jobs_row_read(st, out);
out:
    db_finalize(st);
    return rc;
}

int
jobs_list(db_t *db, const char *state, int64_t after_id, int limit, jobs_list_fn fn, void *arg)
{
    db_stmt_t *st = NULL;
    job_state_t filter = JOB_QUEUED;
    job_t job;
    int rc = SV_BAD_DATA;

    memset(&job, 0, sizeof(job));
    if (limit < 1 || limit > 1000 || fn == NULL)
        goto out;
    if (state && jobs_state_parse(str_from_cstr(state), &filter) != SV_OK)
        goto out;
    rc = db_prepare(db,
                    state ? "SELECT " JOBS_COLUMNS " FROM jobs WHERE id > ? AND state = ?"
                            " ORDER BY id LIMIT ?"
                          : "SELECT " JOBS_COLUMNS " FROM jobs WHERE id > ?"
                            " ORDER BY id LIMIT ?",
                    &st);
    if (rc != SV_OK)
        goto out;
    db_bind_i64(st, 1, after_id);
    if (state) {
        db_bind_cstr(st, 2, jobs_state_name(filter));
        db_bind_i64(st, 3, limit);
    } else {
        db_bind_i64(st, 2, limit);
    }
    while ((rc = db_step(st)) == DB_ROW) {
        rc = jobs_row_read(st, &job);
        if (rc != SV_OK)
            goto out;
        rc = fn(arg, &job);
        jobs_free(&job);
        if (rc != SV_OK)
            goto out;
    }
out:
    jobs_free(&job);
    db_finalize(st);
    return rc;
}

int
jobs_count_by_state(db_t *db, int64_t counts[JOB_STATE_COUNT])
{
    int64_t c[JOB_STATE_COUNT] = {0};
    db_stmt_t *st = NULL;
    job_state_t state;
    int rc;

    rc = db_prepare(db, "SELECT state, COUNT(*) FROM jobs GROUP BY state", &st);
    if (rc != SV_OK)
        goto out;
    while ((rc = db_step(st)) == DB_ROW) {
        if (jobs_state_parse(db_column_text(st, 0), &state) == SV_OK)
            c[state] = db_column_i64(st, 1);
    }
    if (rc != SV_OK)
        goto out;
    memcpy(counts, c, sizeof(c));
out:
    db_finalize(st);
    return rc;
}
