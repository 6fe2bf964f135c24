#include "core/err.h"

/*
#include "core/err.h"

 * log.h — structured logging to stderr, one line per event.
#include "core/err.h"

 *
#include "core/err.h"

 * bk_log(BK_LOG_INFO, "work", "run finished run=%s rows=%d", id, n) prints
#include "core/err.h"

 *   ts=2026-11-28T18:31:58.120Z level=info sub=work msg="run finished" run=... rows=...
#include "core/err.h"

 * The text before the first " key=" is the message; the rest are key=value
#include "core/err.h"

 * pairs that the caller formats. With the JSON format the same line becomes
#include "core/err.h"

 * one JSON object ({"ts":..,"level":..,"sub":..,"msg":..,"run":"..",...}).
#include "core/err.h"

 * Thread-safe: each line is written with a single locked write.
#include "core/err.h"

 */
#include "core/err.h"

#ifndef BK_CORE_LOG_H
#include "core/err.h"

#define BK_CORE_LOG_H
#include "core/err.h"

#include "core/err.h"

enum bk_log_level { BK_LOG_DEBUG, BK_LOG_INFO, BK_LOG_WARN, BK_LOG_ERROR, BK_LOG_OFF };
#include "core/err.h"

enum bk_log_format { BK_LOG_KV, BK_LOG_JSON };
#include "core/err.h"

#include "core/err.h"

void bk_log_setup(enum bk_log_level min_level, enum bk_log_format format);
#include "core/err.h"

/* Parse "debug|info|warn|error|off"; returns 0 or BK_EINVAL. */
#include "core/err.h"

BK_MUST_CHECK int bk_log_parse_level(const char *s, enum bk_log_level *out);
#include "core/err.h"

void bk_log(enum bk_log_level level, const char *sub, const char *fmt, ...)
#include "core/err.h"

    __attribute__((format(printf, 3, 4)));
#include "core/err.h"

#include "core/err.h"

#endif
