/*
 * bench_sse.c — how long a job_runs change takes to reach server-sent-event
 * clients: 100 connected clients against the baseline of 1 client, in the
 * same run.
 *
 * Each phase starts the real binary on a fresh store (`barkeep serve
 * --workers 2`, sim provider at zero latency, sse_max_clients=256, free port
 * through port_file, real clock), connects K clients to
 * GET /realtime/v1/job_runs with libcurl's multi interface (one thread, one
 * connection each) and waits until every stream has opened. It then posts
 * ensure-coverage for SERIES series (1m, 5 days) through the same multi
 * handle, so streams keep being read while the posts run. The enqueued runs'
 * INSERTs and the workers' claim/progress/commit UPDATEs arrive as events;
 * for every (event, client) pair the latency is the client's CLOCK_REALTIME
 * when the frame completed minus the event's commit_timestamp (ISO-8601 with
 * microseconds; same machine, same clock). A phase ends when the posts are
 * answered and no byte arrived for IDLE_MS, or after PHASE_S seconds.
 *
 * The same two phases then run with Realtime WebSocket clients instead
 * (GET /realtime/v1/websocket?vsn=2.0.0, one phx_join each on every
 * job_runs change, as supabase-js subscribes): their sockets are polled in
 * the same loop as curl's. Realtime's commit_timestamp has milliseconds
 * only, so a WebSocket event's commit instant is read from its record
 * (updated_at for an UPDATE, created_at for an INSERT: the same instant the
 * SSE frame's commit_timestamp carries, to the microsecond).
 *
 * The receive time includes the client's own work: one thread reads K
 * sockets in turn, so with 100 clients the last socket of a burst is read
 * after the other 99.
 *
 * Usage: bench_sse [barkeep|- [clients [dir]]]
 *        (defaults: ../barkeep next to this binary, 100 clients, $TMPDIR or /tmp)
 */
#define _GNU_SOURCE /* memmem */
#include <curl/curl.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_server.h"
#include "core/clock.h"
#include "core/util.h"
#include "model/time.h"

extern char **environ;

#define PHASE_S     60   /* hard cap per phase */
#define OPEN_S      10   /* all streams must open within this */
#define IDLE_MS     1500 /* quiet time that ends a phase */
#define MAX_CLIENTS 250
#define PAIRS_MAX   (2u * 1000 * 1000)
#define FRAME_MAX   (64 * 1024) /* a client's pending bytes; an event is ~1 KB */

static const char *const SERIES[] = {"AAPL", "MSFT", "NVDA", "TSLA", "AMZN", "META", "GOOG", "AMD"};
#define N_SERIES BK_ARRAY_LEN(SERIES)

static void die(const char *what, const char *msg)
{
    fprintf(stderr, "bench_sse: %s: %s\n", what, msg);
    exit(1);
}

static int64_t wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * BK_US_PER_S + ts.tv_nsec / 1000;
}

/* ---- the server ---- */

/* ---- the clients ---- */

/* Latencies of (event, client) pairs: [0] every event, [1] INSERTs (runs
 * enqueued by ensure-coverage or the scheduler), [2] UPDATEs (a worker's
 * claim, progress or commit). */
typedef struct pairs {
    int64_t *lat_us[3];
    size_t n[3];
    size_t bad; /* frames without a parseable commit_timestamp */
} pairs;

typedef struct client {
    CURL *h;
    pairs *out;
    char buf[FRAME_MAX]; /* bytes of the frame being received */
    size_t len;
    size_t bytes, events;
    uint64_t last_id;
} client;

static int64_t last_byte_mono;

/* One complete frame (text up to its blank line, NUL-terminated). */
static void on_frame(client *c, char *frame, int64_t recv_us)
{
    static const char key[] = "\"commit_timestamp\":\"";
    char *data = strstr(frame, "\ndata: ");
    if (!data && strncmp(frame, "data: ", 6) != 0)
        return; /* a comment or keep-alive */
    char *id = strncmp(frame, "id: ", 4) == 0 ? frame + 4 : NULL;
    if (id)
        c->last_id = strtoull(id, NULL, 10);
    c->events++;
    char *ts = strstr(frame, key), *end = ts ? strchr(ts + sizeof key - 1, '"') : NULL;
    int64_t commit_us;
    if (!end) {
        c->out->bad++;
        return;
    }
    *end = '\0';
    if (bk_time_parse(ts + sizeof key - 1, &commit_us) != 0) {
        c->out->bad++;
        return;
    }
    int kinds[2] = {0, strstr(frame, "\"type\":\"INSERT\"") ? 1 : 2};
    for (int j = 0; j < 2; j++) {
        int i = kinds[j];
        if (c->out->n[i] < PAIRS_MAX)
            c->out->lat_us[i][c->out->n[i]++] = recv_us - commit_us;
    }
}

static size_t on_sse(char *p, size_t size, size_t n, void *ctx)
{
    client *c = ctx;
    int64_t recv_us = wall_us();
    size_t len = size * n, total = len;
    last_byte_mono = bk_clock_mono_us();
    c->bytes += len;
    while (len > 0) { /* copy what fits, cut complete frames at their blank line */
        size_t take = BK_MIN(len, FRAME_MAX - 1 - c->len), from = c->len ? c->len - 1 : 0;
        if (take == 0)
            die("sse", "frame larger than the client buffer");
        memcpy(c->buf + c->len, p, take);
        c->len += take;
        p += take;
        len -= take;
        char *end;
        while ((end = memmem(c->buf + from, c->len - from, "\n\n", 2)) != NULL) {
            size_t flen = (size_t)(end - c->buf) + 2;
            char saved = c->buf[flen];
            c->buf[flen] = '\0';
            on_frame(c, c->buf, recv_us);
            c->buf[flen] = saved;
            memmove(c->buf, c->buf + flen, c->len - flen);
            c->len -= flen;
            from = 0;
        }
    }
    return total;
}

static size_t on_discard(char *p, size_t size, size_t n, void *ctx)
{
    (void)p;
    (void)ctx;
    return size * n;
}

/* ---- the WebSocket clients ---- */

#define WS_BUF (1 << 20)

typedef struct wsclient {
    int fd;
    pairs *out;
    unsigned char *buf;
    size_t len;
    size_t bytes, events;
    bool joined; /* the system message arrived */
} wsclient;

static wsclient *g_ws; /* polled by pump() next to curl's sockets */
static int g_nws;

static void ws_send_text(int fd, const char *text)
{
    size_t n = strlen(text), h = 0;
    unsigned char f[1024];
    if (n + 8 > sizeof f)
        die("ws", "message too long");
    f[h++] = 0x81;
    if (n < 126) {
        f[h++] = (unsigned char)(0x80 | n);
    } else {
        f[h++] = 0x80 | 126;
        f[h++] = (unsigned char)(n >> 8);
        f[h++] = (unsigned char)n;
    }
    memset(f + h, 0, 4); /* a zero mask */
    h += 4;
    memcpy(f + h, text, n);
    if (send(fd, f, h + n, MSG_NOSIGNAL) != (ssize_t)(h + n))
        die("ws", "send failed");
}

static void ws_open(wsclient *c, int port, pairs *out)
{
    c->out = out;
    c->buf = bk_xmalloc(WS_BUF);
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&a, sizeof a) != 0)
        die("ws connect", strerror(errno));
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    const char *req = "GET /realtime/v1/websocket?vsn=2.0.0 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                      "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                      "Sec-WebSocket-Version: 13\r\n\r\n";
    if (send(c->fd, req, strlen(req), MSG_NOSIGNAL) != (ssize_t)strlen(req))
        die("ws", "handshake send failed");
    for (;;) { /* the 101 head, byte by byte (nothing follows before the join) */
        ssize_t n = recv(c->fd, c->buf + c->len, 1, 0);
        if (n <= 0)
            die("ws", "handshake failed");
        c->len++;
        if (c->len >= 4 && memcmp(c->buf + c->len - 4, "\r\n\r\n", 4) == 0)
            break;
        if (c->len >= 4096)
            die("ws", "handshake head too long");
    }
    if (memcmp(c->buf, "HTTP/1.1 101", 12) != 0)
        die("ws", "no 101 Switching Protocols");
    c->len = 0;
    fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
    ws_send_text(c->fd, "[\"1\",\"1\",\"realtime:bench\",\"phx_join\",{\"config\":{"
                        "\"postgres_changes\":[{\"event\":\"*\",\"schema\":\"public\","
                        "\"table\":\"job_runs\"}]}}]");
}

/* The record's instant named key ("updated_at"), "...+00:00" as to_json
 * writes it; -1 when absent. */
static int64_t record_time(const char *frame, const char *key)
{
    const char *rec = strstr(frame, "\"record\":{");
    char pat[40], ts[48];
    snprintf(pat, sizeof pat, "\"%s\":\"", key);
    const char *p = rec ? strstr(rec, pat) : NULL;
    if (!p)
        return -1;
    p += strlen(pat);
    const char *end = strchr(p, '"');
    if (!end || end - p < 20 || (size_t)(end - p) >= sizeof ts)
        return -1;
    size_t n = (size_t)(end - p);
    memcpy(ts, p, n);
    ts[n] = '\0';
    if (n > 6 && strcmp(ts + n - 6, "+00:00") == 0)
        snprintf(ts + n - 6, 7, "Z");
    int64_t us;
    return bk_time_parse(ts, &us) == 0 ? us : -1;
}

static void ws_on_text(wsclient *c, const char *frame, int64_t recv_us)
{
    if (strstr(frame, "\"system\"")) {
        c->joined = true;
        return;
    }
    if (!strstr(frame, "\"postgres_changes\",{\"ids\""))
        return; /* a reply */
    c->events++;
    bool ins = strstr(frame, "\"type\":\"INSERT\"") != NULL;
    int64_t commit_us = record_time(frame, ins ? "created_at" : "updated_at");
    if (commit_us < 0) {
        if (getenv("BENCH_SSE_DEBUG"))
            fprintf(stderr, "bench_sse: no commit instant in %.400s\n", frame);
        c->out->bad++;
        return;
    }
    int kinds[2] = {0, ins ? 1 : 2};
    for (int j = 0; j < 2; j++) {
        int i = kinds[j];
        if (c->out->n[i] < PAIRS_MAX)
            c->out->lat_us[i][c->out->n[i]++] = recv_us - commit_us;
    }
}

/* Read what arrived and handle the complete frames. */
static void ws_read(wsclient *c)
{
    for (;;) {
        ssize_t n = recv(c->fd, c->buf + c->len, WS_BUF - 1 - c->len, 0);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (n <= 0)
            die("ws", "the server closed a socket");
        int64_t recv_us = wall_us();
        last_byte_mono = bk_clock_mono_us();
        c->len += (size_t)n;
        c->bytes += (size_t)n;
        size_t off = 0;
        while (c->len - off >= 2) {
            unsigned char *f = c->buf + off;
            size_t plen = f[1] & 0x7f, h = 2;
            if (plen == 126) {
                if (c->len - off < 4)
                    break;
                plen = (size_t)f[2] << 8 | f[3], h = 4;
            } else if (plen == 127) {
                if (c->len - off < 10)
                    break;
                plen = 0;
                for (int i = 2; i < 10; i++)
                    plen = plen << 8 | f[i];
                h = 10;
            }
            if (plen + h >= WS_BUF)
                die("ws", "frame larger than the client buffer");
            if (c->len - off < h + plen)
                break;
            if ((f[0] & 0x0f) == 1) {
                unsigned char saved = f[h + plen];
                f[h + plen] = '\0';
                ws_on_text(c, (const char *)f + h, recv_us);
                f[h + plen] = saved;
            } else if ((f[0] & 0x0f) == 8) {
                die("ws", "the server closed a socket");
            }
            off += h + plen;
        }
        memmove(c->buf, c->buf + off, c->len - off);
        c->len -= off;
    }
}

/* Drive the multi handle (and the WebSocket clients) for up to wait_ms; returns posts finished
 * (status 200). */
static int pump(CURLM *m, int wait_ms, int *posts_failed)
{
    int running, done = 0;
    static struct curl_waitfd wfd[MAX_CLIENTS];
    for (int i = 0; i < g_nws; i++)
        wfd[i] = (struct curl_waitfd){.fd = g_ws[i].fd, .events = CURL_WAIT_POLLIN};
    curl_multi_perform(m, &running);
    curl_multi_poll(m, wfd, (unsigned)g_nws, wait_ms, NULL);
    curl_multi_perform(m, &running);
    for (int i = 0; i < g_nws; i++)
        if (wfd[i].revents)
            ws_read(&g_ws[i]);
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(m, &left))) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        char *kind = NULL;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &kind);
        long status = 0;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &status);
        if (kind && strcmp(kind, "post") == 0) {
            done++;
            if (msg->data.result != CURLE_OK || status != 200)
                (*posts_failed)++;
        } else {
            die("sse stream ended early", curl_easy_strerror(msg->data.result));
        }
    }
    return done;
}

/* ---- statistics ---- */

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static double pct_ms(const int64_t *sorted, size_t n, double p)
{
    if (n == 0)
        return 0;
    size_t k = (size_t)(p / 100.0 * (double)n + 0.999999);
    k = k < 1 ? 1 : (k > n ? n : k);
    return (double)sorted[k - 1] / 1000.0;
}

typedef struct dist {
    size_t n;
    double p50, p90, p99, max;
} dist;

typedef struct phase {
    int clients;
    size_t events_min, events_max, bad;
    dist d[3];   /* as pairs.lat_us */
    double secs; /* first post to last byte, summed over rounds */
} phase;

static CURL *stream_handle(client *c, const char *url)
{
    CURL *h = curl_easy_init();
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_sse);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, c);
    curl_easy_setopt(h, CURLOPT_PRIVATE, "sse");
    curl_easy_setopt(h, CURLOPT_TIMEOUT, (long)(PHASE_S + OPEN_S + 10));
    curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
    return h;
}

static CURL *post_handle(const char *url, const char *body, struct curl_slist *hdr)
{
    CURL *h = curl_easy_init();
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_discard);
    curl_easy_setopt(h, CURLOPT_PRIVATE, "post");
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 30L);
    return h;
}

static void open_streams(CURLM *m, client *cl, int k, int *posts_failed)
{
    int64_t deadline = bk_clock_mono_us() + OPEN_S * BK_US_PER_S;
    for (;;) {
        int open = 0;
        for (int i = 0; i < k; i++)
            open += g_nws ? g_ws[i].joined : cl[i].bytes > 0;
        if (open == k)
            return;
        if (bk_clock_mono_us() > deadline)
            die("sse", "not every stream opened in time");
        pump(m, 50, posts_failed);
    }
}

/* One round: ensure-coverage for every series at timeframe tf, then wait
 * until the events stop. Adds the round's span to ph->secs. */
static void run_round(phase *ph, CURLM *m, const char *purl, const char *tf)
{
    struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/json");
    char bodies[N_SERIES][128];
    CURL *posts[N_SERIES];
    int posts_failed = 0, posts_done = 0;
    int64_t t0 = bk_clock_mono_us();
    for (size_t i = 0; i < N_SERIES; i++) {
        snprintf(bodies[i], sizeof bodies[i],
                 "{\"symbol\":\"%s\",\"timeframe\":\"%s\",\"window_days\":5}", SERIES[i], tf);
        posts[i] = post_handle(purl, bodies[i], hdr);
        curl_multi_add_handle(m, posts[i]);
    }
    last_byte_mono = bk_clock_mono_us();
    int64_t deadline = t0 + PHASE_S * BK_US_PER_S;
    while (bk_clock_mono_us() < deadline) {
        posts_done += pump(m, 50, &posts_failed);
        if (posts_done == (int)N_SERIES &&
            bk_clock_mono_us() - last_byte_mono > IDLE_MS * BK_US_PER_MS)
            break;
    }
    ph->secs += (double)(last_byte_mono - t0) / 1e6;
    if (posts_failed || posts_done != (int)N_SERIES)
        die("ensure-coverage", "a post failed or did not finish");
    for (size_t i = 0; i < N_SERIES; i++) {
        curl_multi_remove_handle(m, posts[i]);
        curl_easy_cleanup(posts[i]);
    }
    curl_slist_free_all(hdr);
}

static void summarise(dist *d, int64_t *v, size_t n)
{
    qsort(v, n, sizeof *v, cmp_i64);
    d->n = n;
    d->p50 = pct_ms(v, n, 50);
    d->p90 = pct_ms(v, n, 90);
    d->p99 = pct_ms(v, n, 99);
    d->max = pct_ms(v, n, 100);
}

static void run_phase(phase *ph, const char *bin, const char *dir, int k, bool ws, pairs *out)
{
    static const char *const TFS[] = {"1m", "5m", "15m"}; /* one round each */
    char db[1100], url[128], purl[128];
    snprintf(db, sizeof db, "%s/%s-%d.db", dir, ws ? "ws" : "sse", k);
    bench_server sv;
    const char *const global[] = {
        "--set", "sse_max_clients=256", "--set", "realtime_max_sockets=256",
        "--set", "sim_latency_ms=0",    NULL};
    const char *const sargs[] = {"--workers", "2", NULL};
    bench_server_start(&sv, bin, db, dir, global, sargs);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/realtime/v1/job_runs", sv.port);
    snprintf(purl, sizeof purl, "http://127.0.0.1:%d/functions/v1/ensure-coverage", sv.port);
    memset(out->n, 0, sizeof out->n);
    out->bad = 0;
    memset(ph, 0, sizeof *ph);
    CURLM *m = curl_multi_init();
    client *cl = bk_xcalloc((size_t)k, sizeof *cl);
    if (ws) {
        g_ws = bk_xcalloc((size_t)k, sizeof *g_ws);
        g_nws = k;
        for (int i = 0; i < k; i++)
            ws_open(&g_ws[i], sv.port, out);
    }
    for (int i = 0; i < k && !ws; i++) {
        cl[i].out = out;
        cl[i].h = stream_handle(&cl[i], url);
        curl_multi_add_handle(m, cl[i].h);
    }
    int unused = 0;
    open_streams(m, cl, k, &unused);
    for (size_t r = 0; r < BK_ARRAY_LEN(TFS); r++)
        run_round(ph, m, purl, TFS[r]);

    ph->clients = k;
    ph->events_min = SIZE_MAX;
    for (int i = 0; i < k; i++) {
        size_t ev = ws ? g_ws[i].events : cl[i].events;
        ph->events_min = BK_MIN(ph->events_min, ev);
        ph->events_max = ev > ph->events_max ? ev : ph->events_max;
        if (ws) {
            close(g_ws[i].fd);
            free(g_ws[i].buf);
            continue;
        }
        curl_multi_remove_handle(m, cl[i].h);
        curl_easy_cleanup(cl[i].h);
    }
    free(g_ws);
    g_ws = NULL;
    g_nws = 0;
    curl_multi_cleanup(m);
    free(cl);
    bench_server_stop(&sv);
    for (int i = 0; i < 3; i++)
        summarise(&ph->d[i], out->lat_us[i], out->n[i]);
    ph->bad = out->bad;
    const char *suffix[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < BK_ARRAY_LEN(suffix); i++) {
        char p[1200];
        snprintf(p, sizeof p, "%s%s", db, suffix[i]);
        unlink(p);
    }
}

static void print_phase(const char *name, const phase *p)
{
    static const char *const KIND[] = {"all", "INSERT", "UPDATE"};
    for (int i = 0; i < 3; i++) {
        const dist *d = &p->d[i];
        printf("%-9s %7d %8zu %11zu %-7s %9zu %9.3f %9.3f %9.3f %9.3f\n", name, p->clients,
               p->events_max, p->events_min, KIND[i], d->n, d->p50, d->p90, d->p99, d->max);
    }
}

int main(int argc, char **argv)
{
    char bin[1024];
    int64_t k = 100;
    if (argc > 1 && strcmp(argv[1], "-") != 0)
        snprintf(bin, sizeof bin, "%.1000s", argv[1]);
    else
        bench_default_bin(bin, sizeof bin);
    if (argc > 2 && bk_parse_i64(argv[2], 1, MAX_CLIENTS, &k) < 0) {
        fprintf(stderr, "usage: bench_sse [barkeep|- [clients (1..%d) [dir]]]\n", MAX_CLIENTS);
        return 2;
    }
    if (access(bin, X_OK) != 0)
        die(bin, "not executable (pass the barkeep binary as the first argument)");
    const char *base = argc > 3 ? argv[3] : getenv("TMPDIR");
    char dir[1024];
    snprintf(dir, sizeof dir, "%.990s/bk-bench-sse-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(dir))
        die("mkdtemp", strerror(errno));
    curl_global_init(CURL_GLOBAL_DEFAULT);
    pairs out = {0};
    for (int i = 0; i < 3; i++)
        out.lat_us[i] = bk_xcalloc(PAIRS_MAX, sizeof(int64_t));
    phase base1, many, ws1, wsk;
    run_phase(&base1, bin, dir, 1, false, &out);
    run_phase(&many, bin, dir, (int)k, false, &out);
    run_phase(&ws1, bin, dir, 1, true, &out);
    run_phase(&wsk, bin, dir, (int)k, true, &out);
    printf("bench_sse: commit -> SSE frame / WebSocket postgres_changes frame at the client "
           "(CLOCK_REALTIME); "
           "ensure-coverage for %zu series x 3 rounds (1m, 5m, 15m; 5 days), serve --workers 2, "
           "sim latency 0; latencies in ms over (event, client) pairs\n",
           N_SERIES);
    printf("%-9s %7s %8s %11s %-7s %9s %9s %9s %9s %9s\n", "phase", "clients", "events",
           "min/client", "kind", "pairs", "p50", "p90", "p99", "max");
    print_phase("baseline", &base1);
    print_phase("fan-out", &many);
    print_phase("ws-base", &ws1);
    print_phase("ws-fan", &wsk);
    printf("busy time (first post to last byte, 3 rounds): baseline %.2f s, fan-out %.2f s, "
           "ws-base %.2f s, ws-fan %.2f s\n",
           base1.secs, many.secs, ws1.secs, wsk.secs);
    if (base1.bad || many.bad || ws1.bad || wsk.bad)
        printf("frames without a parseable commit instant: %zu, %zu, %zu, %zu\n", base1.bad,
               many.bad, ws1.bad, wsk.bad);
    printf("p50 fan-out / baseline: %.2fx, p99: %.2fx\n",
           many.d[0].p50 / (base1.d[0].p50 > 0 ? base1.d[0].p50 : 1e-9),
           many.d[0].p99 / (base1.d[0].p99 > 0 ? base1.d[0].p99 : 1e-9));
    printf("WebSocket / SSE at %d clients: p50 %.2fx, p99 %.2fx\n", (int)k,
           wsk.d[0].p50 / (many.d[0].p50 > 0 ? many.d[0].p50 : 1e-9),
           wsk.d[0].p99 / (many.d[0].p99 > 0 ? many.d[0].p99 : 1e-9));
    for (int i = 0; i < 3; i++)
        free(out.lat_us[i]);
    char p[1100];
    snprintf(p, sizeof p, "%s/port", dir);
    unlink(p);
    snprintf(p, sizeof p, "%s/serve.log", dir);
    unlink(p);
    rmdir(dir);
    curl_global_cleanup();
    return 0;
}
