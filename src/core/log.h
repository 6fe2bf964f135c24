/*
 * log.h — structured logging to stderr, one line per event.
 *
 * bk_log(BK_LOG_INFO, "work", "run finished run=%s rows=%d", id, n) prints
 *   ts=2026-11-28T18:31:58.120Z level=info sub=work msg="run finished" run=... rows=...
 * The text before the first " key=" is the message; the rest are key=value
 * pairs that the caller formats. With the JSON format the same line becomes
 * one JSON object ({"ts":..,"level":..,"sub":..,"msg":..,"run":"..",...}).
 * Thread-safe: each line is written with a single locked write.
 */
#ifndef BK_CORE_LOG_H
#define BK_CORE_LOG_H

enum bk_log_level { BK_LOG_DEBUG, BK_LOG_INFO, BK_LOG_WARN, BK_LOG_ERROR, BK_LOG_OFF };
enum bk_log_format { BK_LOG_KV, BK_LOG_JSON };

void bk_log_setup(enum bk_log_level min_level, enum bk_log_format format);
/* Parse "debug|info|warn|error|off"; returns 0 or BK_EINVAL. */
int bk_log_parse_level(const char *s, enum bk_log_level *out);
void bk_log(enum bk_log_level level, const char *sub, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
