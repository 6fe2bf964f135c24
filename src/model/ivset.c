/*
 * ivset.c — normalised sets of half-open intervals [from, to).
 *
 * A set is a sorted array of disjoint, non-touching, non-empty intervals.
 * Single-interval edits (add, remove, clip) find the affected run of
 * intervals with two binary searches and splice it in place, so they cost
 * O(log n) plus one memmove. Set-with-set operations (union, subtract,
 * intersect) are linear merges of the two sorted arrays into a fresh array
 * that then replaces the target, which also makes s op s safe. Adding in
 * ascending order appends; adding far from the end shifts the tail, so build
 * a large set in sorted order (or as a union of sets), not at random. Read
 * ivset.h for the contract; the planner (plan/) is the main user.
 */
#include "model/ivset.h"
#include "core/util.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

void bk_ivset_init(bk_ivset *s)
{
    s->v = NULL;
    s->n = s->cap = 0;
}

void bk_ivset_fini(bk_ivset *s)
{
    if (!s)
        return;
    free(s->v);
    bk_ivset_init(s);
}

void bk_ivset_clear(bk_ivset *s)
{
    s->n = 0;
}

/* dst must be initialised; its storage is reused. */
void bk_ivset_copy(bk_ivset *dst, const bk_ivset *src)
{
    if (dst == src)
        return;
    bk_grow((void **)&dst->v, &dst->cap, src->n, sizeof *dst->v);
    if (src->n)
        memcpy(dst->v, src->v, src->n * sizeof *src->v);
    dst->n = src->n;
}

/* Index of the first interval whose end is >= t (touching counts when
 * touch is true) or > t (when false). */
static size_t first_ending_after(const bk_ivset *s, int64_t t, bool touch)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        bool after = touch ? s->v[mid].to_us >= t : s->v[mid].to_us > t;
        if (after)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

/* Index of the first interval starting after t (touch) or at/after t (!touch). */
static size_t first_starting_after(const bk_ivset *s, int64_t t, bool touch)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        bool after = touch ? s->v[mid].from_us > t : s->v[mid].from_us >= t;
        if (after)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

/* Replace intervals [lo, hi) of s by the k intervals in rep. */
static void splice(bk_ivset *s, size_t lo, size_t hi, const bk_iv *rep, size_t k)
{
    assert(lo <= hi && hi <= s->n);
    size_t tail = s->n - hi;
    bk_grow((void **)&s->v, &s->cap, lo + k + tail, sizeof *s->v);
    memmove(s->v + lo + k, s->v + hi, tail * sizeof *s->v);
    if (k)
        memcpy(s->v + lo, rep, k * sizeof *rep);
    s->n = lo + k + tail;
}

void bk_ivset_add(bk_ivset *s, int64_t from_us, int64_t to_us)
{
    if (from_us >= to_us)
        return;
    size_t lo = first_ending_after(s, from_us, true);
    size_t hi = first_starting_after(s, to_us, true);
    bk_iv iv = {from_us, to_us};
    if (lo < hi) {
        iv.from_us = BK_MIN(from_us, s->v[lo].from_us);
        iv.to_us = BK_MAX(to_us, s->v[hi - 1].to_us);
    }
    splice(s, lo, hi, &iv, 1);
    /* disjoint and sorted around the new interval (neither touching: merged) */
    assert(lo == 0 || s->v[lo - 1].to_us < s->v[lo].from_us);
    assert(lo + 1 >= s->n || s->v[lo].to_us < s->v[lo + 1].from_us);
}

void bk_ivset_remove(bk_ivset *s, int64_t from_us, int64_t to_us)
{
    if (from_us >= to_us)
        return;
    size_t lo = first_ending_after(s, from_us, false);
    size_t hi = first_starting_after(s, to_us, false);
    if (lo >= hi)
        return;
    bk_iv keep[2];
    size_t k = 0;
    if (s->v[lo].from_us < from_us)
        keep[k++] = (bk_iv){s->v[lo].from_us, from_us};
    if (s->v[hi - 1].to_us > to_us)
        keep[k++] = (bk_iv){to_us, s->v[hi - 1].to_us};
    splice(s, lo, hi, keep, k);
}

void bk_ivset_clip(bk_ivset *s, int64_t from_us, int64_t to_us)
{
    if (from_us >= to_us) {
        s->n = 0;
        return;
    }
    size_t lo = first_ending_after(s, from_us, false);
    size_t hi = first_starting_after(s, to_us, false);
    if (lo >= hi) {
        s->n = 0;
        return;
    }
    memmove(s->v, s->v + lo, (hi - lo) * sizeof *s->v);
    s->n = hi - lo;
    s->v[0].from_us = BK_MAX(s->v[0].from_us, from_us);
    s->v[s->n - 1].to_us = BK_MIN(s->v[s->n - 1].to_us, to_us);
}

/* Append iv to the array r (n used, cap allocated), merging when it
 * overlaps or touches the last interval. Input arrives sorted by from. */
static void push_merge(bk_iv **r, size_t *n, size_t *cap, bk_iv iv)
{
    if (*n > 0 && iv.from_us <= (*r)[*n - 1].to_us) {
        (*r)[*n - 1].to_us = BK_MAX((*r)[*n - 1].to_us, iv.to_us);
        return;
    }
    bk_grow((void **)r, cap, *n + 1, sizeof **r);
    (*r)[(*n)++] = iv;
}

/* Make the array r (n, cap) the new contents of s. */
static void adopt(bk_ivset *s, bk_iv *r, size_t n, size_t cap)
{
    free(s->v);
    s->v = r;
    s->n = n;
    s->cap = cap;
}

void bk_ivset_union(bk_ivset *s, const bk_ivset *o)
{
    if (o->n == 0 || s == o)
        return;
    bk_iv *r = NULL;
    size_t n = 0, cap = 0, i = 0, j = 0;
    bk_grow((void **)&r, &cap, s->n + o->n, sizeof *r);
    while (i < s->n || j < o->n) {
        bool take_s = j == o->n || (i < s->n && s->v[i].from_us <= o->v[j].from_us);
        push_merge(&r, &n, &cap, take_s ? s->v[i++] : o->v[j++]);
    }
    adopt(s, r, n, cap);
}

/* Append [from, to) to r (n, cap); no merging needed by the callers. */
static void push(bk_iv **r, size_t *n, size_t *cap, int64_t from_us, int64_t to_us)
{
    bk_grow((void **)r, cap, *n + 1, sizeof **r);
    (*r)[(*n)++] = (bk_iv){from_us, to_us};
}

void bk_ivset_subtract(bk_ivset *s, const bk_ivset *o)
{
    if (s->n == 0 || o->n == 0)
        return;
    bk_iv *r = NULL;
    size_t n = 0, cap = 0, j = 0;
    for (size_t i = 0; i < s->n; i++) {
        int64_t cur = s->v[i].from_us, end = s->v[i].to_us;
        while (j < o->n && o->v[j].to_us <= cur)
            j++;
        /* o->v[j] (if any) ends after cur; walk the ones starting before end. */
        for (size_t k = j; k < o->n && o->v[k].from_us < end && cur < end; k++) {
            if (o->v[k].from_us > cur)
                push(&r, &n, &cap, cur, o->v[k].from_us);
            cur = BK_MAX(cur, o->v[k].to_us);
        }
        if (cur < end)
            push(&r, &n, &cap, cur, end);
    }
    adopt(s, r, n, cap);
}

void bk_ivset_intersect(bk_ivset *s, const bk_ivset *o)
{
    if (s == o)
        return;
    bk_iv *r = NULL;
    size_t n = 0, cap = 0, i = 0, j = 0;
    while (i < s->n && j < o->n) {
        int64_t lo = BK_MAX(s->v[i].from_us, o->v[j].from_us);
        int64_t hi = BK_MIN(s->v[i].to_us, o->v[j].to_us);
        if (lo < hi)
            push(&r, &n, &cap, lo, hi);
        if (s->v[i].to_us < o->v[j].to_us)
            i++;
        else
            j++;
    }
    adopt(s, r, n, cap);
}

bool bk_ivset_contains(const bk_ivset *s, int64_t t_us)
{
    size_t i = first_ending_after(s, t_us, false);
    return i < s->n && s->v[i].from_us <= t_us;
}

/* An empty [from, to) lies in every set. */
bool bk_ivset_covers(const bk_ivset *s, int64_t from_us, int64_t to_us)
{
    if (from_us >= to_us)
        return true;
    size_t i = first_ending_after(s, from_us, false);
    return i < s->n && s->v[i].from_us <= from_us && s->v[i].to_us >= to_us;
}

/* Saturates at INT64_MAX rather than overflowing. */
int64_t bk_ivset_total(const bk_ivset *s)
{
    uint64_t sum = 0;
    for (size_t i = 0; i < s->n; i++) {
        uint64_t len = (uint64_t)s->v[i].to_us - (uint64_t)s->v[i].from_us;
        if (len > (uint64_t)INT64_MAX - sum)
            return INT64_MAX;
        sum += len;
    }
    return (int64_t)sum;
}

bool bk_ivset_equal(const bk_ivset *a, const bk_ivset *b)
{
    if (a->n != b->n)
        return false;
    for (size_t i = 0; i < a->n; i++) {
        if (a->v[i].from_us != b->v[i].from_us || a->v[i].to_us != b->v[i].to_us)
            return false;
    }
    return true;
}
