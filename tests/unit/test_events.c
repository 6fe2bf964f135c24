/*
 * test_events.c — the live-progress event bus (api/events.c): ids, the
 * postgres_changes payload, filters, Last-Event-ID replay and reset, queue
 * overflow, notify on empty→non-empty only, the byte budget of a read, and
 * unsubscribe racing two publishers (run under ThreadSanitizer too). Frames
 * leaked or freed too early show up under AddressSanitizer.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api/events.h"
#include "json/jr.h"
#include "model/tf.h"

#define BIG ((size_t)1 << 30)

static const bk_bus_opts SMALL = {.ring_size = 8, .max_clients = 8, .client_queue = 4};

static bk_run mkrun(const char *id, const char *symbol, bk_tf tf)
{
    bk_run r;
    memset(&r, 0, sizeof r);
    snprintf(r.id, sizeof r.id, "%s", id);
    snprintf(r.symbol, sizeof r.symbol, "%s", symbol);
    r.tf = tf;
    r.type = BK_JOB_INTRADAY;
    r.status = BK_ST_RUNNING;
    r.progress_percent = 42.5;
    r.rows_written = 7;
    r.attempt = 1;
    r.created_us = INT64_C(1717421400000000); /* 2024-06-03T13:30:00Z */
    return r;
}

static uint64_t pub(bk_bus *b, const char *symbol, bk_tf tf)
{
    bk_run r = mkrun("run-x", symbol, tf);
    return bk_bus_publish_run(b, "UPDATE", &r, 0);
}

/* Ids of the job_runs frames in text, in order, into ids; returns how many.
 * Every frame must be well formed. */
static size_t frame_ids(const char *text, uint64_t *ids, size_t cap)
{
    size_t n = 0;
    const char *p = text;
    while (*p) {
        const char *end = strstr(p, "\n\n");
        assert_non_null(end);
        if (strncmp(p, "id: ", 4) == 0) {
            assert_true(n < cap);
            ids[n++] = strtoull(p + 4, NULL, 10);
            assert_non_null(strstr(p, "\nevent: job_runs\ndata: {"));
        }
        p = end + 2;
    }
    return n;
}

static size_t read_ids(bk_sub *s, uint64_t *ids, size_t cap)
{
    bk_buf out;
    bk_buf_init(&out);
    int rc = bk_sub_read(s, &out, BIG);
    assert_true(rc >= 0);
    size_t n = out.data ? frame_ids(out.data, ids, cap) : 0;
    bk_buf_fini(&out);
    return n;
}

static void expect_ids(bk_sub *s, const uint64_t *want, size_t n_want)
{
    uint64_t got[256];
    size_t n = read_ids(s, got, 256);
    assert_int_equal(n, n_want);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(got[i], want[i]);
}

static void test_ids_from_one(void **state)
{
    (void)state;
    bk_bus *b;
    assert_int_equal(bk_bus_new(&b, NULL), 0);
    assert_int_equal(bk_bus_last_id(b), 0);
    assert_int_equal(bk_bus_clients(b), 0);
    for (uint64_t i = 1; i <= 20; i++)
        assert_int_equal(pub(b, "AAPL", BK_TF_1H), i);
    assert_int_equal(bk_bus_last_id(b), 20);
    bk_bus_free(b);
}

static const bk_jval *get(const bk_jval *o, const char *k)
{
    const bk_jval *v = bk_jv_get(o, k);
    assert_non_null(v);
    return v;
}

static void expect_str(const bk_jval *o, const char *k, const char *want)
{
    const char *s;
    assert_int_equal(bk_jv_str(get(o, k), &s, NULL), 0);
    assert_string_equal(s, want);
}

static void test_payload_shape(void **state)
{
    (void)state;
    bk_bus *b;
    bk_sub *s;
    assert_int_equal(bk_bus_new(&b, NULL), 0);
    assert_int_equal(bk_bus_subscribe(b, "", -1, 0, NULL, NULL, &s), 0);
    bk_run r = mkrun("3f1c-run", "AAPL", BK_TF_1H);
    snprintf(r.error_message, sizeof r.error_message, "line1\nline2 \"q\"");
    assert_int_equal(bk_bus_publish_run(b, "INSERT", &r, INT64_C(1717421400000000)), 1);

    bk_buf out;
    bk_buf_init(&out);
    assert_int_equal(bk_sub_read(s, &out, BIG), 1);
    const char *head = "id: 1\nevent: job_runs\ndata: ";
    assert_memory_equal(out.data, head, strlen(head));
    const char *data = out.data + strlen(head);
    const char *nl = strchr(data, '\n');
    assert_non_null(nl);
    assert_string_equal(nl, "\n\n"); /* the payload is one line, then the frame ends */

    bk_jdoc *d;
    assert_int_equal(bk_jdoc_parse(&d, data, (size_t)(nl - data), NULL), 0);
    const bk_jval *root = bk_jdoc_root(d);
    expect_str(root, "type", "INSERT");
    expect_str(root, "schema", "public");
    expect_str(root, "table", "job_runs");
    expect_str(root, "commit_timestamp", "2024-06-03T13:30:00Z");
    assert_int_equal(bk_jv_type(get(root, "errors")), BK_JT_NULL);
    expect_str(get(root, "old_record"), "id", "3f1c-run");
    const bk_jval *rec = get(root, "record");
    expect_str(rec, "id", "3f1c-run");
    expect_str(rec, "symbol", "AAPL");
    expect_str(rec, "timeframe", "1h");
    expect_str(rec, "status", "running");
    expect_str(rec, "error_message", "line1\nline2 \"q\"");
    expect_str(rec, "created_at", "2024-06-03T13:30:00Z");
    double pct;
    int64_t rows;
    assert_int_equal(bk_jv_num(get(rec, "progress_percent"), &pct), 0);
    assert_true(pct == 42.5);
    assert_int_equal(bk_jv_int(get(rec, "rows_written"), &rows), 0);
    assert_int_equal(rows, 7);
    assert_int_equal(bk_jv_type(get(rec, "finished_at")), BK_JT_NULL);
    bk_jdoc_free(d);

    bk_buf_fini(&out);
    bk_bus_unsubscribe(b, s);
    bk_bus_free(b);
}

static void test_filters(void **state)
{
    (void)state;
    bk_bus *b;
    bk_sub *any, *sym, *tf, *both;
    assert_int_equal(bk_bus_new(&b, NULL), 0);
    assert_int_equal(bk_bus_subscribe(b, "", -1, 0, NULL, NULL, &any), 0);
    assert_int_equal(bk_bus_subscribe(b, "AAPL", -1, 0, NULL, NULL, &sym), 0);
    assert_int_equal(bk_bus_subscribe(b, NULL, BK_TF_1H, 0, NULL, NULL, &tf), 0);
    assert_int_equal(bk_bus_subscribe(b, "AAPL", BK_TF_1H, 0, NULL, NULL, &both), 0);
    assert_int_equal(bk_bus_clients(b), 4);
    pub(b, "AAPL", BK_TF_1H);  /* 1 */
    pub(b, "AAPL", BK_TF_1M);  /* 2 */
    pub(b, "MSFT", BK_TF_1H);  /* 3 */
    pub(b, "MSFT", BK_TF_D1);  /* 4 */
    pub(b, "AAPLX", BK_TF_1H); /* 5: no prefix matching */
    expect_ids(any, (const uint64_t[]){1, 2, 3, 4, 5}, 5);
    expect_ids(sym, (const uint64_t[]){1, 2}, 2);
    expect_ids(tf, (const uint64_t[]){1, 3, 5}, 3);
    expect_ids(both, (const uint64_t[]){1}, 1);
    bk_bus_unsubscribe(b, any);
    bk_bus_unsubscribe(b, sym);
    bk_bus_unsubscribe(b, tf);
    bk_bus_unsubscribe(b, both);
    assert_int_equal(bk_bus_clients(b), 0);
    bk_bus_free(b);
}

static void test_replay(void **state)
{
    (void)state;
    bk_bus *b;
    bk_sub *s, *all, *none, *cur;
    assert_int_equal(bk_bus_new(&b, &SMALL), 0);
    pub(b, "AAPL", BK_TF_1H); /* 1 */
    pub(b, "MSFT", BK_TF_1H); /* 2 */
    pub(b, "AAPL", BK_TF_1H); /* 3 */
    pub(b, "MSFT", BK_TF_1H); /* 4 */
    pub(b, "AAPL", BK_TF_1M); /* 5 */
    pub(b, "AAPL", BK_TF_1H); /* 6 */
    /* s missed 3..6 and gets the AAPL 1h ones among them, in order; "all"
     * gets a replay of 5, more than its client_queue of 4, without a drop. */
    assert_int_equal(bk_bus_subscribe(b, "AAPL", BK_TF_1H, 2, NULL, NULL, &s), 0);
    assert_int_equal(bk_bus_subscribe(b, "", -1, 1, NULL, NULL, &all), 0);
    assert_int_equal(bk_bus_subscribe(b, "", -1, 0, NULL, NULL, &none), 0);
    assert_int_equal(bk_bus_subscribe(b, "", -1, 6, NULL, NULL, &cur), 0);
    pub(b, "AAPL", BK_TF_1H); /* 7 */
    expect_ids(s, (const uint64_t[]){3, 6, 7}, 3);
    expect_ids(all, (const uint64_t[]){2, 3, 4, 5, 6, 7}, 6);
    expect_ids(none, (const uint64_t[]){7}, 1);
    expect_ids(cur, (const uint64_t[]){7}, 1);
    bk_bus_unsubscribe(b, s);
    bk_bus_unsubscribe(b, all);
    bk_bus_unsubscribe(b, none);
    bk_bus_unsubscribe(b, cur);
    bk_bus_free(b);
}

static void expect_reset(bk_bus *b, uint64_t last_event_id, uint64_t next_id)
{
    bk_sub *s;
    assert_int_equal(bk_bus_subscribe(b, "", -1, last_event_id, NULL, NULL, &s), 0);
    assert_int_equal(pub(b, "AAPL", BK_TF_1H), next_id);
    bk_buf out;
    bk_buf_init(&out);
    assert_int_equal(bk_sub_read(s, &out, BIG), 1);
    const char *reset = "event: reset\ndata: {";
    assert_memory_equal(out.data, reset, strlen(reset));
    const char *second = strstr(out.data, "\n\n") + 2;
    uint64_t ids[4];
    assert_int_equal(frame_ids(second, ids, 4), 1);
    assert_int_equal(ids[0], next_id);
    assert_null(strstr(out.data, "event: reset\nid:"));
    bk_buf_fini(&out);
    bk_bus_unsubscribe(b, s);
}

static void test_reset_when_too_old(void **state)
{
    (void)state;
    bk_bus *b;
    bk_sub *s;
    assert_int_equal(bk_bus_new(&b, &SMALL), 0); /* ring of 8 */
    for (int i = 0; i < 20; i++)
        pub(b, "AAPL", BK_TF_1H);
    /* Ring holds 13..20: Last-Event-ID 12 misses nothing that is gone. */
    assert_int_equal(bk_bus_subscribe(b, "", -1, 12, NULL, NULL, &s), 0);
    expect_ids(s, (const uint64_t[]){13, 14, 15, 16, 17, 18, 19, 20}, 8);
    bk_bus_unsubscribe(b, s);
    expect_reset(b, 11, 21);  /* 12 is gone */
    expect_reset(b, 1, 22);   /* long gone */
    expect_reset(b, 500, 23); /* an id from a previous process */
    bk_bus_free(b);
}

static void test_overflow_drops(void **state)
{
    (void)state;
    bk_bus *b;
    bk_sub *slow, *fast;
    assert_int_equal(bk_bus_new(&b, &SMALL), 0); /* queue of 4 */
    assert_int_equal(bk_bus_subscribe(b, "", -1, 0, NULL, NULL, &slow), 0);
    assert_int_equal(bk_bus_subscribe(b, "", -1, 0, NULL, NULL, &fast), 0);
    for (uint64_t i = 1; i <= 4; i++) {
        pub(b, "AAPL", BK_TF_1H);
        expect_ids(fast, &i, 1);
    }
    pub(b, "AAPL", BK_TF_1H); /* 5: slow's fifth → dropped */
    bk_buf out;
    bk_buf_init(&out);
    bk_buf_puts(&out, "keep:");
    assert_int_equal(bk_sub_read(slow, &out, BIG), -1);
    assert_string_equal(out.data,
                        "keep:event: dropped\ndata: {\"reason\":\"client fell behind\"}\n\n");
    for (int i = 0; i < 3; i++) {
        pub(b, "AAPL", BK_TF_1H);
        bk_buf_reset(&out);
        assert_int_equal(bk_sub_read(slow, &out, BIG), -1);
        assert_int_equal(out.len, 0);
    }
    expect_ids(fast, (const uint64_t[]){5, 6, 7, 8}, 4);
    assert_int_equal(bk_bus_clients(b), 2);
    bk_buf_fini(&out);
    bk_bus_unsubscribe(b, slow);
    bk_bus_unsubscribe(b, fast);
    bk_bus_free(b);
}

static void test_publisher_never_blocks(void **state)
{
    (void)state;
    bk_bus *b;
    bk_sub *idle, *reader;
    bk_bus_opts o = {.ring_size = 64, .max_clients = 4, .client_queue = 16};
    assert_int_equal(bk_bus_new(&b, &o), 0);
    assert_int_equal(bk_bus_subscribe(b, "", -1, 0, NULL, NULL, &idle), 0);
    assert_int_equal(bk_bus_subscribe(b, "", -1, 0, NULL, NULL, &reader), 0);
    uint64_t got = 0;
    for (uint64_t i = 1; i <= 160; i++) {
        assert_int_equal(pub(b, "AAPL", BK_TF_1H), i);
        if (i % 8 == 0) {
            uint64_t ids[16];
            got += read_ids(reader, ids, 16);
        }
    }
    assert_int_equal(got, 160);
    bk_buf out;
    bk_buf_init(&out);
    assert_int_equal(bk_sub_read(idle, &out, BIG), -1);
    bk_buf_fini(&out);
    bk_bus_unsubscribe(b, idle);
    bk_bus_unsubscribe(b, reader);
    bk_bus_free(b);
}

static void test_max_clients(void **state)
{
    (void)state;
    bk_bus *b;
    bk_sub *s[3];
    bk_bus_opts o = {.max_clients = 2};
    assert_int_equal(bk_bus_new(&b, &o), 0);
    assert_int_equal(bk_bus_subscribe(b, "", -1, 0, NULL, NULL, &s[0]), 0);
    assert_int_equal(bk_bus_subscribe(b, "", -1, 0, NULL, NULL, &s[1]), 0);
    assert_int_equal(bk_bus_subscribe(b, "", -1, 0, NULL, NULL, &s[2]), BK_EBUSY);
    assert_null(s[2]);
    assert_int_equal(bk_bus_clients(b), 2);
    bk_bus_unsubscribe(b, s[0]);
    assert_int_equal(bk_bus_subscribe(b, "", -1, 0, NULL, NULL, &s[2]), 0);
    pub(b, "AAPL", BK_TF_1H);
    expect_ids(s[1], (const uint64_t[]){1}, 1);
    expect_ids(s[2], (const uint64_t[]){1}, 1);
    bk_bus_unsubscribe(b, s[1]);
    bk_bus_unsubscribe(b, s[2]);
    bk_bus_free(b);
}

static void count_notify(void *ctx)
{
    (*(int *)ctx)++;
}

static void test_notify_on_empty_only(void **state)
{
    (void)state;
    bk_bus *b;
    bk_sub *s;
    int calls = 0;
    assert_int_equal(bk_bus_new(&b, &SMALL), 0); /* queue of 4 */
    assert_int_equal(bk_bus_subscribe(b, "AAPL", -1, 0, count_notify, &calls, &s), 0);
    assert_int_equal(calls, 0);
    pub(b, "AAPL", BK_TF_1H);
    pub(b, "AAPL", BK_TF_1H);
    pub(b, "MSFT", BK_TF_1H);
    assert_int_equal(calls, 1);
    expect_ids(s, (const uint64_t[]){1, 2}, 2);
    pub(b, "MSFT", BK_TF_1H); /* not for s */
    assert_int_equal(calls, 1);
    pub(b, "AAPL", BK_TF_1H);
    assert_int_equal(calls, 2);
    /* A partial read leaves the queue non-empty: no notify for the next. */
    pub(b, "AAPL", BK_TF_1H);
    bk_buf out;
    bk_buf_init(&out);
    assert_int_equal(bk_sub_read(s, &out, 1), 1);
    pub(b, "AAPL", BK_TF_1H);
    assert_int_equal(calls, 2);
    /* Queue at 2 of 4: two more fill it, the third drops (and notifies). */
    pub(b, "AAPL", BK_TF_1H);
    pub(b, "AAPL", BK_TF_1H);
    assert_int_equal(calls, 2);
    pub(b, "AAPL", BK_TF_1H);
    assert_int_equal(calls, 3);
    pub(b, "AAPL", BK_TF_1H);
    assert_int_equal(calls, 3);
    bk_buf_reset(&out);
    assert_int_equal(bk_sub_read(s, &out, BIG), -1);
    bk_buf_fini(&out);
    bk_bus_unsubscribe(b, s);
    pub(b, "AAPL", BK_TF_1H);
    assert_int_equal(calls, 3);
    bk_bus_free(b);
}

static void test_read_max_bytes(void **state)
{
    (void)state;
    bk_bus *b;
    bk_sub *s;
    bk_bus_opts o = {.ring_size = 16, .client_queue = 512};
    assert_int_equal(bk_bus_new(&b, &o), 0);
    assert_int_equal(bk_bus_subscribe(b, "", -1, 0, NULL, NULL, &s), 0);
    bk_buf out;
    bk_buf_init(&out);
    assert_int_equal(bk_sub_read(s, &out, BIG), 0);
    assert_int_equal(out.len, 0);

    for (int i = 0; i < 5; i++) /* ids 1..5: all one digit, same length */
        pub(b, "AAPL", BK_TF_1H);
    assert_int_equal(bk_sub_read(s, &out, 1), 1); /* one frame even over budget */
    size_t len = out.len;
    uint64_t ids[8];
    assert_int_equal(frame_ids(out.data, ids, 8), 1);
    bk_buf_reset(&out);
    assert_int_equal(bk_sub_read(s, &out, 2 * len + len / 2), 1);
    assert_int_equal(out.len, 2 * len);
    assert_int_equal(frame_ids(out.data, ids, 8), 2);
    assert_int_equal(ids[0], 2);
    assert_int_equal(ids[1], 3);
    bk_buf_reset(&out);
    assert_int_equal(bk_sub_read(s, &out, 2 * len), 1); /* exactly fits */
    assert_int_equal(out.len, 2 * len);
    bk_buf_reset(&out);
    assert_int_equal(bk_sub_read(s, &out, BIG), 0);

    /* More than one trip under the lock (batches of 64). */
    for (int i = 0; i < 300; i++)
        pub(b, "AAPL", BK_TF_1H);
    bk_buf_reset(&out);
    assert_int_equal(bk_sub_read(s, &out, BIG), 1);
    uint64_t many[300];
    assert_int_equal(frame_ids(out.data, many, 300), 300);
    for (uint64_t i = 0; i < 300; i++)
        assert_int_equal(many[i], 6 + i);
    bk_buf_fini(&out);
    bk_bus_unsubscribe(b, s);
    bk_bus_free(b);
}

/* Frames outlive their eviction from the ring while queued, and queued
 * frames are released by unsubscribe and bus_free (ASan checks both). */
static void test_frame_lifetimes(void **state)
{
    (void)state;
    bk_bus *b;
    bk_sub *s, *left;
    bk_bus_opts o = {.ring_size = 2, .client_queue = 100};
    assert_int_equal(bk_bus_new(&b, &o), 0);
    assert_int_equal(bk_bus_subscribe(b, "", -1, 0, NULL, NULL, &s), 0);
    assert_int_equal(bk_bus_subscribe(b, "", -1, 0, NULL, NULL, &left), 0);
    for (int i = 0; i < 10; i++)
        pub(b, "AAPL", BK_TF_1H);
    expect_ids(s, (const uint64_t[]){1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 10);
    bk_bus_unsubscribe(b, s);
    bk_bus_unsubscribe(b, left); /* with 10 frames still queued */
    bk_bus_free(b);
    bk_bus_free(NULL);
    bk_bus_unsubscribe(NULL, NULL);
}

/* Change subscribers: a run published for SSE reaches them as a bk_change
 * with the full row, in order, beside the SSE subscriber's frames; a change
 * of another table reaches change subscribers only; notify on empty to
 * non-empty; overflow drops like an event stream. */
static void test_change_subscribers(void **state)
{
    (void)state;
    bk_bus *b;
    bk_sub *sse, *ch, *ch2;
    assert_int_equal(bk_bus_new(&b, &SMALL), 0); /* queue of 4 */
    int calls = 0;
    assert_int_equal(bk_bus_subscribe(b, "", -1, 0, NULL, NULL, &sse), 0);
    assert_int_equal(bk_bus_subscribe_changes(b, count_notify, &calls, &ch), 0);
    assert_int_equal(bk_bus_clients(b), 2);

    bool dropped = true;
    assert_null(bk_sub_next_change(ch, &dropped));
    assert_false(dropped);
    bk_run r = mkrun("run-1", "AAPL", BK_TF_1H);
    assert_int_equal(bk_bus_publish_run(b, "INSERT", &r, INT64_C(1717421400000000)), 1);
    r.status = BK_ST_SUCCESS;
    r.progress_percent = 100;
    bk_bus_publish_run(b, "UPDATE", &r, INT64_C(1717421401000000));
    assert_int_equal(calls, 1);
    bk_def d;
    memset(&d, 0, sizeof d);
    snprintf(d.id, sizeof d.id, "def-1");
    snprintf(d.symbol, sizeof d.symbol, "AAPL");
    bk_change *dc = bk_change_def("INSERT", &d, 5);
    bk_bus_publish_change(b, dc);
    bk_change_release(dc); /* the queue holds its own */

    const bk_change *c = bk_sub_next_change(ch, &dropped);
    assert_non_null(c);
    assert_string_equal(c->table->name, "job_runs");
    assert_string_equal(c->type, "INSERT");
    assert_int_equal(c->commit_us, INT64_C(1717421400000000));
    assert_non_null(strstr(c->record, "\"id\":\"run-1\""));
    assert_non_null(strstr(c->record, "\"status\":\"running\",\"progress_percent\":42.5"));
    assert_string_equal(c->values[bk_rt_col(c->table, "symbol")], "AAPL");
    bk_change_release(c);
    c = bk_sub_next_change(ch, &dropped);
    assert_string_equal(c->type, "UPDATE");
    assert_non_null(strstr(c->record, "\"status\":\"success\",\"progress_percent\":100"));
    assert_string_equal(c->old_record, "{\"id\":\"run-1\"}");
    bk_change_release(c);
    c = bk_sub_next_change(ch, &dropped);
    assert_string_equal(c->table->name, "job_definitions");
    bk_change_release(c);
    assert_null(bk_sub_next_change(ch, &dropped));
    assert_false(dropped);
    /* the SSE subscriber saw the two runs only, as before */
    expect_ids(sse, (const uint64_t[]){1, 2}, 2);
    bk_buf out;
    bk_buf_init(&out);
    assert_int_equal(bk_sub_read(ch, &out, BIG), 0); /* no frames for a change subscriber */
    bk_buf_fini(&out);

    /* overflow: 5 changes into a queue of 4 drop it, and the queue is emptied */
    assert_int_equal(bk_bus_subscribe_changes(b, NULL, NULL, &ch2), 0);
    for (int i = 0; i < 5; i++)
        pub(b, "MSFT", BK_TF_1M);
    assert_null(bk_sub_next_change(ch2, &dropped));
    assert_true(dropped);
    bk_bus_unsubscribe(b, ch2);
    bk_bus_unsubscribe(b, ch); /* with changes still queued: released (ASan) */
    bk_bus_unsubscribe(b, sse);
    bk_bus_free(b);
}

/* ---- unsubscribe racing two publishers ---- */

typedef struct watch {
    atomic_bool valid; /* false once unsubscribe returned */
    atomic_int calls;
} watch;

static atomic_int g_violations;
static atomic_bool g_stop;

static void watch_notify(void *ctx)
{
    watch *w = ctx;
    if (!atomic_load(&w->valid))
        atomic_fetch_add(&g_violations, 1);
    atomic_fetch_add(&w->calls, 1);
}

static void *publisher(void *arg)
{
    bk_bus *b = arg;
    static const char *const syms[] = {"AAPL", "MSFT"};
    for (unsigned i = 0; !atomic_load(&g_stop); i++)
        pub(b, syms[i % 2], (i / 2) % 2 ? BK_TF_1H : BK_TF_1M);
    return NULL;
}

static void test_unsubscribe_races_publish(void **state)
{
    (void)state;
    bk_bus *b;
    bk_bus_opts o = {.ring_size = 64, .max_clients = 16, .client_queue = 8};
    assert_int_equal(bk_bus_new(&b, &o), 0);
    atomic_store(&g_violations, 0);
    atomic_store(&g_stop, false);
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&th[i], NULL, publisher, b), 0);

    bk_buf out;
    bk_buf_init(&out);
    int total_calls = 0;
    /* at least 20,000 rounds, and on until some notify raced an unsubscribe
     * (publishers may get little CPU on a loaded 2-core machine) */
    for (int round = 0; round < 20000 || (total_calls == 0 && round < 2000000); round++) {
        watch *w = malloc(sizeof *w);
        assert_non_null(w);
        atomic_init(&w->valid, true);
        atomic_init(&w->calls, 0);
        bk_sub *s;
        const char *sym = round % 3 == 0 ? "" : "AAPL";
        if (round % 5 == 4) { /* a change subscriber, every fifth round */
            assert_int_equal(bk_bus_subscribe_changes(b, watch_notify, w, &s), 0);
            for (int k = 0; k < round % 4; k++) {
                bool dropped;
                bk_change_release(bk_sub_next_change(s, &dropped));
            }
        } else {
            assert_int_equal(bk_bus_subscribe(b, sym, round % 2 ? -1 : BK_TF_1H,
                                              bk_bus_last_id(b) / 2, watch_notify, w, &s),
                             0);
        }
        for (int k = 0; k < round % 4; k++) {
            bk_buf_reset(&out);
            (void)bk_sub_read(s, &out, (size_t)(round % 5) * 512);
        }
        bk_bus_unsubscribe(b, s);
        atomic_store(&w->valid, false);
        total_calls += atomic_load(&w->calls);
        free(w); /* a late notify would be a use-after-free under ASan */
    }
    atomic_store(&g_stop, true);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    bk_buf_fini(&out);
    assert_int_equal(atomic_load(&g_violations), 0);
    assert_int_equal(bk_bus_clients(b), 0);
    assert_true(total_calls > 0);
    bk_bus_free(b);
}

/* With an id base (serve uses its start time in µs), ids continue from it;
 * an id from before the base (an earlier process) is too old: reset, never
 * a replay of this process's events under old numbers. */
static void test_id_base(void **state)
{
    (void)state;
    const uint64_t base = UINT64_C(1764300000000000);
    bk_bus_opts o = SMALL; /* ring of 8 */
    o.id_base = base;
    bk_bus *b;
    bk_sub *s;
    assert_int_equal(bk_bus_new(&b, &o), 0);
    assert_int_equal(bk_bus_last_id(b), base);
    for (uint64_t i = 1; i <= 3; i++)
        assert_int_equal(pub(b, "AAPL", BK_TF_1H), base + i);
    assert_int_equal(bk_bus_subscribe(b, "", -1, base + 1, NULL, NULL, &s), 0);
    expect_ids(s, (const uint64_t[]){base + 2, base + 3}, 2);
    bk_bus_unsubscribe(b, s);
    expect_reset(b, 3, base + 4); /* an id of an earlier process that started at 0 */
    for (int i = 0; i < 10; i++)  /* wrap the ring: it holds base+7 .. base+14 */
        pub(b, "AAPL", BK_TF_1H);
    assert_int_equal(bk_bus_subscribe(b, "", -1, base + 12, NULL, NULL, &s), 0);
    expect_ids(s, (const uint64_t[]){base + 13, base + 14}, 2);
    bk_bus_unsubscribe(b, s);
    expect_reset(b, base + 5, base + 15); /* base+6 is gone */
    bk_bus_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_id_base),
        cmocka_unit_test(test_ids_from_one),
        cmocka_unit_test(test_payload_shape),
        cmocka_unit_test(test_filters),
        cmocka_unit_test(test_replay),
        cmocka_unit_test(test_reset_when_too_old),
        cmocka_unit_test(test_overflow_drops),
        cmocka_unit_test(test_publisher_never_blocks),
        cmocka_unit_test(test_max_clients),
        cmocka_unit_test(test_notify_on_empty_only),
        cmocka_unit_test(test_read_max_bytes),
        cmocka_unit_test(test_frame_lifetimes),
        cmocka_unit_test(test_change_subscribers),
        cmocka_unit_test(test_unsubscribe_races_publish),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
