/*
 * test_realtime.c — Realtime over WebSocket against the real binary: a tiny
 * WebSocket client (raw frames, masked, over loopback) speaks Phoenix to
 * `barkeep serve` in both serializers: the handshake and its key checks,
 * join replies with ids and the system message, heartbeat, leave and close,
 * access_tokens checked with a JWT secret,
 * changes of a hydration reaching a filtered channel (and not another
 * symbol's), and bad input: malformed JSON (1007), unknown topics and
 * events, oversized (1009) and binary (1003) frames, bad filters, too many
 * channels and sockets, a client that never reads. test_realtime_pg runs it
 * on PostgreSQL (scripts/with-pg.sh), where the changes come through the
 * change listener.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "api_client.h"
#include "testutil.h"

#define ANON    "anon-key-0123456789abcdef0123"
#define SERVICE "service-key-0123456789abcdef"
static const char *const key_env[] = {"BARKEEP_SERVICE_KEY=" SERVICE, "BARKEEP_ANON_KEY=" ANON,
                                      NULL};

/* ---- a minimal WebSocket client ---- */

typedef struct wsc {
    int fd;
    int v2; /* serializer: 1 or 2 */
    unsigned char buf[1 << 17];
    size_t len;
} wsc;

typedef struct frame {
    int opcode;
    char *data; /* payload, NUL-terminated (malloc'd) */
    size_t len;
} frame;

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Read more bytes (until deadline); false on timeout or end of stream. */
static bool fill(wsc *c, int64_t deadline)
{
    for (;;) {
        int64_t left = deadline - mono_ms();
        if (left <= 0)
            return false;
        struct pollfd p = {.fd = c->fd, .events = POLLIN};
        if (poll(&p, 1, (int)left) <= 0)
            continue;
        ssize_t n = recv(c->fd, c->buf + c->len, sizeof c->buf - c->len, 0);
        if (n <= 0)
            return false;
        c->len += (size_t)n;
        return true;
    }
}

static char *find_crlf2(unsigned char *b, size_t n)
{
    for (size_t i = 0; i + 4 <= n; i++)
        if (memcmp(b + i, "\r\n\r\n", 4) == 0)
            return (char *)b + i;
    return NULL;
}

/* "GET path" handshake; returns the HTTP status (101 on success), and the
 * response head in head (cap bytes). */
static int ws_open(wsc *c, const srv *s, const char *path_query, const char *extra_hdr, char *head,
                   size_t cap)
{
    memset(c, 0, sizeof *c);
    c->fd = raw_connect(s, NULL);
    assert_true(c->fd >= 0);
    char req[1024];
    snprintf(req, sizeof req,
             "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
             "%sSec-WebSocket-Version: 13\r\n%s\r\n",
             path_query,
             extra_hdr && strstr(extra_hdr, "Sec-WebSocket-Key")
                 ? "" /* the caller's own key */
                 : "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n",
             extra_hdr ? extra_hdr : "");
    assert_true(raw_send(c->fd, req));
    int64_t deadline = mono_ms() + 5000;
    char *end = NULL;
    while (!(end = find_crlf2(c->buf, c->len)))
        if (!fill(c, deadline))
            break;
    assert_non_null(end);
    size_t hl = (size_t)(end + 4 - (char *)c->buf);
    snprintf(head, cap, "%.*s", (int)hl, (char *)c->buf);
    memmove(c->buf, c->buf + hl, c->len - hl);
    c->len -= hl;
    int status = 0;
    sscanf(head, "HTTP/1.1 %d", &status);
    if (status == 101)
        assert_non_null(strstr(head, "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="));
    return status;
}

static void connect_ok(wsc *c, const srv *s, int vsn)
{
    char head[2048], path[256];
    snprintf(path, sizeof path, "/realtime/v1/websocket?apikey=%s&vsn=%d.0.0", ANON, vsn);
    assert_int_equal(ws_open(c, s, path, NULL, head, sizeof head), 101);
    c->v2 = vsn == 2;
}

static void send_frame(wsc *c, int opcode, const void *data, size_t n)
{
    unsigned char *f = malloc(n + 14);
    size_t h = 0;
    f[h++] = (unsigned char)(0x80 | opcode);
    if (n < 126) {
        f[h++] = (unsigned char)(0x80 | n);
    } else if (n < 65536) {
        f[h++] = 0x80 | 126;
        f[h++] = (unsigned char)(n >> 8);
        f[h++] = (unsigned char)n;
    } else {
        f[h++] = 0x80 | 127;
        for (int i = 7; i >= 0; i--)
            f[h++] = (unsigned char)((uint64_t)n >> (8 * i));
    }
    const unsigned char mask[4] = {0x12, 0x34, 0x56, 0x78};
    memcpy(f + h, mask, 4);
    h += 4;
    for (size_t i = 0; i < n; i++)
        f[h + i] = ((const unsigned char *)data)[i] ^ mask[i % 4];
    size_t off = 0, total = h + n;
    while (off < total) {
        ssize_t w = send(c->fd, f + off, total - off, MSG_NOSIGNAL);
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    free(f);
}

/* One unmasked-length (< 126) fragment: opcode 0 continues a message. */
static void send_fragment(wsc *c, int opcode, bool fin, const char *data, size_t n)
{
    unsigned char f[200];
    assert_true(n < 126);
    f[0] = (unsigned char)((fin ? 0x80 : 0) | opcode);
    f[1] = (unsigned char)(0x80 | n);
    memset(f + 2, 0, 4); /* a zero mask */
    memcpy(f + 6, data, n);
    assert_int_equal(send(c->fd, f, n + 6, MSG_NOSIGNAL), (ssize_t)(n + 6));
}

static void send_text(wsc *c, const char *text)
{
    send_frame(c, 1, text, strlen(text));
}

/* The next frame within ms; opcode -1 on timeout or end of stream. */
static frame next_frame(wsc *c, int ms)
{
    frame f = {-1, NULL, 0};
    int64_t deadline = mono_ms() + ms;
    for (;;) {
        if (c->len >= 2) {
            size_t plen = c->buf[1] & 0x7f, h = 2;
            if (plen == 126 && c->len >= 4)
                plen = (size_t)c->buf[2] << 8 | c->buf[3], h = 4;
            else if (plen == 127 && c->len >= 10) {
                plen = 0;
                for (int i = 2; i < 10; i++)
                    plen = plen << 8 | c->buf[i];
                h = 10;
            }
            if ((c->buf[1] & 0x7f) < 126 || h > 2) {
                assert_true(plen < sizeof c->buf);
                if (c->len >= h + plen) {
                    f.opcode = c->buf[0] & 0x0f;
                    f.data = malloc(plen + 1);
                    memcpy(f.data, c->buf + h, plen);
                    f.data[plen] = '\0';
                    f.len = plen;
                    memmove(c->buf, c->buf + h + plen, c->len - h - plen);
                    c->len -= h + plen;
                    return f;
                }
            }
        }
        if (!fill(c, deadline))
            return f;
    }
}

/* The next text frame, parsed into the five Phoenix fields as a v2 array
 * (whatever the serializer: a v1 object is rearranged, with join_ref null). */
static json_t *next_msg(wsc *c, int ms)
{
    for (;;) {
        frame f = next_frame(c, ms);
        if (f.opcode != 1) {
            free(f.data);
            return NULL;
        }
        json_error_t e;
        json_t *j = json_loads(f.data, 0, &e);
        free(f.data);
        assert_non_null(j);
        if (!c->v2) {
            assert_true(json_is_object(j));
            assert_null(json_object_get(j, "join_ref")); /* V1 drops it */
            json_t *a = json_pack("[nOOOO]", json_object_get(j, "ref"), json_object_get(j, "topic"),
                                  json_object_get(j, "event"), json_object_get(j, "payload"));
            json_decref(j);
            return a;
        }
        assert_true(json_is_array(j) && json_array_size(j) == 5);
        return j;
    }
}

/* A client message in the socket's serializer. */
static void send_msg(wsc *c, const char *join_ref, const char *ref, const char *topic,
                     const char *event, const char *payload)
{
    size_t cap = strlen(topic) + strlen(event) + strlen(payload) + 256;
    char *m = malloc(cap);
    char jr[64], rf[64];
    snprintf(jr, sizeof jr, join_ref ? "\"%s\"" : "null", join_ref);
    snprintf(rf, sizeof rf, ref ? "\"%s\"" : "null", ref);
    if (c->v2)
        snprintf(m, cap, "[%s,%s,\"%s\",\"%s\",%s]", jr, rf, topic, event, payload);
    else
        snprintf(m, cap,
                 "{\"topic\":\"%s\",\"event\":\"%s\",\"payload\":%s,\"ref\":%s,\"join_ref\":%s}",
                 topic, event, payload, rf, jr);
    send_text(c, m);
    free(m);
}

static const char *jstr(json_t *a, size_t i)
{
    return json_string_value(json_array_get(a, i));
}

static void ws_close(wsc *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
}

/* The close frame's status code, or -1 when the stream ended without one. */
static int close_code(wsc *c, int ms)
{
    for (;;) {
        frame f = next_frame(c, ms);
        if (f.opcode == -1)
            return -1;
        int code = f.opcode == 8 && f.len >= 2
                       ? ((unsigned char)f.data[0] << 8 | (unsigned char)f.data[1])
                       : 0;
        free(f.data);
        if (f.opcode == 8)
            return code;
    }
}

#define PC_JOIN(filter)                                                                            \
    "{\"config\":{\"broadcast\":{\"ack\":false,\"self\":false},\"presence\":{\"key\":\"\"},"       \
    "\"postgres_changes\":[{\"event\":\"*\",\"schema\":\"public\",\"table\":\"job_runs\","         \
    "\"filter\":\"" filter "\"}],\"private\":false}}"

/* Join topic with the bindings of PC_JOIN; check the ok reply and the
 * system message; returns the binding id. */
static json_int_t join_ok(wsc *c, const char *ref, const char *topic, const char *payload)
{
    send_msg(c, ref, ref, topic, "phx_join", payload);
    json_t *r = next_msg(c, 5000);
    assert_non_null(r);
    if (c->v2)
        assert_string_equal(jstr(r, 0), ref);
    assert_string_equal(jstr(r, 1), ref);
    assert_string_equal(jstr(r, 2), topic);
    assert_string_equal(jstr(r, 3), "phx_reply");
    json_t *p = json_array_get(r, 4);
    assert_string_equal(json_string_value(json_object_get(p, "status")), "ok");
    json_t *pcs = json_object_get(json_object_get(p, "response"), "postgres_changes");
    json_int_t id = json_integer_value(json_object_get(json_array_get(pcs, 0), "id"));
    assert_true(json_is_integer(json_object_get(json_array_get(pcs, 0), "id")));
    json_decref(r);
    json_t *sys = next_msg(c, 5000);
    assert_non_null(sys);
    assert_string_equal(jstr(sys, 3), "system");
    assert_true(json_is_null(json_array_get(sys, 1)));
    json_t *sp = json_array_get(sys, 4);
    assert_string_equal(json_string_value(json_object_get(sp, "status")), "ok");
    assert_string_equal(json_string_value(json_object_get(sp, "message")),
                        "Subscribed to PostgreSQL");
    assert_string_equal(json_string_value(json_object_get(sp, "extension")), "postgres_changes");
    assert_string_equal(json_string_value(json_object_get(sp, "channel")),
                        topic + strlen("realtime:"));
    json_decref(sys);
    return id;
}

/* ---- tests ---- */

static void check_protocol(const srv *s, int vsn)
{
    wsc c;
    connect_ok(&c, s, vsn);
    /* heartbeat */
    send_msg(&c, NULL, "7", "phoenix", "heartbeat", "{}");
    json_t *r = next_msg(&c, 5000);
    assert_non_null(r);
    char *txt = json_dumps(r, JSON_COMPACT);
    assert_string_equal(txt, "[null,\"7\",\"phoenix\",\"phx_reply\",{\"status\":\"ok\","
                             "\"response\":{}}]");
    free(txt);
    json_decref(r);
    /* the join reply echoes the binding byte for byte, with an integer id */
    send_msg(&c, "1", "1", "realtime:job_runs:AAPL:1h", "phx_join",
             "{\"config\":{\"postgres_changes\":[{\"event\":\"*\",\"schema\":\"public\","
             "\"table\":\"job_runs\",\"filter\":\"symbol=eq.AAPL\"},{\"event\":\"UPDATE\","
             "\"schema\":\"public\",\"table\":\"coverage_status\"}]}}");
    r = next_msg(&c, 5000);
    json_t *pcs =
        json_object_get(json_object_get(json_array_get(r, 4), "response"), "postgres_changes");
    assert_int_equal(json_array_size(pcs), 2);
    json_t *b0 = json_array_get(pcs, 0), *b1 = json_array_get(pcs, 1);
    assert_string_equal(json_string_value(json_object_get(b0, "filter")), "symbol=eq.AAPL");
    assert_string_equal(json_string_value(json_object_get(b0, "event")), "*");
    assert_string_equal(json_string_value(json_object_get(b1, "table")), "coverage_status");
    assert_null(json_object_get(b1, "filter"));
    assert_true(json_is_integer(json_object_get(b0, "id")));
    assert_true(json_integer_value(json_object_get(b0, "id")) !=
                json_integer_value(json_object_get(b1, "id")));
    json_decref(r);
    r = next_msg(&c, 5000);
    assert_string_equal(jstr(r, 3), "system");
    json_decref(r);
    /* unmatched topic; unknown event on a joined topic */
    send_msg(&c, "9", "2", "realtime:nothing", "broadcast", "{}");
    r = next_msg(&c, 5000);
    assert_string_equal(jstr(r, 3), "phx_reply");
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(json_array_get(r, 4), "response"), "reason")),
                        "unmatched topic");
    json_decref(r);
    send_msg(&c, "1", "3", "realtime:job_runs:AAPL:1h", "frobnicate", "{}");
    r = next_msg(&c, 5000);
    assert_string_equal(json_string_value(json_object_get(json_array_get(r, 4), "status")),
                        "error");
    json_decref(r);
    /* a valid access_token: no reply (the next frame is the heartbeat's) */
    send_msg(&c, "1", "4", "realtime:job_runs:AAPL:1h", "access_token",
             "{\"access_token\":\"" ANON "\"}");
    send_msg(&c, NULL, "5", "phoenix", "heartbeat", "{}");
    r = next_msg(&c, 5000);
    assert_string_equal(jstr(r, 1), "5");
    json_decref(r);
    /* a bad filter and an unknown table: ok reply, then the system error */
    send_msg(&c, "6", "6", "realtime:bad", "phx_join", PC_JOIN("nosuchcol=eq.1"));
    r = next_msg(&c, 5000);
    assert_string_equal(jstr(r, 3), "phx_reply");
    json_decref(r);
    r = next_msg(&c, 5000);
    assert_string_equal(jstr(r, 3), "system");
    json_t *sp = json_array_get(r, 4);
    assert_string_equal(json_string_value(json_object_get(sp, "status")), "error");
    assert_non_null(
        strstr(json_string_value(json_object_get(sp, "message")), "Error parsing `filter` params"));
    json_decref(r);
    send_msg(&c, "8", "8", "realtime:badtable", "phx_join",
             "{\"config\":{\"postgres_changes\":[{\"event\":\"*\",\"schema\":\"public\","
             "\"table\":\"secrets\"}]}}");
    json_decref(next_msg(&c, 5000));
    r = next_msg(&c, 5000);
    sp = json_array_get(r, 4);
    assert_string_equal(json_string_value(json_object_get(sp, "status")), "error");
    assert_non_null(strstr(json_string_value(json_object_get(sp, "message")), "secrets"));
    json_decref(r);
    /* leave: reply, then phx_close with the join's ref */
    send_msg(&c, "1", "9", "realtime:job_runs:AAPL:1h", "phx_leave", "{}");
    r = next_msg(&c, 5000);
    assert_string_equal(jstr(r, 3), "phx_reply");
    assert_string_equal(jstr(r, 1), "9");
    json_decref(r);
    r = next_msg(&c, 5000);
    assert_string_equal(jstr(r, 3), "phx_close");
    assert_string_equal(jstr(r, 1), "1");
    json_decref(r);
    send_msg(&c, "1", "10", "realtime:job_runs:AAPL:1h", "phx_leave", "{}");
    r = next_msg(&c, 5000);
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(json_array_get(r, 4), "response"), "reason")),
                        "unmatched topic");
    json_decref(r);
    /* ping -> pong with the same payload; a message in two fragments */
    send_frame(&c, 9, "hi", 2);
    frame pong = next_frame(&c, 5000);
    assert_int_equal(pong.opcode, 10);
    assert_string_equal(pong.data, "hi");
    free(pong.data);
    const char *hb = c.v2 ? "[null,\"11\",\"phoenix\",\"heartbeat\",{}]"
                          : "{\"topic\":\"phoenix\",\"event\":\"heartbeat\",\"payload\":{},"
                            "\"ref\":\"11\"}";
    send_fragment(&c, 1, false, hb, 10);
    send_fragment(&c, 0, true, hb + 10, strlen(hb) - 10);
    r = next_msg(&c, 5000);
    assert_string_equal(jstr(r, 1), "11");
    json_decref(r);
    /* a clean close handshake */
    const unsigned char bye[2] = {0x03, 0xe8};
    send_frame(&c, 8, bye, 2);
    assert_int_equal(close_code(&c, 5000), 1000);
    ws_close(&c);
}

/* A JWT of the right shape signed with nothing (a 3-byte signature). */
#define FORGED "eyJhbGciOiJIUzI1NiJ9.eyJyb2xlIjoiYW5vbiJ9.c2ln"
#define TOKEN_JOIN(token)                                                                          \
    "{\"config\":{\"postgres_changes\":[{\"event\":\"*\",\"schema\":\"public\",\"table\":"         \
    "\"job_runs\"}]},\"access_token\":\"" token "\"}"

/* With a JWT secret, access_tokens are checked: a forged one fails the join
 * (error reply) and stops a joined channel (system error, phx_close); the
 * anon key passes. */
static void check_access_tokens(const srv *s)
{
    wsc c;
    connect_ok(&c, s, 2);
    send_msg(&c, "1", "1", "realtime:a", "phx_join", TOKEN_JOIN(FORGED));
    json_t *r = next_msg(&c, 5000);
    json_t *p = json_array_get(r, 4);
    assert_string_equal(json_string_value(json_object_get(p, "status")), "error");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(p, "response"), "reason")),
        "Invalid token: the signature is not 32 base64url bytes");
    json_decref(r);
    join_ok(&c, "2", "realtime:a", TOKEN_JOIN(ANON));
    send_msg(&c, "2", "3", "realtime:a", "access_token", "{\"access_token\":\"" ANON "\"}");
    send_msg(&c, "2", "4", "realtime:a", "access_token", "{\"access_token\":\"" FORGED "\"}");
    r = next_msg(&c, 5000); /* no reply to the first: the stop is next */
    assert_string_equal(jstr(r, 3), "system");
    p = json_array_get(r, 4);
    assert_string_equal(json_string_value(json_object_get(p, "extension")), "system");
    assert_string_equal(json_string_value(json_object_get(p, "status")), "error");
    json_decref(r);
    r = next_msg(&c, 5000);
    assert_string_equal(jstr(r, 3), "phx_close");
    assert_string_equal(jstr(r, 1), "2");
    json_decref(r);
    ws_close(&c);
}

static void test_protocol(void **state)
{
    (void)state;
    const char *env[] = {"BARKEEP_SERVICE_KEY=" SERVICE, "BARKEEP_ANON_KEY=" ANON,
                         "BARKEEP_JWT_SECRET=jwt-secret-for-tests-0123456789abcdef0123", NULL};
    srv s;
    srv_start(&s, NULL, env);
    check_protocol(&s, 2);
    check_protocol(&s, 1);
    check_access_tokens(&s);
    srv_stop(&s);
}

static void test_handshake_refusals(void **state)
{
    (void)state;
    const char *args[] = {"--set", "realtime_max_sockets=2", NULL};
    srv s;
    srv_start(&s, args, key_env);
    char head[2048];
    wsc c;
    assert_int_equal(ws_open(&c, &s, "/realtime/v1/websocket?vsn=2.0.0", NULL, head, sizeof head),
                     401);
    assert_non_null(strstr(head, "application/json"));
    ws_close(&c);
    assert_int_equal(ws_open(&c, &s, "/realtime/v1/websocket?apikey=wrong-key-0123456789&vsn=2.0.0",
                             NULL, head, sizeof head),
                     401);
    ws_close(&c);
    assert_int_equal(ws_open(&c, &s, "/realtime/v1/websocket?apikey=" ANON "&vsn=3.0.0", NULL, head,
                             sizeof head),
                     400);
    ws_close(&c);
    /* a Sec-WebSocket-Key that is not the base64 of 16 bytes */
    const char *bad_keys[] = {"Sec-WebSocket-Key: ########################\r\n",
                              "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=x\r\n"};
    for (size_t i = 0; i < 2; i++) {
        assert_int_equal(
            ws_open(&c, &s, "/realtime/v1/websocket?apikey=" ANON, bad_keys[i], head, sizeof head),
            400);
        assert_non_null(strstr(head, "application/json"));
        ws_close(&c);
    }
    /* the key as a header, on Realtime's own path */
    wsc a, b;
    assert_int_equal(ws_open(&a, &s, "/socket/websocket?vsn=2.0.0", "x-api-key: " ANON "\r\n", head,
                             sizeof head),
                     101);
    assert_int_equal(
        ws_open(&b, &s, "/realtime/v1/websocket", "apikey: " ANON "\r\n", head, sizeof head), 101);
    /* a third socket is one too many; the heartbeat proves the first two serve */
    a.v2 = 1;
    send_msg(&a, NULL, "1", "phoenix", "heartbeat", "{}");
    json_decref(next_msg(&a, 5000));
    send_msg(&b, NULL, "1", "phoenix", "heartbeat", "{}"); /* b speaks 1.0.0, the default */
    json_decref(next_msg(&b, 5000));
    assert_int_equal(
        ws_open(&c, &s, "/realtime/v1/websocket?apikey=" ANON, NULL, head, sizeof head), 503);
    assert_non_null(strstr(head, "application/json"));
    ws_close(&c);
    /* the gauge counts the open sockets */
    const char *svc[] = {"Authorization: Bearer " SERVICE, NULL};
    resp m = http_req(&s, "GET", "/metrics", NULL, svc, NULL);
    assert_int_equal(m.status, 200);
    assert_non_null(strstr(m.body, "\nbarkeep_realtime_sockets 2\n"));
    assert_non_null(strstr(m.body, "\nbarkeep_sse_clients 0\n"));
    resp_free(&m);
    ws_close(&a);
    ws_close(&b);
    /* a plain GET is told to upgrade */
    resp r = http_req(&s, "GET", "/realtime/v1/websocket?apikey=" ANON, NULL, NULL, NULL);
    assert_int_equal(r.status, 426);
    resp_free(&r);
    srv_stop(&s);
}

static void test_bad_frames(void **state)
{
    (void)state;
    const char *args[] = {"--set", "realtime_max_channels=3", NULL};
    srv s;
    srv_start(&s, args, key_env);
    wsc c;
    /* malformed JSON: close 1007 */
    connect_ok(&c, &s, 2);
    send_text(&c, "[\"1\",\"1\",\"realtime:x\",\"phx_join\",{");
    assert_int_equal(close_code(&c, 5000), 1007);
    ws_close(&c);
    /* a v1 object on a v2 socket is not a message either */
    connect_ok(&c, &s, 2);
    send_text(&c, "{\"topic\":\"phoenix\",\"event\":\"heartbeat\",\"payload\":{},\"ref\":\"1\"}");
    assert_int_equal(close_code(&c, 5000), 1007);
    ws_close(&c);
    /* binary: 1003 */
    connect_ok(&c, &s, 2);
    send_frame(&c, 2, "\x01\x02", 2);
    assert_int_equal(close_code(&c, 5000), 1003);
    ws_close(&c);
    /* over realtime_max_message: 1009 */
    connect_ok(&c, &s, 2);
    size_t big = 70 * 1024;
    char *blob = malloc(big);
    memset(blob, ' ', big);
    send_frame(&c, 1, blob, big);
    free(blob);
    assert_int_equal(close_code(&c, 5000), 1009);
    ws_close(&c);
    /* too many channels: the fourth join is refused, the socket serves on */
    connect_ok(&c, &s, 1);
    char topic[32];
    for (int i = 0; i < 3; i++) {
        snprintf(topic, sizeof topic, "realtime:t%d", i);
        join_ok(&c, "1", topic, PC_JOIN("symbol=eq.AAPL"));
    }
    send_msg(&c, "4", "4", "realtime:t3", "phx_join", PC_JOIN("symbol=eq.AAPL"));
    json_t *r = next_msg(&c, 5000);
    assert_string_equal(json_string_value(json_object_get(json_array_get(r, 4), "status")),
                        "error");
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(json_array_get(r, 4), "response"), "reason")),
                        "Too many channels");
    json_decref(r);
    /* a second join on a joined topic replaces it (phx_close of the old) */
    send_msg(&c, "5", "5", "realtime:t0", "phx_join", PC_JOIN("symbol=eq.MSFT"));
    r = next_msg(&c, 5000);
    assert_string_equal(jstr(r, 3), "phx_close");
    json_decref(r);
    r = next_msg(&c, 5000);
    assert_string_equal(json_string_value(json_object_get(json_array_get(r, 4), "status")), "ok");
    json_decref(r);
    json_decref(next_msg(&c, 5000)); /* system */
    send_msg(&c, NULL, "6", "phoenix", "heartbeat", "{}");
    r = next_msg(&c, 5000);
    assert_string_equal(jstr(r, 1), "6");
    json_decref(r);
    ws_close(&c);
    /* the server is unharmed */
    resp h = http_req(&s, "GET", "/healthz", NULL, NULL, NULL);
    assert_int_equal(h.status, 200);
    resp_free(&h);
    srv_stop(&s);
}

/* The runs of a hydration of symbol reach the channel filtered on it, with
 * its binding's id, and nothing reaches the channel of another symbol. */
static void check_changes(const srv *s, int vsn, const char *symbol, const char *other)
{
    wsc c;
    connect_ok(&c, s, vsn);
    char topic[64], ftopic[64], join[512];
    snprintf(topic, sizeof topic, "realtime:job_runs:%s", symbol);
    snprintf(ftopic, sizeof ftopic, "realtime:job_runs:%s", other);
    snprintf(join, sizeof join,
             "{\"config\":{\"postgres_changes\":[{\"event\":\"*\",\"schema\":\"public\","
             "\"table\":\"job_runs\",\"filter\":\"symbol=eq.%s\"}]}}",
             symbol);
    json_int_t id = join_ok(&c, "1", topic, join);
    snprintf(join, sizeof join,
             "{\"config\":{\"postgres_changes\":[{\"event\":\"*\",\"schema\":\"public\","
             "\"table\":\"job_runs\",\"filter\":\"symbol=eq.%s\"}]}}",
             other);
    join_ok(&c, "2", ftopic, join);
    char body[128];
    snprintf(body, sizeof body, "{\"symbol\":\"%s\",\"timeframe\":\"15m\",\"window_days\":5}",
             symbol);
    const char *hdrs[] = {"Authorization: Bearer " SERVICE, "Content-Type: application/json", NULL};
    resp r = http_req(s, "POST", "/functions/v1/ensure-coverage", body, hdrs, NULL);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    int n = 0;
    char run[64] = "";
    for (;;) {
        json_t *m = next_msg(&c, 15000);
        assert_non_null(m); /* the run's success arrives in time */
        assert_string_equal(jstr(m, 3), "postgres_changes");
        assert_string_equal(jstr(m, 2), topic); /* never the other symbol's channel */
        assert_true(json_is_null(json_array_get(m, 0)) && json_is_null(json_array_get(m, 1)));
        json_t *p = json_array_get(m, 4), *d = json_object_get(p, "data");
        json_t *ids = json_object_get(p, "ids");
        assert_int_equal(json_array_size(ids), 1);
        assert_int_equal(json_integer_value(json_array_get(ids, 0)), id);
        json_t *rec = json_object_get(d, "record");
        assert_string_equal(json_string_value(json_object_get(rec, "symbol")), symbol);
        assert_string_equal(json_string_value(json_object_get(d, "table")), "job_runs");
        const char *ts = json_string_value(json_object_get(d, "commit_timestamp"));
        assert_true(ts && strlen(ts) == 24 && ts[19] == '.' && ts[23] == 'Z');
        const char *type = json_string_value(json_object_get(d, "type"));
        const char *st = json_string_value(json_object_get(rec, "status"));
        if (n++ == 0) {
            assert_string_equal(type, "INSERT");
            assert_string_equal(st, "queued");
            snprintf(run, sizeof run, "%s", json_string_value(json_object_get(rec, "id")));
            assert_null(json_object_get(d, "old_record"));
        }
        bool done = strcmp(type, "UPDATE") == 0 && strcmp(st, "success") == 0 &&
                    strcmp(json_string_value(json_object_get(rec, "id")), run) == 0;
        if (strcmp(type, "UPDATE") == 0)
            assert_string_equal(
                json_string_value(json_object_get(json_object_get(d, "old_record"), "id")),
                json_string_value(json_object_get(rec, "id")));
        if (done)
            assert_true(json_number_value(json_object_get(rec, "progress_percent")) == 100.0);
        json_decref(m);
        if (done)
            break;
    }
    assert_true(n >= 3); /* queued, running, success */
    ws_close(&c);
}

static void test_changes(void **state)
{
    (void)state;
    srv s;
    srv_start(&s, NULL, key_env);
    check_changes(&s, 2, "MSFT", "NVDA");
    check_changes(&s, 1, "IBM", "AMD");
    srv_stop(&s);
}

/* A client that sends and never reads: its replies pile up past
 * realtime_send_max and the server closes it with 1008, instead of
 * buffering without limit. */
static void test_slow_reader(void **state)
{
    (void)state;
    const char *args[] = {"--set", "realtime_send_max=65536", NULL};
    srv s;
    srv_start(&s, args, key_env);
    wsc c;
    connect_ok(&c, &s, 2);
    int small = 4096;
    setsockopt(c.fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    /* a join with 60 bindings of 1000-byte filters: its reply echoes them */
    size_t cap = 80 * 1024, n = 0;
    char *join = malloc(cap);
    n += (size_t)snprintf(join + n, cap - n,
                          "[\"1\",\"1\",\"realtime:slow\",\"phx_join\",{\"config\":{"
                          "\"postgres_changes\":[");
    for (int i = 0; i < 60; i++) {
        n += (size_t)snprintf(join + n, cap - n,
                              "%s{\"event\":\"*\",\"schema\":\"public\",\"table\":\"job_runs\","
                              "\"filter\":\"symbol=in.(",
                              i ? "," : "");
        for (int k = 0; k < 199; k++)
            n += (size_t)snprintf(join + n, cap - n, "%sA%03d", k ? "," : "", k);
        n += (size_t)snprintf(join + n, cap - n, ")\"}");
    }
    n += (size_t)snprintf(join + n, cap - n, "]}}]");
    assert_true(n < 65536);
    int sent = 0;
    for (; sent < 400; sent++) { /* at most ~25 MB; the server closes long before */
        struct pollfd p = {.fd = c.fd, .events = POLLOUT};
        if (poll(&p, 1, 2000) <= 0 || (p.revents & (POLLERR | POLLHUP)))
            break;
        send_frame(&c, 1, join, n);
    }
    free(join);
    int size = 1 << 20;
    setsockopt(c.fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    assert_int_equal(close_code(&c, 20000), 1008);
    ws_close(&c);
    char *log = NULL;
    FILE *f = fopen(s.log, "r");
    assert_non_null(f);
    size_t cap_log = 0;
    ssize_t got;
    bool warned = false;
    while ((got = getline(&log, &cap_log, f)) > 0)
        warned |= strstr(log, "closing a socket that does not read") != NULL;
    free(log);
    fclose(f);
    assert_true(warned);
    /* a client that pings and never reads: the pongs wslay queues count
     * against realtime_send_max as well */
    connect_ok(&c, &s, 2);
    setsockopt(c.fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    enum { PINGS = 1000, PING_LEN = 6 + 125 };
    unsigned char *pings = malloc(PINGS * PING_LEN);
    for (int i = 0; i < PINGS; i++) {
        unsigned char *pf = pings + i * PING_LEN;
        pf[0] = 0x89; /* FIN, ping */
        pf[1] = 0x80 | 125;
        memset(pf + 2, 0, 4); /* a zero mask */
        memset(pf + 6, 'p', 125);
    }
    for (int round = 0; round < 400; round++) { /* ~50 MB at most */
        struct pollfd p = {.fd = c.fd, .events = POLLOUT};
        if (poll(&p, 1, 2000) <= 0 || (p.revents & (POLLERR | POLLHUP)))
            break;
        if (send(c.fd, pings, PINGS * PING_LEN, MSG_NOSIGNAL) <= 0)
            break;
    }
    free(pings);
    setsockopt(c.fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    assert_int_equal(close_code(&c, 20000), 1008);
    ws_close(&c);
    srv_stop(&s);
}

/* PostgreSQL: runs executed by a separate `barkeep worker` process reach a
 * socket held by serve (through the change listener). */
static void test_cross_process(void **state)
{
    (void)state;
    if (!getenv("BK_TEST_DB_URL"))
        skip(); /* needs a shared server database */
    const char *args[] = {"--set", "workers=0", NULL};
    srv s;
    srv_start(&s, args, key_env);
    char *wlog = bk_t_path(s.dir, "worker.log");
    const char *wargv[] = {bk_t_bin(), "--db", s.db, "worker", "--workers", "2", NULL};
    pid_t worker = bk_t_spawn(wargv, NULL, wlog);
    check_changes(&s, 2, "CSCO", "ORCL");
    kill(worker, SIGTERM);
    assert_int_equal(bk_t_wait(worker), 0);
    free(wlog);
    srv_stop(&s);
}

/* With no key configured, trusted (loopback) clients need none. */
static void test_no_keys(void **state)
{
    (void)state;
    srv s;
    srv_start(&s, NULL, NULL);
    char head[2048];
    wsc c;
    assert_int_equal(ws_open(&c, &s, "/realtime/v1/websocket?vsn=2.0.0", NULL, head, sizeof head),
                     101);
    c.v2 = 1;
    send_msg(&c, NULL, "1", "phoenix", "heartbeat", "{}");
    json_t *r = next_msg(&c, 5000);
    assert_non_null(r);
    json_decref(r);
    ws_close(&c);
    srv_stop(&s);
}

/* A socket silent for realtime_idle_s is closed (1000); one that sends
 * heartbeats stays. */
static void test_idle(void **state)
{
    (void)state;
    const char *args[] = {"--set", "realtime_idle_s=1", NULL};
    srv s;
    srv_start(&s, args, key_env);
    wsc a, b;
    connect_ok(&b, &s, 2);
    for (int i = 0; i < 3; i++) { /* 1.5 s of heartbeats every 0.5 s: b stays */
        char ref[8];
        snprintf(ref, sizeof ref, "%d", i);
        send_msg(&b, NULL, ref, "phoenix", "heartbeat", "{}");
        json_t *r = next_msg(&b, 5000);
        assert_non_null(r);
        json_decref(r);
        struct pollfd p = {.fd = b.fd, .events = POLLIN};
        assert_int_equal(poll(&p, 1, 500), 0); /* nothing, no close */
    }
    connect_ok(&a, &s, 2);
    int64_t t0 = mono_ms();
    assert_int_equal(close_code(&a, 5000), 1000);
    assert_true(mono_ms() - t0 >= 900);
    ws_close(&a);
    ws_close(&b);
    srv_stop(&s);
}

/* Stopping the server closes every socket with 1001 and exits cleanly. */
static void test_shutdown(void **state)
{
    (void)state;
    srv s;
    srv_start(&s, NULL, key_env);
    wsc a, b;
    connect_ok(&a, &s, 2);
    connect_ok(&b, &s, 1);
    join_ok(&a, "1", "realtime:x", PC_JOIN("symbol=eq.AAPL"));
    kill(s.pid, SIGTERM);
    assert_int_equal(close_code(&a, 10000), 1001);
    assert_int_equal(close_code(&b, 10000), 1001);
    ws_close(&a);
    ws_close(&b);
    srv_stop(&s); /* exit status 0 */
}

int main(void)
{
    if (getenv("BK_REQUIRE_PG") && !getenv("BK_TEST_DB_URL")) {
        printf("skipped: needs BK_TEST_DB_URL (run through scripts/with-pg.sh)\n");
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_protocol),      cmocka_unit_test(test_handshake_refusals),
        cmocka_unit_test(test_bad_frames),    cmocka_unit_test(test_slow_reader),
        cmocka_unit_test(test_changes),       cmocka_unit_test(test_shutdown),
        cmocka_unit_test(test_cross_process), cmocka_unit_test(test_idle),
        cmocka_unit_test(test_no_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
