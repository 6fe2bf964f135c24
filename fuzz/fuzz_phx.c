/*
 * fuzz_phx.c — fuzz target for the Phoenix messages of Realtime sockets
 * (api/phx.c) and the channel logic they drive (api/rt.c).
 *
 * The first input byte picks the serializer (bit 0: 1.0.0 or 2.0.0); the
 * rest is split at '\n' into messages handed one by one to a socket's
 * channels, then a job_runs change of each type is pushed through them.
 * Each message must decode or be refused (1007) without harm; a decoded
 * one must re-encode to a frame that decodes to the same fields; every
 * frame the channels send must be valid JSON of the socket's serializer;
 * a socket never holds more than its channel cap. access_tokens starting
 * with 'x' are refused. Violations abort.
 */
#include "api/phx.h"
#include "api/rt.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_CHANNELS 4

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok)
{
    if (!ok)
        abort();
}

static bk_phx_vsn vsn;

static bool same(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* Every server frame: a Phoenix message of this serializer (with an object
 * payload), as clients decode it. */
static void on_frame(void *ctx, const char *frame, size_t len)
{
    (void)ctx;
    bk_phx_msg m;
    bk_err err = {0};
    check(bk_phx_decode(&m, vsn, frame, len, &err) == 0);
    bk_phx_msg_fini(&m);
}

/* Tokens starting with 'x' are refused (a join error, a stopped channel). */
static int on_token(void *ctx, const char *token, char *reason, size_t cap)
{
    (void)ctx;
    if (token[0] != 'x')
        return 0;
    snprintf(reason, cap, "Invalid token: %.40s", token);
    return 1;
}

static void roundtrip(const char *msg, size_t len)
{
    bk_phx_msg m, again;
    bk_err err = {0};
    if (bk_phx_decode(&m, vsn, msg, len, &err) != 0) {
        check(m.doc == NULL && err.msg[0]);
        return;
    }
    bk_buf out;
    bk_buf_init(&out);
    bk_phx_encode(&out, vsn, m.join_ref, m.ref, m.topic, m.event, "{}");
    check(bk_phx_decode(&again, vsn, out.data, out.len, &err) == 0);
    check(same(m.ref, again.ref) && same(m.topic, again.topic) && same(m.event, again.event));
    check(vsn == BK_PHX_V1 || same(m.join_ref, again.join_ref));
    bk_phx_msg_fini(&again);
    bk_phx_msg_fini(&m);
    bk_buf_fini(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    vsn = data[0] & 1 ? BK_PHX_V2 : BK_PHX_V1;
    bk_rtc_opts o = {
        .vsn = vsn, .max_channels = MAX_CHANNELS, .send = on_frame, .check_token = on_token};
    bk_rtc *c = bk_rtc_new(&o);
    const char *p = (const char *)data + 1, *end = (const char *)data + size;
    while (p <= end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = (size_t)((nl ? nl : end) - p);
        roundtrip(p, n);
        int rc = bk_rtc_handle(c, p, n);
        check(rc == 0 || rc == 1007);
        check(bk_rtc_channels(c) <= MAX_CHANNELS);
        p += n + 1;
    }
    bk_run r;
    memset(&r, 0, sizeof r);
    snprintf(r.id, sizeof r.id, "7c9e6679-7425-40de-944b-e07fc1f90ae7");
    snprintf(r.symbol, sizeof r.symbol, "AAPL");
    const char *types[] = {"INSERT", "UPDATE", "DELETE"};
    for (int i = 0; i < 3; i++) {
        bk_change *ch = bk_change_run(types[i], &r, INT64_C(1767323045678000));
        bk_buf d;
        bk_buf_init(&d);
        bk_rt_render_data(&d, ch);
        bk_rtc_change(c, ch, d.data);
        bk_buf_fini(&d);
        bk_change_release(ch);
    }
    bk_rtc_free(c);
    return 0;
}
