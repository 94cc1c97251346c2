/*
 * test_jobs.c: the job queue: enqueue checks, claim order, concurrent claims
 * never sharing a job, lease expiry and takeover, stale tokens refused,
 * retries with backoff ending in failed, listing, counting, and injected
 * faults at every database call leaving no half-made change.
 */
#include "store/jobs.h"

#include "base/clock.h"
#include "base/status.h"
#include "store/migrate.h"
#include "test.h"
#include "tmpdir.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static const char *dir;
static char err[512];
static db_t *db; /* the main thread's connection */

#define LEASE 30000

static db_t *
open_db(void)
{
    char open_err[256]; /* own buffer: threads call this */
    db_t *d = NULL;
    if (db_open("", dir, &d, open_err, sizeof(open_err)) != SV_OK) {
        printf("# db_open: %s\n", open_err);
        return NULL;
    }
    return d;
}

static void
clear_jobs(void)
{
    if (db_exec(db, "DELETE FROM jobs") != SV_OK)
        printf("# clearing jobs: %s\n", db_last_error(db));
}

static int64_t
enqueue(const char *kind, int priority, int max_attempts, int64_t delay_ms)
{
    int64_t id = 0;
    int rc = jobs_enqueue(db, kind, "{\"n\":1}", priority, max_attempts, delay_ms, &id);
    if (rc != SV_OK)
        printf("# enqueue %s: %s %s\n", kind, status_text(rc), db_last_error(db));
    return id;
}

/* The state of job id, or -1. */
static int
state_of(int64_t id)
{
    job_t j = {0};
    int state = -1;
    if (jobs_get(db, id, &j) == SV_OK)
        state = (int)j.state;
    jobs_free(&j);
    return state;
}

TEST(enqueue_validates_and_get_copies)
{
    job_t j = {0};
    int64_t id = 0, before = clock_wall_ms();
    char *big;

    clear_jobs();
    CHECK_INT(jobs_enqueue(db, "transcode", "{\"asset\": 7}", 3, 4, 0, &id), SV_OK);
    CHECK(id > 0);
    CHECK_INT(jobs_get(db, id, &j), SV_OK);
    CHECK_INT(j.id, id);
    CHECK_STR(j.kind, "transcode");
    CHECK_STR(j.payload, "{\"asset\": 7}");
    CHECK_INT(j.payload_len, strlen("{\"asset\": 7}"));
    CHECK_INT(j.state, JOB_QUEUED);
    CHECK_INT(j.priority, 3);
    CHECK_INT(j.attempts, 0);
    CHECK_INT(j.max_attempts, 4);
    CHECK(j.run_at_ms >= before && j.run_at_ms <= clock_wall_ms());
    CHECK(j.created_at_ms == j.run_at_ms && j.updated_at_ms == j.created_at_ms);
    CHECK_INT(j.lease_until_ms, 0);
    CHECK_STR(j.lease_token, "");
    CHECK_STR(j.worker, "");
    CHECK(j.progress_msg == NULL && j.error == NULL);
    CHECK_INT(j.finished_at_ms, 0);
    jobs_free(&j);
    CHECK(j.payload == NULL);
    jobs_free(NULL);

    CHECK_INT(jobs_enqueue(db, "thumbs", NULL, 0, 1, 5000, &id), SV_OK);
    CHECK_INT(jobs_get(db, id, &j), SV_OK);
    CHECK_STR(j.payload, "{}");
    CHECK(j.run_at_ms >= before + 5000);
    jobs_free(&j);

    id = -5;
    CHECK_INT(jobs_enqueue(db, "Bad Kind", "{}", 0, 1, 0, &id), SV_BAD_DATA);
    CHECK_INT(jobs_enqueue(db, "", "{}", 0, 1, 0, &id), SV_BAD_DATA);
    CHECK_INT(jobs_enqueue(db, NULL, "{}", 0, 1, 0, &id), SV_BAD_DATA);
    CHECK_INT(jobs_enqueue(db, "k", "{not json", 0, 1, 0, &id), SV_BAD_DATA);
    CHECK_INT(jobs_enqueue(db, "k", "{}", 0, 0, 0, &id), SV_BAD_DATA);
    CHECK_INT(jobs_enqueue(db, "k", "{}", 0, JOBS_MAX_ATTEMPTS + 1, 0, &id), SV_BAD_DATA);
    CHECK_INT(jobs_enqueue(db, "k", "{}", 0, 1, -1, &id), SV_BAD_DATA);
    big = malloc(JOBS_PAYLOAD_MAX + 16);
    if (big) {
        memset(big, ' ', JOBS_PAYLOAD_MAX + 8);
        big[0] = '1';
        big[JOBS_PAYLOAD_MAX + 8] = '\0';
        CHECK_INT(jobs_enqueue(db, "k", big, 0, 1, 0, &id), SV_TOO_BIG);
        free(big);
    }
    CHECK_INT(id, -5); /* untouched on failure */
    CHECK_INT(jobs_get(db, 999999, &j), SV_NOT_FOUND);

    job_state_t s;
    CHECK_INT(jobs_state_parse(STR("failed"), &s), SV_OK);
    CHECK_INT(s, JOB_FAILED);
    CHECK_INT(jobs_state_parse(STR("FAILED"), &s), SV_BAD_DATA);
    CHECK_STR(jobs_state_name(JOB_RUNNING), "running");
    CHECK(jobs_kind_valid("media.transcode-v2_x"));
    CHECK(!jobs_kind_valid("Transcode"));
    CHECK(!jobs_kind_valid("a b"));
    CHECK(!jobs_kind_valid(NULL));
}

TEST(claim_takes_priority_then_run_at_then_id)
{
    const int64_t lease = 3600 * 1000; /* outlives every `now` used here */
    int64_t a, b, c, d, now;
    job_t j = {0};

    clear_jobs();
    a = enqueue("k", 0, 3, 0);
    b = enqueue("k", 5, 3, 0);
    c = enqueue("k", 5, 3, 60000);
    d = enqueue("k", 0, 3, 0);
    now = clock_wall_ms();

    CHECK_INT(jobs_claim(db, "w1", lease, now, &j), SV_OK);
    CHECK_INT(j.id, b);
    CHECK_INT(j.state, JOB_RUNNING);
    CHECK_INT(j.attempts, 1);
    CHECK_INT(strlen(j.lease_token), JOBS_TOKEN_LEN);
    CHECK(strspn(j.lease_token, "0123456789abcdef") == JOBS_TOKEN_LEN);
    CHECK_STR(j.worker, "w1");
    CHECK_INT(j.lease_until_ms, now + lease);
    jobs_free(&j);
    CHECK_INT(jobs_claim(db, "w1", lease, now, &j), SV_OK);
    CHECK_INT(j.id, a);
    jobs_free(&j);
    CHECK_INT(jobs_claim(db, "w1", lease, now, &j), SV_OK);
    CHECK_INT(j.id, d);
    jobs_free(&j);
    CHECK_INT(jobs_claim(db, "w1", lease, now, &j), SV_NOT_FOUND); /* c is not due yet */
    CHECK_INT(jobs_claim(db, "w1", lease, now + 60001, &j), SV_OK);
    CHECK_INT(j.id, c);
    jobs_free(&j);
    CHECK_INT(jobs_claim(db, "w1", 0, now, &j), SV_BAD_DATA);
}

TEST(claim_kinds_filters)
{
    const char *const only_b[] = {"kind-b"};
    const char *const both[] = {"kind-c", "kind-a"};
    job_t j = {0};
    int64_t a, b, now;

    clear_jobs();
    a = enqueue("kind-a", 9, 1, 0);
    b = enqueue("kind-b", 0, 1, 0);
    now = clock_wall_ms();
    CHECK_INT(jobs_claim_kinds(db, "w", only_b, 1, LEASE, now, &j), SV_OK);
    CHECK_INT(j.id, b);
    jobs_free(&j);
    CHECK_INT(jobs_claim_kinds(db, "w", only_b, 1, LEASE, now, &j), SV_NOT_FOUND);
    CHECK_INT(jobs_claim_kinds(db, "w", both, 2, LEASE, now, &j), SV_OK);
    CHECK_INT(j.id, a);
    jobs_free(&j);
    CHECK_INT(jobs_claim_kinds(db, "w", both, JOBS_CLAIM_KINDS_MAX + 1, LEASE, now, &j),
              SV_BAD_DATA);
}

#define RACE_JOBS 200
#define RACE_THREADS 4

static _Atomic int race_claims[RACE_JOBS + 1];
static int64_t race_first_id;
static _Atomic int race_errors;
static _Atomic int race_threads_with_work;
static pthread_barrier_t race_start;

/* Claims and completes until the queue is empty. */
static void *
race_main(void *arg)
{
    char name[32];
    db_t *d = open_db();

    int mine = 0;

    snprintf(name, sizeof(name), "racer-%d", (int)(intptr_t)arg);
    pthread_barrier_wait(&race_start); /* all claim from the same moment */
    while (d) {
        job_t j = {0};
        int rc = jobs_claim(d, name, LEASE, clock_wall_ms(), &j);
        if (rc == SV_NOT_FOUND)
            break;
        if (rc != SV_OK) {
            printf("# claim: %s %s\n", status_text(rc), db_last_error(d));
            atomic_fetch_add(&race_errors, 1);
            break;
        }
        int64_t k = j.id - race_first_id;
        if (k >= 0 && k < RACE_JOBS)
            atomic_fetch_add(&race_claims[k], 1);
        else
            atomic_fetch_add(&race_errors, 1);
        if (jobs_complete(d, j.id, j.lease_token) != SV_OK)
            atomic_fetch_add(&race_errors, 1);
        jobs_free(&j);
        mine++;
    }
    if (mine > 0)
        atomic_fetch_add(&race_threads_with_work, 1);
    if (!d)
        atomic_fetch_add(&race_errors, 1);
    db_close(d);
    return NULL;
}

TEST(concurrent_claims_never_get_the_same_job)
{
    pthread_t t[RACE_THREADS];
    int64_t counts[JOB_STATE_COUNT];
    int once = 0;

    clear_jobs();
    CHECK_INT(db_tx_begin(db), SV_OK);
    for (int i = 0; i < RACE_JOBS; i++) {
        int64_t id = enqueue("race", i % 3, 1, 0);
        if (i == 0)
            race_first_id = id;
    }
    CHECK_INT(db_tx_commit(db), SV_OK);
    pthread_barrier_init(&race_start, NULL, RACE_THREADS);
    for (int i = 0; i < RACE_THREADS; i++)
        pthread_create(&t[i], NULL, race_main, (void *)(intptr_t)i);
    for (int i = 0; i < RACE_THREADS; i++)
        pthread_join(t[i], NULL);
    pthread_barrier_destroy(&race_start);
    CHECK_INT(atomic_load(&race_errors), 0);
    CHECK(atomic_load(&race_threads_with_work) >= 2); /* the claims did race */
    for (int i = 0; i < RACE_JOBS; i++)
        once += atomic_load(&race_claims[i]) == 1;
    CHECK_INT(once, RACE_JOBS);
    CHECK_INT(jobs_count_by_state(db, counts), SV_OK);
    CHECK_INT(counts[JOB_DONE], RACE_JOBS);
    CHECK_INT(counts[JOB_QUEUED] + counts[JOB_RUNNING] + counts[JOB_FAILED], 0);
}

TEST(a_job_enqueued_claimed_is_left_to_its_creator_until_its_lease_expires)
{
    /* regression: `streamverse ingest` queued its job, then a running
     * server's worker claimed it before the command could */
    job_t mine = {0}, other = {0}, again = {0};
    clear_jobs();
    CHECK_INT(jobs_enqueue_claimed(db, "asset.ingest", "{\"asset_id\":1}", 0, 3, "cli", 1000,
                                   &mine),
              SV_OK);
    CHECK(mine.id > 0);
    CHECK_INT(mine.state, JOB_RUNNING);
    CHECK_INT(mine.attempts, 1);
    CHECK_STR(mine.worker, "cli");
    CHECK(strlen(mine.lease_token) == JOBS_TOKEN_LEN);
    int64_t now = clock_wall_ms();
    CHECK_INT(jobs_claim(db, "server", 1000, now, &other), SV_NOT_FOUND);
    CHECK_INT(jobs_progress(db, mine.id, mine.lease_token, 1000, 500, "half"), SV_OK);
    /* if its creator dies, the job is not lost: the lease runs out */
    CHECK_INT(jobs_claim(db, "server", 1000, now + 5000, &again), SV_OK);
    CHECK_INT(again.id, mine.id);
    CHECK_INT(again.attempts, 2);
    CHECK_INT(jobs_complete(db, mine.id, mine.lease_token), SV_CONFLICT);
    CHECK_INT(jobs_enqueue_claimed(db, "bad kind!", "{}", 0, 3, "cli", 1000, &other),
              SV_BAD_DATA);
    jobs_free(&mine);
    jobs_free(&again);
}

TEST(expired_lease_is_reclaimed_and_stale_token_refused)
{
    job_t j1 = {0}, j2 = {0}, j = {0};
    int64_t id, t0;

    clear_jobs();
    id = enqueue("k", 0, 3, 0);
    t0 = clock_wall_ms(); /* not before the enqueue: its run_at is the enqueue time */
    CHECK_INT(jobs_claim(db, "crashed", 1000, t0, &j1), SV_OK);
    CHECK_INT(jobs_claim(db, "other", 1000, t0 + 500, &j), SV_NOT_FOUND); /* lease holds */
    CHECK_INT(jobs_claim(db, "other", 1000, t0 + 1001, &j2), SV_OK);      /* expired */
    CHECK_INT(j2.id, id);
    CHECK_INT(j2.attempts, 2);
    CHECK_STR(j2.worker, "other");
    CHECK(strcmp(j1.lease_token, j2.lease_token) != 0);

    /* The first worker comes back: everything it tries is refused. */
    CHECK_INT(jobs_progress(db, id, j1.lease_token, 1000, 10, "x"), SV_CONFLICT);
    CHECK_INT(jobs_heartbeat(db, id, j1.lease_token, 1000), SV_CONFLICT);
    CHECK_INT(jobs_complete(db, id, j1.lease_token), SV_CONFLICT);
    CHECK_INT(jobs_fail(db, id, j1.lease_token, "late", 10, 10), SV_CONFLICT);
    CHECK_INT(jobs_fail_final(db, id, j1.lease_token, "late"), SV_CONFLICT);
    CHECK_INT(jobs_complete(db, id, ""), SV_CONFLICT);
    CHECK_INT(jobs_complete(db, id, NULL), SV_CONFLICT);

    CHECK_INT(jobs_complete(db, id, j2.lease_token), SV_OK);
    CHECK_INT(jobs_complete(db, id, j2.lease_token), SV_CONFLICT); /* only once */
    CHECK_INT(jobs_get(db, id, &j), SV_OK);
    CHECK_INT(j.state, JOB_DONE);
    CHECK_INT(j.progress_permille, 1000);
    CHECK_STR(j.lease_token, "");
    CHECK_INT(j.lease_until_ms, 0);
    CHECK(j.finished_at_ms > 0);
    CHECK(j.error == NULL);
    jobs_free(&j);
    jobs_free(&j1);
    jobs_free(&j2);
}

TEST(lease_expiring_on_the_last_attempt_fails_the_job)
{
    job_t j = {0};
    int64_t id, t0;

    clear_jobs();
    id = enqueue("poison", 0, 1, 0);
    t0 = clock_wall_ms();
    CHECK_INT(jobs_claim(db, "dies", 1000, t0, &j), SV_OK);
    jobs_free(&j);
    CHECK_INT(jobs_claim(db, "next", 1000, t0 + 1001, &j), SV_NOT_FOUND);
    CHECK_INT(jobs_get(db, id, &j), SV_OK);
    CHECK_INT(j.state, JOB_FAILED);
    CHECK(j.error && strstr(j.error, "lease expired") && strstr(j.error, "dies"));
    CHECK(j.finished_at_ms > 0);
    jobs_free(&j);
}

TEST(progress_renews_the_lease_and_refuses_a_stale_token)
{
    job_t j = {0}, g = {0};
    char long_msg[JOBS_MSG_MAX + 100];
    int64_t id, before;

    clear_jobs();
    id = enqueue("k", 0, 3, 0);
    CHECK_INT(jobs_claim(db, "w", 1000, clock_wall_ms(), &j), SV_OK);
    before = clock_wall_ms();
    CHECK_INT(jobs_progress(db, id, j.lease_token, LEASE, 500, "half way"), SV_OK);
    CHECK_INT(jobs_get(db, id, &g), SV_OK);
    CHECK_INT(g.progress_permille, 500);
    CHECK_STR(g.progress_msg, "half way");
    CHECK(g.lease_until_ms >= before + LEASE);
    jobs_free(&g);
    CHECK_INT(jobs_progress(db, id, j.lease_token, LEASE, 600, NULL), SV_OK);
    CHECK_INT(jobs_get(db, id, &g), SV_OK);
    CHECK_INT(g.progress_permille, 600);
    CHECK_STR(g.progress_msg, "half way"); /* NULL keeps the message */
    jobs_free(&g);

    memset(long_msg, 'm', sizeof(long_msg) - 1);
    long_msg[sizeof(long_msg) - 1] = '\0';
    long_msg[JOBS_MSG_MAX - 1] = '\xc3'; /* a 2-byte character straddling the cut */
    long_msg[JOBS_MSG_MAX] = '\xa9';
    CHECK_INT(jobs_progress(db, id, j.lease_token, LEASE, 700, long_msg), SV_OK);
    CHECK_INT(jobs_get(db, id, &g), SV_OK);
    CHECK_INT(strlen(g.progress_msg), JOBS_MSG_MAX - 1);
    jobs_free(&g);

    CHECK_INT(jobs_progress(db, id, j.lease_token, LEASE, 1001, NULL), SV_BAD_DATA);
    CHECK_INT(jobs_progress(db, id, j.lease_token, LEASE, -1, NULL), SV_BAD_DATA);
    CHECK_INT(jobs_progress(db, id, "0123456789abcdef0123456789abcdef", LEASE, 800, NULL),
              SV_CONFLICT);
    CHECK_INT(jobs_progress(db, id + 1000, j.lease_token, LEASE, 800, NULL), SV_CONFLICT);
    CHECK_INT(jobs_heartbeat(db, id, j.lease_token, LEASE), SV_OK);
    jobs_free(&j);
}

TEST(failures_retry_with_backoff_then_fail_with_the_reason)
{
    job_t j = {0};
    int64_t id, now, far = clock_wall_ms() + 3600 * 1000;

    clear_jobs();
    id = enqueue("flaky", 0, 3, 0);

    /* Attempt 1 fails: queued again 500..1000 ms later (base 1000). */
    CHECK_INT(jobs_claim(db, "w", LEASE, clock_wall_ms(), &j), SV_OK);
    now = clock_wall_ms();
    CHECK_INT(jobs_fail(db, id, j.lease_token, "boom 1", 1000, 1500), SV_OK);
    jobs_free(&j);
    CHECK_INT(jobs_get(db, id, &j), SV_OK);
    CHECK_INT(j.state, JOB_QUEUED);
    CHECK_INT(j.attempts, 1);
    CHECK_STR(j.error, "boom 1");
    CHECK_STR(j.lease_token, "");
    CHECK(j.run_at_ms >= now + 500 && j.run_at_ms <= clock_wall_ms() + 1000);
    CHECK_INT(j.finished_at_ms, 0);
    jobs_free(&j);
    CHECK_INT(jobs_claim(db, "w", LEASE, now, &j), SV_NOT_FOUND); /* backing off */

    /* Attempt 2 fails: the step doubles to 2000, capped at 1500: 750..1500 ms. */
    CHECK_INT(jobs_claim(db, "w", LEASE, far, &j), SV_OK);
    CHECK_INT(j.attempts, 2);
    CHECK_STR(j.error, "boom 1"); /* the last reason stays visible while it runs */
    now = clock_wall_ms();
    CHECK_INT(jobs_fail(db, id, j.lease_token, "boom 2", 1000, 1500), SV_OK);
    jobs_free(&j);
    CHECK_INT(jobs_get(db, id, &j), SV_OK);
    CHECK_INT(j.state, JOB_QUEUED);
    CHECK(j.run_at_ms >= now + 750 && j.run_at_ms <= clock_wall_ms() + 1500);
    jobs_free(&j);

    /* Attempt 3 is the last: failed for good, with its reason. */
    CHECK_INT(jobs_claim(db, "w", LEASE, far, &j), SV_OK);
    CHECK_INT(j.attempts, 3);
    CHECK_INT(jobs_fail(db, id, j.lease_token, "boom 3", 1000, 1500), SV_OK);
    jobs_free(&j);
    CHECK_INT(jobs_get(db, id, &j), SV_OK);
    CHECK_INT(j.state, JOB_FAILED);
    CHECK_INT(j.attempts, 3);
    CHECK_STR(j.error, "boom 3");
    CHECK(j.finished_at_ms > 0);
    jobs_free(&j);
    CHECK_INT(jobs_claim(db, "w", LEASE, far + 3600 * 1000, &j), SV_NOT_FOUND);
}

TEST(fail_final_skips_the_retries_and_success_clears_the_reason)
{
    job_t j = {0};
    int64_t id;

    clear_jobs();
    id = enqueue("k", 0, 5, 0);
    CHECK_INT(jobs_claim(db, "w", LEASE, clock_wall_ms(), &j), SV_OK);
    CHECK_INT(jobs_fail_final(db, id, j.lease_token, "bad input"), SV_OK);
    jobs_free(&j);
    CHECK_INT(jobs_get(db, id, &j), SV_OK);
    CHECK_INT(j.state, JOB_FAILED);
    CHECK_INT(j.attempts, 1);
    CHECK_STR(j.error, "bad input");
    jobs_free(&j);

    /* A retry that succeeds clears the earlier failure's reason. */
    id = enqueue("k", 0, 5, 0);
    CHECK_INT(jobs_claim(db, "w", LEASE, clock_wall_ms(), &j), SV_OK);
    CHECK_INT(jobs_fail(db, id, j.lease_token, "transient", 1, 1), SV_OK);
    jobs_free(&j);
    CHECK_INT(jobs_claim(db, "w", LEASE, clock_wall_ms() + 1000, &j), SV_OK);
    CHECK_INT(j.id, id);
    CHECK_INT(jobs_complete(db, id, j.lease_token), SV_OK);
    jobs_free(&j);
    CHECK_INT(jobs_get(db, id, &j), SV_OK);
    CHECK_INT(j.state, JOB_DONE);
    CHECK(j.error == NULL);
    jobs_free(&j);
}

TEST(backoff_doubles_caps_and_jitters)
{
    for (int i = 0; i < 200; i++) {
        int64_t d1 = jobs_backoff_ms(1, 1000, 60000);
        int64_t d3 = jobs_backoff_ms(3, 1000, 60000);
        int64_t d40 = jobs_backoff_ms(40, 1000, 60000);
        int64_t huge = jobs_backoff_ms(200, INT64_MAX / 4, INT64_MAX);
        CHECK(d1 >= 500 && d1 <= 1000);
        CHECK(d3 >= 2000 && d3 <= 4000);
        CHECK(d40 >= 30000 && d40 <= 60000);
        CHECK(huge >= INT64_MAX / 2 - 1);
    }
    CHECK_INT(jobs_backoff_ms(3, 0, 1000), 0);
}

typedef struct {
    int64_t ids[16];
    int n;
    int stop_after;
} list_acc_t;

static int
list_collect(void *arg, const job_t *job)
{
    list_acc_t *acc = arg;
    if (acc->stop_after > 0 && acc->n == acc->stop_after)
        return SV_TOO_BIG;
    if (acc->n < 16)
        acc->ids[acc->n++] = job->id;
    return SV_OK;
}

TEST(list_pages_and_filters_and_counts)
{
    int64_t ids[5], counts[JOB_STATE_COUNT];
    list_acc_t acc;
    job_t j = {0};

    clear_jobs();
    for (int i = 0; i < 5; i++)
        ids[i] = enqueue("k", 0, 1, 0);
    CHECK_INT(jobs_claim(db, "w", LEASE, clock_wall_ms(), &j), SV_OK); /* ids[0] */
    CHECK_INT(jobs_complete(db, j.id, j.lease_token), SV_OK);
    jobs_free(&j);
    CHECK_INT(jobs_claim(db, "w", LEASE, clock_wall_ms(), &j), SV_OK); /* ids[1] */
    jobs_free(&j);

    memset(&acc, 0, sizeof(acc));
    CHECK_INT(jobs_list(db, NULL, 0, 2, list_collect, &acc), SV_OK);
    CHECK_INT(acc.n, 2);
    CHECK_INT(acc.ids[0], ids[0]);
    CHECK_INT(acc.ids[1], ids[1]);
    CHECK_INT(jobs_list(db, NULL, acc.ids[1], 2, list_collect, &acc), SV_OK);
    CHECK_INT(acc.n, 4);
    CHECK_INT(acc.ids[2], ids[2]);
    CHECK_INT(jobs_list(db, NULL, acc.ids[3], 2, list_collect, &acc), SV_OK);
    CHECK_INT(acc.n, 5);
    CHECK_INT(acc.ids[4], ids[4]);

    memset(&acc, 0, sizeof(acc));
    CHECK_INT(jobs_list(db, "queued", 0, 10, list_collect, &acc), SV_OK);
    CHECK_INT(acc.n, 3);
    CHECK_INT(acc.ids[0], ids[2]);
    memset(&acc, 0, sizeof(acc));
    CHECK_INT(jobs_list(db, "done", 0, 10, list_collect, &acc), SV_OK);
    CHECK_INT(acc.n, 1);
    CHECK_INT(acc.ids[0], ids[0]);

    memset(&acc, 0, sizeof(acc));
    acc.stop_after = 2;
    CHECK_INT(jobs_list(db, NULL, 0, 10, list_collect, &acc), SV_TOO_BIG);
    CHECK_INT(acc.n, 2);
    CHECK_INT(jobs_list(db, "sleeping", 0, 10, list_collect, &acc), SV_BAD_DATA);
    CHECK_INT(jobs_list(db, NULL, 0, 0, list_collect, &acc), SV_BAD_DATA);
    CHECK_INT(jobs_list(db, NULL, 0, 1001, list_collect, &acc), SV_BAD_DATA);

    CHECK_INT(jobs_count_by_state(db, counts), SV_OK);
    CHECK_INT(counts[JOB_QUEUED], 3);
    CHECK_INT(counts[JOB_RUNNING], 1);
    CHECK_INT(counts[JOB_DONE], 1);
    CHECK_INT(counts[JOB_FAILED], 0);
}

/* Every database call of enqueue, claim and fail, failed in turn: each failure
 * leaves the job as it was, and nothing leaks (LSan checks the san build). */
TEST(every_fault_leaves_the_queue_consistent)
{
    int64_t id = 0, counts[JOB_STATE_COUNT];
    job_t j = {0};
    int n, failures = 0;

    clear_jobs();
    for (n = 0; n < 20; n++) {
        id = 0;
        db_fault_inject(n, SV_DB);
        int rc = jobs_enqueue(db, "k", "{}", 0, 2, 0, &id);
        bool fired = !db_fault_pending();
        db_fault_inject(-1, SV_DB);
        if (!fired) {
            CHECK_INT(rc, SV_OK);
            break;
        }
        CHECK_INT(rc, SV_DB);
        CHECK_INT(id, 0);
        failures++;
    }
    CHECK_INT(failures, 2); /* prepare, step */
    CHECK_INT(jobs_count_by_state(db, counts), SV_OK);
    CHECK_INT(counts[JOB_QUEUED], 1); /* exactly the one successful enqueue */

    for (failures = 0, n = 0; n < 20; n++) {
        db_fault_inject(n, SV_BUSY);
        int rc = jobs_claim(db, "w", LEASE, clock_wall_ms(), &j);
        bool fired = !db_fault_pending();
        db_fault_inject(-1, SV_DB);
        if (!fired) {
            CHECK_INT(rc, SV_OK);
            break;
        }
        CHECK_INT(rc, SV_BUSY);
        CHECK(j.payload == NULL); /* out untouched */
        CHECK_INT(state_of(id), JOB_QUEUED);
        failures++;
    }
    CHECK_INT(failures, 4); /* sweep prepare, step; claim prepare, step */
    CHECK_INT(state_of(id), JOB_RUNNING);

    for (failures = 0, n = 0; n < 20; n++) {
        db_fault_inject(n, SV_DB);
        int rc = jobs_fail(db, id, j.lease_token, "x", 1, 1);
        bool fired = !db_fault_pending();
        db_fault_inject(-1, SV_DB);
        if (!fired) {
            CHECK_INT(rc, SV_OK);
            break;
        }
        CHECK_INT(rc, SV_DB);
        CHECK_INT(state_of(id), JOB_RUNNING);
        failures++;
    }
    CHECK_INT(failures, 4); /* select prepare, step; update prepare, step */
    CHECK_INT(state_of(id), JOB_QUEUED);
    jobs_free(&j);
}

int
main(void)
{
    int applied = 0;

    dir = tmpdir_make("jobs");
    if (dir == NULL || (db = open_db()) == NULL ||
        migrate_apply(db, &applied, err, sizeof(err)) != SV_OK) {
        printf("# setup: %s\nnot ok 1 - setup\n1..1\n", err);
        db_close(db);
        tmpdir_remove();
        return 1;
    }
    RUN(enqueue_validates_and_get_copies);
    RUN(claim_takes_priority_then_run_at_then_id);
    RUN(claim_kinds_filters);
    RUN(concurrent_claims_never_get_the_same_job);
    RUN(a_job_enqueued_claimed_is_left_to_its_creator_until_its_lease_expires);
    RUN(expired_lease_is_reclaimed_and_stale_token_refused);
    RUN(lease_expiring_on_the_last_attempt_fails_the_job);
    RUN(progress_renews_the_lease_and_refuses_a_stale_token);
    RUN(failures_retry_with_backoff_then_fail_with_the_reason);
    RUN(fail_final_skips_the_retries_and_success_clears_the_reason);
    RUN(backoff_doubles_caps_and_jitters);
    RUN(list_pages_and_filters_and_counts);
    RUN(every_fault_leaves_the_queue_consistent);
    db_close(db);
    tmpdir_remove();
    return test_done();
}
