/*
 * fixture.c — the provider fixture server. See fixture.h.
 */
#include "fixture.h"
#include "prov/prov.h"
#include "model/time.h"
#include "core/util.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define LOG_MAX 256

struct fx {
    struct MHD_Daemon *d;
    fx_handler handler;
    void *ctx;
    char url[64];
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stopping;
    int count, count_429;
    double rate, burst, tokens;
    struct timespec last;
    int win_n, win_head; /* sliding window: win_at holds the last win_n requests let through */
    double win_s, *win_at;
    fx_req *log; /* ring of LOG_MAX */
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef struct collect {
    fx_kv *kv;
    int *n;
} collect;

static enum MHD_Result on_value(void *cls, enum MHD_ValueKind kind, const char *key,
                                const char *value)
{
    (void)kind;
    collect *c = cls;
    if (*c->n >= FX_MAX_PARAMS)
        return MHD_YES;
    fx_kv *kv = &c->kv[(*c->n)++];
    snprintf(kv->name, sizeof kv->name, "%s", key ? key : "");
    snprintf(kv->value, sizeof kv->value, "%s", value ? value : "");
    return MHD_YES;
}

/* Sliding window of the limiter; called with mu held. */
static int over_window(fx *f)
{
    double t = now_s();
    if (t - f->win_at[f->win_head] < f->win_s)
        return 1; /* the oldest of the last win_n is still in the window */
    f->win_at[f->win_head] = t;
    f->win_head = (f->win_head + 1) % f->win_n;
    return 0;
}

/* Token bucket (or sliding window) of the limiter; called with mu held. */
static int over_limit(fx *f)
{
    if (f->win_n > 0)
        return over_window(f);
    if (!(f->rate > 0))
        return 0;
    double t = now_s();
    double last = (double)f->last.tv_sec + (double)f->last.tv_nsec / 1e9;
    f->tokens += (t - last) * f->rate;
    if (f->tokens > f->burst)
        f->tokens = f->burst;
    f->last.tv_sec = (time_t)t;
    f->last.tv_nsec = (long)((t - (double)(time_t)t) * 1e9);
    if (f->tokens >= 1.0) {
        f->tokens -= 1.0;
        return 0;
    }
    return 1;
}

typedef struct cut {
    char *body;
    size_t len;
} cut;

static ssize_t cut_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    cut *c = cls;
    if (pos >= c->len)
        return MHD_CONTENT_READER_END_WITH_ERROR; /* drop the connection */
    size_t n = c->len - (size_t)pos;
    if (n > max)
        n = max;
    memcpy(buf, c->body + pos, n);
    return (ssize_t)n;
}

static void cut_free(void *cls)
{
    cut *c = cls;
    free(c->body);
    free(c);
}

static void wait_ms(fx *f, int ms)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += ms / 1000;
    until.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&f->mu);
    while (!f->stopping) {
        if (pthread_cond_timedwait(&f->cv, &f->mu, &until) != 0)
            break;
    }
    pthread_mutex_unlock(&f->mu);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_size, void **state)
{
    (void)version;
    (void)upload_data;
    fx *f = cls;
    if (*state == NULL) { /* first call: headers only */
        *state = f;
        return MHD_YES;
    }
    *upload_size = 0;
    fx_req *req = calloc(1, sizeof *req);
    snprintf(req->method, sizeof req->method, "%s", method);
    snprintf(req->path, sizeof req->path, "%s", url);
    collect cq = {req->query, &req->n_query}, ch = {req->headers, &req->n_headers};
    MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, on_value, &cq);
    MHD_get_connection_values(conn, MHD_HEADER_KIND, on_value, &ch);
    fx_resp r = {.status = 200, .truncate_at = -1};
    snprintf(r.content_type, sizeof r.content_type, "application/json");
    pthread_mutex_lock(&f->mu);
    req->seq = f->count++;
    f->log[req->seq % LOG_MAX] = *req;
    int limited = over_limit(f);
    if (limited)
        f->count_429++;
    pthread_mutex_unlock(&f->mu);
    if (limited) {
        r.status = 429;
        snprintf(r.retry_after, sizeof r.retry_after, "1");
        fx_body(&r, "{\"error\":\"rate limit\"}");
    } else {
        f->handler(f->ctx, req, &r);
        if (r.status == 429) {
            pthread_mutex_lock(&f->mu);
            f->count_429++;
            pthread_mutex_unlock(&f->mu);
        }
    }
    free(req);
    if (r.delay_ms > 0)
        wait_ms(f, r.delay_ms);
    struct MHD_Response *resp;
    if (r.truncate_at >= 0) {
        cut *c = malloc(sizeof *c);
        c->body = r.body;
        c->len = (size_t)r.truncate_at < r.len ? (size_t)r.truncate_at : r.len;
        resp = MHD_create_response_from_callback(r.len, 4096, cut_reader, c, cut_free);
    } else {
        if (!r.body)
            r.body = calloc(1, 1);
        resp = MHD_create_response_from_buffer(r.len, r.body, MHD_RESPMEM_MUST_FREE);
    }
    MHD_add_response_header(resp, "Content-Type", r.content_type);
    if (r.retry_after[0])
        MHD_add_response_header(resp, "Retry-After", r.retry_after);
    enum MHD_Result ret = MHD_queue_response(conn, (unsigned)r.status, resp);
    MHD_destroy_response(resp);
    return ret;
}

fx *fx_start(fx_handler h, void *ctx)
{
    fx *f = calloc(1, sizeof *f);
    f->handler = h;
    f->ctx = ctx;
    f->log = calloc(LOG_MAX, sizeof *f->log);
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->cv, NULL);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    f->d = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                                MHD_USE_ERROR_LOG,
                            0, NULL, NULL, on_request, f, MHD_OPTION_SOCK_ADDR, &sa,
                            MHD_OPTION_CONNECTION_TIMEOUT, 30u, MHD_OPTION_END);
    if (!f->d) {
        fprintf(stderr, "fixture: cannot start the HTTP server\n");
        abort();
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(f->d, MHD_DAEMON_INFO_BIND_PORT);
    snprintf(f->url, sizeof f->url, "http://127.0.0.1:%u", (unsigned)di->port);
    return f;
}

void fx_stop(fx *f)
{
    if (!f)
        return;
    pthread_mutex_lock(&f->mu);
    f->stopping = 1;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
    MHD_stop_daemon(f->d);
    pthread_cond_destroy(&f->cv);
    pthread_mutex_destroy(&f->mu);
    free(f->log);
    free(f->win_at);
    free(f);
}

const char *fx_url(const fx *f)
{
    return f->url;
}

void fx_limit(fx *f, double rate_per_s, double burst)
{
    pthread_mutex_lock(&f->mu);
    f->rate = rate_per_s;
    f->burst = burst < 1 ? 1 : burst;
    f->tokens = f->burst;
    clock_gettime(CLOCK_MONOTONIC, &f->last);
    pthread_mutex_unlock(&f->mu);
}

void fx_limit_window(fx *f, int n, int window_ms)
{
    pthread_mutex_lock(&f->mu);
    free(f->win_at);
    f->win_at = NULL;
    f->win_n = n > 0 ? n : 0;
    f->win_head = 0;
    f->win_s = window_ms / 1000.0;
    if (f->win_n) {
        f->win_at = calloc((size_t)n, sizeof *f->win_at);
        for (int i = 0; i < n; i++)
            f->win_at[i] = -1e9; /* long ago */
    }
    pthread_mutex_unlock(&f->mu);
}

int fx_count(fx *f)
{
    pthread_mutex_lock(&f->mu);
    int n = f->count;
    pthread_mutex_unlock(&f->mu);
    return n;
}

int fx_count_429(fx *f)
{
    pthread_mutex_lock(&f->mu);
    int n = f->count_429;
    pthread_mutex_unlock(&f->mu);
    return n;
}

int fx_request(fx *f, int i, fx_req *out)
{
    int rc = -1;
    pthread_mutex_lock(&f->mu);
    if (i >= 0 && i < f->count && i >= f->count - LOG_MAX) {
        *out = f->log[i % LOG_MAX];
        rc = 0;
    }
    pthread_mutex_unlock(&f->mu);
    return rc;
}

void fx_body(fx_resp *r, const char *text)
{
    free(r->body);
    r->len = strlen(text);
    r->body = malloc(r->len + 1);
    memcpy(r->body, text, r->len + 1);
}

void fx_bodyf(fx_resp *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        abort();
    free(r->body);
    r->body = malloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(r->body, (size_t)n + 1, fmt, ap);
    va_end(ap);
    r->len = (size_t)n;
}

int fx_body_file(fx_resp *r, const char *path)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return -1;
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    free(r->body);
    r->body = malloc((size_t)n + 1);
    r->len = fread(r->body, 1, (size_t)n, fp);
    r->body[r->len] = '\0';
    fclose(fp);
    return 0;
}

const char *fx_param(const fx_req *r, const char *name)
{
    for (int i = 0; i < r->n_query; i++)
        if (strcmp(r->query[i].name, name) == 0)
            return r->query[i].value;
    return NULL;
}

const char *fx_header(const fx_req *r, const char *name)
{
    for (int i = 0; i < r->n_headers; i++)
        if (strcasecmp(r->headers[i].name, name) == 0)
            return r->headers[i].value;
    return NULL;
}

/* ---- Massive's aggregates ---- */

bool fx_massive_range(const fx_req *req, char *sym, size_t cap, bool *daily, int64_t *from_us,
                      int64_t *to_us)
{
    char s[32], a[11], b[11];
    long long f, t;
    int32_t d0, d1;
    if (sscanf(req->path, "/v2/aggs/ticker/%31[^/]/range/1/day/%10[^/]/%10s", s, a, b) == 3 &&
        bk_date_parse(a, &d0) == 0 && bk_date_parse(b, &d1) == 0) {
        *daily = true;
        *from_us = bk_prov_day_label(d0);
        *to_us = bk_prov_day_label(d1 + 1);
    } else if (sscanf(req->path, "/v2/aggs/ticker/%31[^/]/range/1/minute/%lld/%lld", s, &f, &t) ==
               3) {
        *daily = false;
        *from_us = f * 1000;
        *to_us = t * 1000 + 1;
    } else {
        return false;
    }
    snprintf(sym, cap, "%s", s);
    return true;
}

void fx_massive_body(fx_resp *r, const char *sym, const bk_bar *bars, size_t n)
{
    bk_buf out;
    bk_buf_init(&out);
    bk_buf_printf(&out,
                  "{\"ticker\":\"%s\",\"queryCount\":%zu,\"resultsCount\":%zu,\"adjusted\":true,",
                  sym, n, n);
    if (n) {
        bk_buf_puts(&out, "\"results\":[");
        for (size_t i = 0; i < n; i++) {
            const bk_bar *x = &bars[i];
            bk_buf_printf(&out,
                          "%s{\"v\":%.17g,\"vw\":%.17g,\"o\":%.17g,\"c\":%.17g,\"h\":%.17g,"
                          "\"l\":%.17g,\"t\":%lld,\"n\":10}",
                          i ? "," : "", x->volume, x->close, x->open, x->close, x->high, x->low,
                          (long long)(x->ts_us / 1000));
        }
        bk_buf_puts(&out, "],");
    }
    bk_buf_puts(&out, "\"status\":\"OK\",\"request_id\":\"r1\"}");
    r->body = out.data;
    r->len = out.len;
}
