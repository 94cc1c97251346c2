/*
 * jobrunner.c: worker threads over the job queue.
 *
 * Threads: N workers, each with its own db_t, plus one heartbeat thread with
 * its own db_t. jr->mu guards the wake-up state (generation, stopping) and
 * each slot's "current job" fields, which the heartbeat thread reads. No
 * lock is held across a database call.
 */
#include "store/jobrunner.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/status.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define JOBRUNNER_LOG "jobs"

typedef struct {
    char kind[JOBS_KIND_MAX];
    jobrunner_fn fn;
    void *arg;
} jobrunner_handler_t;

/* One worker thread. */
typedef struct {
    jobrunner_t *jr;
    int index;
    pthread_t thread;
    bool started;
    db_t *db;
    char worker[JOBS_WORKER_MAX];
    /* The job being run, for the heartbeat (under jr->mu): id 0 when idle. */
    int64_t job_id;
    char token[JOBS_TOKEN_LEN + 1];
    uint64_t renewed_mono_ms;
    /* Set when a renewal found the lease taken over; read by the handler. */
    atomic_bool lost;
} jobrunner_slot_t;

struct jobrunner_ctx {
    jobrunner_slot_t *slot;
    const job_t *job;
    const jobrunner_handler_t *handler;
    bool retry;
    char reason[JOBS_ERROR_MAX + 1];
};

struct jobrunner {
    /* settings, strings copied */
    char database[1024];
    char data_dir[1024];
    char worker_prefix[JOBS_WORKER_MAX - 4]; /* room for the "/NNN" thread suffix */
    int threads;
    int64_t lease_ms, heartbeat_ms, poll_ms, backoff_base_ms, backoff_max_ms;
    bool claim_registered_only;

    jobrunner_handler_t handlers[JOBRUNNER_HANDLERS_MAX];
    const char *kinds[JOBRUNNER_HANDLERS_MAX]; /* handlers[i].kind, for claims */
    size_t nhandlers;

    pthread_mutex_t mu;
    pthread_cond_t wake;    /* workers: new work or stop */
    pthread_cond_t hb_wake; /* heartbeat: stop */
    uint64_t generation;    /* bumped by jobrunner_notify */
    bool stopping;          /* workers: exit after the current job */
    bool hb_stopping;       /* heartbeat: exit */
    atomic_bool abandon;    /* handlers: return early */
    bool started, stopped;

    jobrunner_observer_fn observer; /* progress, for a terminal */
    void *observer_arg;

    jobrunner_slot_t *slots;
    pthread_t hb_thread;
    bool hb_started;
    db_t *hb_db;
};

void
jobrunner_settings_defaults(jobrunner_settings_t *s)
{
    memset(s, 0, sizeof(*s));
    s->database = "";
    s->data_dir = ".";
    s->worker_name = NULL;
    s->threads = 2;
    s->lease_ms = 60000;
    s->heartbeat_ms = 0;
    s->poll_ms = 1000;
    s->backoff_base_ms = 5000;
    s->backoff_max_ms = 600000;
    s->claim_registered_only = false;
}

void
jobrunner_settings_from_config(jobrunner_settings_t *s, const config_t *c)
{
    jobrunner_settings_defaults(s);
    s->database = c->database;
    s->data_dir = c->data_dir;
    s->threads = (int)c->job_workers;
    s->lease_ms = c->job_lease_ms;
    s->poll_ms = c->job_poll_ms;
    s->backoff_base_ms = c->job_backoff_base_ms;
    s->backoff_max_ms = c->job_backoff_max_ms;
}

/* Absolute CLOCK_MONOTONIC time ms from now, for pthread_cond_timedwait. */
static struct timespec
jobrunner_deadline(int64_t ms)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += (time_t)(ms / 1000);
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

static bool
jobrunner_copy(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src ? src : "");
    if (n >= cap)
        return false;
    memcpy(dst, src ? src : "", n + 1);
    return true;
}

int
jobrunner_create(const jobrunner_settings_t *s, jobrunner_t **out, char *err, size_t errlen)
{
    jobrunner_t *jr = NULL;
    pthread_condattr_t ca;
    bool ca_init = false, mu_init = false, wake_init = false;
    int rc = SV_BAD_DATA;

    if (s->threads < 0 || s->threads > JOBRUNNER_THREADS_MAX) {
        snprintf(err, errlen, "job_workers: %d is not in 0..%d", s->threads,
                 JOBRUNNER_THREADS_MAX);
        goto out;
    }
    if (s->lease_ms <= 0 || s->poll_ms <= 0 || s->heartbeat_ms < 0 || s->backoff_base_ms < 0 ||
        s->backoff_max_ms < 0) {
        snprintf(err, errlen, "job_lease, job_poll and backoff must be positive durations");
        goto out;
    }
    if (s->heartbeat_ms >= s->lease_ms) {
        snprintf(err, errlen, "the heartbeat must be shorter than the lease");
        goto out;
    }
    jr = calloc(1, sizeof(*jr));
    if (jr == NULL) {
        snprintf(err, errlen, "out of memory");
        rc = SV_NO_MEMORY;
        goto out;
    }
    if (!jobrunner_copy(jr->database, sizeof(jr->database), s->database) ||
        !jobrunner_copy(jr->data_dir, sizeof(jr->data_dir), s->data_dir)) {
        snprintf(err, errlen, "database or data_dir: too long");
        goto out;
    }
    if (s->worker_name && s->worker_name[0]) {
        str_copy_cstr(jr->worker_prefix, sizeof(jr->worker_prefix),
                      str_from_cstr(s->worker_name));
    } else {
        char host[64], name[128];
        if (gethostname(host, sizeof(host)) != 0)
            snprintf(host, sizeof(host), "localhost");
        host[sizeof(host) - 1] = '\0';
        snprintf(name, sizeof(name), "%s:%ld", host, (long)getpid());
        str_copy_cstr(jr->worker_prefix, sizeof(jr->worker_prefix), str_from_cstr(name));
    }
    jr->threads = s->threads;
    jr->lease_ms = s->lease_ms;
    jr->heartbeat_ms = s->heartbeat_ms > 0 ? s->heartbeat_ms : s->lease_ms / 3;
    if (jr->heartbeat_ms <= 0)
        jr->heartbeat_ms = 1;
    jr->poll_ms = s->poll_ms;
    jr->backoff_base_ms = s->backoff_base_ms;
    jr->backoff_max_ms = s->backoff_max_ms;
    jr->claim_registered_only = s->claim_registered_only;

    rc = SV_ERROR;
    if (pthread_condattr_init(&ca) != 0)
        goto out;
    ca_init = true;
    if (pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) != 0)
        goto out;
    if (pthread_mutex_init(&jr->mu, NULL) != 0)
        goto out;
    mu_init = true;
    if (pthread_cond_init(&jr->wake, &ca) != 0)
        goto out;
    wake_init = true;
    if (pthread_cond_init(&jr->hb_wake, &ca) != 0)
        goto out;
    *out = jr;
    jr = NULL;
    rc = SV_OK;
out:
    if (rc == SV_ERROR)
        snprintf(err, errlen, "cannot initialise thread synchronisation");
    if (jr) {
        if (wake_init)
            pthread_cond_destroy(&jr->wake);
        if (mu_init)
            pthread_mutex_destroy(&jr->mu);
        free(jr);
    }
    if (ca_init)
        pthread_condattr_destroy(&ca);
    return rc;
}

int
jobrunner_register(jobrunner_t *jr, const char *kind, jobrunner_fn fn, void *arg)
{
    jobrunner_handler_t *h;
    size_t n;

    if (jr->started)
        return SV_CONFLICT;
    if (!jobs_kind_valid(kind) || fn == NULL)
        return SV_BAD_DATA;
    n = strlen(kind);
    for (size_t i = 0; i < jr->nhandlers; i++) {
        if (strcmp(jr->handlers[i].kind, kind) == 0)
            return SV_EXISTS;
    }
    if (jr->nhandlers >= JOBRUNNER_HANDLERS_MAX)
        return SV_TOO_BIG;
    h = &jr->handlers[jr->nhandlers];
    memcpy(h->kind, kind, n + 1);
    h->fn = fn;
    h->arg = arg;
    jr->kinds[jr->nhandlers] = h->kind;
    jr->nhandlers++;
    return SV_OK;
}

static const jobrunner_handler_t *
jobrunner_find(const jobrunner_t *jr, const char *kind)
{
    for (size_t i = 0; i < jr->nhandlers; i++) {
        if (strcmp(jr->handlers[i].kind, kind) == 0)
            return &jr->handlers[i];
    }
    return NULL;
}

/* Publishes (or, with job NULL, clears) the slot's current job for the heartbeat. */
static void
jobrunner_slot_set_job(jobrunner_slot_t *slot, const job_t *job)
{
    jobrunner_t *jr = slot->jr;

    pthread_mutex_lock(&jr->mu);
    if (job) {
        slot->job_id = job->id;
        memcpy(slot->token, job->lease_token, sizeof(slot->token));
        slot->renewed_mono_ms = clock_mono_ms();
        atomic_store(&slot->lost, false);
    } else {
        slot->job_id = 0;
        slot->token[0] = '\0';
    }
    pthread_mutex_unlock(&jr->mu);
}

/* Logs the outcome of ending a run (rc from complete/fail). */
static void
jobrunner_log_end(const jobrunner_slot_t *slot, const job_t *job, const char *what, int rc)
{
    if (rc == SV_OK)
        log_debug(JOBRUNNER_LOG, "job %lld (%s) %s", (long long)job->id, job->kind, what);
    else if (rc == SV_CONFLICT)
        log_warn(JOBRUNNER_LOG, "job %lld (%s): lease lost before it could be %s",
                 (long long)job->id, job->kind, what);
    else
        log_error(JOBRUNNER_LOG, "job %lld (%s): cannot be %s: %s (%s)", (long long)job->id,
                  job->kind, what, status_text(rc), db_last_error(slot->db));
}

/* Runs one claimed job to its end (or abandonment). */
static void
jobrunner_run(jobrunner_slot_t *slot, const job_t *job)
{
    jobrunner_t *jr = slot->jr;
    jobrunner_ctx_t ctx;
    int rc, end_rc;

    memset(&ctx, 0, sizeof(ctx));
    ctx.slot = slot;
    ctx.job = job;
    ctx.retry = true;
    ctx.handler = jobrunner_find(jr, job->kind);
    if (ctx.handler == NULL) {
        /* Any-kind workers are the only workers of their deployment (see
         * claim_registered_only), so no other worker could run this kind. */
        snprintf(ctx.reason, sizeof(ctx.reason), "no handler for job kind %s", job->kind);
        end_rc = jobs_fail_final(slot->db, job->id, job->lease_token, ctx.reason);
        jobrunner_log_end(slot, job, "failed", end_rc);
        return;
    }

    jobrunner_slot_set_job(slot, job);
    rc = ctx.handler->fn(&ctx, job);
    /* Stop the heartbeat before ending the run, so it never renews a lease
     * that complete/fail has just released. */
    jobrunner_slot_set_job(slot, NULL);

    if (atomic_load(&slot->lost)) {
        log_warn(JOBRUNNER_LOG, "job %lld (%s): lease lost while running; result dropped",
                 (long long)job->id, job->kind);
        return;
    }
    if (rc == SV_OK) {
        end_rc = jobs_complete(slot->db, job->id, job->lease_token);
        jobrunner_log_end(slot, job, "done", end_rc);
        return;
    }
    if (atomic_load(&jr->abandon)) {
        log_info(JOBRUNNER_LOG, "job %lld (%s) abandoned at shutdown; its lease will expire",
                 (long long)job->id, job->kind);
        return;
    }
    if (ctx.reason[0] == '\0')
        snprintf(ctx.reason, sizeof(ctx.reason), "%s", status_text(rc));
    if (ctx.retry) /* jobs_fail itself ends the job once attempts are spent */
        end_rc = jobs_fail(slot->db, job->id, job->lease_token, ctx.reason, jr->backoff_base_ms,
                           jr->backoff_max_ms);
    else
        end_rc = jobs_fail_final(slot->db, job->id, job->lease_token, ctx.reason);
    log_info(JOBRUNNER_LOG, "job %lld (%s) attempt %d/%d failed: %s", (long long)job->id,
             job->kind, job->attempts, job->max_attempts, ctx.reason);
    jobrunner_log_end(slot, job, "failed", end_rc);
}

static void *
jobrunner_worker_main(void *arg)
{
    jobrunner_slot_t *slot = arg;
    jobrunner_t *jr = slot->jr;

    for (;;) {
        uint64_t gen;
        job_t job;
        int rc;

        pthread_mutex_lock(&jr->mu);
        if (jr->stopping) {
            pthread_mutex_unlock(&jr->mu);
            break;
        }
        gen = jr->generation;
        pthread_mutex_unlock(&jr->mu);

        memset(&job, 0, sizeof(job));
        if (jr->claim_registered_only && jr->nhandlers == 0)
            rc = SV_NOT_FOUND;
        else if (jr->claim_registered_only)
            rc = jobs_claim_kinds(slot->db, slot->worker, jr->kinds, jr->nhandlers,
                                  jr->lease_ms, clock_wall_ms(), &job);
        else
            rc = jobs_claim(slot->db, slot->worker, jr->lease_ms, clock_wall_ms(), &job);
        if (rc == SV_OK) {
            jobrunner_run(slot, &job);
            jobs_free(&job);
            continue; /* there may be more: claim again before sleeping */
        }
        if (rc != SV_NOT_FOUND)
            log_warn(JOBRUNNER_LOG, "%s: claiming a job: %s (%s)", slot->worker,
                     status_text(rc), db_last_error(slot->db));

        /* Sleep for poll_ms, unless notified since gen was read (no lost wake-up). */
        struct timespec until = jobrunner_deadline(jr->poll_ms);
        pthread_mutex_lock(&jr->mu);
        while (!jr->stopping && jr->generation == gen) {
            if (pthread_cond_timedwait(&jr->wake, &jr->mu, &until) == ETIMEDOUT)
                break;
        }
        pthread_mutex_unlock(&jr->mu);
    }
    return NULL;
}

/* Renews the leases of running jobs whose last renewal is heartbeat_ms old. */
static void *
jobrunner_heartbeat_main(void *arg)
{
    jobrunner_t *jr = arg;
    int64_t period = jr->heartbeat_ms / 4 > 0 ? jr->heartbeat_ms / 4 : 1;

    pthread_mutex_lock(&jr->mu);
    while (!jr->hb_stopping) {
        struct timespec until = jobrunner_deadline(period);
        while (!jr->hb_stopping) {
            if (pthread_cond_timedwait(&jr->hb_wake, &jr->mu, &until) == ETIMEDOUT)
                break;
        }
        for (int i = 0; i < jr->threads && !jr->hb_stopping; i++) {
            jobrunner_slot_t *slot = &jr->slots[i];
            char token[JOBS_TOKEN_LEN + 1];
            int64_t id = slot->job_id;
            int rc;

            if (id == 0 || clock_mono_ms() - slot->renewed_mono_ms < (uint64_t)jr->heartbeat_ms)
                continue;
            memcpy(token, slot->token, sizeof(token));
            pthread_mutex_unlock(&jr->mu);
            rc = jobs_heartbeat(jr->hb_db, id, token, jr->lease_ms);
            pthread_mutex_lock(&jr->mu);
            if (slot->job_id != id || strcmp(slot->token, token) != 0)
                continue; /* that run ended meanwhile */
            if (rc == SV_OK) {
                slot->renewed_mono_ms = clock_mono_ms();
            } else if (rc == SV_CONFLICT) {
                atomic_store(&slot->lost, true);
                log_warn(JOBRUNNER_LOG, "job %lld: lease lost by %s", (long long)id,
                         slot->worker);
            } else {
                log_warn(JOBRUNNER_LOG, "job %lld: renewing the lease: %s (%s)", (long long)id,
                         status_text(rc), db_last_error(jr->hb_db));
            }
        }
    }
    pthread_mutex_unlock(&jr->mu);
    return NULL;
}

/* Joins every started thread and closes every connection. */
static void
jobrunner_shutdown(jobrunner_t *jr)
{
    pthread_mutex_lock(&jr->mu);
    jr->stopping = true;
    pthread_cond_broadcast(&jr->wake);
    pthread_mutex_unlock(&jr->mu);
    for (int i = 0; i < jr->threads; i++) {
        if (jr->slots && jr->slots[i].started) {
            pthread_join(jr->slots[i].thread, NULL);
            jr->slots[i].started = false;
        }
    }
    /* The heartbeat goes last: it renews leases until every handler returned. */
    pthread_mutex_lock(&jr->mu);
    jr->hb_stopping = true;
    pthread_cond_broadcast(&jr->hb_wake);
    pthread_mutex_unlock(&jr->mu);
    if (jr->hb_started) {
        pthread_join(jr->hb_thread, NULL);
        jr->hb_started = false;
    }
    for (int i = 0; jr->slots && i < jr->threads; i++) {
        db_close(jr->slots[i].db);
        jr->slots[i].db = NULL;
    }
    db_close(jr->hb_db);
    jr->hb_db = NULL;
    free(jr->slots);
    jr->slots = NULL;
}

int
jobrunner_start(jobrunner_t *jr, char *err, size_t errlen)
{
    int rc = SV_CONFLICT;

    if (jr->started) {
        snprintf(err, errlen, "job runner already started");
        goto out;
    }
    jr->started = true;
    if (jr->threads == 0) {
        rc = SV_OK;
        goto out;
    }
    rc = SV_NO_MEMORY;
    jr->slots = calloc((size_t)jr->threads, sizeof(*jr->slots));
    if (jr->slots == NULL) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    /* Open every connection first, so a bad database fails start cleanly. */
    for (int i = 0; i < jr->threads; i++) {
        jobrunner_slot_t *slot = &jr->slots[i];
        slot->jr = jr;
        slot->index = i;
        atomic_init(&slot->lost, false);
        char name[sizeof(jr->worker_prefix) + 16];
        snprintf(name, sizeof(name), "%s/%d", jr->worker_prefix, i);
        str_copy_cstr(slot->worker, sizeof(slot->worker), str_from_cstr(name));
        rc = db_open(jr->database, jr->data_dir, &slot->db, err, errlen);
        if (rc != SV_OK)
            goto out;
    }
    rc = db_open(jr->database, jr->data_dir, &jr->hb_db, err, errlen);
    if (rc != SV_OK)
        goto out;
    rc = SV_ERROR;
    for (int i = 0; i < jr->threads; i++) {
        if (pthread_create(&jr->slots[i].thread, NULL, jobrunner_worker_main, &jr->slots[i]) !=
            0) {
            snprintf(err, errlen, "cannot start job worker thread %d", i);
            goto out;
        }
        jr->slots[i].started = true;
    }
    if (pthread_create(&jr->hb_thread, NULL, jobrunner_heartbeat_main, jr) != 0) {
        snprintf(err, errlen, "cannot start the job heartbeat thread");
        goto out;
    }
    jr->hb_started = true;
    log_info(JOBRUNNER_LOG, "%d job worker(s) started as %s/*", jr->threads, jr->worker_prefix);
    rc = SV_OK;
out:
    if (rc != SV_OK && rc != SV_CONFLICT) {
        jobrunner_shutdown(jr);
        jr->stopped = true;
    }
    return rc;
}

void
jobrunner_notify(jobrunner_t *jr)
{
    pthread_mutex_lock(&jr->mu);
    jr->generation++;
    pthread_cond_broadcast(&jr->wake);
    pthread_mutex_unlock(&jr->mu);
}

void
jobrunner_stop(jobrunner_t *jr, jobrunner_stop_mode_t mode)
{
    if (!jr->started || jr->stopped)
        return;
    if (mode == JOBRUNNER_ABANDON)
        atomic_store(&jr->abandon, true);
    jobrunner_shutdown(jr);
    jr->stopped = true;
    log_info(JOBRUNNER_LOG, "job workers stopped");
}

void
jobrunner_destroy(jobrunner_t *jr)
{
    if (jr == NULL)
        return;
    jobrunner_stop(jr, JOBRUNNER_FINISH);
    pthread_cond_destroy(&jr->hb_wake);
    pthread_cond_destroy(&jr->wake);
    pthread_mutex_destroy(&jr->mu);
    free(jr);
}

int
jobrunner_progress(jobrunner_ctx_t *ctx, int permille, const char *msg)
{
    jobrunner_slot_t *slot = ctx->slot;
    jobrunner_t *jr = slot->jr;
    int rc;

    if (atomic_load(&slot->lost))
        return SV_CONFLICT;
    if (jr->observer)
        jr->observer(jr->observer_arg, ctx->job, permille, msg);
    rc = jobs_progress(slot->db, ctx->job->id, ctx->job->lease_token, jr->lease_ms, permille,
                       msg);
    if (rc == SV_OK) {
        pthread_mutex_lock(&jr->mu);
        slot->renewed_mono_ms = clock_mono_ms();
        pthread_mutex_unlock(&jr->mu);
    } else if (rc == SV_CONFLICT) {
        atomic_store(&slot->lost, true);
    }
    return rc;
}

bool
jobrunner_should_stop(const jobrunner_ctx_t *ctx)
{
    return atomic_load(&ctx->slot->lost) || atomic_load(&ctx->slot->jr->abandon);
}

void
jobrunner_set_error(jobrunner_ctx_t *ctx, bool retry, const char *fmt, ...)
{
    va_list ap;

    ctx->retry = retry;
    va_start(ap, fmt);
    vsnprintf(ctx->reason, sizeof(ctx->reason), fmt, ap);
    va_end(ap);
}

void *
jobrunner_arg(const jobrunner_ctx_t *ctx)
{
    return ctx->handler->arg;
}

db_t *
jobrunner_db(jobrunner_ctx_t *ctx)
{
    return ctx->slot->db;
}

const char *
jobrunner_worker(const jobrunner_ctx_t *ctx)
{
    return ctx->slot->worker;
}

void
jobrunner_set_observer(jobrunner_t *jr, jobrunner_observer_fn fn, void *arg)
{
    jr->observer = fn;
    jr->observer_arg = arg;
}

int
jobrunner_run_claimed(jobrunner_t *jr, const job_t *job, job_state_t *final_state, char *err,
                      size_t errlen)
{
    jobrunner_slot_t slot;
    job_t after;
    char dberr[256];
    int rc;

    memset(&slot, 0, sizeof(slot));
    memset(&after, 0, sizeof(after));
    slot.jr = jr;
    slot.index = -1;
    snprintf(slot.worker, sizeof(slot.worker), "%s", job->worker);
    rc = db_open(jr->database, jr->data_dir, &slot.db, dberr, sizeof(dberr));
    if (rc != SV_OK) {
        snprintf(err, errlen, "cannot open the database: %s", dberr);
        return rc;
    }
    jobrunner_run(&slot, job);
    rc = jobs_get(slot.db, job->id, &after);
    if (rc == SV_OK) {
        *final_state = after.state;
        if (after.error)
            snprintf(err, errlen, "%s", after.error);
        else
            err[0] = '\0';
    }
    jobs_free(&after);
    db_close(slot.db);
    return rc;
}
