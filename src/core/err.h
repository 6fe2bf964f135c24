/*
 * err.h — barkeep's one set of error codes and the caller-owned error record.
 *
 * Fallible functions return int: 0 on success or a negative BK_E* code.
 * Codes that mirror an OS condition are negated errno values (libuv style);
 * barkeep's own codes sit below -4000. A code exists only because some caller
 * branches on it. The human message travels in a bk_err that the caller owns
 * (never a thread-local); log it once, where it is handled.
 *
 * Run error codes (the stable strings stored in job_runs.error_code and
 * documented in docs/errors.md) come from bk_err_run_code().
 */
#ifndef BK_CORE_ERR_H
#define BK_CORE_ERR_H

#include <errno.h>
#include <stdint.h>

/* On a fallible function (it returns 0 or a BK_E* code): a caller that drops
 * the result is a compile error (-Werror). A caller that may ignore it says
 * why and writes `if (f(...) != 0) { }` or logs it. */
#define BK_MUST_CHECK __attribute__((warn_unused_result))

/* X(name, value, run_code, message) */
#define BK_ERR_MAP(X)                                                                              \
    X(EINVAL, -EINVAL, "INVALID_ARGUMENT", "invalid argument")                                     \
    X(ENOMEM, -ENOMEM, "OUT_OF_MEMORY", "out of memory")                                           \
    X(ENOENT, -ENOENT, "NOT_FOUND", "not found")                                                   \
    X(EEXIST, -EEXIST, "ALREADY_EXISTS", "already exists")                                         \
    X(ETIMEDOUT, -ETIMEDOUT, "PROVIDER_TIMEOUT", "timed out")                                      \
    X(EIO, -EIO, "IO_ERROR", "i/o error")                                                          \
    X(EBUSY, -EBUSY, "BUSY", "resource busy")                                                      \
    X(ERANGE, -ERANGE, "OUT_OF_RANGE", "value out of range")                                       \
    X(ESTORE, -4001, "STORE_ERROR", "database error")                                              \
    X(ECORRUPT, -4002, "STORE_CORRUPT", "database file is corrupt or not a database")              \
    X(ELEASE, -4003, "LEASE_LOST", "run lease lost to another worker")                             \
    X(ESCHEMA, -4004, "SCHEMA_TOO_NEW", "database schema is newer than this barkeep")              \
    X(EPROV_5XX, -4010, "PROVIDER_5XX", "provider server error")                                   \
    X(EPROV_NET, -4011, "PROVIDER_NETWORK", "provider unreachable")                                \
    X(EPROV_RATE, -4012, "PROVIDER_RATE_LIMITED", "provider rate limit hit")                       \
    X(EPROV_AUTH, -4013, "PROVIDER_AUTH", "provider refused the credentials")                      \
    X(EPROV_SYMBOL, -4014, "UNKNOWN_SYMBOL", "provider does not know the symbol")                  \
    X(EPROV_MALFORMED, -4015, "PROVIDER_MALFORMED", "malformed provider response")                 \
    X(EBADBAR, -4016, "INVALID_BAR", "provider returned an invalid bar")                           \
    X(ENOPROV, -4017, "NO_PROVIDER", "no provider can serve this series")                          \
    X(ECANCELED, -4018, "CANCELLED", "cancelled")                                                  \
    X(EPROV_RANGE, -4019, "PROVIDER_RANGE", "provider does not serve this time range")             \
    X(EPROV_BREAKER, -4020, "PROVIDER_UNAVAILABLE", "provider circuit breaker is open")            \
    X(EPROV_INCOMPAT, -4021, "NO_COMPATIBLE_PROVIDER",                                             \
      "no available provider serves this series' feed and adjustment")                             \
    X(EPROV_EMPTY, -4022, "EMPTY_UNCONFIRMED",                                                     \
      "provider answered no bars and nothing confirms the symbol exists there")                    \
    X(EFC_HISTORY, -4023, "FORECAST_HISTORY",                                                      \
      "too little closed history in the window for a forecast")                                    \
    X(EFC_INPUT, -4024, "FORECAST_INPUT",                                                          \
      "the series cannot be forecast (flat, non-positive or non-finite closes)")

enum {
#define BK_ERR_ENUM(name, value, run_code, msg) BK_##name = (value),
    BK_ERR_MAP(BK_ERR_ENUM)
#undef BK_ERR_ENUM
};

#define BK_ERR_MSG_MAX 256

/* A caller-owned error record: zero it (or bk_err_clear) before use. */
typedef struct bk_err {
    int code;                 /* 0 or a BK_E* code */
    int64_t retry_after_ms;   /* > 0 when the failing party asked us to wait (429 Retry-After) */
    char msg[BK_ERR_MSG_MAX]; /* human text, "" when none */
} bk_err;

/* Fill err (may be NULL) with code and a printf-style message; returns code. */
int bk_err_set(bk_err *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void bk_err_clear(bk_err *err);
/* "EINVAL", "EPROV_5XX", ...; "E?" for an unknown code. */
const char *bk_err_name(int code);
/* Default message for a code. */
const char *bk_strerror(int code);
/* Stable run error code string for job_runs.error_code ("PROVIDER_5XX", ...). */
const char *bk_err_run_code(int code);
/* True for provider failures worth retrying later (5xx, network, timeouts, 429,
 * malformed bodies, invalid bars); false for permanent ones (auth, unknown symbol). */
int bk_err_retryable(int code);

#endif
