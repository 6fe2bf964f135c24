/*
 * test_store_budget.c — provider budgets in the store: the token
 * bucket (take, reserve), rate-limit records, and takers on several threads
 * sharing one bucket.
 *
 * The fixture, the helpers and how the groups run: store_fixture.h.
 */
#include "store_fixture.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- provider budgets ---- */

static void t_take_token(void **state)
{
    bk_store *s = ((fixture *)*state)->s;
    const int64_t MS = BK_US_PER_MS;
    /* rate 2/s, burst 3: a new bucket is full */
    for (int i = 0; i < 3; i++)
        assert_int_equal(take(s, "polygon", 2, 3, T0), 0);
    assert_int_equal(take(s, "polygon", 2, 3, T0), 500 * MS);            /* 1 token at 2/s */
    assert_int_equal(take(s, "polygon", 2, 3, T0 + 250 * MS), 250 * MS); /* 0.5 there */
    assert_int_equal(take(s, "polygon", 2, 3, T0 + 500 * MS), 0);        /* 1.0: taken */
    assert_int_equal(take(s, "polygon", 2, 3, T0 + 500 * MS), 500 * MS);
    /* a clock behind the bucket's refills nothing */
    assert_int_equal(take(s, "polygon", 2, 3, T0), 500 * MS);
    assert_int_equal(take(s, "polygon", 2, 3, T0 + 700 * MS), 300 * MS); /* 0.4 there */
    /* a long pause refills up to the burst, no more */
    for (int i = 0; i < 3; i++)
        assert_int_equal(take(s, "polygon", 2, 3, T0 + 100 * S), 0);
    assert_int_equal(take(s, "polygon", 2, 3, T0 + 100 * S), 500 * MS);
    /* buckets are per provider; a slow one: 0.5/s, burst 1 */
    assert_int_equal(take(s, "alpaca", 0.5, 1, T0), 0);
    assert_int_equal(take(s, "alpaca", 0.5, 1, T0), 2 * S);
    assert_int_equal(take(s, "alpaca", 0.5, 1, T0 + 1500 * MS), 500 * MS);
    assert_int_equal(take(s, "alpaca", 0.5, 1, T0 + 2 * S), 0);
    /* arguments */
    bk_err err = {0};
    int64_t w = 0;
    assert_int_equal(bk_store_take_token(s, "polygon", 0, 3, T0, &w, &err), BK_EINVAL);
    assert_int_equal(bk_store_take_token(s, "polygon", 2, 0.5, T0, &w, &err), BK_EINVAL);
    assert_int_equal(bk_store_take_token(s, "", 2, 3, T0, &w, &err), BK_EINVAL);
}

/* Reservations: the token is always taken, the bucket goes below zero, and
 * each caller learns when its own token is due, so waiting workers need no
 * second round trip; a plain take still only takes a token that is there. */
static void t_reserve_token(void **state)
{
    bk_store *s = ((fixture *)*state)->s;
    const int64_t MS = BK_US_PER_MS;
    int64_t w = -1;
    OK(bk_store_reserve_token(s, "massive", 2, 1, T0, &w, ERR));
    assert_int_equal(w, 0); /* the full bucket's token */
    OK(bk_store_reserve_token(s, "massive", 2, 1, T0, &w, ERR));
    assert_int_equal(w, 500 * MS);
    OK(bk_store_reserve_token(s, "massive", 2, 1, T0, &w, ERR));
    assert_int_equal(w, 1000 * MS); /* queued behind the previous reservation */
    assert_int_equal(take(s, "massive", 2, 1, T0 + 600 * MS), 900 * MS); /* not taken */
    OK(bk_store_reserve_token(s, "massive", 2, 1, T0 + 1500 * MS, &w, ERR));
    assert_int_equal(w, 0);
    OK(bk_store_reserve_token(s, "massive", 2, 1, T0 + 1500 * MS, &w, ERR));
    assert_int_equal(w, 500 * MS);
}

/* 429s received: counted per provider since an instant, shared by every
 * connection; rows older than the keep time are pruned by the next one. */
static void t_rate_limited(void **state)
{
    fixture *fx = *state;
    bk_store *s = fx->s;
    const int64_t KEEP = BK_STORE_RATE_LIMITED_KEEP_US;
    bk_prov_count *c = NULL;
    size_t n = 9;
    OK(bk_store_rate_limited_count(s, 0, &c, &n, ERR));
    assert_int_equal(n, 0);
    assert_null(c);
    OK(bk_store_rate_limited_add(s, "massive", T0 - KEEP - S, ERR)); /* pruned below */
    OK(bk_store_rate_limited_add(s, "massive", T0, ERR));
    OK(bk_store_rate_limited_add(s, "massive", T0 + H, ERR));
    bk_store *b = open_or_die(fx->url); /* another connection writes too */
    OK(bk_store_rate_limited_add(b, "alpaca", T0 + 2 * H, ERR));
    OK(bk_store_rate_limited_add(b, "massive", T0 + 2 * H, ERR));
    bk_store_close(b);
    OK(bk_store_rate_limited_count(s, T0, &c, &n, ERR));
    assert_int_equal(n, 2);
    assert_string_equal(c[0].provider, "alpaca");
    assert_int_equal(c[0].n, 1);
    assert_string_equal(c[1].provider, "massive");
    assert_int_equal(c[1].n, 3);
    free(c);
    OK(bk_store_rate_limited_count(s, T0 + H, &c, &n, ERR)); /* since is inclusive */
    assert_int_equal(n, 2);
    assert_int_equal(c[1].n, 2);
    free(c);
    OK(bk_store_rate_limited_count(s, 0, &c, &n, ERR)); /* the oldest was pruned */
    assert_int_equal(n, 2);
    assert_int_equal(c[1].n, 3);
    free(c);
    bk_err err = {0};
    assert_int_equal(bk_store_rate_limited_add(s, "", T0, &err), BK_EINVAL);
}

enum { N_THREADS = 4, BUDGET_STEPS = 100, BUDGET_TRIES = 3 };
#define BUDGET_RATE  20.0
#define BUDGET_BURST 5.0

typedef struct taker {
    const char *url;
    int64_t granted;
    int rc;
    char msg[BK_ERR_MSG_MAX];
} taker;

/* Take tokens on a simulated clock that runs from T0 to T0 + 1 s in
 * BUDGET_STEPS steps, BUDGET_TRIES times per step, on its own connection. */
static void *take_thread(void *arg)
{
    taker *t = arg;
    bk_err err = {0};
    bk_store *s = NULL;
    t->rc = bk_store_open(&s, t->url, &err);
    for (int i = 0; i <= BUDGET_STEPS && t->rc == 0; i++) {
        int64_t now = T0 + (int64_t)i * S / BUDGET_STEPS;
        for (int k = 0; k < BUDGET_TRIES && t->rc == 0; k++) {
            int64_t wait = 0;
            t->rc = bk_store_take_token(s, "polygon", BUDGET_RATE, BUDGET_BURST, now, &wait, &err);
            if (t->rc == 0 && wait == 0)
                t->granted++;
        }
    }
    if (t->rc < 0)
        bk_strlcpy(t->msg, err.msg, sizeof t->msg);
    bk_store_close(s);
    return NULL;
}

/* The budget holds across connections: however the takes interleave, no
 * more than burst + rate · 1 s tokens are granted in 1 s. */
static void t_take_token_concurrent(void **state)
{
    fixture *fx = *state;
    taker t[N_THREADS];
    pthread_t th[N_THREADS];
    for (int i = 0; i < N_THREADS; i++) {
        t[i] = (taker){.url = fx->url};
        assert_int_equal(pthread_create(&th[i], NULL, take_thread, &t[i]), 0);
    }
    int64_t total = 0;
    for (int i = 0; i < N_THREADS; i++) {
        pthread_join(th[i], NULL);
        if (t[i].rc != 0)
            fail_msg("taker %d: %s %s", i, bk_err_name(t[i].rc), t[i].msg);
        total += t[i].granted;
    }
    assert_true(total >= (int64_t)BUDGET_BURST);
    assert_true(total <= (int64_t)(BUDGET_BURST + BUDGET_RATE * 1.0));
}

/* ---- suites ---- */

static const struct CMUnitTest generic[] = {
    FX(t_take_token),
    FX(t_reserve_token),
    FX(t_rate_limited),
    FX(t_take_token_concurrent),
};

int main(void)
{
    const store_suite suite = {
        .name = "budget",
        .generic = generic,
        .n_generic = BK_ARRAY_LEN(generic),
    };
    return store_suite_main(&suite);
}
