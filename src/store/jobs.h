/*
 * jobs.h: a durable job queue in the database (table `jobs`, migration 1).
 *
 * Life of a job: jobs_enqueue puts it in state queued with run_at_ms. A
 * worker's jobs_claim atomically takes the best runnable job, moves it to
 * running, counts an attempt and gives it a fresh random lease_token and a
 * lease (lease_until_ms). Every later call about that run carries the token;
 * when the lease expires without renewal (the worker crashed or hung) another
 * worker's claim takes the job again with a new token, and calls with the old
 * token are refused with SV_CONFLICT. The run ends with jobs_complete (done)
 * or jobs_fail (queued again after a backoff, or failed for good once
 * attempts reach max_attempts).
 *
 * Delivery is at least once: a handler may run again for a job whose earlier
 * run did its work but lost its lease before completing, so handlers must be
 * idempotent.
 *
 * All calls take the caller's db_t (one per thread, see db.h) and may run
 * inside the caller's transaction. Times are UTC epoch milliseconds.
 */
#ifndef SV_JOBS_H
#define SV_JOBS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/db.h"

typedef enum {
    JOB_QUEUED = 0,
    JOB_RUNNING = 1,
    JOB_DONE = 2,
    JOB_FAILED = 3,
} job_state_t;

#define JOB_STATE_COUNT 4

#define JOBS_KIND_MAX 64           /* bytes, with the NUL */
#define JOBS_WORKER_MAX 64         /* bytes, with the NUL; longer names are truncated */
#define JOBS_TOKEN_LEN 32          /* hex digits */
#define JOBS_PAYLOAD_MAX (1 << 20) /* bytes of JSON */
#define JOBS_PAYLOAD_DEPTH 32      /* JSON nesting */
#define JOBS_MSG_MAX 1024          /* progress message bytes kept; longer is cut */
#define JOBS_ERROR_MAX 4096        /* failure reason bytes kept; longer is cut */
#define JOBS_MAX_ATTEMPTS 1000
#define JOBS_CLAIM_KINDS_MAX 32

/*
 * A copy of one row. Fixed buffers hold the short fields; payload,
 * progress_msg and error are malloc'd and owned by the job_t: release them
 * with jobs_free(). Functions that fill a job_t overwrite it without freeing
 * what it held, so pass a zeroed or freed one.
 */
typedef struct {
    int64_t id;
    char kind[JOBS_KIND_MAX];
    char *payload; /* NUL-terminated JSON, never NULL in a filled job */
    size_t payload_len;
    job_state_t state;
    int priority;
    int attempts; /* claims so far, including the current run */
    int max_attempts;
    int64_t run_at_ms;
    int64_t lease_until_ms;               /* 0: no lease */
    char lease_token[JOBS_TOKEN_LEN + 1]; /* "": no lease */
    char worker[JOBS_WORKER_MAX];         /* "": never claimed */
    int progress_permille;                /* 0..1000 */
    char *progress_msg;                   /* NULL: none */
    char *error;                          /* last failure reason, NULL: none */
    int64_t created_at_ms;
    int64_t updated_at_ms;
    int64_t finished_at_ms; /* 0: not finished */
} job_t;

/* Frees what job owns and zeroes those pointers; the struct itself is the
 * caller's. NULL is accepted. */
void jobs_free(job_t *job);

/* "queued", "running", "done", "failed". */
const char *jobs_state_name(job_state_t state);
/* SV_OK or SV_BAD_DATA. */
int jobs_state_parse(str_t name, job_state_t *out);

/* true for a valid job kind: 1..63 bytes of [a-z0-9_.-]. */
bool jobs_kind_valid(const char *kind);

/*
 * Adds a job. kind: 1..63 bytes of [a-z0-9_.-]; payload_json: a JSON text of
 * at most JOBS_PAYLOAD_MAX bytes (NULL means "{}"), validated here;
 * max_attempts: 1..JOBS_MAX_ATTEMPTS; delay_ms >= 0 postpones the first run.
 * Higher priority runs first. SV_OK with *id set, SV_BAD_DATA, SV_TOO_BIG,
 * or a database status.
 */
int jobs_enqueue(db_t *db, const char *kind, const char *payload_json, int priority,
                 int max_attempts, int64_t delay_ms, int64_t *id);

/*
 * Claims the best runnable job as worker (a name for humans, e.g.
 * "host:pid/2"): the one with the highest priority, then the earliest run_at,
 * then the lowest id, among jobs queued with run_at_ms <= now and jobs running
 * whose lease expired before now with attempts left. A running job whose lease
 * expired on its last attempt is first marked failed ("lease expired ...").
 * The claim is one atomic statement (FOR UPDATE SKIP LOCKED on PostgreSQL), so
 * concurrent workers never get the same job. The lease lasts lease_ms (> 0).
 * SV_OK with *out filled (free it with jobs_free), SV_NOT_FOUND when nothing
 * is runnable, or a database status.
 */
int jobs_claim(db_t *db, const char *worker, int64_t lease_ms, int64_t now, job_t *out);

/* jobs_claim restricted to the given kinds (nkinds 0: any kind), for
 * workers that only run some kinds. SV_BAD_DATA past JOBS_CLAIM_KINDS_MAX. */
int jobs_claim_kinds(db_t *db, const char *worker, const char *const *kinds, size_t nkinds,
                     int64_t lease_ms, int64_t now, job_t *out);

/*
 * Queues a job already claimed by worker (state running, attempt 1, a fresh
 * lease of lease_ms), for a process that runs the job it creates (the
 * `ingest` command): no other worker can take it unless that process dies
 * and the lease expires, which is then the right outcome. *out is filled as
 * by jobs_claim (zero it first; jobs_free it after). SV_OK or as jobs_enqueue.
 */
int jobs_enqueue_claimed(db_t *db, const char *kind, const char *payload_json, int priority,
                         int max_attempts, const char *worker, int64_t lease_ms, job_t *out);

/*
 * Reports progress (permille 0..1000; msg NULL keeps the previous message)
 * and renews the lease to now + lease_ms. SV_CONFLICT if lease_token no
 * longer holds the job (the lease was lost: stop working on it), SV_BAD_DATA
 * for a bad permille, or a database status.
 */
int jobs_progress(db_t *db, int64_t id, const char *lease_token, int64_t lease_ms, int permille,
                  const char *msg);

/* Renews the lease to now + lease_ms without touching progress. SV_CONFLICT
 * if the lease was lost. */
int jobs_heartbeat(db_t *db, int64_t id, const char *lease_token, int64_t lease_ms);

/* Marks the job done (progress 1000; the reason of an earlier failed attempt
 * is cleared). SV_CONFLICT if the lease was lost. */
int jobs_complete(db_t *db, int64_t id, const char *lease_token);

/*
 * Records a failed run with reason (kept in `error`). With attempts left the
 * job is queued again to run after an exponential backoff with jitter:
 * d = min(backoff_max_ms, backoff_base_ms * 2^(attempts-1)), the delay is
 * uniform in [d/2, d]. Otherwise it ends in state failed. SV_CONFLICT if the lease was lost.
 */
int jobs_fail(db_t *db, int64_t id, const char *lease_token, const char *reason,
              int64_t backoff_base_ms, int64_t backoff_max_ms);

/* Ends the job in state failed with reason, whatever attempts are left (for
 * failures a retry cannot fix). SV_CONFLICT if the lease was lost. */
int jobs_fail_final(db_t *db, int64_t id, const char *lease_token, const char *reason);

/* SV_OK with *out filled (free with jobs_free), SV_NOT_FOUND, or a database status. */
int jobs_get(db_t *db, int64_t id, job_t *out);

/*
 * Called by jobs_list for each job, in ascending id order. The job is valid
 * only during the call. A return other than SV_OK stops the listing and
 * becomes jobs_list's result.
 */
typedef int (*jobs_list_fn)(void *arg, const job_t *job);

/*
 * Lists up to limit (1..1000) jobs with id > after_id (0 for the first page),
 * optionally only those in state (NULL: all; else "queued", "running", "done"
 * or "failed", SV_BAD_DATA otherwise). The next page starts after the last id
 * seen. SV_OK, SV_BAD_DATA, a database status, or the callback's status.
 */
int jobs_list(db_t *db, const char *state, int64_t after_id, int limit, jobs_list_fn fn,
              void *arg);

/* counts[state] = number of jobs in each job_state_t. */
int jobs_count_by_state(db_t *db, int64_t counts[JOB_STATE_COUNT]);

/* Delay before retry number `attempts` (>= 1) for the given backoff, with
 * jitter; exposed for tests and for the runner's own waits. */
int64_t jobs_backoff_ms(int attempts, int64_t base_ms, int64_t max_ms);

#endif
