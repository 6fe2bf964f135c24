/*
 * test_ivset.c — interval sets (model/ivset.c): hand-written cases for each
 * operation, then a randomized comparison against a naive model (a bitmap
 * over the integer points of a small domain) that also checks the
 * normalisation invariants after every step, and a large-set smoke test
 * that would time out if an operation went quadratic.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "model/ivset.h"
#include "testutil.h"

/* Fail unless s holds exactly the n intervals given as from,to pairs. */
static void expect_set(const bk_ivset *s, size_t n, const int64_t *pairs)
{
    if (s->n != n)
        fail_msg("set has %zu intervals, want %zu", s->n, n);
    for (size_t i = 0; i < n; i++) {
        if (s->v[i].from_us != pairs[2 * i] || s->v[i].to_us != pairs[2 * i + 1])
            fail_msg("interval %zu is [%lld,%lld), want [%lld,%lld)", i, (long long)s->v[i].from_us,
                     (long long)s->v[i].to_us, (long long)pairs[2 * i],
                     (long long)pairs[2 * i + 1]);
    }
}

#define EXPECT(s, ...)                                                                             \
    do {                                                                                           \
        const int64_t want_[] = {__VA_ARGS__};                                                     \
        expect_set((s), sizeof want_ / sizeof want_[0] / 2, want_);                                \
    } while (0)

static void set_of(bk_ivset *s, size_t n, const int64_t *pairs)
{
    bk_ivset_clear(s);
    for (size_t i = 0; i < n; i++)
        bk_ivset_add(s, pairs[2 * i], pairs[2 * i + 1]);
}

#define SET(s, ...)                                                                                \
    do {                                                                                           \
        const int64_t p_[] = {__VA_ARGS__};                                                        \
        set_of((s), sizeof p_ / sizeof p_[0] / 2, p_);                                             \
    } while (0)

static void test_add(void **state)
{
    (void)state;
    bk_ivset s;
    bk_ivset_init(&s);
    bk_ivset_add(&s, 10, 10); /* empty */
    bk_ivset_add(&s, 20, 10); /* inverted */
    assert_int_equal(s.n, 0);
    bk_ivset_add(&s, 10, 20);
    bk_ivset_add(&s, 40, 50);
    bk_ivset_add(&s, 0, 5);
    EXPECT(&s, 0, 5, 10, 20, 40, 50);
    bk_ivset_add(&s, 20, 30); /* touches: merges */
    EXPECT(&s, 0, 5, 10, 30, 40, 50);
    bk_ivset_add(&s, 12, 15); /* inside */
    EXPECT(&s, 0, 5, 10, 30, 40, 50);
    bk_ivset_add(&s, 5, 10); /* bridges two */
    EXPECT(&s, 0, 30, 40, 50);
    bk_ivset_add(&s, -10, 100); /* swallows all */
    EXPECT(&s, -10, 100);
    bk_ivset_add(&s, 200, 300);
    bk_ivset_add(&s, 150, 160);
    EXPECT(&s, -10, 100, 150, 160, 200, 300);
    bk_ivset_fini(&s);
    bk_ivset_fini(&s); /* fini twice is harmless */
}

static void test_remove_clip(void **state)
{
    (void)state;
    bk_ivset s;
    bk_ivset_init(&s);
    SET(&s, 0, 10, 20, 30, 40, 50);
    bk_ivset_remove(&s, 5, 5);
    bk_ivset_remove(&s, 10, 20); /* the gap itself */
    EXPECT(&s, 0, 10, 20, 30, 40, 50);
    bk_ivset_remove(&s, 22, 25); /* splits one */
    EXPECT(&s, 0, 10, 20, 22, 25, 30, 40, 50);
    bk_ivset_remove(&s, 5, 45);
    EXPECT(&s, 0, 5, 45, 50);
    bk_ivset_remove(&s, 0, 5);
    EXPECT(&s, 45, 50);
    bk_ivset_remove(&s, INT64_MIN, INT64_MAX);
    assert_int_equal(s.n, 0);

    SET(&s, 0, 10, 20, 30, 40, 50);
    bk_ivset_clip(&s, 5, 45);
    EXPECT(&s, 5, 10, 20, 30, 40, 45);
    bk_ivset_clip(&s, 10, 40); /* boundaries only touch */
    EXPECT(&s, 20, 30);
    bk_ivset_clip(&s, 30, 20);
    assert_int_equal(s.n, 0);
    SET(&s, 0, 10);
    bk_ivset_clip(&s, 10, 20);
    assert_int_equal(s.n, 0);
    bk_ivset_fini(&s);
}

static void test_union_subtract_intersect(void **state)
{
    (void)state;
    bk_ivset a, b;
    bk_ivset_init(&a);
    bk_ivset_init(&b);
    SET(&a, 0, 10, 20, 30, 40, 50);
    SET(&b, 10, 20, 35, 45, 60, 70);
    bk_ivset_union(&a, &b);
    EXPECT(&a, 0, 30, 35, 50, 60, 70);

    SET(&a, 0, 100);
    SET(&b, 10, 20, 30, 40, 90, 110);
    bk_ivset_subtract(&a, &b);
    EXPECT(&a, 0, 10, 20, 30, 40, 90);
    SET(&a, 0, 10, 20, 30);
    SET(&b, -5, 25);
    bk_ivset_subtract(&a, &b);
    EXPECT(&a, 25, 30);

    SET(&a, 0, 10, 20, 30, 40, 50);
    SET(&b, 5, 25, 28, 45);
    bk_ivset_intersect(&a, &b);
    EXPECT(&a, 5, 10, 20, 25, 28, 30, 40, 45);
    SET(&b, 100, 200);
    bk_ivset_intersect(&a, &b);
    assert_int_equal(a.n, 0);

    /* Aliasing: s op s. */
    SET(&a, 0, 10, 20, 30);
    bk_ivset_union(&a, &a);
    EXPECT(&a, 0, 10, 20, 30);
    bk_ivset_intersect(&a, &a);
    EXPECT(&a, 0, 10, 20, 30);
    bk_ivset_subtract(&a, &a);
    assert_int_equal(a.n, 0);

    /* Empty operands. */
    bk_ivset_clear(&b);
    SET(&a, 0, 10);
    bk_ivset_union(&a, &b);
    bk_ivset_subtract(&a, &b);
    EXPECT(&a, 0, 10);
    bk_ivset_union(&b, &a);
    EXPECT(&b, 0, 10);
    bk_ivset_fini(&a);
    bk_ivset_fini(&b);
}

static void test_queries(void **state)
{
    (void)state;
    bk_ivset a, b;
    bk_ivset_init(&a);
    bk_ivset_init(&b);
    SET(&a, 0, 10, 20, 30);
    assert_true(bk_ivset_contains(&a, 0));
    assert_true(bk_ivset_contains(&a, 9));
    assert_false(bk_ivset_contains(&a, 10));
    assert_false(bk_ivset_contains(&a, -1));
    assert_true(bk_ivset_contains(&a, 25));
    assert_false(bk_ivset_contains(&a, 30));
    assert_true(bk_ivset_covers(&a, 0, 10));
    assert_true(bk_ivset_covers(&a, 22, 25));
    assert_false(bk_ivset_covers(&a, 5, 25));
    assert_false(bk_ivset_covers(&a, 25, 31));
    assert_true(bk_ivset_covers(&a, 50, 50)); /* empty interval */
    assert_int_equal(bk_ivset_total(&a), 20);
    assert_false(bk_ivset_contains(&b, 0));
    assert_int_equal(bk_ivset_total(&b), 0);

    bk_ivset_copy(&b, &a);
    assert_true(bk_ivset_equal(&a, &b));
    bk_ivset_add(&b, 10, 11);
    assert_false(bk_ivset_equal(&a, &b));
    bk_ivset_copy(&b, &b);
    EXPECT(&b, 0, 11, 20, 30);
    bk_ivset_clear(&a);
    bk_ivset_copy(&b, &a);
    assert_int_equal(b.n, 0);
    assert_true(bk_ivset_equal(&a, &b));

    bk_ivset_add(&a, INT64_MIN, INT64_MAX);
    assert_int_equal(bk_ivset_total(&a), INT64_MAX); /* saturates */
    bk_ivset_fini(&a);
    bk_ivset_fini(&b);
}

/* ---- randomized comparison against a bitmap over integer points ---- */

/* Random endpoints fall in -5..DOM+5 and intervals are at most 40 long, so
 * every point ever touched lies in [LO, HI), the model's domain. */
#define DOM 200
#define LO  (-50)
#define HI  (DOM + 50)

typedef struct model {
    bool in[HI - LO]; /* in[t - LO]: point t is in the set */
} model;

static uint64_t rng_state;

static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* Endpoint in -5..DOM+5. */
static int64_t rnd_point(void)
{
    return (int64_t)(rng() % (DOM + 11)) - 5;
}

static void model_fill(model *m, int64_t from, int64_t to, bool v)
{
    for (int64_t t = from < LO ? LO : from; t < to && t < HI; t++)
        m->in[t - LO] = v;
}

/* Sorted, non-empty, disjoint, non-touching. */
static void check_invariants(const bk_ivset *s)
{
    assert_true(s->n <= s->cap);
    for (size_t i = 0; i < s->n; i++) {
        assert_true(s->v[i].from_us < s->v[i].to_us);
        if (i > 0)
            assert_true(s->v[i - 1].to_us < s->v[i].from_us);
    }
}

/* The set must be exactly the runs of the model. */
static void check_same(const bk_ivset *s, const model *m)
{
    check_invariants(s);
    size_t k = 0;
    int64_t total = 0;
    for (int64_t t = LO; t < HI;) {
        if (!m->in[t - LO]) {
            t++;
            continue;
        }
        int64_t end = t;
        while (end < HI && m->in[end - LO])
            end++;
        assert_true(k < s->n);
        assert_int_equal(s->v[k].from_us, t);
        assert_int_equal(s->v[k].to_us, end);
        total += end - t;
        k++;
        t = end;
    }
    assert_int_equal(k, s->n);
    assert_int_equal(bk_ivset_total(s), total);
}

/* A random set and its model, built from a few random intervals. */
static void random_set(bk_ivset *s, model *m)
{
    bk_ivset_clear(s);
    memset(m, 0, sizeof *m);
    int n = (int)(rng() % 8);
    for (int i = 0; i < n; i++) {
        int64_t a = rnd_point(), len = (int64_t)(rng() % 40);
        bk_ivset_add(s, a, a + len);
        model_fill(m, a, a + len, true);
    }
    check_same(s, m);
}

/* Random queries: contains for every point, covers for a random interval. */
static void check_queries(const bk_ivset *s, const model *m)
{
    for (int64_t t = LO - 3; t < HI + 3; t++) {
        bool want = t >= LO && t < HI && m->in[t - LO];
        assert_int_equal(bk_ivset_contains(s, t), want);
    }
    int64_t a = rnd_point(), b = rnd_point();
    bool want = true;
    for (int64_t t = a; t < b; t++)
        want = want && t >= LO && t < HI && m->in[t - LO];
    assert_int_equal(bk_ivset_covers(s, a, b), want);
}

/* Apply one random operation to (s, m). */
static void random_step(bk_ivset *s, model *m, bk_ivset *o, model *om)
{
    int64_t a = rnd_point(), b = rnd_point();
    if (rng() % 4 == 0 && a > b) { /* mostly well-formed, sometimes inverted */
        int64_t t = a;
        a = b;
        b = t;
    }
    switch (rng() % 9) {
    case 0:
    case 1:
        bk_ivset_add(s, a, b);
        model_fill(m, a, b, true);
        break;
    case 2:
        bk_ivset_remove(s, a, b);
        model_fill(m, a, b, false);
        break;
    case 3:
        bk_ivset_clip(s, a, b);
        model_fill(m, LO, a, false);
        model_fill(m, a < b ? b : a, HI, false);
        break;
    case 4:
        random_set(o, om);
        bk_ivset_union(s, o);
        for (int t = 0; t < HI - LO; t++)
            m->in[t] = m->in[t] || om->in[t];
        break;
    case 5:
        random_set(o, om);
        bk_ivset_subtract(s, o);
        for (int t = 0; t < HI - LO; t++)
            m->in[t] = m->in[t] && !om->in[t];
        break;
    case 6:
        random_set(o, om);
        bk_ivset_intersect(s, o);
        for (int t = 0; t < HI - LO; t++)
            m->in[t] = m->in[t] && om->in[t];
        break;
    case 7: /* s op s: union and intersect are no-ops, subtract empties */
        bk_ivset_union(s, s);
        bk_ivset_intersect(s, s);
        if (rng() % 8 == 0) {
            bk_ivset_subtract(s, s);
            memset(m, 0, sizeof *m);
        }
        break;
    default: /* copy round trip and equality */
        bk_ivset_copy(o, s);
        assert_true(bk_ivset_equal(o, s));
        bk_ivset_add(o, HI + 10, HI + 11); /* outside anything random */
        assert_false(bk_ivset_equal(o, s));
        break;
    }
}

static void test_random_vs_model(void **state)
{
    (void)state;
    rng_state = 0x9e3779b97f4a7c15ULL; /* fixed: the test is deterministic */
    bk_ivset s, o;
    bk_ivset_init(&s);
    bk_ivset_init(&o);
    int runs = bk_t_rounds(300, 3000);
    for (int run = 0; run < runs; run++) {
        model m, om;
        random_set(&s, &m);
        for (int step = 0; step < 60; step++) {
            random_step(&s, &m, &o, &om);
            check_same(&s, &m);
            check_queries(&s, &m);
        }
    }
    bk_ivset_fini(&s);
    bk_ivset_fini(&o);
}

/* 200k intervals per set, added in ascending order (the append fast path
 * callers rely on) and combined with the linear operations; then a smaller
 * set built in descending order (each add a memmove at the front) must
 * equal the same set built ascending. */
static void test_large_sets(void **state)
{
    (void)state;
    const int64_t n = bk_t_rounds(20000, 200000);
    bk_ivset a, b;
    bk_ivset_init(&a);
    bk_ivset_init(&b);
    for (int64_t i = 0; i < n; i++) {
        bk_ivset_add(&a, 10 * i, 10 * i + 5);
        bk_ivset_add(&b, 10 * i + 3, 10 * i + 8);
    }
    assert_int_equal(a.n, (size_t)n);
    assert_int_equal(b.n, (size_t)n);
    bk_ivset c;
    bk_ivset_init(&c);
    bk_ivset_copy(&c, &a);
    bk_ivset_union(&c, &b);
    assert_int_equal(c.n, (size_t)n);
    assert_int_equal(bk_ivset_total(&c), 8 * n);
    bk_ivset_copy(&c, &a);
    bk_ivset_intersect(&c, &b);
    assert_int_equal(bk_ivset_total(&c), 2 * n);
    bk_ivset_subtract(&a, &b);
    assert_int_equal(bk_ivset_total(&a), 3 * n);
    check_invariants(&a);
    for (int64_t i = 0; i < n; i += 1000)
        assert_true(bk_ivset_covers(&a, 10 * i, 10 * i + 3));
    bk_ivset_clear(&a);
    bk_ivset_clear(&b);
    const int64_t m = n / 10;
    for (int64_t i = 0; i < m; i++) {
        bk_ivset_add(&a, 10 * i, 10 * i + 5);
        bk_ivset_add(&b, 10 * (m - 1 - i), 10 * (m - 1 - i) + 5);
    }
    assert_true(bk_ivset_equal(&a, &b));
    bk_ivset_fini(&a);
    bk_ivset_fini(&b);
    bk_ivset_fini(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add),
        cmocka_unit_test(test_remove_clip),
        cmocka_unit_test(test_union_subtract_intersect),
        cmocka_unit_test(test_queries),
        cmocka_unit_test(test_random_vs_model),
        cmocka_unit_test(test_large_sets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
