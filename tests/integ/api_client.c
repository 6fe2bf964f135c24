/*
 * api_client.c — see api_client.h. Waiting polls state with a deadline;
 * nothing sleeps a fixed time to synchronise.
 */
#include "api_client.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "testutil.h"

static void nap_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static long long mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void srv_start(srv *s, const char *const args[], const char *const env[])
{
    bk_t_kill_all(); /* whatever a failed earlier test left running */
    memset(s, 0, sizeof *s);
    s->dir = bk_t_tmpdir("api");
    const char *url = getenv("BK_TEST_DB_URL");
    if (url && *url) { /* PostgreSQL (scripts/with-pg.sh): empty it first */
        s->db = strdup(url);
        char msg[512];
        if (bk_t_pg_reset(url, msg, sizeof msg) != 0)
            fail_msg("cannot reset %s: %s", url, msg);
    } else {
        s->db = bk_t_path(s->dir, "api.db");
    }
    s->port_file = bk_t_path(s->dir, "port");
    s->log = bk_t_path(s->dir, "serve.log");
    char pf[600];
    snprintf(pf, sizeof pf, "port_file=%s", s->port_file);
    const char *argv[40];
    int n = 0;
    argv[n++] = bk_t_bin();
    argv[n++] = "--db";
    argv[n++] = s->db;
    argv[n++] = "--set";
    argv[n++] = pf;
    argv[n++] = "--set";
    argv[n++] = "listen=127.0.0.1:0";
    for (size_t i = 0; args && args[i] && n < 34; i++)
        argv[n++] = args[i];
    argv[n++] = "serve";
    argv[n] = NULL;
    s->pid = bk_t_spawn(argv, env, s->log);
    long long deadline = mono_ms() + 20000;
    while (mono_ms() < deadline) {
        FILE *f = fopen(s->port_file, "r");
        if (f) {
            int port = 0;
            int ok = fscanf(f, "%d", &port) == 1;
            fclose(f);
            if (ok && port > 0) {
                s->port = port;
                return;
            }
        }
        nap_ms(10);
    }
    fail_msg("serve did not start (see %s)", s->log);
}

void srv_stop(srv *s)
{
    kill(s->pid, SIGTERM);
    int st = bk_t_wait(s->pid);
    if (st != 0) {
        char cmd[700];
        snprintf(cmd, sizeof cmd, "tail -30 %s >&2", s->log);
        if (system(cmd) != 0)
            fprintf(stderr, "cannot show %s\n", s->log);
    }
    assert_int_equal(st, 0);
    bk_t_rmtree(s->dir);
    free(s->dir);
    free(s->db);
    free(s->port_file);
    free(s->log);
}

typedef struct sink {
    char *data;
    size_t len;
} sink;

static size_t on_data(char *p, size_t size, size_t n, void *ctx)
{
    sink *k = ctx;
    size_t add = size * n;
    k->data = realloc(k->data, k->len + add + 1);
    memcpy(k->data + k->len, p, add);
    k->len += add;
    k->data[k->len] = '\0';
    return add;
}

resp http_req(const srv *s, const char *method, const char *path, const char *body,
              const char *const headers[], const char *iface)
{
    resp r;
    memset(&r, 0, sizeof r);
    CURL *c = curl_easy_init();
    char url[1024];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", s->port, path);
    sink k = {0};
    struct curl_slist *h = NULL;
    for (size_t i = 0; headers && headers[i]; i++)
        h = curl_slist_append(h, headers[i]);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &k);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    if (iface)
        curl_easy_setopt(c, CURLOPT_INTERFACE, iface);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    }
    CURLcode cc = curl_easy_perform(c);
    if (cc != CURLE_OK)
        fail_msg("%s %s: %s", method, path, curl_easy_strerror(cc));
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
    char *ct = NULL;
    curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct);
    if (ct)
        snprintf(r.content_type, sizeof r.content_type, "%s", ct);
    struct curl_header *ra = NULL;
    if (curl_easy_header(c, "Retry-After", 0, CURLH_HEADER, -1, &ra) == CURLHE_OK && ra)
        snprintf(r.retry_after, sizeof r.retry_after, "%s", ra->value);
    struct curl_header *cr = NULL;
    if (curl_easy_header(c, "Content-Range", 0, CURLH_HEADER, -1, &cr) == CURLHE_OK && cr)
        snprintf(r.content_range, sizeof r.content_range, "%s", cr->value);
    r.body = k.data ? k.data : strdup("");
    r.json = json_loads(r.body, 0, NULL);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return r;
}

void resp_free(resp *r)
{
    json_decref(r->json);
    free(r->body);
    r->json = NULL;
    r->body = NULL;
}

/* ---- server-sent events ---- */

static size_t sse_data(char *p, size_t size, size_t n, void *ctx)
{
    sse *c = ctx;
    size_t add = size * n;
    if (c->len + add + 1 > c->cap) {
        c->cap = (c->len + add + 1) * 2;
        c->buf = realloc(c->buf, c->cap);
    }
    memcpy(c->buf + c->len, p, add);
    c->len += add;
    c->buf[c->len] = '\0';
    return add;
}

void sse_open(sse *c, const srv *s, const char *query, long long last_event_id)
{
    memset(c, 0, sizeof *c);
    char url[1024], hdr[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/realtime/v1/job_runs%s", s->port,
             query ? query : "");
    c->hdrs = curl_slist_append(NULL, "Accept: text/event-stream");
    if (last_event_id > 0) {
        snprintf(hdr, sizeof hdr, "Last-Event-ID: %lld", last_event_id);
        c->hdrs = curl_slist_append(c->hdrs, hdr);
    }
    c->easy = curl_easy_init();
    curl_easy_setopt(c->easy, CURLOPT_URL, url);
    curl_easy_setopt(c->easy, CURLOPT_WRITEFUNCTION, sse_data);
    curl_easy_setopt(c->easy, CURLOPT_WRITEDATA, c);
    curl_easy_setopt(c->easy, CURLOPT_HTTPHEADER, c->hdrs);
    c->multi = curl_multi_init();
    curl_multi_add_handle(c->multi, c->easy);
}

static void copy_str(json_t *o, const char *key, char *dst, size_t cap)
{
    const char *v = json_string_value(json_object_get(o, key));
    snprintf(dst, cap, "%s", v ? v : "");
}

/* Parse complete frames ("...\n\n") past c->parsed. */
static void parse_frames(sse *c)
{
    char *end;
    while ((end = strstr(c->buf + c->parsed, "\n\n")) != NULL) {
        char *frame = c->buf + c->parsed;
        *end = '\0';
        sse_event e;
        memset(&e, 0, sizeof e);
        bool has_data = false;
        if (strncmp(frame, ": keep-alive", 12) == 0)
            c->keepalives++;
        for (char *line = frame; line && *line;) {
            char *nl = strchr(line, '\n');
            if (nl)
                *nl = '\0';
            if (strncmp(line, "id: ", 4) == 0)
                e.id = atoll(line + 4);
            else if (strncmp(line, "event: ", 7) == 0)
                snprintf(e.event, sizeof e.event, "%s", line + 7);
            else if (strncmp(line, "data: ", 6) == 0) {
                has_data = true;
                json_t *j = json_loads(line + 6, 0, NULL);
                if (j) {
                    copy_str(j, "type", e.type, sizeof e.type);
                    json_t *rec = json_object_get(j, "record");
                    copy_str(rec, "id", e.run_id, sizeof e.run_id);
                    copy_str(rec, "symbol", e.symbol, sizeof e.symbol);
                    copy_str(rec, "timeframe", e.timeframe, sizeof e.timeframe);
                    copy_str(rec, "status", e.status, sizeof e.status);
                    e.progress = json_number_value(json_object_get(rec, "progress_percent"));
                    json_decref(j);
                }
            }
            line = nl ? nl + 1 : NULL;
        }
        c->parsed = (size_t)(end - c->buf) + 2;
        if (!has_data)
            continue; /* comments, retry: */
        if (c->n_ev == c->cap_ev) {
            c->cap_ev = c->cap_ev ? c->cap_ev * 2 : 64;
            c->ev = realloc(c->ev, c->cap_ev * sizeof *c->ev);
        }
        c->ev[c->n_ev++] = e;
    }
}

void sse_pump(sse *c, int timeout_ms)
{
    int running = 0;
    curl_multi_perform(c->multi, &running);
    if (running)
        curl_multi_poll(c->multi, NULL, 0, timeout_ms, NULL);
    curl_multi_perform(c->multi, &running);
    if (!running)
        c->done = true;
    if (c->buf)
        parse_frames(c);
}

bool sse_until(sse *c, bool (*pred)(const sse *, void *), void *ctx, int deadline_ms)
{
    long long end = mono_ms() + deadline_ms;
    bool ok = pred(c, ctx);
    while (!ok && !c->done && mono_ms() < end) {
        sse_pump(c, 50);
        ok = pred(c, ctx);
    }
    return ok;
}

void sse_close(sse *c)
{
    curl_multi_remove_handle(c->multi, c->easy);
    curl_easy_cleanup(c->easy);
    curl_multi_cleanup(c->multi);
    curl_slist_free_all(c->hdrs);
    free(c->buf);
    free(c->ev);
    memset(c, 0, sizeof *c);
}

int raw_connect(const srv *s, const char *iface)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)s->port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    if (iface) {
        struct sockaddr_in b = {.sin_family = AF_INET};
        inet_pton(AF_INET, iface, &b.sin_addr);
        if (bind(fd, (struct sockaddr *)&b, sizeof b) != 0) {
            close(fd);
            return -1;
        }
    }
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

bool raw_send(int fd, const char *text)
{
    size_t n = strlen(text);
    while (n > 0) {
        ssize_t k = send(fd, text, n, MSG_NOSIGNAL);
        if (k <= 0)
            return false;
        text += k;
        n -= (size_t)k;
    }
    return true;
}

char *raw_read_all(int fd, int deadline_ms, bool *closed)
{
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    long long end = mono_ms() + deadline_ms;
    *closed = false;
    for (;;) {
        long long left = end - mono_ms();
        if (left <= 0)
            break;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, (int)left) <= 0)
            continue;
        if (len + 1024 > cap)
            buf = realloc(buf, cap *= 2);
        ssize_t k = recv(fd, buf + len, cap - len - 1, 0);
        if (k <= 0) {
            *closed = true;
            break;
        }
        len += (size_t)k;
    }
    buf[len] = '\0';
    return buf;
}
