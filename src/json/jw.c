/*
 * jw.c — the streaming JSON writer.
 *
 * Each nesting level remembers whether a value has been written at it
 * (need_comma); every value and key asks for a separator first, and a key
 * clears the flag so its value does not get one. Strings are copied byte by
 * byte with a UTF-8 validator: a well-formed sequence passes through, any
 * byte that does not start one becomes U+FFFD, and control characters are
 * written as \u00XX. Doubles use the fewest of 15, 16 or 17 significant
 * digits that read back to the same value. Read jw.h for the contract.
 */
#include "json/jw.h"
#include "model/time.h"

#include <assert.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void die(const char *what)
{
    fprintf(stderr, "barkeep: json writer misuse: %s\n", what);
    abort();
}

void bk_jw_init(bk_jw *w, bk_buf *out)
{
    w->out = out;
    w->depth = 0;
    memset(w->need_comma, 0, sizeof w->need_comma);
}

/* Write a comma when a value already precedes this one at this level. */
static void sep(bk_jw *w)
{
    if (w->need_comma[w->depth])
        bk_buf_append(w->out, ",", 1);
    w->need_comma[w->depth] = true;
}

static void open_level(bk_jw *w, char c)
{
    sep(w);
    if (w->depth + 1 >= BK_JW_DEPTH)
        die("nesting too deep");
    bk_buf_append(w->out, &c, 1);
    w->depth++;
    w->need_comma[w->depth] = false;
}

static void close_level(bk_jw *w, char c)
{
    if (w->depth <= 0)
        die("close without open");
    w->depth--;
    bk_buf_append(w->out, &c, 1);
}

void bk_jw_obj_begin(bk_jw *w)
{
    open_level(w, '{');
}

void bk_jw_obj_end(bk_jw *w)
{
    close_level(w, '}');
}

void bk_jw_arr_begin(bk_jw *w)
{
    open_level(w, '[');
}

void bk_jw_arr_end(bk_jw *w)
{
    close_level(w, ']');
}

/* Length of the well-formed UTF-8 sequence at p (at most n bytes), or 0.
 * Rejects overlong forms, surrogates and code points above U+10FFFF. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
    size_t len;
    unsigned lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
    if (p[0] >= 0xC2 && p[0] <= 0xDF)
        len = 2;
    else if (p[0] >= 0xE0 && p[0] <= 0xEF) {
        len = 3;
        lo = p[0] == 0xE0 ? 0xA0 : 0x80;
        hi = p[0] == 0xED ? 0x9F : 0xBF;
    } else if (p[0] >= 0xF0 && p[0] <= 0xF4) {
        len = 4;
        lo = p[0] == 0xF0 ? 0x90 : 0x80;
        hi = p[0] == 0xF4 ? 0x8F : 0xBF;
    } else
        return 0;
    if (n < len || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
    }
    return len;
}

/* Append s as a quoted, escaped JSON string. */
static void put_string(bk_buf *b, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s), i = 0;
    bk_buf_append(b, "\"", 1);
    while (i < n) {
        size_t run = i; /* copy plain ASCII in one go */
        while (run < n && p[run] >= 0x20 && p[run] < 0x80 && p[run] != '"' && p[run] != '\\')
            run++;
        bk_buf_append(b, p + i, run - i);
        i = run;
        if (i == n)
            break;
        if (p[i] == '"' || p[i] == '\\') {
            char esc[2] = {'\\', (char)p[i]};
            bk_buf_append(b, esc, 2);
            i++;
        } else if (p[i] < 0x20) {
            bk_buf_printf(b, "\\u%04x", p[i]);
            i++;
        } else {
            size_t len = utf8_len(p + i, n - i);
            bk_buf_append(b, len ? (const char *)p + i : "\xEF\xBF\xBD", len ? len : 3);
            i += len ? len : 1;
        }
    }
    bk_buf_append(b, "\"", 1);
}

void bk_jw_key(bk_jw *w, const char *key)
{
    sep(w);
    put_string(w->out, key ? key : "");
    bk_buf_append(w->out, ":", 1);
    w->need_comma[w->depth] = false;
}

void bk_jw_str(bk_jw *w, const char *s)
{
    if (!s) {
        bk_jw_null(w);
        return;
    }
    sep(w);
    put_string(w->out, s);
}

void bk_jw_int(bk_jw *w, int64_t v)
{
    sep(w);
    bk_buf_printf(w->out, "%" PRId64, v);
}

/* Exact fast path for the common case of prices and volumes: v equals
 * r / 10^k for an integer r < 2^53 and k <= 8 (division is correctly
 * rounded, so the decimal text of r with k fraction digits reads back as v).
 * The smallest such k gives the shortest text. Writes into out, returns the
 * length, or 0 when v is not of that form. */
static size_t num_fast(double v, char out[32])
{
    static const double p10[] = {1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8};
    double a = fabs(v);
    if (!(a >= 1e-4 && a < 1e15))
        return 0;
    for (int k = 0; k <= 8; k++) {
        double r = nearbyint(a * p10[k]);
        if (r >= 9007199254740992.0)
            return 0;
        if (r / p10[k] != a)
            continue;
        char digits[24];
        int n = 0;
        for (uint64_t u = (uint64_t)r; u || n == 0; u /= 10)
            digits[n++] = (char)('0' + u % 10);
        while (n <= k) /* 0.0001 needs leading zeros */
            digits[n++] = '0';
        size_t len = 0;
        assert(n <= 23 && (size_t)n + 3 <= 32); /* digits, sign, point, NUL fit out */
        if (v < 0)
            out[len++] = '-';
        for (int i = n - 1; i >= 0; i--) {
            out[len++] = digits[i];
            if (i == k && k > 0)
                out[len++] = '.';
        }
        out[len] = '\0';
        return len;
    }
    return 0;
}

void bk_jw_num(bk_jw *w, double v)
{
    if (!isfinite(v)) {
        bk_jw_null(w);
        return;
    }
    char tmp[32];
    size_t len = v == 0 ? (size_t)(tmp[0] = '0', tmp[1] = '\0', 1) : num_fast(v, tmp);
    if (len == 0) {
        for (int prec = 15; prec <= 17; prec++) {
            snprintf(tmp, sizeof tmp, "%.*g", prec, v);
            if (strtod(tmp, NULL) == v)
                break;
        }
        len = strlen(tmp);
    }
    sep(w);
    bk_buf_append(w->out, tmp, len);
}

void bk_jw_bool(bk_jw *w, bool v)
{
    sep(w);
    bk_buf_puts(w->out, v ? "true" : "false");
}

void bk_jw_null(bk_jw *w)
{
    sep(w);
    bk_buf_puts(w->out, "null");
}

void bk_jw_time(bk_jw *w, int64_t us)
{
    if (us == 0) {
        bk_jw_null(w);
        return;
    }
    char buf[BK_TIME_STR_MAX];
    bk_jw_str(w, bk_time_format(us, buf));
}
