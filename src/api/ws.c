/*
 * ws.c — Realtime over WebSocket: the upgrade at GET /realtime/v1/websocket
 * (and /socket/websocket) and the one thread that runs every upgraded socket.
 *
 * The request is checked and authorized like any other route (http.c);
 * libmicrohttpd then answers 101 and hands the socket to upgrade_handler,
 * which queues it for the realtime thread. That thread owns every socket:
 * an epoll set (edge-triggered) over the sockets plus an eventfd that other
 * threads write to (a new socket, bus changes, shutdown). Framing is
 * libwslay's event API over non-blocking I/O (it answers pings and the
 * close handshake itself); its writes are gathered per socket and written
 * with one send per burst (TCP_NODELAY). The Phoenix channels are rt.c's. Each socket is
 * a change subscriber of the bus (events.h): the bus's notify marks the
 * socket and wakes the thread, which renders each change once (shared by
 * every socket) and queues the frames.
 *
 * Bounds: realtime_max_sockets sockets (503 beyond), realtime_max_message
 * bytes per message (close 1009), realtime_send_max bytes queued per socket
 * (a client that stops reading is closed with 1008), realtime_max_channels
 * per socket (an error reply beyond), realtime_idle_s without a message
 * (heartbeats count; closed with 1000); binary frames close with 1003, text
 * that is not a Phoenix message with 1007, a bus subscriber that fell
 * behind with 1011. A socket closing is given CLOSE_GRACE to finish the
 * close handshake, then dropped. bk_api_stop closes every socket with 1001
 * and joins the thread. docs/internals/realtime.md has the whole picture.
 */
#include "api/api_impl.h"
#include "api/rt.h"
#include "core/clock.h"
#include "core/log.h"

#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>
#include <wslay/wslay.h>

#define CLOSE_GRACE_US (2 * BK_US_PER_S)
#define OUT_CAP        (64 * 1024) /* framed bytes gathered for one write */
#define WS_GUID        "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

typedef struct ws_conn ws_conn;

struct ws_conn {
    bk_ws *srv;
    int fd;
    struct MHD_UpgradeResponseHandle *urh;
    wslay_event_context_ptr ws;
    bk_rtc *rtc;
    bk_sub *sub;
    char *pre; /* bytes libmicrohttpd read past the request head */
    size_t pre_len, pre_off;
    unsigned char *out; /* framed bytes not yet written (OUT_CAP at most) */
    size_t out_len, out_off;
    atomic_bool pending; /* the bus queued changes (set by notify) */
    bool closing;        /* a close frame is queued: deliver nothing more */
    int64_t deadline_us; /* monotonic: closed when idle till then; dropped if closing */
    bool dead;
    ws_conn *prev, *next; /* the thread's list */
};

struct bk_ws {
    bk_api *api;
    int epfd, evfd;
    pthread_t thread;
    bool started;
    pthread_mutex_t lock; /* guards incoming and stop */
    ws_conn *incoming;    /* upgraded, not yet adopted by the thread */
    bool stop;
    atomic_int n; /* sockets open, incoming ones included */
    ws_conn *head;
    const bk_change *cached; /* the change last rendered, and its data */
    bk_buf cached_data;
    size_t max_sockets, max_channels, max_message, send_max;
    int64_t idle_us; /* a socket silent this long is closed */
};

static void wake(bk_ws *w)
{
    uint64_t one = 1;
    ssize_t n = write(w->evfd, &one, sizeof one);
    (void)n; /* EAGAIN: the counter is already non-zero, the thread will wake */
}

/* ---- the handshake ---- */

/* base64(SHA-1(key + GUID)) into out (29 bytes with the NUL). */
static int accept_key(const char *key, char out[32])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    char in[128];
    size_t kl = strlen(key);
    if (kl + sizeof WS_GUID > sizeof in)
        return BK_EINVAL;
    memcpy(in, key, kl);
    memcpy(in + kl, WS_GUID, sizeof WS_GUID);
    if (EVP_Digest(in, strlen(in), md, &md_len, EVP_sha1(), NULL) != 1 || md_len != 20)
        return BK_EIO;
    EVP_EncodeBlock((unsigned char *)out, md, 20);
    return 0;
}

static bool header_has(const char *v, const char *token)
{
    if (!v)
        return false;
    size_t n = strlen(token);
    for (const char *p = v; *p; p++)
        if (strncasecmp(p, token, n) == 0)
            return true;
    return false;
}

/* A Sec-WebSocket-Key as RFC 6455 4.2.1 has it: the base64 of 16 bytes
 * (22 characters of the alphabet, then "=="). */
static bool ws_key_ok(const char *key)
{
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    return key && strlen(key) == 24 && strspn(key, abc) == 22 && strcmp(key + 22, "==") == 0;
}

static void upgrade_handler(void *cls, struct MHD_Connection *conn, void *con_cls,
                            const char *extra_in, size_t extra_in_size, MHD_socket sock,
                            struct MHD_UpgradeResponseHandle *urh);

bk_http_rc bk_route_websocket(bk_api_req *r)
{
    bk_api *a = bk_http_api(r);
    bk_ws *w = a->ws;
    const char *key = bk_http_header(r, "Sec-WebSocket-Key");
    bk_phx_vsn vsn;
    if (!header_has(bk_http_header(r, "Upgrade"), "websocket") ||
        !header_has(bk_http_header(r, "Connection"), "upgrade"))
        return bk_http_error(r, 426, "upgrade_required",
                             "this is a WebSocket endpoint: send Upgrade: websocket");
    const char *version = bk_http_header(r, "Sec-WebSocket-Version");
    if (!version || strcmp(version, "13") != 0 || !ws_key_ok(key))
        return bk_http_error(r, 400, "bad_websocket_request",
                             "WebSocket version 13 with a Sec-WebSocket-Key is required");
    if (bk_phx_vsn_parse(bk_http_arg(r, "vsn"), &vsn) != 0)
        return bk_http_error(r, 400, "invalid_parameter",
                             "vsn: the serializers are 1.0.0 and 2.0.0");
    if (atomic_load(&a->stopping) || !w)
        return bk_http_error(r, 503, "shutting_down", "the server is stopping");
    if ((size_t)atomic_load(&w->n) >= w->max_sockets)
        return bk_http_error(r, 503, "too_many_sockets",
                             "realtime_max_sockets WebSockets are already open");
    char acc[32];
    if (accept_key(key, acc) != 0)
        return bk_http_error(r, 500, "internal", "cannot compute the handshake");
    struct MHD_Response *resp = MHD_create_response_for_upgrade(upgrade_handler, w);
    if (!resp)
        return BK_HTTP_DROP;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_UPGRADE, "websocket");
    MHD_add_response_header(resp, "Sec-WebSocket-Accept", acc);
    return bk_http__queue(r, MHD_HTTP_SWITCHING_PROTOCOLS, resp);
}

/* ---- wslay callbacks ---- */

static ssize_t ws_recv(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags, void *user)
{
    (void)flags;
    ws_conn *c = user;
    if (c->pre_off < c->pre_len) {
        size_t n = BK_MIN(len, c->pre_len - c->pre_off);
        memcpy(buf, c->pre + c->pre_off, n);
        c->pre_off += n;
        return (ssize_t)n;
    }
    ssize_t n = recv(c->fd, buf, len, 0);
    if (n > 0)
        return n;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
    else
        wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE); /* EOF or reset */
    return -1;
}

/* wslay's writes are gathered in c->out and written by flush() in one
 * system call per burst, not one (or two) per frame. */
static ssize_t ws_send(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags,
                       void *user)
{
    (void)flags;
    ws_conn *c = user;
    if (c->out_len == OUT_CAP) {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    if (!c->out)
        c->out = bk_xmalloc(OUT_CAP);
    size_t n = BK_MIN(len, OUT_CAP - c->out_len);
    memcpy(c->out + c->out_len, data, n);
    c->out_len += n;
    return (ssize_t)n;
}

/* Write what is gathered; 0 (all written, or the socket is full: EPOLLOUT
 * comes back) or -1 (the connection failed). */
static int flush(ws_conn *c)
{
    while (c->out_off < c->out_len) {
        ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
        if (n > 0) {
            c->out_off += (size_t)n;
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
            return 0;
        return -1;
    }
    c->out_off = c->out_len = 0;
    return 0;
}

/* Frame and write until wslay has nothing more or the socket is full. */
static int write_out(ws_conn *c)
{
    for (;;) {
        if (flush(c) != 0)
            return -1;
        if (c->out_len || !wslay_event_want_write(c->ws))
            return 0;
        if (wslay_event_send(c->ws) != 0)
            return -1;
        if (!c->out_len)
            return 0;
    }
}

static bool out_empty(const ws_conn *c)
{
    return c->out_len == 0 && !wslay_event_want_write(c->ws);
}

static void start_close(ws_conn *c, uint16_t code, const char *reason)
{
    if (c->closing)
        return;
    c->closing = true;
    c->deadline_us = bk_clock_mono_us() + CLOSE_GRACE_US;
    wslay_event_queue_close(c->ws, code, (const uint8_t *)reason, strlen(reason));
    wslay_event_shutdown_read(c->ws);
}

/* A client's access_token, checked as Realtime checks it (http.c; one
 * HMAC, never a store round trip). The key checked at connect time is not
 * checked again: a socket opened with a JWT that has expired since keeps
 * its channels, as on Realtime. */
static int rt_check_token(void *ctx, const char *token, char *reason, size_t cap)
{
    ws_conn *c = ctx;
    return bk_api__check_access_token(c->srv->api, token, reason, cap);
}

/* Closes c with 1008 when len more bytes would pass realtime_send_max:
 * frames rt.c queues, and the pongs wslay queues for a client's pings
 * (a client pinging without reading would pile them up without limit). */
static bool send_full(ws_conn *c, size_t len)
{
    size_t queued = wslay_event_get_queued_msg_length(c->ws);
    if (queued + len <= c->srv->send_max)
        return false;
    bk_log(BK_LOG_WARN, "realtime", "closing a socket that does not read queued=%zu", queued);
    start_close(c, 1008, "the client does not read fast enough");
    return true;
}

/* rt.c's frames: queued unless that would pass the socket's send cap. */
static void rt_send(void *ctx, const char *frame, size_t len)
{
    ws_conn *c = ctx;
    if (c->closing || send_full(c, len))
        return;
    struct wslay_event_msg m = {WSLAY_TEXT_FRAME, (const uint8_t *)frame, len};
    if (wslay_event_queue_msg(c->ws, &m) != 0)
        start_close(c, 1011, "internal error");
}

static void ws_on_msg(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *arg,
                      void *user)
{
    (void)ctx;
    ws_conn *c = user;
    if (c->closing || send_full(c, 0))
        return;
    c->deadline_us = bk_clock_mono_us() + c->srv->idle_us; /* any message, pings too */
    if (arg->opcode == WSLAY_BINARY_FRAME) {
        start_close(c, 1003, "binary frames are not supported");
    } else if (arg->opcode == WSLAY_TEXT_FRAME) {
        int code = bk_rtc_handle(c->rtc, (const char *)arg->msg, arg->msg_length);
        if (code)
            start_close(c, (uint16_t)code, "not a Phoenix message");
    }
}

static int ws_genmask(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, void *user)
{
    (void)ctx, (void)user;
    memset(buf, 0, len); /* servers do not mask */
    return 0;
}

static const struct wslay_event_callbacks ws_callbacks = {
    ws_recv, ws_send, ws_genmask, NULL, NULL, NULL, ws_on_msg,
};

/* ---- sockets ---- */

static void bus_notify(void *ctx)
{
    ws_conn *c = ctx;
    if (!atomic_exchange(&c->pending, true))
        wake(c->srv);
}

static void conn_free(ws_conn *c)
{
    bk_ws *w = c->srv;
    if (c->sub)
        bk_bus_unsubscribe(w->api->opts.bus, c->sub); /* no notify after this */
    if (c->fd >= 0)
        epoll_ctl(w->epfd, EPOLL_CTL_DEL, c->fd, NULL);
    if (c->ws)
        wslay_event_context_free(c->ws);
    bk_rtc_free(c->rtc);
    MHD_upgrade_action(c->urh, MHD_UPGRADE_ACTION_CLOSE);
    free(c->pre);
    free(c->out);
    free(c);
    atomic_fetch_sub(&w->n, 1);
}

static void upgrade_handler(void *cls, struct MHD_Connection *conn, void *con_cls,
                            const char *extra_in, size_t extra_in_size, MHD_socket sock,
                            struct MHD_UpgradeResponseHandle *urh)
{
    (void)con_cls;
    bk_ws *w = cls;
    bk_phx_vsn vsn = BK_PHX_V1;
    if (bk_phx_vsn_parse(MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "vsn"), &vsn))
        vsn = BK_PHX_V1; /* checked by the route */
    ws_conn *c = bk_xcalloc(1, sizeof *c);
    c->srv = w;
    c->fd = sock;
    c->urh = urh;
    /* the route checked the count; upgrades racing past it are closed here */
    bool over = (size_t)atomic_fetch_add(&w->n, 1) >= w->max_sockets;
    if (extra_in_size) {
        c->pre = bk_xmalloc(extra_in_size);
        memcpy(c->pre, extra_in, extra_in_size);
        c->pre_len = extra_in_size;
    }
    if (over) {
        c->fd = -1;
        conn_free(c);
        return;
    }
    int one = 1; /* frames are small and latency matters: no Nagle delay */
    setsockopt(sock, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    int fl = fcntl(sock, F_GETFL);
    if (fl < 0 || fcntl(sock, F_SETFL, fl | O_NONBLOCK) < 0 ||
        wslay_event_context_server_init(&c->ws, &ws_callbacks, c) != 0) {
        c->fd = -1;
        conn_free(c);
        return;
    }
    wslay_event_config_set_max_recv_msg_length(c->ws, w->max_message);
    bk_rtc_opts ro = {.vsn = vsn,
                      .max_channels = w->max_channels,
                      .send = rt_send,
                      .check_token = rt_check_token,
                      .ctx = c};
    c->rtc = bk_rtc_new(&ro);
    pthread_mutex_lock(&w->lock);
    bool stop = w->stop;
    if (!stop) {
        c->next = w->incoming;
        w->incoming = c;
    }
    pthread_mutex_unlock(&w->lock);
    if (stop) {
        c->fd = -1;
        conn_free(c);
        return;
    }
    wake(w);
}

/* After our close frame: read and discard until the client's end (closing
 * with unread input would reset the connection and could destroy the close
 * frame before the client reads it). True at end of stream. */
static bool drain(ws_conn *c)
{
    char buf[4096];
    for (int i = 0; i < 256; i++) {
        ssize_t n = recv(c->fd, buf, sizeof buf, 0);
        if (n > 0)
            continue;
        return n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
    }
    return false;
}

/* Read and write what the socket allows; dead when it is finished. */
static void conn_io(ws_conn *c)
{
    if (c->dead)
        return;
    if (c->closing && !wslay_event_get_read_enabled(c->ws)) {
        bool eof = drain(c);
        if (write_out(c) != 0 || (eof && out_empty(c)))
            c->dead = true;
        return;
    }
    if (wslay_event_recv(c->ws) != 0 || write_out(c) != 0) {
        c->dead = true;
        return;
    }
    if (!wslay_event_want_read(c->ws) && out_empty(c)) {
        c->dead = true;
    } else if (!c->closing &&
               (wslay_event_get_close_received(c->ws) || !wslay_event_get_read_enabled(c->ws))) {
        c->closing = true; /* wslay answered a close, or closed with 1009 itself */
        c->deadline_us = bk_clock_mono_us() + CLOSE_GRACE_US;
        conn_io(c);
    }
}

static void adopt(bk_ws *w, ws_conn *c)
{
    c->prev = NULL;
    c->next = w->head;
    if (w->head)
        w->head->prev = c;
    w->head = c;
    c->deadline_us = bk_clock_mono_us() + w->idle_us;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = c};
    if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, c->fd, &ev) != 0) {
        c->dead = true;
        return;
    }
    if (bk_bus_subscribe_changes(w->api->opts.bus, bus_notify, c, &c->sub) != 0) {
        c->sub = NULL;
        start_close(c, 1013, "too many subscribers, try again later");
    }
    conn_io(c); /* bytes that came with the head */
}

static void unlink_conn(bk_ws *w, ws_conn *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        w->head = c->next;
    if (c->next)
        c->next->prev = c->prev;
}

/* The queued changes of c into frames. */
static void deliver(bk_ws *w, ws_conn *c)
{
    bool dropped = false;
    const bk_change *ch;
    while (c->sub && (ch = bk_sub_next_change(c->sub, &dropped)) != NULL) {
        if (w->cached != ch) {
            bk_change_release(w->cached);
            bk_change_retain(ch);
            w->cached = ch;
            bk_buf_reset(&w->cached_data);
            bk_rt_render_data(&w->cached_data, ch);
        }
        if (!c->closing)
            bk_rtc_change(c->rtc, ch, w->cached_data.data);
        bk_change_release(ch);
    }
    if (dropped)
        start_close(c, 1011, "fell behind the changes");
    if (!c->dead && write_out(c) != 0)
        c->dead = true; /* only write: reading waits for the socket's own epoll event */
}

/* The eventfd fired: adopt new sockets, deliver changes, begin shutdown. */
static bool on_wake(bk_ws *w)
{
    uint64_t v;
    ssize_t n = read(w->evfd, &v, sizeof v);
    (void)n;
    pthread_mutex_lock(&w->lock);
    ws_conn *in = w->incoming;
    w->incoming = NULL;
    bool stop = w->stop;
    pthread_mutex_unlock(&w->lock);
    while (in) {
        ws_conn *next = in->next;
        adopt(w, in);
        in = next;
    }
    for (ws_conn *c = w->head; c; c = c->next) {
        if (atomic_exchange(&c->pending, false))
            deliver(w, c);
        if (stop && !c->closing) {
            start_close(c, 1001, "the server is stopping");
            conn_io(c);
        }
    }
    return stop;
}

/* Drop finished sockets and those past their close deadline, close idle
 * ones; returns the epoll timeout until the next deadline (-1: none). */
static int reap(bk_ws *w)
{
    int64_t now = bk_clock_mono_us(), next = -1;
    for (ws_conn *c = w->head, *nx; c; c = nx) {
        nx = c->next;
        if (!c->dead && !c->closing && now >= c->deadline_us) {
            start_close(c, 1000, "no message within realtime_idle_s");
            conn_io(c);
        }
        if (c->dead || (c->closing && now >= c->deadline_us)) {
            unlink_conn(w, c);
            conn_free(c);
        } else if (next < 0 || c->deadline_us < next) {
            next = c->deadline_us;
        }
    }
    return next < 0 ? -1 : (int)((next - now) / BK_US_PER_MS + 1);
}

static void *ws_main(void *arg)
{
    bk_ws *w = arg;
    bool stop = false;
    struct epoll_event evs[64];
    int timeout = -1;
    while (!stop || w->head) {
        int n = epoll_wait(w->epfd, evs, (int)BK_ARRAY_LEN(evs), timeout);
        for (int i = 0; i < n; i++) {
            if (evs[i].data.ptr == NULL)
                stop |= on_wake(w);
            else
                conn_io(evs[i].data.ptr);
        }
        timeout = reap(w);
    }
    bk_change_release(w->cached);
    w->cached = NULL;
    return NULL;
}

int bk_ws__start(bk_api *a, bk_err *err)
{
    const bk_conf *cf = a->opts.conf;
    bk_ws *w = bk_xcalloc(1, sizeof *w);
    w->api = a;
    w->max_sockets = (size_t)cf->realtime_max_sockets;
    w->max_channels = (size_t)cf->realtime_max_channels;
    w->max_message = (size_t)cf->realtime_max_message;
    w->send_max = (size_t)cf->realtime_send_max;
    w->idle_us = cf->realtime_idle_s * BK_US_PER_S;
    pthread_mutex_init(&w->lock, NULL);
    bk_buf_init(&w->cached_data);
    w->epfd = w->evfd = -1;
    w->epfd = epoll_create1(EPOLL_CLOEXEC);
    w->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    a->ws = w;
    if (w->epfd < 0 || w->evfd < 0 || epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->evfd, &ev) != 0 ||
        pthread_create(&w->thread, NULL, ws_main, w) != 0)
        return bk_err_set(err, BK_EIO, "cannot start the realtime socket thread: %s",
                          strerror(errno));
    w->started = true;
    return 0;
}

void bk_ws__stop(bk_api *a)
{
    bk_ws *w = a->ws;
    if (!w)
        return;
    pthread_mutex_lock(&w->lock);
    w->stop = true; /* an upgrade from now on is closed at once */
    pthread_mutex_unlock(&w->lock);
    if (w->started) {
        wake(w);
        pthread_join(w->thread, NULL);
        w->started = false;
    }
}

void bk_ws__free(bk_api *a)
{
    bk_ws *w = a->ws;
    if (!w)
        return;
    bk_ws__stop(a);
    if (w->epfd >= 0)
        close(w->epfd);
    if (w->evfd >= 0)
        close(w->evfd);
    bk_buf_fini(&w->cached_data);
    pthread_mutex_destroy(&w->lock);
    free(w);
    a->ws = NULL;
}

size_t bk_ws__sockets(const bk_api *a)
{
    return a->ws ? (size_t)atomic_load(&a->ws->n) : 0;
}
