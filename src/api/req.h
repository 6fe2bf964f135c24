/*
 * req.h — parsing and validation of HTTP API requests: bodies, query
 * parameters and headers, as pure functions of their bytes (no I/O, no
 * store), so that every path from outside bytes to a validated request is
 * fuzzed (fuzz/fuzz_req.c).
 *
 * Every function returns 0 and fills *out, or returns BK_EINVAL and fills
 * *e with the HTTP status (400, 413, 415, ...), a stable machine code and a
 * human message naming the bad value; *out is then unspecified. Error codes
 * are listed in docs/http-api.md.
 */
#ifndef BK_API_REQ_H
#define BK_API_REQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/sym.h"
#include "model/tf.h"

#define BK_REQ_BODY_MAX (64 * 1024) /* larger bodies: 413 payload_too_large */

typedef struct bk_api_error {
    int status;    /* HTTP status, 4xx */
    char code[40]; /* e.g. "invalid_symbol" */
    char msg[256];
} bk_api_error;

/* Fill e and return BK_EINVAL. */
int bk_api_fail(bk_api_error *e, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* POST /functions/v1/ensure-coverage body:
 *   {"symbol": str, "timeframe": str, "window_days"?: int 1..36500, "priority"?: int}
 * window_days defaults to 7 (the guide's client), priority to 150. Unknown
 * keys are ignored. */
typedef struct bk_ensure_req {
    char symbol[BK_SYM_MAX + 1];
    bk_tf tf;
    int32_t window_days;
    int32_t priority; /* -1000000 .. 1000000 */
} bk_ensure_req;
int bk_req_ensure(const char *body, size_t len, bk_ensure_req *out, bk_api_error *e);

/* POST /functions/v1/chart-data-v2 body: {"symbol", "timeframe", "days"?: int 1..36500 (default
 * 30)} */
typedef struct bk_chart_req {
    char symbol[BK_SYM_MAX + 1];
    bk_tf tf;
    int32_t days;
} bk_chart_req;
int bk_req_chart(const char *body, size_t len, bk_chart_req *out, bk_api_error *e);

/* POST /functions/v1/fetch-bars body: {"job_run_id": uuid string} */
typedef struct bk_fetch_bars_req {
    char run_id[37]; /* lower-case canonical uuid */
} bk_fetch_bars_req;
int bk_req_fetch_bars(const char *body, size_t len, bk_fetch_bars_req *out, bk_api_error *e);

/* ?action= of /functions/v1/orchestrator (NULL → 400 missing action). */
typedef enum bk_action { BK_ACTION_TICK, BK_ACTION_STATUS, BK_ACTION_RETRY_FAILED } bk_action;
int bk_req_action(const char *s, bk_action *out, bk_api_error *e);

/* GET /functions/v1/ops-jobs?symbol=&timeframe=&hours= (each may be NULL or
 * ""; hours 1..8760, default 24). */
typedef struct bk_ops_req {
    char symbol[BK_SYM_MAX + 1]; /* "" = all */
    int tf;                      /* a bk_tf, or -1 = all */
    int32_t hours;
} bk_ops_req;
int bk_req_ops(const char *symbol, const char *tf, const char *hours, bk_ops_req *out,
               bk_api_error *e);

/* GET /realtime/v1/job_runs?symbol=&timeframe=&filter= — filter in Supabase
 * syntax: comma-separated "column=eq.value" terms on symbol and timeframe
 * ("symbol=eq.AAPL,timeframe=eq.1h"). Plain parameters and filter terms
 * combine; a conflict between them is a 400. Last-Event-ID: decimal event id
 * from the header (or the lastEventId query parameter), NULL/"" = none. */
typedef struct bk_sub_req {
    char symbol[BK_SYM_MAX + 1]; /* "" = all */
    int tf;                      /* -1 = all */
    uint64_t last_event_id;      /* 0 = none */
} bk_sub_req;
int bk_req_subscribe(const char *symbol, const char *tf, const char *filter,
                     const char *last_event_id, bk_sub_req *out, bk_api_error *e);

/* Credentials from "Authorization: Bearer <key>" or "apikey: <key>" (either
 * may be NULL). Writes the key (at most cap-1 bytes) and returns 0, or
 * BK_ENOENT when neither header carries one, BK_EINVAL (401) when malformed. */
int bk_req_credentials(const char *authorization, const char *apikey, char *key, size_t cap,
                       bk_api_error *e);

#endif
