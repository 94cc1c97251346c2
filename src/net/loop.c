/*
 * loop.c: epoll event loop with a timer heap, deferred callbacks and a
 * cross-thread task queue woken by an eventfd.
 */
#include "net/loop.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/status.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define LOOP_MAX_EVENTS 256

typedef struct loop_task {
    struct loop_task *next;
    loop_task_fn fn;
    void *arg;
} loop_task_t;

struct loop {
    int epfd;
    unsigned id;
    uint64_t now;
    atomic_bool stop;

    loop_timer_t **heap;
    size_t heap_len;
    size_t heap_cap;

    loop_deferred_t *deferred_head;
    loop_deferred_t *deferred_tail;

    /* cross-thread tasks */
    loop_io_t wake_io;
    pthread_mutex_t task_lock;
    loop_task_t *task_head;
    loop_task_t *task_tail;
    atomic_bool wake_pending;
};

static _Thread_local loop_t *loop_this_thread;

static void loop_on_wake(loop_io_t *io, uint32_t events);
static void loop_run_deferred(loop_t *l);

loop_t *
loop_create(unsigned id)
{
    loop_t *l = calloc(1, sizeof(*l));
    if (l == NULL)
        return NULL;
    l->id = id;
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    l->wake_io.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    l->wake_io.on_event = loop_on_wake;
    pthread_mutex_init(&l->task_lock, NULL);
    if (l->epfd < 0 || l->wake_io.fd < 0 || loop_io_add(l, &l->wake_io, EPOLLIN) != SV_OK) {
        loop_destroy(l);
        return NULL;
    }
    l->now = clock_mono_ms();
    return l;
}

void
loop_destroy(loop_t *l)
{
    if (l == NULL)
        return;
    /* Tasks still queued get to run so that whoever posted them can release
     * what they carry; the loop is stopping, which they can tell. */
    atomic_store(&l->stop, true);
    for (;;) {
        pthread_mutex_lock(&l->task_lock);
        loop_task_t *t = l->task_head;
        l->task_head = l->task_tail = NULL;
        pthread_mutex_unlock(&l->task_lock);
        if (t == NULL && l->deferred_head == NULL)
            break;
        while (t) {
            loop_task_t *next = t->next;
            t->fn(t->arg);
            free(t);
            t = next;
        }
        loop_run_deferred(l);
    }
    if (l->wake_io.fd >= 0)
        close(l->wake_io.fd);
    if (l->epfd >= 0)
        close(l->epfd);
    pthread_mutex_destroy(&l->task_lock);
    free(l->heap);
    free(l);
}

unsigned
loop_id(const loop_t *l)
{
    return l->id;
}

int
loop_io_add(loop_t *l, loop_io_t *io, uint32_t events)
{
    struct epoll_event ev = {.events = events, .data.ptr = io};
    return epoll_ctl(l->epfd, EPOLL_CTL_ADD, io->fd, &ev) == 0 ? SV_OK : SV_IO;
}

int
loop_io_mod(loop_t *l, loop_io_t *io, uint32_t events)
{
    struct epoll_event ev = {.events = events, .data.ptr = io};
    return epoll_ctl(l->epfd, EPOLL_CTL_MOD, io->fd, &ev) == 0 ? SV_OK : SV_IO;
}

void
loop_io_del(loop_t *l, loop_io_t *io)
{
    epoll_ctl(l->epfd, EPOLL_CTL_DEL, io->fd, NULL);
}

/* ---- timers: a binary min-heap of pointers, each timer knows its index ---- */

void
loop_timer_init(loop_timer_t *t, loop_timer_fn fn)
{
    t->deadline = 0;
    t->heap_index = SIZE_MAX;
    t->fn = fn;
}

static void
loop_heap_swap(loop_t *l, size_t a, size_t b)
{
    loop_timer_t *ta = l->heap[a], *tb = l->heap[b];
    l->heap[a] = tb;
    l->heap[b] = ta;
    tb->heap_index = a;
    ta->heap_index = b;
}

static void
loop_heap_up(loop_t *l, size_t i)
{
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (l->heap[parent]->deadline <= l->heap[i]->deadline)
            break;
        loop_heap_swap(l, i, parent);
        i = parent;
    }
}

static void
loop_heap_down(loop_t *l, size_t i)
{
    for (;;) {
        size_t left = 2 * i + 1, right = left + 1, min = i;
        if (left < l->heap_len && l->heap[left]->deadline < l->heap[min]->deadline)
            min = left;
        if (right < l->heap_len && l->heap[right]->deadline < l->heap[min]->deadline)
            min = right;
        if (min == i)
            break;
        loop_heap_swap(l, i, min);
        i = min;
    }
}

void
loop_timer_disarm(loop_t *l, loop_timer_t *t)
{
    size_t i = t->heap_index;
    if (i == SIZE_MAX)
        return;
    t->heap_index = SIZE_MAX;
    l->heap_len--;
    if (i == l->heap_len)
        return;
    l->heap[i] = l->heap[l->heap_len];
    l->heap[i]->heap_index = i;
    loop_heap_down(l, i);
    loop_heap_up(l, i);
}

int
loop_timer_arm(loop_t *l, loop_timer_t *t, uint64_t deadline)
{
    if (t->heap_index != SIZE_MAX) {
        uint64_t old = t->deadline;
        t->deadline = deadline;
        if (deadline < old)
            loop_heap_up(l, t->heap_index);
        else
            loop_heap_down(l, t->heap_index);
        return SV_OK;
    }
    if (l->heap_len == l->heap_cap) {
        size_t ncap = l->heap_cap ? l->heap_cap * 2 : 64;
        loop_timer_t **h = realloc(l->heap, ncap * sizeof(*h));
        if (h == NULL)
            return SV_NO_MEMORY;
        l->heap = h;
        l->heap_cap = ncap;
    }
    t->deadline = deadline;
    t->heap_index = l->heap_len;
    l->heap[l->heap_len++] = t;
    loop_heap_up(l, t->heap_index);
    return SV_OK;
}

static void
loop_run_timers(loop_t *l)
{
    while (l->heap_len > 0 && l->heap[0]->deadline <= l->now) {
        loop_timer_t *t = l->heap[0];
        loop_timer_disarm(l, t);
        t->fn(t);
    }
}

/* ---- deferred callbacks ---- */

void
loop_defer(loop_t *l, loop_deferred_t *d)
{
    if (d->queued)
        return;
    d->queued = true;
    d->next = NULL;
    if (l->deferred_tail)
        l->deferred_tail->next = d;
    else
        l->deferred_head = d;
    l->deferred_tail = d;
}

static void
loop_run_deferred(loop_t *l)
{
    /* Callbacks may defer more; those run in this same pass. */
    while (l->deferred_head) {
        loop_deferred_t *d = l->deferred_head;
        l->deferred_head = d->next;
        if (l->deferred_head == NULL)
            l->deferred_tail = NULL;
        d->queued = false;
        d->fn(d);
    }
}

/* ---- cross-thread tasks ---- */

int
loop_post(loop_t *l, loop_task_fn fn, void *arg)
{
    loop_task_t *t = malloc(sizeof(*t));
    if (t == NULL)
        return SV_NO_MEMORY;
    t->next = NULL;
    t->fn = fn;
    t->arg = arg;
    pthread_mutex_lock(&l->task_lock);
    if (l->task_tail)
        l->task_tail->next = t;
    else
        l->task_head = t;
    l->task_tail = t;
    pthread_mutex_unlock(&l->task_lock);
    /* One eventfd write per batch: later posters see wake_pending set. */
    if (!atomic_exchange(&l->wake_pending, true)) {
        uint64_t one = 1;
        ssize_t w;
        do {
            w = write(l->wake_io.fd, &one, sizeof(one));
        } while (w < 0 && errno == EINTR);
    }
    return SV_OK;
}

static void
loop_on_wake(loop_io_t *io, uint32_t events)
{
    uint64_t v;
    ssize_t r;
    do {
        r = read(io->fd, &v, sizeof(v));
    } while (r < 0 && errno == EINTR);
}

static void
loop_run_tasks(loop_t *l)
{
    loop_task_t *t;

    atomic_store(&l->wake_pending, false);
    pthread_mutex_lock(&l->task_lock);
    t = l->task_head;
    l->task_head = l->task_tail = NULL;
    pthread_mutex_unlock(&l->task_lock);
    while (t) {
        loop_task_t *next = t->next;
        t->fn(t->arg);
        free(t);
        t = next;
    }
}

/* ---- running ---- */

uint64_t
loop_now(const loop_t *l)
{
    return l->now;
}

void
loop_update_time(loop_t *l)
{
    l->now = clock_mono_ms();
}

loop_t *
loop_current(void)
{
    return loop_this_thread;
}

void
loop_stop(loop_t *l)
{
    atomic_store(&l->stop, true);
    uint64_t one = 1;
    ssize_t w;
    do {
        w = write(l->wake_io.fd, &one, sizeof(one));
    } while (w < 0 && errno == EINTR);
}

int
loop_run(loop_t *l)
{
    struct epoll_event events[LOOP_MAX_EVENTS];

    loop_this_thread = l;
    while (!atomic_load(&l->stop)) {
        int timeout = -1;
        if (l->deferred_head) {
            timeout = 0;
        } else if (l->heap_len > 0) {
            uint64_t d = l->heap[0]->deadline;
            timeout = d <= l->now ? 0 : (d - l->now > 60000 ? 60000 : (int)(d - l->now));
        }
        int n = epoll_wait(l->epfd, events, LOOP_MAX_EVENTS, timeout);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            log_error("loop", "epoll_wait failed: %s", strerror(errno));
            loop_this_thread = NULL;
            return SV_IO;
        }
        l->now = clock_mono_ms();
        for (int i = 0; i < n; i++) {
            loop_io_t *io = events[i].data.ptr;
            io->on_event(io, events[i].events);
        }
        if (atomic_load(&l->wake_pending))
            loop_run_tasks(l);
        loop_run_timers(l);
        loop_run_deferred(l);
    }
    loop_this_thread = NULL;
    return SV_OK;
}
