/*
 * pgrst.h — the PostgREST query grammar of /rest/v1/ reads, as
 * postgrest-js 2.x sends it (docs/supabase.md, "PostgREST reads"): select=
 * column lists, col=[not.]op.value filters (eq neq gt gte lt lte in is),
 * order=, limit=, offset=, and the Range and Prefer headers. Parses outside
 * bytes into a store read query (store/rest.h) whose every name is a
 * whitelisted column and every value is of its column's type; errors are
 * PostgREST's (code, message, details, hint) with its HTTP status. No I/O,
 * no allocation; fuzzed by fuzz/fuzz_pgrst.c.
 */
#ifndef BK_API_PGRST_H
#define BK_API_PGRST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/util.h"
#include "store/rest.h"

/* An error as PostgREST answers it: {"code","details","hint","message"}
 * ("" details or hint are null). */
typedef struct bk_pgrst_err {
    int status;
    char code[16];
    char message[256];
    char details[256];
    char hint[160];
} bk_pgrst_err;

/* One query parameter, decoded. */
typedef struct bk_pgrst_arg {
    const char *key, *value;
} bk_pgrst_arg;

#define BK_PGRST_ARENA 8192

typedef struct bk_pgrst {
    bk_rquery q;                /* q.offset and q.limit: 0 and -1 (the caller windows them) */
    int64_t limit;              /* limit=, or -1 */
    int64_t offset;             /* offset=, or 0 */
    char arena[BK_PGRST_ARENA]; /* the values' text */
    size_t used;
} bk_pgrst;

/* Parse the query parameters of a read of t. 0, or -1 with e filled (a 4xx). */
int bk_pgrst_parse(bk_pgrst *p, const bk_rtable *t, const bk_pgrst_arg *args, size_t n,
                   bk_pgrst_err *e);
/* A Range header "FIRST-LAST" or "FIRST-" (items): true with *lo, and *hi
 * (-1 when open); false when absent or not of that form (ignored, as
 * PostgREST ignores it). */
bool bk_pgrst_range(const char *h, int64_t *lo, int64_t *hi);
/* Whether a Prefer header asks count=exact (planned and estimated too: they
 * are exact here). */
bool bk_pgrst_prefer_count(const char *prefer);
/* Fill e. */
void bk_pgrst_fail(bk_pgrst_err *e, int status, const char *code, const char *details,
                   const char *hint, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
/* e as PostgREST's JSON into out. */
void bk_pgrst_err_json(const bk_pgrst_err *e, bk_buf *out);
/* An instant as PostgREST renders a timestamptz in UTC:
 * "2026-01-02T03:04:05.678+00:00" (fraction only when non-zero, its
 * trailing zeros dropped). buf of BK_PGRST_TIME_MAX bytes. */
#define BK_PGRST_TIME_MAX 40
char *bk_pgrst_time(int64_t us, char *buf);

#endif
