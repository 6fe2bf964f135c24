/*
 * jw.h — a small streaming JSON writer into a bk_buf. Output is compact
 * (no spaces) and always valid UTF-8 JSON provided strings passed in are
 * UTF-8 (bytes < 0x20, '"' and '\\' are escaped; invalid UTF-8 bytes are
 * replaced by U+FFFD). Commas are inserted automatically. Nesting depth is
 * at most BK_JW_DEPTH. Non-finite doubles are written as null.
 *
 * jw_key() names the next value inside an object. Not thread-safe; one
 * writer per output.
 */
#ifndef BK_JSON_JW_H
#define BK_JSON_JW_H

#include <stdbool.h>
#include <stdint.h>

#include "core/util.h"

#define BK_JW_DEPTH 32

typedef struct bk_jw {
    bk_buf *out;
    int depth;
    bool need_comma[BK_JW_DEPTH];
} bk_jw;

void bk_jw_init(bk_jw *w, bk_buf *out);
void bk_jw_obj_begin(bk_jw *w);
void bk_jw_obj_end(bk_jw *w);
void bk_jw_arr_begin(bk_jw *w);
void bk_jw_arr_end(bk_jw *w);
void bk_jw_key(bk_jw *w, const char *key);
void bk_jw_str(bk_jw *w, const char *s); /* NULL writes null */
void bk_jw_int(bk_jw *w, int64_t v);
void bk_jw_num(bk_jw *w, double v); /* shortest form that round-trips ("%.17g" trimmed) */
void bk_jw_bool(bk_jw *w, bool v);
void bk_jw_null(bk_jw *w);
/* An instant as an ISO-8601 UTC string, or null when us == 0. */
void bk_jw_time(bk_jw *w, int64_t us);

#endif
