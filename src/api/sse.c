/*
 * sse.c — GET /realtime/v1/job_runs: job-run changes as server-sent events.
 *
 * Each stream is a bus subscription (events.h) plus a small output buffer.
 * libmicrohttpd pulls bytes through sse_read; when there is nothing to send
 * the connection is suspended (no thread waits, no polling) and the bus's
 * notify resumes it. A resume that arrives before the suspend cancels the
 * suspend (libmicrohttpd's rule), so no wake-up is lost. The ticker thread
 * resumes idle streams every sse_keepalive_s to send a comment line, and at
 * shutdown resumes every stream to end it.
 */
#include "api/api_impl.h"
#include "core/clock.h"
#include "core/log.h"

#include <microhttpd.h>
#include <stdlib.h>
#include <string.h>

#define SSE_BLOCK (16 * 1024)

struct bk_sse {
    bk_api *api;
    struct MHD_Connection *conn;
    bk_sub *sub;
    pthread_mutex_t lock; /* guards out, off and the flags */
    bk_buf out;
    size_t off;
    bool ping, closing, dropped;
    bk_sse *prev, *next; /* registry, guarded by api->sse_lock */
};

static void sse_notify(void *ctx)
{
    bk_sse *s = ctx;
    MHD_resume_connection(s->conn);
}

static ssize_t sse_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    bk_sse *s = cls;
    pthread_mutex_lock(&s->lock);
    if (s->off == s->out.len) {
        bk_buf_reset(&s->out);
        s->off = 0;
        if (s->closing) {
            pthread_mutex_unlock(&s->lock);
            return MHD_CONTENT_READER_END_OF_STREAM;
        }
        if (!s->dropped && bk_sub_read(s->sub, &s->out, max) < 0)
            s->dropped = true; /* the "dropped" frame is in out, then the end */
        if (s->out.len == 0 && s->ping)
            bk_buf_puts(&s->out, ": keep-alive\n\n");
        s->ping = false;
        if (s->out.len == 0) {
            bool end = s->dropped;
            pthread_mutex_unlock(&s->lock);
            if (end)
                return MHD_CONTENT_READER_END_OF_STREAM;
            MHD_suspend_connection(s->conn);
            return 0;
        }
    }
    size_t n = BK_MIN(max, s->out.len - s->off);
    memcpy(buf, s->out.data + s->off, n);
    s->off += n;
    pthread_mutex_unlock(&s->lock);
    return (ssize_t)n;
}

static void sse_free(void *cls)
{
    bk_sse *s = cls;
    bk_api *a = s->api;
    bk_bus_unsubscribe(a->opts.bus, s->sub); /* no notify after this returns */
    pthread_mutex_lock(&a->sse_lock);
    if (s->prev)
        s->prev->next = s->next;
    else
        a->sse_head = s->next;
    if (s->next)
        s->next->prev = s->prev;
    a->n_sse--;
    pthread_cond_broadcast(&a->sse_cond);
    pthread_mutex_unlock(&a->sse_lock);
    bk_buf_fini(&s->out);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

void bk_sse__tick(bk_api *a, bool closing)
{
    pthread_mutex_lock(&a->sse_lock);
    for (bk_sse *s = a->sse_head; s; s = s->next) {
        pthread_mutex_lock(&s->lock);
        s->ping = true;
        s->closing |= closing;
        pthread_mutex_unlock(&s->lock);
        MHD_resume_connection(s->conn);
    }
    if (closing) { /* wait (bounded) for the streams to end */
        int64_t deadline = bk_clock_mono_us() + 3 * BK_US_PER_S;
        while (a->n_sse > 0 && bk_clock_mono_us() < deadline) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += 50 * 1000000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&a->sse_cond, &a->sse_lock, &ts);
            for (bk_sse *s = a->sse_head; s; s = s->next)
                MHD_resume_connection(s->conn);
        }
    }
    pthread_mutex_unlock(&a->sse_lock);
}

bk_http_rc bk_route_realtime(bk_api_req *r)
{
    bk_api *a = bk_http_api(r);
    bk_sub_req q;
    bk_api_error e;
    const char *last = bk_http_header(r, "Last-Event-ID");
    if (!last)
        last = bk_http_arg(r, "lastEventId");
    if (bk_req_subscribe(bk_http_arg(r, "symbol"), bk_http_arg(r, "timeframe"),
                         bk_http_arg(r, "filter"), last, &q, &e) != 0)
        return bk_http_api_error(r, &e);
    if (atomic_load(&a->stopping))
        return bk_http_error(r, 503, "shutting_down", "the server is stopping");
    pthread_mutex_lock(&a->sse_lock); /* the bus also counts realtime sockets */
    bool full = a->n_sse >= a->opts.conf->sse_max_clients;
    pthread_mutex_unlock(&a->sse_lock);
    if (full)
        return bk_http_error(r, 503, "too_many_clients", "too many event-stream clients");
    bk_sse *s = bk_xcalloc(1, sizeof *s);
    s->api = a;
    s->conn = bk_http__conn(r);
    pthread_mutex_init(&s->lock, NULL);
    bk_buf_init(&s->out);
    bk_buf_puts(&s->out, ": barkeep job_runs stream\nretry: 2000\n\n");
    int rc = bk_bus_subscribe(a->opts.bus, q.symbol, q.tf, q.last_event_id, sse_notify, s, &s->sub);
    if (rc) {
        bk_buf_fini(&s->out);
        pthread_mutex_destroy(&s->lock);
        free(s);
        return bk_http_error(r, 503, "too_many_clients", "too many event-stream clients");
    }
    pthread_mutex_lock(&a->sse_lock);
    s->next = a->sse_head;
    if (a->sse_head)
        a->sse_head->prev = s;
    a->sse_head = s;
    a->n_sse++;
    pthread_mutex_unlock(&a->sse_lock);
    struct MHD_Response *resp =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, SSE_BLOCK, sse_read, s, sse_free);
    if (!resp) {
        sse_free(s);
        return BK_HTTP_DROP;
    }
    MHD_add_response_header(resp, "Content-Type", "text/event-stream; charset=utf-8");
    MHD_add_response_header(resp, "Cache-Control", "no-cache");
    MHD_add_response_header(resp, "X-Accel-Buffering", "no");
    MHD_add_response_header(resp, "Access-Control-Allow-Origin", "*");
    return bk_http__queue(r, 200, resp);
}
