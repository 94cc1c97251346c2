/*
 * tpool.c: mutex + condition variable work queue.
 */
#include "base/tpool.h"
#include "base/status.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct tpool_task {
    struct tpool_task *next;
    tpool_fn fn;
    void *arg;
} tpool_task_t;

struct tpool {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    tpool_task_t *head, *tail;
    size_t queued, max_queue;
    bool stopping;
    unsigned nthreads;
    pthread_t *threads;
    char name[11];
};

static void *
tpool_main(void *arg)
{
    tpool_t *p = arg;

    for (;;) {
        pthread_mutex_lock(&p->lock);
        while (p->head == NULL && !p->stopping)
            pthread_cond_wait(&p->cond, &p->lock);
        tpool_task_t *t = p->head;
        if (t == NULL) {
            pthread_mutex_unlock(&p->lock);
            return NULL;
        }
        p->head = t->next;
        if (p->head == NULL)
            p->tail = NULL;
        p->queued--;
        pthread_mutex_unlock(&p->lock);
        t->fn(t->arg);
        free(t);
    }
}

tpool_t *
tpool_create(const char *name, unsigned nthreads, size_t max_queue)
{
    tpool_t *p = calloc(1, sizeof(*p));
    if (p == NULL || nthreads == 0)
        goto fail;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->cond, NULL);
    p->max_queue = max_queue;
    snprintf(p->name, sizeof(p->name), "%s", name);
    p->threads = calloc(nthreads, sizeof(pthread_t));
    if (p->threads == NULL)
        goto fail;
    for (unsigned i = 0; i < nthreads; i++) {
        if (pthread_create(&p->threads[i], NULL, tpool_main, p) != 0)
            goto fail;
        char tn[32];
        snprintf(tn, sizeof(tn), "%s-%u", p->name, i);
        tn[15] = '\0'; /* the kernel keeps 15 characters of a thread name */
        pthread_setname_np(p->threads[i], tn);
        p->nthreads++;
    }
    return p;
fail:
    if (p)
        tpool_destroy(p);
    return NULL;
}

int
tpool_submit(tpool_t *p, tpool_fn fn, void *arg)
{
    int rc = SV_OK;
    tpool_task_t *t = malloc(sizeof(*t));
    if (t == NULL)
        return SV_NO_MEMORY;
    t->next = NULL;
    t->fn = fn;
    t->arg = arg;
    pthread_mutex_lock(&p->lock);
    if (p->stopping) {
        rc = SV_UNAVAILABLE;
    } else if (p->queued >= p->max_queue) {
        rc = SV_BUSY;
    } else {
        if (p->tail)
            p->tail->next = t;
        else
            p->head = t;
        p->tail = t;
        p->queued++;
        pthread_cond_signal(&p->cond);
    }
    pthread_mutex_unlock(&p->lock);
    if (rc != SV_OK)
        free(t);
    return rc;
}

size_t
tpool_queued(tpool_t *p)
{
    pthread_mutex_lock(&p->lock);
    size_t n = p->queued;
    pthread_mutex_unlock(&p->lock);
    return n;
}

void
tpool_destroy(tpool_t *p)
{
    if (p == NULL)
        return;
    pthread_mutex_lock(&p->lock);
    p->stopping = true;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
    for (unsigned i = 0; i < p->nthreads; i++)
        pthread_join(p->threads[i], NULL);
    /* Threads drain the queue before exiting; nothing is left here. */
    free(p->threads);
    pthread_cond_destroy(&p->cond);
    pthread_mutex_destroy(&p->lock);
    free(p);
}
