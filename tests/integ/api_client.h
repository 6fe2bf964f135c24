/*
 * api_client.h — the HTTP side of the API tests: start `barkeep serve` on a
 * free loopback port, send requests with libcurl, read server-sent events.
 */
#ifndef BK_TEST_API_CLIENT_H
#define BK_TEST_API_CLIENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct srv {
    char *dir, *db, *port_file, *log;
    pid_t pid;
    int port;
} srv;

/* Start serve in a fresh directory with extra arguments (NULL-terminated,
 * placed before "serve") and environment ("K=V", NULL-terminated). */
void srv_start(srv *s, const char *const args[], const char *const env[]);
/* SIGTERM, wait, expect exit 0, remove the directory. */
void srv_stop(srv *s);

typedef struct resp {
    long status;
    char *body;
    json_t *json; /* parsed body, or NULL */
    char content_type[128];
    char retry_after[32];   /* the Retry-After header, "" when absent */
    char content_range[64]; /* the Content-Range header, "" when absent */
} resp;

/* method path [body] with extra headers ("Name: value", NULL-terminated).
 * iface: source address to bind (NULL = default). */
resp http_req(const srv *s, const char *method, const char *path, const char *body,
              const char *const headers[], const char *iface);
void resp_free(resp *r);

/* A raw TCP connection to the server from source address iface (NULL =
 * any), for requests curl would not send; -1 on failure. */
int raw_connect(const srv *s, const char *iface);
/* Send all of text; false on failure. */
bool raw_send(int fd, const char *text);
/* Read until the peer closes or deadline_ms passes; the bytes read (malloc'd,
 * NUL-terminated) and whether the peer closed. */
char *raw_read_all(int fd, int deadline_ms, bool *closed);

/* An event-stream client running on a curl multi handle. */
typedef struct sse_event {
    long long id;
    char type[16]; /* payload "type" */
    char run_id[40];
    char symbol[24], timeframe[8], status[16];
    double progress;
    char event[24]; /* SSE "event:" name */
} sse_event;

typedef struct sse {
    void *multi, *easy;
    struct curl_slist *hdrs;
    char *buf;
    size_t len, cap;
    size_t parsed; /* bytes of buf already parsed into events */
    sse_event *ev;
    size_t n_ev, cap_ev;
    size_t keepalives; /* ": keep-alive" comment frames seen */
    bool done;         /* the server ended the stream */
} sse;

void sse_open(sse *c, const srv *s, const char *query, long long last_event_id);
/* Pump the connection up to timeout_ms, parsing new events. */
void sse_pump(sse *c, int timeout_ms);
/* Pump until pred(c, ctx) or deadline_ms passes; returns pred's last value. */
bool sse_until(sse *c, bool (*pred)(const sse *, void *), void *ctx, int deadline_ms);
void sse_close(sse *c);

#endif
