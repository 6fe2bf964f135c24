/*
 * err.c — error names, messages and the retry classification of run failures.
 */
#include "core/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int bk_err_set(bk_err *err, int code, const char *fmt, ...)
{
    if (!err)
        return code;
    err->code = code;
    err->retry_after_ms = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return code;
}

void bk_err_clear(bk_err *err)
{
    if (err)
        memset(err, 0, sizeof *err);
}

const char *bk_err_name(int code)
{
    switch (code) {
    case 0:
        return "OK";
#define BK_ERR_NAME(name, value, run_code, msg)                                                    \
    case (value):                                                                                  \
        return #name;
        BK_ERR_MAP(BK_ERR_NAME)
#undef BK_ERR_NAME
    }
    return "E?";
}

const char *bk_strerror(int code)
{
    switch (code) {
    case 0:
        return "ok";
#define BK_ERR_STR(name, value, run_code, msg)                                                     \
    case (value):                                                                                  \
        return msg;
        BK_ERR_MAP(BK_ERR_STR)
#undef BK_ERR_STR
    }
    return code < 0 && code > -4000 ? strerror(-code) : "unknown error";
}

const char *bk_err_run_code(int code)
{
    switch (code) {
    case 0:
        return "OK";
#define BK_ERR_RUN(name, value, run_code, msg)                                                     \
    case (value):                                                                                  \
        return run_code;
        BK_ERR_MAP(BK_ERR_RUN)
#undef BK_ERR_RUN
    }
    return "INTERNAL_ERROR";
}

int bk_err_retryable(int code)
{
    switch (code) {
    case BK_EPROV_AUTH:
    case BK_EPROV_SYMBOL:
    case BK_EINVAL:
    case BK_ENOPROV:
    case BK_EPROV_RANGE:
    case BK_EFC_HISTORY:
    case BK_EFC_INPUT:
        return 0;
    default:
        return 1;
    }
}
