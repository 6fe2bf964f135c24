/*
 * ivset.h — sets of half-open time intervals [from, to) in microseconds.
 *
 * A set is kept normalised: intervals sorted, non-empty, disjoint and not
 * touching (touching ones are merged). Coverage, expected trading time and
 * gaps are all ivsets; gaps = expected - covered. Operations never fail
 * (out of memory aborts). The caller owns the set: bk_ivset_init before use,
 * bk_ivset_fini after. Not thread-safe; sets are values.
 */
#ifndef BK_MODEL_IVSET_H
#define BK_MODEL_IVSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct bk_iv {
    int64_t from_us, to_us; /* half-open, from_us < to_us */
} bk_iv;

typedef struct bk_ivset {
    bk_iv *v;
    size_t n, cap;
} bk_ivset;

void bk_ivset_init(bk_ivset *s);
void bk_ivset_fini(bk_ivset *s);
void bk_ivset_clear(bk_ivset *s);
void bk_ivset_copy(bk_ivset *dst, const bk_ivset *src);
/* s ∪= [from, to); an empty or inverted interval is ignored. */
void bk_ivset_add(bk_ivset *s, int64_t from_us, int64_t to_us);
/* s ∪= o */
void bk_ivset_union(bk_ivset *s, const bk_ivset *o);
/* s −= o */
void bk_ivset_subtract(bk_ivset *s, const bk_ivset *o);
/* s −= [from, to) */
void bk_ivset_remove(bk_ivset *s, int64_t from_us, int64_t to_us);
/* s ∩= [from, to) */
void bk_ivset_clip(bk_ivset *s, int64_t from_us, int64_t to_us);
/* s ∩= o */
void bk_ivset_intersect(bk_ivset *s, const bk_ivset *o);
/* True if t lies in s. */
bool bk_ivset_contains(const bk_ivset *s, int64_t t_us);
/* True if [from, to) lies wholly in s. */
bool bk_ivset_covers(const bk_ivset *s, int64_t from_us, int64_t to_us);
/* Sum of interval lengths. */
int64_t bk_ivset_total(const bk_ivset *s);
bool bk_ivset_equal(const bk_ivset *a, const bk_ivset *b);

#endif
