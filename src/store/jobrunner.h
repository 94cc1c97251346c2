/*
 * jobrunner.h: worker threads that run jobs from the queue (jobs.h).
 *
 * Each worker thread has its own db_t. It claims a job, runs the handler
 * registered for the job's kind, and completes the job (handler returned
 * SV_OK) or fails it (any other status): a failed job is retried with
 * exponential backoff until its max_attempts, see jobs_fail. When nothing is
 * runnable a thread sleeps for poll_ms, or until jobrunner_notify().
 *
 * While a handler runs, a heartbeat thread renews the job's lease every
 * heartbeat_ms unless the handler reported progress more recently, so a long
 * handler keeps its job without reporting, and a crashed process loses its
 * jobs to other workers once their leases expire.
 *
 * Use: jobrunner_create, jobrunner_register for each kind, jobrunner_start;
 * jobrunner_notify after enqueueing; jobrunner_stop, jobrunner_destroy.
 */
#ifndef SV_JOBRUNNER_H
#define SV_JOBRUNNER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/config.h"
#include "store/db.h"
#include "store/jobs.h"

#define JOBRUNNER_THREADS_MAX 256
#define JOBRUNNER_HANDLERS_MAX 64

typedef struct jobrunner jobrunner_t;
typedef struct jobrunner_ctx jobrunner_ctx_t;

/*
 * A handler runs one job on a worker thread and returns SV_OK when the job is
 * done, or a failure status (the job is retried, or failed for good, see
 * jobrunner_set_error). job and ctx are valid only during the call. A
 * handler must be idempotent: delivery is at least once (jobs.h).
 */
typedef int (*jobrunner_fn)(jobrunner_ctx_t *ctx, const job_t *job);

typedef struct {
    const char *database;    /* as db_open; copied by jobrunner_create */
    const char *data_dir;    /* as db_open; copied */
    const char *worker_name; /* prefix of the threads' names; NULL or "": "host:pid" */
    int threads;             /* 0..JOBRUNNER_THREADS_MAX; 0 runs nothing */
    int64_t lease_ms;        /* > 0 */
    int64_t heartbeat_ms;    /* lease renewal period; 0: lease_ms / 3 */
    int64_t poll_ms;         /* > 0: sleep when the queue is empty */
    int64_t backoff_base_ms; /* retry delays, see jobs_fail */
    int64_t backoff_max_ms;
    /* true: claim only kinds with a registered handler (a worker that runs
     * some kinds beside others that run the rest); false: claim any kind,
     * and fail for good a job with no handler ("no handler for job kind X"). */
    bool claim_registered_only;
} jobrunner_settings_t;

/* Built-in settings: 2 threads, 60 s lease, 1 s poll, 5 s..10 min backoff,
 * database "" with data_dir "." (callers set theirs). */
void jobrunner_settings_defaults(jobrunner_settings_t *s);

/* Settings from the job_* and database keys of c. The strings point into c,
 * which must outlive jobrunner_create (that copies them). */
void jobrunner_settings_from_config(jobrunner_settings_t *s, const config_t *c);

/*
 * Makes a stopped runner. SV_OK with *out set (jobrunner_destroy it),
 * SV_BAD_DATA (message in err) or SV_NO_MEMORY.
 */
int jobrunner_create(const jobrunner_settings_t *s, jobrunner_t **out, char *err,
                     size_t errlen);

/*
 * Registers fn for jobs of kind (a valid job kind, copied); arg is handed to
 * fn through jobrunner_arg(). Before jobrunner_start only. SV_OK, SV_EXISTS
 * (kind already registered), SV_BAD_DATA, SV_TOO_BIG (more than
 * JOBRUNNER_HANDLERS_MAX kinds), SV_CONFLICT (already started).
 */
int jobrunner_register(jobrunner_t *jr, const char *kind, jobrunner_fn fn, void *arg);

/*
 * Opens one db_t per thread and starts the threads. SV_OK, or a status with
 * a message in err and nothing left running. Once only: SV_CONFLICT after.
 */
int jobrunner_start(jobrunner_t *jr, char *err, size_t errlen);

/* Wakes idle threads to look for work now (after an enqueue). Thread-safe,
 * cheap; safe before start and after stop. */
void jobrunner_notify(jobrunner_t *jr);

typedef enum {
    /* Threads finish the job they are running, then exit. */
    JOBRUNNER_FINISH = 0,
    /* Handlers see jobrunner_should_stop() == true and should return soon; a
     * job whose handler then returns a failure is left running with its
     * lease, to be taken over by another worker when the lease expires (the
     * attempt is spent). A handler that returns SV_OK still completes. */
    JOBRUNNER_ABANDON = 1,
} jobrunner_stop_mode_t;

/* Stops taking jobs, lets threads end as mode says, joins them and closes
 * their connections. Blocks until then. Idempotent. Not from a handler. */
void jobrunner_stop(jobrunner_t *jr, jobrunner_stop_mode_t mode);

/* Stops (JOBRUNNER_FINISH) if needed and frees. NULL is accepted. */
void jobrunner_destroy(jobrunner_t *jr);

/* Called (on the handler's thread) each time a handler reports progress. */
typedef void (*jobrunner_observer_fn)(void *arg, const job_t *job, int permille,
                                      const char *msg);
void jobrunner_set_observer(jobrunner_t *jr, jobrunner_observer_fn fn, void *arg);

/*
 * Runs a job this process claimed (jobs_enqueue_claimed) in the calling
 * thread, now, with the handler registered for its kind, and records its
 * outcome as a worker would (the runner need not be started). *final_state
 * is the job's state afterwards (queued again when it failed with retries
 * left), and err its last error. SV_OK when the job ran.
 */
int jobrunner_run_claimed(jobrunner_t *jr, const job_t *job, job_state_t *final_state,
                          char *err, size_t errlen);

/* ---- for handlers (on the handler's own thread, during the call) ---------- */

/*
 * Reports progress (permille 0..1000, msg NULL keeps the last message) and
 * renews the lease. SV_OK; SV_CONFLICT when the lease was lost (another
 * worker owns the job now: stop and return); SV_BAD_DATA; a database status
 * (the run may go on: the heartbeat retries the lease).
 */
int jobrunner_progress(jobrunner_ctx_t *ctx, int permille, const char *msg);

/* true when the handler should return early: its lease was lost, or the
 * runner is stopping with JOBRUNNER_ABANDON. Cheap; poll it in long loops. */
bool jobrunner_should_stop(const jobrunner_ctx_t *ctx);

/*
 * Sets the failure reason recorded if the handler returns a failure (default:
 * the status's text). retry false makes the failure final whatever attempts
 * are left (bad input that no retry can fix).
 */
void jobrunner_set_error(jobrunner_ctx_t *ctx, bool retry, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The arg given to jobrunner_register. */
void *jobrunner_arg(const jobrunner_ctx_t *ctx);

/* The worker thread's connection, for the handler's own queries on this
 * thread during the call (do not keep it, do not leave a transaction open). */
db_t *jobrunner_db(jobrunner_ctx_t *ctx);

/* This worker thread's name, as stored in jobs.worker. */
const char *jobrunner_worker(const jobrunner_ctx_t *ctx);

#endif
