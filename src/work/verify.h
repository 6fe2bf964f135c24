/*
 * verify.h — reconciliation: fetch again from a provider what the store
 * holds for a series and say which bars are missing (served, not stored),
 * extra (stored, not served) and different (both, with other values).
 * Nothing is written; `barkeep verify --repair` re-queues the ranges that
 * differ (cli/cmd_verify.c).
 *
 * Only covered time is checked (what barkeep claims to hold), cut into
 * ranges the provider serves in one request (its max span for the
 * timeframe, else 30 days intraday and a year daily). A range owns the bars
 * whose trading span starts inside it, exactly as a run's slice does, and
 * the served bars pass the worker's validation before they are compared.
 * Each page takes a token of the provider's budget.
 */
#ifndef BK_WORK_VERIFY_H
#define BK_WORK_VERIFY_H

#include <stddef.h>
#include <stdint.h>

#include "model/ivset.h"
#include "work/work.h"

typedef enum bk_verify_kind {
    BK_VERIFY_MISSING, /* served, not stored */
    BK_VERIFY_EXTRA,   /* stored, not served */
    BK_VERIFY_DIFFERENT
} bk_verify_kind;

typedef struct bk_verify_diff {
    bk_verify_kind kind;
    int64_t ts_us;
    bk_bar stored, served; /* the side that exists (both when different) */
} bk_verify_diff;

typedef struct bk_verify_report {
    size_t ranges;          /* ranges the covered time was cut into */
    size_t ranges_checked;  /* all of them, or the sample */
    int64_t served, stored; /* bars in the checked ranges */
    size_t missing, extra, different;
    bk_verify_diff *diffs; /* in label order */
    size_t n_diffs, cap_diffs;
    bk_iv *bad; /* the checked ranges holding a difference, in order */
    size_t n_bad, cap_bad;
} bk_verify_report;

void bk_verify_report_init(bk_verify_report *r);
void bk_verify_report_fini(bk_verify_report *r);

/* Check symbol/tf's covered time within [from_us, to_us) against p: all of
 * it, or when sample > 0 that many of its ranges spread evenly. 0 with out
 * filled (identical when out->n_diffs == 0); a provider or store failure
 * otherwise, with err saying which range. */
int bk_verify(bk_store *s, const bk_work_env *env, bk_prov *p, const char *symbol, bk_tf tf,
              int64_t from_us, int64_t to_us, size_t sample, bk_verify_report *out, bk_err *err);

#endif
