/*
 * test_jobrunner.c: worker threads running jobs: handlers by kind, unknown
 * kinds, retries, the heartbeat keeping a silent long job, notify waking idle
 * workers, a lost lease reported to the handler, registered-only claiming,
 * and both ways of stopping.
 */
#include "store/jobrunner.h"

#include "base/clock.h"
#include "base/log.h"
#include "base/status.h"
#include "store/migrate.h"
#include "test.h"
#include "tmpdir.h"

#include <stdatomic.h>
#include <string.h>
#include <time.h>

static const char *dir;
static char err[512];
static db_t *db; /* the test's own connection */

#define WAIT_MS 20000 /* generous: sanitizer builds on a busy machine */

static void
sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void
settings(jobrunner_settings_t *s, int threads)
{
    jobrunner_settings_defaults(s);
    s->database = "";
    s->data_dir = dir;
    s->worker_name = "test";
    s->threads = threads;
    s->lease_ms = 5000;
    s->poll_ms = 20;
    s->backoff_base_ms = 10;
    s->backoff_max_ms = 20;
}

static void
clear_jobs(void)
{
    if (db_exec(db, "DELETE FROM jobs") != SV_OK)
        printf("# clearing jobs: %s\n", db_last_error(db));
}

static int64_t
enqueue(const char *kind, int max_attempts)
{
    int64_t id = 0;
    if (jobs_enqueue(db, kind, "{}", 0, max_attempts, 0, &id) != SV_OK)
        printf("# enqueue: %s\n", db_last_error(db));
    return id;
}

/* Waits until job id reaches state; true if it did within WAIT_MS. */
static bool
wait_state(int64_t id, job_state_t state)
{
    uint64_t until = clock_mono_ms() + WAIT_MS;
    while (clock_mono_ms() < until) {
        job_t j = {0};
        bool done = jobs_get(db, id, &j) == SV_OK && j.state == state;
        jobs_free(&j);
        if (done)
            return true;
        sleep_ms(10);
    }
    return false;
}

static bool
wait_flag(_Atomic int *flag)
{
    uint64_t until = clock_mono_ms() + WAIT_MS;
    while (clock_mono_ms() < until) {
        if (atomic_load(flag))
            return true;
        sleep_ms(5);
    }
    return false;
}

static jobrunner_t *
start(const jobrunner_settings_t *s, const char *kind, jobrunner_fn fn, void *arg)
{
    jobrunner_t *jr = NULL;
    if (jobrunner_create(s, &jr, err, sizeof(err)) != SV_OK) {
        printf("# jobrunner_create: %s\n", err);
        return NULL;
    }
    if (kind && jobrunner_register(jr, kind, fn, arg) != SV_OK)
        printf("# register %s failed\n", kind);
    if (jobrunner_start(jr, err, sizeof(err)) != SV_OK) {
        printf("# jobrunner_start: %s\n", err);
        jobrunner_destroy(jr);
        return NULL;
    }
    return jr;
}

/* ---- handlers ------------------------------------------------------------ */

static _Atomic int echo_calls, echo_bad;

static int
echo_handler(jobrunner_ctx_t *ctx, const job_t *job)
{
    if (jobrunner_arg(ctx) != (void *)&echo_calls || jobrunner_db(ctx) == NULL ||
        strncmp(jobrunner_worker(ctx), "test/", 5) != 0 || strcmp(job->kind, "echo") != 0 ||
        job->state != JOB_RUNNING || job->lease_token[0] == '\0')
        atomic_fetch_add(&echo_bad, 1);
    if (jobrunner_progress(ctx, 500, "half") != SV_OK)
        atomic_fetch_add(&echo_bad, 1);
    atomic_fetch_add(&echo_calls, 1);
    return SV_OK;
}

static _Atomic int flaky_calls;

static int
flaky_handler(jobrunner_ctx_t *ctx, const job_t *job)
{
    atomic_fetch_add(&flaky_calls, 1);
    if (strcmp(job->kind, "bad-input") == 0)
        jobrunner_set_error(ctx, false, "bad input");
    else
        jobrunner_set_error(ctx, true, "boom %d", job->attempts);
    return SV_IO;
}

static _Atomic int slow_calls;

/* Runs for more than twice the lease (see the test) without reporting anything. */
static int
slow_handler(jobrunner_ctx_t *ctx, const job_t *job)
{
    (void)ctx;
    (void)job;
    atomic_fetch_add(&slow_calls, 1);
    sleep_ms(2500);
    return SV_OK;
}

static _Atomic int steal_running, steal_conflict, steal_should_stop;

/* Reports progress until told the lease is gone. */
static int
steal_handler(jobrunner_ctx_t *ctx, const job_t *job)
{
    uint64_t until = clock_mono_ms() + WAIT_MS;
    (void)job;
    atomic_store(&steal_running, 1);
    while (clock_mono_ms() < until) {
        if (jobrunner_progress(ctx, 10, NULL) == SV_CONFLICT) {
            atomic_store(&steal_conflict, 1);
            break;
        }
        sleep_ms(10);
    }
    atomic_store(&steal_should_stop, jobrunner_should_stop(ctx));
    return SV_CONFLICT;
}

static _Atomic int loop_running, loop_saw_stop;

/* Works until asked to stop. */
static int
loop_handler(jobrunner_ctx_t *ctx, const job_t *job)
{
    uint64_t until = clock_mono_ms() + WAIT_MS;
    (void)job;
    atomic_store(&loop_running, 1);
    while (clock_mono_ms() < until) {
        if (jobrunner_should_stop(ctx)) {
            atomic_store(&loop_saw_stop, 1);
            return SV_UNAVAILABLE;
        }
        sleep_ms(5);
    }
    return SV_OK;
}

static _Atomic int finish_running;

static int
finish_handler(jobrunner_ctx_t *ctx, const job_t *job)
{
    (void)ctx;
    (void)job;
    atomic_store(&finish_running, 1);
    sleep_ms(300);
    return SV_OK;
}

/* ---- tests ----------------------------------------------------------------- */

TEST(create_register_and_start_check_their_input)
{
    jobrunner_settings_t s;
    jobrunner_t *jr = NULL;

    settings(&s, -1);
    CHECK_INT(jobrunner_create(&s, &jr, err, sizeof(err)), SV_BAD_DATA);
    CHECK(strstr(err, "job_workers") != NULL);
    settings(&s, 1);
    s.lease_ms = 0;
    CHECK_INT(jobrunner_create(&s, &jr, err, sizeof(err)), SV_BAD_DATA);
    settings(&s, 1);
    s.heartbeat_ms = s.lease_ms;
    CHECK_INT(jobrunner_create(&s, &jr, err, sizeof(err)), SV_BAD_DATA);
    CHECK(jr == NULL);

    settings(&s, 1);
    s.database = "mysql://nowhere";
    CHECK_INT(jobrunner_create(&s, &jr, err, sizeof(err)), SV_OK);
    CHECK_INT(jobrunner_register(jr, "echo", echo_handler, NULL), SV_OK);
    CHECK_INT(jobrunner_register(jr, "echo", echo_handler, NULL), SV_EXISTS);
    CHECK_INT(jobrunner_register(jr, "", echo_handler, NULL), SV_BAD_DATA);
    CHECK_INT(jobrunner_register(jr, "x", NULL, NULL), SV_BAD_DATA);
    CHECK_INT(jobrunner_register(jr, "Not A Kind", echo_handler, NULL), SV_BAD_DATA);
    CHECK_INT(jobrunner_start(jr, err, sizeof(err)), SV_BAD_DATA);
    CHECK(strstr(err, "database") != NULL);
    CHECK_INT(jobrunner_register(jr, "late", echo_handler, NULL), SV_CONFLICT);
    jobrunner_notify(jr);
    jobrunner_stop(jr, JOBRUNNER_FINISH);
    jobrunner_destroy(jr);
    jobrunner_destroy(NULL);

    /* No threads: starts and stops as a no-op. */
    settings(&s, 0);
    jr = start(&s, NULL, NULL, NULL);
    CHECK(jr != NULL);
    jobrunner_destroy(jr);
}

TEST(runs_the_handler_of_each_job)
{
    jobrunner_settings_t s;
    jobrunner_t *jr;
    int64_t ids[20], counts[JOB_STATE_COUNT];
    job_t j = {0};

    clear_jobs();
    for (int i = 0; i < 20; i++)
        ids[i] = enqueue("echo", 3);
    settings(&s, 3);
    jr = start(&s, "echo", echo_handler, &echo_calls);
    if (!jr)
        return;
    for (int i = 0; i < 20; i++)
        CHECK(wait_state(ids[i], JOB_DONE));
    jobrunner_destroy(jr);
    CHECK_INT(atomic_load(&echo_calls), 20);
    CHECK_INT(atomic_load(&echo_bad), 0);
    CHECK_INT(jobs_count_by_state(db, counts), SV_OK);
    CHECK_INT(counts[JOB_DONE], 20);
    CHECK_INT(jobs_get(db, ids[0], &j), SV_OK);
    CHECK_STR(j.progress_msg, "half");
    CHECK_INT(j.attempts, 1);
    CHECK(strncmp(j.worker, "test/", 5) == 0);
    jobs_free(&j);
}

TEST(an_unknown_kind_fails_with_a_reason)
{
    jobrunner_settings_t s;
    jobrunner_t *jr;
    job_t j = {0};
    int64_t id;

    clear_jobs();
    id = enqueue("mystery", 5);
    settings(&s, 1);
    jr = start(&s, "echo", echo_handler, &echo_calls);
    if (!jr)
        return;
    CHECK(wait_state(id, JOB_FAILED));
    jobrunner_destroy(jr);
    CHECK_INT(jobs_get(db, id, &j), SV_OK);
    CHECK_STR(j.error, "no handler for job kind mystery");
    CHECK_INT(j.attempts, 1);
    jobs_free(&j);
}

TEST(claim_registered_only_leaves_other_kinds_alone)
{
    jobrunner_settings_t s;
    jobrunner_t *jr;
    int64_t mine, theirs;

    clear_jobs();
    theirs = enqueue("theirs", 1);
    mine = enqueue("echo", 1);
    settings(&s, 2);
    s.claim_registered_only = true;
    jr = start(&s, "echo", echo_handler, &echo_calls);
    if (!jr)
        return;
    CHECK(wait_state(mine, JOB_DONE));
    sleep_ms(100); /* several polls */
    jobrunner_destroy(jr);
    job_t j = {0};
    CHECK_INT(jobs_get(db, theirs, &j), SV_OK);
    CHECK_INT(j.state, JOB_QUEUED);
    CHECK_INT(j.attempts, 0);
    jobs_free(&j);
}

TEST(a_failing_handler_is_retried_then_failed_with_its_reason)
{
    jobrunner_settings_t s;
    jobrunner_t *jr = NULL;
    job_t j = {0};
    int64_t flaky, bad;

    clear_jobs();
    flaky = enqueue("flaky", 3);
    bad = enqueue("bad-input", 5);
    settings(&s, 2);
    if (jobrunner_create(&s, &jr, err, sizeof(err)) != SV_OK)
        return;
    CHECK_INT(jobrunner_register(jr, "flaky", flaky_handler, NULL), SV_OK);
    CHECK_INT(jobrunner_register(jr, "bad-input", flaky_handler, NULL), SV_OK);
    CHECK_INT(jobrunner_start(jr, err, sizeof(err)), SV_OK);
    CHECK(wait_state(flaky, JOB_FAILED));
    CHECK(wait_state(bad, JOB_FAILED));
    jobrunner_destroy(jr);
    CHECK_INT(atomic_load(&flaky_calls), 3 + 1);
    CHECK_INT(jobs_get(db, flaky, &j), SV_OK);
    CHECK_INT(j.attempts, 3);
    CHECK_STR(j.error, "boom 3");
    jobs_free(&j);
    CHECK_INT(jobs_get(db, bad, &j), SV_OK);
    CHECK_INT(j.attempts, 1); /* no retry for what a retry cannot fix */
    CHECK_STR(j.error, "bad input");
    jobs_free(&j);
}

TEST(the_heartbeat_keeps_a_silent_long_job)
{
    jobrunner_settings_t s;
    jobrunner_t *jr;
    job_t j = {0};
    int64_t id;

    clear_jobs();
    id = enqueue("slow", 3);
    settings(&s, 2); /* the idle thread would take the job over if its lease lapsed */
    s.lease_ms = 1000;
    s.heartbeat_ms = 100; /* 900 ms of slack for a loaded machine */
    jr = start(&s, "slow", slow_handler, NULL);
    if (!jr)
        return;
    CHECK(wait_state(id, JOB_DONE));
    jobrunner_destroy(jr);
    CHECK_INT(atomic_load(&slow_calls), 1);
    CHECK_INT(jobs_get(db, id, &j), SV_OK);
    CHECK_INT(j.attempts, 1);
    jobs_free(&j);
}

TEST(notify_wakes_idle_workers)
{
    jobrunner_settings_t s;
    jobrunner_t *jr;
    uint64_t t0;
    int64_t id;

    clear_jobs();
    settings(&s, 2);
    s.poll_ms = 600000; /* without notify the job would wait ten minutes */
    jr = start(&s, "echo", echo_handler, &echo_calls);
    if (!jr)
        return;
    sleep_ms(200); /* both threads found nothing and sleep */
    id = enqueue("echo", 1);
    t0 = clock_mono_ms();
    jobrunner_notify(jr);
    CHECK(wait_state(id, JOB_DONE));
    CHECK(clock_mono_ms() - t0 < 10000);
    jobrunner_destroy(jr); /* stop wakes the sleeping threads too */
}

TEST(a_lost_lease_is_reported_to_the_handler)
{
    jobrunner_settings_t s;
    jobrunner_t *jr;
    db_stmt_t *st = NULL;
    job_t j = {0};
    int64_t id;

    clear_jobs();
    id = enqueue("steal", 3);
    settings(&s, 1);
    jr = start(&s, "steal", steal_handler, NULL);
    if (!jr)
        return;
    CHECK(wait_flag(&steal_running));
    /* Another worker takes the job over, as after a lease expiry. */
    CHECK_INT(db_prepare(db, "UPDATE jobs SET lease_token = 'stolen' WHERE id = ?", &st),
              SV_OK);
    db_bind_i64(st, 1, id);
    CHECK_INT(db_step(st), SV_OK);
    db_finalize(st);
    CHECK(wait_flag(&steal_conflict));
    jobrunner_destroy(jr);
    CHECK(atomic_load(&steal_should_stop));
    CHECK_INT(jobs_get(db, id, &j), SV_OK);
    CHECK_INT(j.state, JOB_RUNNING); /* the runner left the new owner's job alone */
    CHECK_STR(j.lease_token, "stolen");
    CHECK(j.error == NULL);
    jobs_free(&j);
}

TEST(stop_abandon_and_stop_finish)
{
    jobrunner_settings_t s;
    jobrunner_t *jr;
    job_t j = {0};
    uint64_t t0;
    int64_t id;

    /* Abandon: the handler sees should_stop, the job keeps its lease. */
    clear_jobs();
    id = enqueue("loop", 3);
    settings(&s, 1);
    jr = start(&s, "loop", loop_handler, NULL);
    if (!jr)
        return;
    CHECK(wait_flag(&loop_running));
    t0 = clock_mono_ms();
    jobrunner_stop(jr, JOBRUNNER_ABANDON);
    CHECK(clock_mono_ms() - t0 < 5000);
    jobrunner_stop(jr, JOBRUNNER_ABANDON); /* idempotent */
    jobrunner_destroy(jr);
    CHECK(atomic_load(&loop_saw_stop));
    CHECK_INT(jobs_get(db, id, &j), SV_OK);
    CHECK_INT(j.state, JOB_RUNNING);
    CHECK(j.lease_token[0] != '\0');
    CHECK(j.lease_until_ms > clock_wall_ms());
    jobs_free(&j);

    /* Finish: stop waits for the running job to complete. */
    clear_jobs();
    id = enqueue("finish", 3);
    jr = start(&s, "finish", finish_handler, NULL);
    if (!jr)
        return;
    CHECK(wait_flag(&finish_running));
    jobrunner_stop(jr, JOBRUNNER_FINISH);
    CHECK_INT(jobs_get(db, id, &j), SV_OK);
    CHECK_INT(j.state, JOB_DONE);
    jobs_free(&j);
    jobrunner_destroy(jr);
}

int
main(void)
{
    int applied = 0;

    dir = tmpdir_make("jobrunner");
    if (dir == NULL || db_open("", dir, &db, err, sizeof(err)) != SV_OK ||
        migrate_apply(db, &applied, err, sizeof(err)) != SV_OK) {
        printf("# setup: %s\nnot ok 1 - setup\n1..1\n", err);
        db_close(db);
        tmpdir_remove();
        return 1;
    }
    log_set_level(LOG_ERROR); /* the runner's expected warnings would clutter the log */
    RUN(create_register_and_start_check_their_input);
    RUN(runs_the_handler_of_each_job);
    RUN(an_unknown_kind_fails_with_a_reason);
    RUN(claim_registered_only_leaves_other_kinds_alone);
    RUN(a_failing_handler_is_retried_then_failed_with_its_reason);
    RUN(the_heartbeat_keeps_a_silent_long_job);
    RUN(notify_wakes_idle_workers);
    RUN(a_lost_lease_is_reported_to_the_handler);
    RUN(stop_abandon_and_stop_finish);
    db_close(db);
    tmpdir_remove();
    return test_done();
}
