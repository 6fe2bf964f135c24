/*
 * test_rt.c — the Realtime channels of one socket (api/rt.c) driven
 * directly, with changes built as the publishers build them: the exact
 * frames of joins, the postgres_changes push (ids of every matching
 * binding, Realtime's data shape, commit_timestamp with milliseconds),
 * filters and events that do not match, legacy topics, both serializers;
 * access_token checks in joins and access_token messages;
 * and the Phoenix decoder's refusals (api/phx.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api/phx.h"
#include "api/rt.h"

#define T0 INT64_C(1767323045678000) /* 2026-01-02T03:04:05.678Z */

typedef struct sink {
    char *frames[64];
    size_t n;
} sink;

static void capture(void *ctx, const char *frame, size_t len)
{
    sink *s = ctx;
    assert_true(s->n < 64);
    assert_int_equal(strlen(frame), len);
    s->frames[s->n++] = strdup(frame);
}

static void sink_clear(sink *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->frames[i]);
    s->n = 0;
}

static bk_rtc *new_rtc(sink *s, bk_phx_vsn vsn)
{
    bk_rtc_opts o = {.vsn = vsn, .max_channels = 10, .send = capture, .ctx = s};
    return bk_rtc_new(&o);
}

static void handle(bk_rtc *c, const char *msg)
{
    assert_int_equal(bk_rtc_handle(c, msg, strlen(msg)), 0);
}

static bk_change *run_change(const char *type, const char *symbol, const char *status,
                             double progress)
{
    bk_run r;
    memset(&r, 0, sizeof r);
    snprintf(r.id, sizeof r.id, "7c9e6679-7425-40de-944b-e07fc1f90ae7");
    snprintf(r.symbol, sizeof r.symbol, "%s", symbol);
    r.tf = BK_TF_1H;
    r.type = BK_JOB_INTRADAY;
    r.status = strcmp(status, "running") == 0 ? BK_ST_RUNNING : BK_ST_QUEUED;
    r.progress_percent = progress;
    r.created_us = T0;
    return bk_change_run(type, &r, T0);
}

/* Push c through the socket (rendered as the socket thread does). */
static void push(bk_rtc *rtc, const bk_change *c)
{
    bk_buf data;
    bk_buf_init(&data);
    bk_rt_render_data(&data, c);
    bk_rtc_change(rtc, c, data.data);
    bk_buf_fini(&data);
}

static void test_join_and_push_v2(void **state)
{
    (void)state;
    sink s = {0};
    bk_rtc *c = new_rtc(&s, BK_PHX_V2);
    handle(c, "[\"3\",\"3\",\"realtime:job_runs:AAPL:1h\",\"phx_join\",{\"config\":{"
              "\"postgres_changes\":[{\"event\":\"*\",\"schema\":\"public\",\"table\":\"job_runs\","
              "\"filter\":\"symbol=eq.AAPL\"},{\"event\":\"UPDATE\",\"schema\":\"public\","
              "\"table\":\"job_runs\",\"filter\":\"symbol=in.(AAPL,MSFT)\"},{\"event\":\"delete\","
              "\"schema\":\"public\",\"table\":\"job_runs\"}]},\"access_token\":\"t\"}]");
    assert_int_equal(s.n, 2);
    long long id0, id1, id2;
    assert_int_equal(
        sscanf(s.frames[0],
               "[\"3\",\"3\",\"realtime:job_runs:AAPL:1h\",\"phx_reply\",{\"status\":\"ok\","
               "\"response\":{\"postgres_changes\":[{\"event\":\"*\",\"schema\":\"public\","
               "\"table\":\"job_runs\",\"filter\":\"symbol=eq.AAPL\",\"id\":%lld},{\"event\":"
               "\"UPDATE\",\"schema\":\"public\",\"table\":\"job_runs\",\"filter\":\"symbol=in.("
               "AAPL,MSFT)\",\"id\":%lld},{\"event\":\"delete\",\"schema\":\"public\",\"table\":"
               "\"job_runs\",\"id\":%lld}]}}]",
               &id0, &id1, &id2),
        3);
    assert_true(id0 != id1 && id1 != id2 && id0 > 0);
    assert_string_equal(s.frames[1],
                        "[\"3\",null,\"realtime:job_runs:AAPL:1h\",\"system\",{\"extension\":"
                        "\"postgres_changes\",\"status\":\"ok\",\"message\":\"Subscribed to "
                        "PostgreSQL\",\"channel\":\"job_runs:AAPL:1h\"}]");
    sink_clear(&s);
    /* an UPDATE of AAPL matches the first two bindings */
    bk_change *ch = run_change("UPDATE", "AAPL", "running", 40);
    push(c, ch);
    assert_int_equal(s.n, 1);
    char head[256];
    snprintf(head, sizeof head,
             "[null,null,\"realtime:job_runs:AAPL:1h\",\"postgres_changes\",{\"ids\":[%lld,%lld],"
             "\"data\":{\"schema\":\"public\",\"table\":\"job_runs\",\"commit_timestamp\":"
             "\"2026-01-02T03:04:05.678Z\",\"type\":\"UPDATE\",\"columns\":[",
             id0, id1);
    assert_memory_equal(s.frames[0], head, strlen(head));
    assert_non_null(strstr(s.frames[0], "\"record\":{\"id\":\"7c9e6679"));
    assert_non_null(strstr(s.frames[0], "\"status\":\"running\""));
    assert_non_null(strstr(s.frames[0], "\"old_record\":{\"id\":\"7c9e6679"));
    assert_non_null(strstr(s.frames[0], "\"errors\":null}}]"));
    assert_non_null(strstr(s.frames[0], "{\"name\":\"progress_percent\",\"type\":"));
    bk_change_release(ch);
    sink_clear(&s);
    /* an INSERT of AAPL: only the "*" binding; no old_record */
    ch = run_change("INSERT", "AAPL", "queued", 0);
    push(c, ch);
    assert_int_equal(s.n, 1);
    snprintf(head, sizeof head, "{\"ids\":[%lld],\"data\"", id0);
    assert_non_null(strstr(s.frames[0], head));
    assert_null(strstr(s.frames[0], "old_record"));
    bk_change_release(ch);
    sink_clear(&s);
    /* another symbol's INSERT: nothing; its UPDATE: the in-list binding */
    ch = run_change("INSERT", "MSFT", "queued", 0);
    push(c, ch);
    assert_int_equal(s.n, 0);
    bk_change_release(ch);
    ch = run_change("UPDATE", "IBM", "running", 10);
    push(c, ch);
    assert_int_equal(s.n, 0);
    bk_change_release(ch);
    /* after leave: reply, close, and no more pushes */
    handle(c, "[\"3\",\"4\",\"realtime:job_runs:AAPL:1h\",\"phx_leave\",{}]");
    assert_int_equal(s.n, 2);
    assert_string_equal(s.frames[0], "[\"3\",\"4\",\"realtime:job_runs:AAPL:1h\",\"phx_reply\","
                                     "{\"status\":\"ok\",\"response\":{}}]");
    assert_string_equal(s.frames[1],
                        "[\"3\",\"3\",\"realtime:job_runs:AAPL:1h\",\"phx_close\",{}]");
    sink_clear(&s);
    ch = run_change("UPDATE", "AAPL", "running", 50);
    push(c, ch);
    assert_int_equal(s.n, 0);
    bk_change_release(ch);
    assert_int_equal(bk_rtc_channels(c), 0);
    bk_rtc_free(c);
}

static void test_v1_and_legacy(void **state)
{
    (void)state;
    sink s = {0};
    bk_rtc *c = new_rtc(&s, BK_PHX_V1);
    handle(c, "{\"topic\":\"phoenix\",\"event\":\"heartbeat\",\"payload\":{},\"ref\":\"7\"}");
    assert_string_equal(s.frames[0], "{\"topic\":\"phoenix\",\"event\":\"phx_reply\",\"payload\":"
                                     "{\"status\":\"ok\",\"response\":{}},\"ref\":\"7\"}");
    sink_clear(&s);
    /* legacy: the topic names schema, table and filter; events by type */
    handle(c, "{\"topic\":\"realtime:public:job_runs:symbol=eq.AAPL\",\"event\":\"phx_join\","
              "\"payload\":{},\"ref\":\"1\",\"join_ref\":\"1\"}");
    assert_int_equal(s.n, 2);
    assert_string_equal(s.frames[0],
                        "{\"topic\":\"realtime:public:job_runs:symbol=eq.AAPL\",\"event\":"
                        "\"phx_reply\",\"payload\":{\"status\":\"ok\",\"response\":{}},\"ref\":"
                        "\"1\"}");
    sink_clear(&s);
    bk_change *ch = run_change("INSERT", "AAPL", "queued", 0);
    push(c, ch);
    assert_int_equal(s.n, 1);
    const char *want = "{\"topic\":\"realtime:public:job_runs:symbol=eq.AAPL\",\"event\":"
                       "\"INSERT\",\"payload\":{\"schema\":\"public\",\"table\":\"job_runs\"";
    assert_memory_equal(s.frames[0], want, strlen(want));
    assert_non_null(strstr(s.frames[0], ",\"ref\":null}"));
    bk_change_release(ch);
    sink_clear(&s);
    ch = run_change("INSERT", "MSFT", "queued", 0);
    push(c, ch);
    assert_int_equal(s.n, 0);
    bk_change_release(ch);
    /* a legacy topic on a table that does not exist: the system error */
    handle(c, "{\"topic\":\"realtime:public:nope\",\"event\":\"phx_join\",\"payload\":{},"
              "\"ref\":\"2\",\"join_ref\":\"2\"}");
    assert_int_equal(s.n, 2);
    assert_non_null(strstr(s.frames[1], "\"event\":\"system\""));
    assert_non_null(strstr(s.frames[1], "\"status\":\"error\""));
    sink_clear(&s);
    bk_rtc_free(c);
}

static void test_join_errors(void **state)
{
    (void)state;
    sink s = {0};
    bk_rtc *c = new_rtc(&s, BK_PHX_V2);
    /* the wrong shape: an error reply, nothing joined */
    handle(c, "[\"1\",\"1\",\"realtime:a\",\"phx_join\",{\"config\":{\"postgres_changes\":7}}]");
    assert_string_equal(s.frames[0],
                        "[\"1\",\"1\",\"realtime:a\",\"phx_reply\",{\"status\":\"error\","
                        "\"response\":{\"reason\":\"config.postgres_changes must be an array\"}}]");
    assert_int_equal(bk_rtc_channels(c), 0);
    sink_clear(&s);
    /* a filter too long to take: the reason says so */
    char join[1400];
    snprintf(join, sizeof join,
             "[\"1\",\"1\",\"realtime:a\",\"phx_join\",{\"config\":{\"postgres_changes\":[{"
             "\"event\":\"*\",\"schema\":\"public\",\"filter\":\"symbol=eq.%01200d\"}]}}]",
             0);
    handle(c, join);
    assert_non_null(strstr(s.frames[0], "\"status\":\"error\""));
    assert_non_null(strstr(s.frames[0], "(strings of at most 1024 bytes)"));
    assert_int_equal(bk_rtc_channels(c), 0);
    sink_clear(&s);
    /* a bad operator: ok, then the system error; the channel gets nothing */
    handle(c, "[\"2\",\"2\",\"realtime:b\",\"phx_join\",{\"config\":{\"postgres_changes\":[{"
              "\"event\":\"*\",\"schema\":\"public\",\"table\":\"job_runs\",\"filter\":"
              "\"symbol=foo.AAPL\"}]}}]");
    assert_int_equal(s.n, 2);
    assert_non_null(strstr(s.frames[0], "\"status\":\"ok\""));
    assert_non_null(
        strstr(s.frames[1], "\"status\":\"error\",\"message\":\"Error parsing `filter` params"));
    sink_clear(&s);
    bk_change *ch = run_change("INSERT", "AAPL", "queued", 0);
    push(c, ch);
    assert_int_equal(s.n, 0);
    bk_change_release(ch);
    /* no postgres_changes: an empty list, no system message */
    handle(c, "[\"3\",\"3\",\"realtime:c\",\"phx_join\",{\"config\":{\"broadcast\":{}}}]");
    assert_int_equal(s.n, 1);
    assert_string_equal(s.frames[0], "[\"3\",\"3\",\"realtime:c\",\"phx_reply\",{\"status\":\"ok\","
                                     "\"response\":{\"postgres_changes\":[]}}]");
    sink_clear(&s);
    /* not Phoenix at all: close 1007 */
    const char *bad[] = {"",
                         "{",
                         "[1,2,3,4,5]",
                         "[null,null,\"t\",\"e\",[]]",
                         "[null,null,\"\",\"e\",{}]",
                         "{\"topic\":\"t\"}",
                         "\"x\""};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_int_equal(bk_rtc_handle(c, bad[i], strlen(bad[i])), 1007);
    assert_int_equal(s.n, 0);
    bk_rtc_free(c);
}

/* The token check of the test: "good" and anything else not "expired" or
 * "forged" pass. */
static int check_token(void *ctx, const char *token, char *reason, size_t cap)
{
    (void)ctx;
    if (strcmp(token, "expired") == 0)
        return snprintf(reason, cap, "Token has expired 5 seconds ago"), 1;
    if (strcmp(token, "forged") == 0)
        return snprintf(reason, cap, "Invalid token: bad signature"), 1;
    return 0;
}

#define JOIN_PC(ref, topic, token)                                                                 \
    "[\"" ref "\",\"" ref "\",\"realtime:" topic "\",\"phx_join\",{\"config\":{"                   \
    "\"postgres_changes\":[{\"event\":\"*\",\"schema\":\"public\",\"table\":\"job_runs\"}]},"      \
    "\"access_token\":" token "}]"

static void test_access_token(void **state)
{
    (void)state;
    sink s = {0};
    bk_rtc_opts o = {.vsn = BK_PHX_V2,
                     .max_channels = 10,
                     .send = capture,
                     .check_token = check_token,
                     .ctx = &s};
    bk_rtc *c = bk_rtc_new(&o);
    /* a refused token in the join: the error reply with the reason, no channel */
    handle(c, JOIN_PC("1", "a", "\"expired\""));
    assert_int_equal(s.n, 1);
    assert_string_equal(s.frames[0], "[\"1\",\"1\",\"realtime:a\",\"phx_reply\",{\"status\":"
                                     "\"error\",\"response\":{\"reason\":\"Token has expired 5 "
                                     "seconds ago\"}}]");
    assert_int_equal(bk_rtc_channels(c), 0);
    sink_clear(&s);
    handle(c, JOIN_PC("2", "a", "7"));
    assert_non_null(
        strstr(s.frames[0], "\"reason\":\"Invalid token: access_token must be a string\""));
    assert_int_equal(bk_rtc_channels(c), 0);
    sink_clear(&s);
    bk_change *ch = run_change("INSERT", "AAPL", "queued", 0);
    push(c, ch);
    assert_int_equal(s.n, 0);
    /* accepted (and null: the connect-time key applies): joined */
    handle(c, JOIN_PC("3", "a", "\"good\""));
    handle(c, JOIN_PC("4", "b", "null"));
    assert_int_equal(s.n, 4);
    assert_non_null(strstr(s.frames[0], "\"status\":\"ok\""));
    assert_non_null(strstr(s.frames[2], "\"status\":\"ok\""));
    assert_int_equal(bk_rtc_channels(c), 2);
    sink_clear(&s);
    /* a good token (or none) in an access_token message: no reply, still served */
    handle(c, "[\"3\",\"5\",\"realtime:a\",\"access_token\",{\"access_token\":\"good\"}]");
    handle(c, "[\"3\",\"6\",\"realtime:a\",\"access_token\",{}]");
    assert_int_equal(s.n, 0);
    push(c, ch);
    assert_int_equal(s.n, 2);
    sink_clear(&s);
    /* an expired one: the system error, then phx_close; no reply; the
     * channel gets nothing more, the other channel still does */
    handle(c, "[\"3\",\"7\",\"realtime:a\",\"access_token\",{\"access_token\":\"expired\"}]");
    assert_int_equal(s.n, 2);
    assert_string_equal(s.frames[0], "[\"3\",null,\"realtime:a\",\"system\",{\"extension\":"
                                     "\"system\",\"status\":\"error\",\"message\":\"Token has "
                                     "expired 5 seconds ago\",\"channel\":\"a\"}]");
    assert_string_equal(s.frames[1], "[\"3\",\"3\",\"realtime:a\",\"phx_close\",{}]");
    assert_int_equal(bk_rtc_channels(c), 1);
    sink_clear(&s);
    push(c, ch);
    assert_int_equal(s.n, 1);
    assert_non_null(strstr(s.frames[0], "\"realtime:b\""));
    sink_clear(&s);
    /* the stopped topic is unknown now */
    handle(c, "[\"3\",\"8\",\"realtime:a\",\"access_token\",{\"access_token\":\"forged\"}]");
    assert_int_equal(s.n, 1);
    assert_non_null(strstr(s.frames[0], "unmatched topic"));
    sink_clear(&s);
    bk_change_release(ch);
    bk_rtc_free(c);
    /* no check_token: any token is accepted */
    c = new_rtc(&s, BK_PHX_V2);
    handle(c, JOIN_PC("1", "a", "\"expired\""));
    assert_int_equal(bk_rtc_channels(c), 1);
    handle(c, "[\"1\",\"2\",\"realtime:a\",\"access_token\",{\"access_token\":\"expired\"}]");
    assert_int_equal(bk_rtc_channels(c), 1);
    sink_clear(&s);
    bk_rtc_free(c);
}

static void test_vsn(void **state)
{
    (void)state;
    bk_phx_vsn v;
    assert_int_equal(bk_phx_vsn_parse(NULL, &v), 0);
    assert_int_equal(v, BK_PHX_V1);
    assert_int_equal(bk_phx_vsn_parse("2.0.0", &v), 0);
    assert_int_equal(v, BK_PHX_V2);
    assert_int_equal(bk_phx_vsn_parse("1.0.0", &v), 0);
    assert_int_equal(v, BK_PHX_V1);
    assert_int_equal(bk_phx_vsn_parse("3.0.0", &v), BK_EINVAL);
    assert_int_equal(bk_phx_vsn_parse("2.x", &v), BK_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_join_and_push_v2),
        cmocka_unit_test(test_v1_and_legacy),
        cmocka_unit_test(test_join_errors),
        cmocka_unit_test(test_access_token),
        cmocka_unit_test(test_vsn),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
