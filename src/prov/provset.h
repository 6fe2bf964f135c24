/*
 * provset.h — the configured providers, their fallback chains, and each
 * provider's health (a circuit breaker).
 *
 * A chain is an ordered list of providers per timeframe class (intraday:
 * 1m..4h; daily: d1, w1). The worker tries a run's chain in order: a provider
 * whose breaker is open is skipped, and so is one whose feed or adjustment
 * differs from the series' (bk_prov_compatible), so one series never mixes
 * incompatible bars.
 *
 * Breaker: closed → open after breaker_failures consecutive failures of the
 * provider's own making (5xx, network, timeout) or at once on an auth
 * refusal (401/403: for breaker_open_ms × 20); open → half-open when the
 * open time has passed: one request is let through; its success closes the
 * breaker, its failure opens it again. Rate limiting (429), per-request
 * refusals (unknown symbol, range) and malformed answers (about one request:
 * a page that cuts a bar) say nothing about health.
 *
 * Threads: chains are fixed after setup; breaker updates are atomic.
 */
#ifndef BK_PROV_PROVSET_H
#define BK_PROV_PROVSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "prov/prov.h"

#define BK_PROVSET_MAX 8

enum bk_tf_class { BK_CLASS_INTRADAY, BK_CLASS_DAILY, BK_CLASS__N };

typedef enum bk_breaker_state {
    BK_BREAKER_CLOSED,
    BK_BREAKER_OPEN,
    BK_BREAKER_HALF_OPEN
} bk_breaker_state;

typedef struct bk_provset bk_provset;

typedef struct bk_breaker_cfg {
    int failures;    /* consecutive failures that open it (>= 1) */
    int64_t open_us; /* how long it stays open */
} bk_breaker_cfg;

bk_provset *bk_provset_new(const bk_breaker_cfg *breaker);
/* Add p (the set owns it from now on, also on failure). BK_EEXIST for a
 * second provider of the same name, BK_ERANGE when full. */
BK_MUST_CHECK int bk_provset_add(bk_provset *ps, bk_prov *p, bk_err *err);
/* Set the chain of a class from a list of names ("alpaca,yahoo"): each must
 * have been added. BK_EINVAL naming the unknown one; an empty list is
 * refused. */
BK_MUST_CHECK int bk_provset_set_chain(bk_provset *ps, enum bk_tf_class cls, const char *names,
                                       bk_err *err);
/* The chain for tf: providers in order; returns how many (<= cap). */
size_t bk_provset_chain(const bk_provset *ps, bk_tf tf, bk_prov **out, size_t cap);
/* The first provider of tf's chain (it defines a new series' adjustment). */
bk_prov *bk_provset_primary(const bk_provset *ps, bk_tf tf);
size_t bk_provset_count(const bk_provset *ps);
bk_prov *bk_provset_at(const bk_provset *ps, size_t i);
bk_prov *bk_provset_get(const bk_provset *ps, const char *name); /* NULL if absent */
/* The chain of a class as "a,b" (for display). */
void bk_provset_chain_str(const bk_provset *ps, enum bk_tf_class cls, char *out, size_t cap);
void bk_provset_free(bk_provset *ps);

enum bk_tf_class bk_tf_class_of(bk_tf tf);

/* May p be asked now? false while its breaker is open (*until_us = when it
 * half-opens); in half-open state only one caller at a time gets true. */
bool bk_provset_admit(bk_provset *ps, bk_prov *p, int64_t now_us, int64_t *until_us);
/* Record the outcome of a request admitted above (rc 0 = success;
 * BK_ECANCELED = not asked after all: no verdict, a half-open trial slot is
 * given back). */
void bk_provset_report(bk_provset *ps, bk_prov *p, int rc, int64_t now_us);
/* Did p's last reported outcome fail of its own making (a failure counted
 * toward its breaker, not yet cleared by a success)? */
bool bk_provset_failing(bk_provset *ps, const bk_prov *p);
bk_breaker_state bk_provset_breaker(bk_provset *ps, const bk_prov *p, int64_t now_us,
                                    int64_t *open_until_us);
const char *bk_breaker_name(bk_breaker_state s);

/* Would bars from p continue a series whose bars came from feed/adjustment
 * (either "" = unknown: anything goes)? Adjustments must be equal; feeds
 * equal, or both a consolidated tape ("sip" and "consolidated"). On false,
 * why says what differs. */
bool bk_prov_compatible(const bk_prov *p, const char *feed, const char *adjustment, char *why,
                        size_t cap);

#endif
