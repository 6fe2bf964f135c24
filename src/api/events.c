/*
 * events.c — the live-progress event bus (see events.h for the contract and
 * docs/internals/events.md for states, locking and sizes).
 *
 * Main idea: a job_runs change is rendered once, outside any lock, into an
 * immutable reference-counted frame. Under the single bus lock the publisher
 * only assigns the id (written into a slot reserved at the front of the
 * frame), pushes the frame pointer into the history ring and into the queue of
 * every matching subscriber, and notes which subscribers to wake. The wake-ups
 * (notify callbacks) run after the lock is released, each under its
 * subscriber's notify lock, which bk_bus_unsubscribe also takes to set the
 * 'closed' flag: so no notify can run after unsubscribe has returned, and a
 * reference held by the waking publisher keeps the subscriber's memory alive
 * until it is done.
 *
 * Change subscribers (the realtime sockets) are subscribers of a second
 * kind: their queue holds shared bk_change pointers (change.h) instead of
 * frames, with the same capacity, drop rule and wake-ups. A job_runs change
 * published for SSE is also built once as a bk_change, outside the lock and
 * only while change subscribers exist, and queued under the same lock hold
 * as its frame, so both kinds see runs in the same order.
 *
 * Read next: src/api/sse.c (the HTTP side), src/api/render.c (the row),
 * src/api/change.c (changes).
 */
#include "api/events.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/render.h"
#include "json/jw.h"
#include "model/sym.h"

#define DEF_RING_SIZE    4096
#define DEF_MAX_CLIENTS  256
#define DEF_CLIENT_QUEUE 1024
/* Room for "id: " and the 20 digits of a uint64_t at the front of a frame. */
#define ID_SLOT 24
/* Publishers wake at most this many subscribers from a stack array. */
#define WAKE_STACK 256
/* Frames a reader takes per trip under the lock. */
#define READ_BATCH 64
/* A typical rendered frame, to size the render buffer in one allocation. */
#define FRAME_GUESS 1024

static const char RESET_FRAME[] =
    "event: reset\ndata: {\"reason\":\"missed events are no longer available\"}\n\n";
static const char DROPPED_FRAME[] = "event: dropped\ndata: {\"reason\":\"client fell behind\"}\n\n";

/* One rendered event, immutable once published. */
typedef struct frame {
    atomic_size_t refs; /* the ring's reference plus one per queue holding it */
    uint64_t id;
    int tf;
    char symbol[BK_SYM_MAX + 1];
    const char *text; /* "id: <n>\nevent: job_runs\ndata: ...\n\n", inside mem */
    size_t len;       /* bytes of text */
    char *mem;        /* ID_SLOT bytes of room, then the rest of the frame */
} frame;

struct bk_sub {
    /* Immutable after subscribe. */
    bk_bus *bus;
    char symbol[BK_SYM_MAX + 1]; /* "" = any */
    int tf;                      /* -1 = any */
    void (*notify)(void *ctx);
    void *ctx;
    bool changes; /* a change subscriber: cq instead of q */
    /* Guarded by the bus lock. */
    size_t slot;          /* index in bus->subs */
    frame **q;            /* fixed-capacity ring of frame pointers */
    const bk_change **cq; /* change subscriber: ring of change pointers */
    size_t q_cap, q_head; /* q_head: oldest queued frame */
    size_t q_len;         /* frames queued, <= q_cap */
    bool reset_pending;   /* the reset frame goes out before any queued frame */
    bool dropped;         /* queue overflowed: queue emptied, no more frames */
    bool dropped_sent;    /* the dropped frame was handed to the reader */
    /* Lifetime: the subscription's reference plus one per waking publisher. */
    atomic_size_t refs;
    pthread_mutex_t nlock; /* serialises notify calls against unsubscribe */
    bool closed;           /* guarded by nlock: set by unsubscribe, no notify after */
};

struct bk_bus {
    bk_bus_opts opts;
    pthread_mutex_t lock;
    uint64_t last_id; /* id of the newest event, opts.id_base = none */
    frame **ring;     /* ring[(id - 1) % ring_size] holds event id while in the ring */
    bk_sub **subs;    /* subs[0 .. n_subs), order irrelevant */
    size_t n_subs;
    atomic_size_t n_change_subs; /* change subscribers among subs (written under lock) */
};

/* ---- frames ---- */

static void frame_ref(frame *f)
{
    atomic_fetch_add_explicit(&f->refs, 1, memory_order_relaxed);
}

static void frame_unref(frame *f)
{
    if (!f || atomic_fetch_sub_explicit(&f->refs, 1, memory_order_acq_rel) != 1)
        return;
    free(f->mem);
    free(f);
}

/* Render everything but the id: no lock is held, so publishers render in
 * parallel. JSON text never contains a raw newline, so data is one line. */
static frame *frame_render(const char *type, const bk_run *row, int64_t commit_us)
{
    bk_buf b;
    bk_buf_init(&b);
    bk_grow((void **)&b.data, &b.cap, FRAME_GUESS, 1);
    bk_buf_printf(&b, "%*s\nevent: job_runs\ndata: ", ID_SLOT, "");
    bk_jw w;
    bk_jw_init(&w, &b);
    bk_jw_obj_begin(&w);
    bk_jw_key(&w, "type");
    bk_jw_str(&w, type ? type : "UPDATE");
    bk_jw_key(&w, "schema");
    bk_jw_str(&w, "public");
    bk_jw_key(&w, "table");
    bk_jw_str(&w, "job_runs");
    bk_jw_key(&w, "commit_timestamp");
    bk_jw_time(&w, commit_us);
    bk_jw_key(&w, "record");
    bk_render_run(&w, row);
    bk_jw_key(&w, "old_record");
    bk_jw_obj_begin(&w);
    bk_jw_key(&w, "id");
    bk_jw_str(&w, row->id);
    bk_jw_obj_end(&w);
    bk_jw_key(&w, "errors");
    bk_jw_null(&w);
    bk_jw_obj_end(&w);
    bk_buf_puts(&b, "\n\n");

    frame *f = bk_xcalloc(1, sizeof *f);
    atomic_init(&f->refs, 1); /* the ring's */
    f->tf = (int)row->tf;
    bk_strlcpy(f->symbol, row->symbol, sizeof f->symbol);
    f->mem = b.data;
    f->len = b.len; /* fixed up by frame_set_id */
    return f;
}

/* Write "id: <n>" so that it ends where the reserved slot ends. */
static void frame_set_id(frame *f, uint64_t id)
{
    char tmp[ID_SLOT + 1];
    int n = snprintf(tmp, sizeof tmp, "id: %llu", (unsigned long long)id);
    char *start = f->mem + ID_SLOT - n;
    memcpy(start, tmp, (size_t)n);
    f->id = id;
    f->text = start;
    f->len = f->len - ID_SLOT + (size_t)n;
}

/* ---- subscribers ---- */

static void sub_unref(bk_sub *s)
{
    if (atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) != 1)
        return;
    /* Unreachable from the bus now: no lock needed for the queue. */
    for (size_t i = 0; i < s->q_len; i++) {
        if (s->changes)
            bk_change_release(s->cq[(s->q_head + i) % s->q_cap]);
        else
            frame_unref(s->q[(s->q_head + i) % s->q_cap]);
    }
    free(s->q);
    free(s->cq);
    pthread_mutex_destroy(&s->nlock);
    free(s);
}

static bool sub_matches(const bk_sub *s, const frame *f)
{
    if (s->changes)
        return false;
    if (s->tf >= 0 && s->tf != f->tf)
        return false;
    return !s->symbol[0] || strcmp(s->symbol, f->symbol) == 0;
}

/* Drop every queued frame and mark the subscriber dropped (bus lock held). */
static void sub_drop(bk_sub *s)
{
    for (size_t i = 0; i < s->q_len; i++) {
        if (s->changes)
            bk_change_release(s->cq[(s->q_head + i) % s->q_cap]);
        else
            frame_unref(s->q[(s->q_head + i) % s->q_cap]);
    }
    s->q_len = 0;
    s->q_head = 0;
    s->dropped = true;
}

/* Queue f on s (bus lock held). Returns true when s must be woken. */
static bool sub_push(bk_sub *s, frame *f)
{
    if (s->q_len == s->q_cap) {
        sub_drop(s);
        return true;
    }
    frame_ref(f);
    s->q[(s->q_head + s->q_len) % s->q_cap] = f;
    return s->q_len++ == 0;
}

/* Queue c on change subscriber s (bus lock held). Returns true when s must
 * be woken. */
static bool sub_push_change(bk_sub *s, const bk_change *c)
{
    if (s->q_len == s->q_cap) {
        sub_drop(s);
        return true;
    }
    bk_change_retain(c);
    s->cq[(s->q_head + s->q_len) % s->q_cap] = c;
    return s->q_len++ == 0;
}

/* Queue c on every change subscriber, noting in wake those to wake (bus lock
 * held; wake has room for every subscriber). Returns the new n_wake. */
static size_t push_change_all(bk_bus *b, const bk_change *c, bk_sub **wake, size_t n_wake)
{
    for (size_t i = 0; i < b->n_subs; i++) {
        bk_sub *s = b->subs[i];
        if (!s->changes || s->dropped || !sub_push_change(s, c))
            continue;
        atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
        wake[n_wake++] = s;
    }
    return n_wake;
}

static void sub_wake(bk_sub *s)
{
    pthread_mutex_lock(&s->nlock);
    if (!s->closed && s->notify)
        s->notify(s->ctx);
    pthread_mutex_unlock(&s->nlock);
    sub_unref(s);
}

/* ---- the bus ---- */

int bk_bus_new(bk_bus **out, const bk_bus_opts *opts)
{
    bk_bus *b = bk_xcalloc(1, sizeof *b);
    if (opts)
        b->opts = *opts;
    if (!b->opts.ring_size)
        b->opts.ring_size = DEF_RING_SIZE;
    if (!b->opts.max_clients)
        b->opts.max_clients = DEF_MAX_CLIENTS;
    if (!b->opts.client_queue)
        b->opts.client_queue = DEF_CLIENT_QUEUE;
    int rc = -pthread_mutex_init(&b->lock, NULL);
    if (rc) {
        free(b);
        *out = NULL;
        return rc;
    }
    b->last_id = b->opts.id_base;
    atomic_init(&b->n_change_subs, 0);
    b->ring = bk_xcalloc(b->opts.ring_size, sizeof *b->ring);
    b->subs = bk_xcalloc(b->opts.max_clients, sizeof *b->subs);
    *out = b;
    return 0;
}

void bk_bus_free(bk_bus *b)
{
    if (!b)
        return;
    /* Contract: no subscribers left. Release any anyway rather than leak. */
    while (b->n_subs)
        bk_bus_unsubscribe(b, b->subs[0]);
    for (size_t i = 0; i < b->opts.ring_size; i++)
        frame_unref(b->ring[i]);
    free(b->ring);
    free(b->subs);
    pthread_mutex_destroy(&b->lock);
    free(b);
}

uint64_t bk_bus_publish_run(bk_bus *b, const char *type, const bk_run *row, int64_t commit_us)
{
    frame *f = frame_render(type, row, commit_us);
    /* Built only while someone takes changes; one subscribing meanwhile
     * starts with the next run. */
    bk_change *c = NULL;
    if (atomic_load_explicit(&b->n_change_subs, memory_order_relaxed))
        c = bk_change_run(type ? type : "UPDATE", row, commit_us);
    bk_sub *stack[WAKE_STACK];
    bk_sub **wake = stack;
    size_t n_wake = 0;

    pthread_mutex_lock(&b->lock);
    uint64_t id = ++b->last_id;
    frame_set_id(f, id);
    size_t slot = (size_t)((id - b->opts.id_base - 1) % b->opts.ring_size);
    frame *evicted = b->ring[slot]; /* id - ring_size; queues holding it keep it */
    b->ring[slot] = f;
    if (b->n_subs > WAKE_STACK)
        wake = bk_xmalloc(b->n_subs * sizeof *wake);
    for (size_t i = 0; i < b->n_subs; i++) {
        bk_sub *s = b->subs[i];
        if (s->dropped || !sub_matches(s, f) || !sub_push(s, f))
            continue;
        atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
        wake[n_wake++] = s;
    }
    if (c)
        n_wake = push_change_all(b, c, wake, n_wake);
    pthread_mutex_unlock(&b->lock);

    bk_change_release(c);
    frame_unref(evicted);
    for (size_t i = 0; i < n_wake; i++)
        sub_wake(wake[i]);
    if (wake != stack)
        free(wake);
    return id;
}

void bk_bus_publish_change(bk_bus *b, const bk_change *c)
{
    bk_sub *stack[WAKE_STACK];
    bk_sub **wake = stack;
    size_t n_wake = 0;
    pthread_mutex_lock(&b->lock);
    if (b->n_subs > WAKE_STACK)
        wake = bk_xmalloc(b->n_subs * sizeof *wake);
    n_wake = push_change_all(b, c, wake, 0);
    pthread_mutex_unlock(&b->lock);
    for (size_t i = 0; i < n_wake; i++)
        sub_wake(wake[i]);
    if (wake != stack)
        free(wake);
}

/* Where a new subscriber's replay starts (bus lock held): 0 when there is
 * nothing to replay, the first missed id when every event after
 * last_event_id is still in the ring, UINT64_MAX when some are gone (too old,
 * e.g. from an earlier process, or from the future) and the subscriber must
 * get the reset frame instead. */
static uint64_t replay_from(const bk_bus *b, uint64_t last_event_id)
{
    if (!last_event_id || last_event_id == b->last_id)
        return 0;
    uint64_t held = BK_MIN(b->last_id - b->opts.id_base, (uint64_t)b->opts.ring_size);
    if (last_event_id > b->last_id || last_event_id + held < b->last_id)
        return UINT64_MAX;
    return last_event_id + 1;
}

static frame *ring_at(const bk_bus *b, uint64_t id)
{
    return b->ring[(id - b->opts.id_base - 1) % b->opts.ring_size];
}

/* Size s's queue and queue its replay (bus lock held). The replay always
 * fits, with client_queue of headroom after it. */
static void sub_start(bk_bus *b, bk_sub *s, uint64_t last_event_id)
{
    uint64_t from = replay_from(b, last_event_id);
    size_t n = 0;
    if (from == UINT64_MAX)
        s->reset_pending = true;
    else if (from)
        for (uint64_t id = from; id <= b->last_id; id++)
            n += sub_matches(s, ring_at(b, id));
    s->q_cap = b->opts.client_queue + n;
    s->q = bk_xmalloc(s->q_cap * sizeof *s->q);
    if (from && from != UINT64_MAX)
        for (uint64_t id = from; id <= b->last_id; id++)
            if (sub_matches(s, ring_at(b, id)))
                sub_push(s, ring_at(b, id));
}

int bk_bus_subscribe(bk_bus *b, const char *symbol, int tf, uint64_t last_event_id,
                     void (*notify)(void *ctx), void *ctx, bk_sub **out)
{
    *out = NULL;
    bk_sub *s = bk_xcalloc(1, sizeof *s);
    bk_strlcpy(s->symbol, symbol ? symbol : "", sizeof s->symbol);
    s->bus = b;
    s->tf = tf < 0 ? -1 : tf;
    s->notify = notify;
    s->ctx = ctx;
    atomic_init(&s->refs, 1);
    int rc = -pthread_mutex_init(&s->nlock, NULL);
    if (rc) {
        free(s);
        return rc;
    }

    pthread_mutex_lock(&b->lock);
    if (b->n_subs == b->opts.max_clients) {
        pthread_mutex_unlock(&b->lock);
        pthread_mutex_destroy(&s->nlock);
        free(s);
        return BK_EBUSY;
    }
    sub_start(b, s, last_event_id);
    s->slot = b->n_subs;
    b->subs[b->n_subs++] = s;
    pthread_mutex_unlock(&b->lock);
    *out = s;
    return 0;
}

int bk_bus_subscribe_changes(bk_bus *b, void (*notify)(void *ctx), void *ctx, bk_sub **out)
{
    *out = NULL;
    bk_sub *s = bk_xcalloc(1, sizeof *s);
    s->bus = b;
    s->tf = -1;
    s->changes = true;
    s->notify = notify;
    s->ctx = ctx;
    atomic_init(&s->refs, 1);
    int rc = -pthread_mutex_init(&s->nlock, NULL);
    if (rc) {
        free(s);
        return rc;
    }
    s->q_cap = b->opts.client_queue;
    s->cq = bk_xmalloc(s->q_cap * sizeof *s->cq);

    pthread_mutex_lock(&b->lock);
    if (b->n_subs == b->opts.max_clients) {
        pthread_mutex_unlock(&b->lock);
        pthread_mutex_destroy(&s->nlock);
        free(s->cq);
        free(s);
        return BK_EBUSY;
    }
    s->slot = b->n_subs;
    b->subs[b->n_subs++] = s;
    atomic_fetch_add_explicit(&b->n_change_subs, 1, memory_order_relaxed);
    pthread_mutex_unlock(&b->lock);
    *out = s;
    return 0;
}

const bk_change *bk_sub_next_change(bk_sub *s, bool *dropped)
{
    const bk_change *c = NULL;
    pthread_mutex_lock(&s->bus->lock);
    if (dropped)
        *dropped = s->dropped;
    if (s->changes && s->q_len) {
        c = s->cq[s->q_head]; /* the queue's reference passes to the caller */
        s->q_head = (s->q_head + 1) % s->q_cap;
        s->q_len--;
    }
    pthread_mutex_unlock(&s->bus->lock);
    return c;
}

/* Take up to READ_BATCH frames fitting in budget bytes (bus lock held); the
 * first frame of the read is taken whatever its size. */
static size_t sub_take(bk_sub *s, frame **batch, size_t *budget, bool *any)
{
    size_t n = 0;
    while (n < READ_BATCH && s->q_len) {
        frame *f = s->q[s->q_head];
        if (*any && f->len > *budget)
            break;
        *budget = f->len > *budget ? 0 : *budget - f->len;
        *any = true;
        batch[n++] = f;
        s->q_head = (s->q_head + 1) % s->q_cap;
        s->q_len--;
    }
    return n;
}

int bk_sub_read(bk_sub *s, bk_buf *out, size_t max_bytes)
{
    pthread_mutex_t *lock = &s->bus->lock;
    frame *batch[READ_BATCH];
    size_t budget = max_bytes;
    bool any = false;
    if (s->changes) /* frames are for event streams only */
        return 0;
    for (;;) {
        pthread_mutex_lock(lock);
        if (s->dropped && any) { /* dropped between two batches: next read says so */
            pthread_mutex_unlock(lock);
            return 1;
        }
        if (s->dropped) {
            bool first = !s->dropped_sent;
            s->dropped_sent = true;
            pthread_mutex_unlock(lock);
            if (first)
                bk_buf_append(out, DROPPED_FRAME, sizeof DROPPED_FRAME - 1);
            return -1;
        }
        bool reset = s->reset_pending;
        s->reset_pending = false;
        if (reset) {
            budget = sizeof RESET_FRAME - 1 > budget ? 0 : budget - (sizeof RESET_FRAME - 1);
            any = true;
        }
        size_t n = sub_take(s, batch, &budget, &any);
        pthread_mutex_unlock(lock);
        if (reset)
            bk_buf_append(out, RESET_FRAME, sizeof RESET_FRAME - 1);
        for (size_t i = 0; i < n; i++) {
            bk_buf_append(out, batch[i]->text, batch[i]->len);
            frame_unref(batch[i]);
        }
        if (n < READ_BATCH)
            return any ? 1 : 0;
    }
}

void bk_bus_unsubscribe(bk_bus *b, bk_sub *s)
{
    if (!b || !s)
        return;
    pthread_mutex_lock(&b->lock);
    bk_sub *last = b->subs[--b->n_subs];
    b->subs[s->slot] = last;
    last->slot = s->slot;
    if (s->changes)
        atomic_fetch_sub_explicit(&b->n_change_subs, 1, memory_order_relaxed);
    pthread_mutex_unlock(&b->lock);

    /* Waits for a notify in progress; later ones see closed. */
    pthread_mutex_lock(&s->nlock);
    s->closed = true;
    pthread_mutex_unlock(&s->nlock);
    sub_unref(s);
}

bool bk_bus_wants_changes(bk_bus *b)
{
    return atomic_load_explicit(&b->n_change_subs, memory_order_relaxed) > 0;
}

size_t bk_bus_clients(bk_bus *b)
{
    pthread_mutex_lock(&b->lock);
    size_t n = b->n_subs;
    pthread_mutex_unlock(&b->lock);
    return n;
}

uint64_t bk_bus_last_id(bk_bus *b)
{
    pthread_mutex_lock(&b->lock);
    uint64_t id = b->last_id;
    pthread_mutex_unlock(&b->lock);
    return id;
}
