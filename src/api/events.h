/*
 * events.h — the event bus behind live progress: every job_runs change is
 * published once and fanned out to subscribers (server-sent-event clients).
 *
 * An event is the changed row as a Supabase postgres_changes payload
 *   {"type":"UPDATE","schema":"public","table":"job_runs",
 *    "commit_timestamp":"...","record":{...row...},"old_record":{"id":"..."},
 *    "errors":null}
 * rendered once at publish time into an SSE frame
 *   "id: <n>\nevent: job_runs\ndata: <payload>\n\n"
 * and shared (reference-counted) by every queue it is on.
 *
 * - Event ids increase by one per event, from id_base + 1. `serve` sets
 *   id_base to its start time in microseconds, so ids keep growing across
 *   restarts: a client coming back with an id of an earlier process is
 *   older than anything held and gets the reset frame, never another
 *   process's events under the same numbers.
 * - A ring keeps the last ring_size events, so a client reconnecting with
 *   Last-Event-ID gets everything it missed that is still in the ring; if the
 *   id is older than the ring, it first gets an "event: reset" frame telling
 *   it to refetch state.
 * - Each subscriber has a bounded queue (client_queue events). Publishing
 *   never blocks on a subscriber: when a queue is full the subscriber is
 *   marked dropped; its next read yields an "event: dropped" frame and then
 *   end of stream.
 * - At most max_clients subscribers (BK_EBUSY beyond).
 *
 * Threads: all functions are thread-safe. notify callbacks are called from
 * the publishing thread, without the bus lock held; they must not block
 * (MHD_resume_connection is fine).
 */
#ifndef BK_API_EVENTS_H
#define BK_API_EVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/util.h"
#include "api/change.h"
#include "model/run.h"

typedef struct bk_bus bk_bus;
typedef struct bk_sub bk_sub;

typedef struct bk_bus_opts {
    size_t ring_size;    /* events kept for Last-Event-ID replay (default 4096) */
    size_t max_clients;  /* subscribers at most (default 256) */
    size_t client_queue; /* events queued per subscriber before it is dropped (default 1024) */
    uint64_t id_base;    /* the first event's id is id_base + 1 (default 0) */
} bk_bus_opts;

int bk_bus_new(bk_bus **out, const bk_bus_opts *opts);
/* All subscribers must be unsubscribed first. NULL is fine. */
void bk_bus_free(bk_bus *b);

/* Publish a change of one job_runs row. type is "INSERT" or "UPDATE" (or
 * "DELETE"). commit_us is the change's time. Returns the event id. */
uint64_t bk_bus_publish_run(bk_bus *b, const char *type, const bk_run *row, int64_t commit_us);

/* Subscribe to changes of runs of symbol ("" = any) and tf (-1 = any).
 * Events after last_event_id still in the ring are queued at once (0 = no
 * replay). notify(ctx) is called whenever the queue goes from empty to
 * non-empty (and when the subscriber is dropped). BK_EBUSY when full. */
int bk_bus_subscribe(bk_bus *b, const char *symbol, int tf, uint64_t last_event_id,
                     void (*notify)(void *ctx), void *ctx, bk_sub **out);
/* Move queued frames into out (appending, at most max_bytes of them, at
 * least one frame if any is queued). Returns 1 if something was appended,
 * 0 if the queue is empty, -1 once the subscriber was dropped (the
 * "event: dropped" frame is appended the first time -1 is returned). */
int bk_sub_read(bk_sub *s, bk_buf *out, size_t max_bytes);
void bk_bus_unsubscribe(bk_bus *b, bk_sub *s);

/*
 * Change subscribers (realtime sockets, change.h): they receive every change
 * of every table, in publish order, as shared bk_change objects, through
 * the same bounded queue (client_queue) and drop rule as event streams.
 * Publishing a job_runs change reaches both kinds of subscriber.
 */
/* Publish c (takes a reference of its own). */
void bk_bus_publish_change(bk_bus *b, const bk_change *c);
int bk_bus_subscribe_changes(bk_bus *b, void (*notify)(void *ctx), void *ctx, bk_sub **out);
/* The oldest queued change (the caller owns one reference and releases it),
 * or NULL when the queue is empty; *dropped becomes true once the subscriber
 * was dropped for falling behind. */
const bk_change *bk_sub_next_change(bk_sub *s, bool *dropped);

/* Whether any change subscriber is there now (added with change
 * subscribers): publishers skip building changes nobody takes. */
bool bk_bus_wants_changes(bk_bus *b);

size_t bk_bus_clients(bk_bus *b);
/* The id of the latest event (id_base if none). */
uint64_t bk_bus_last_id(bk_bus *b);

#endif
