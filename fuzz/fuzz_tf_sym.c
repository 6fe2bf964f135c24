/*
 * fuzz_tf_sym.c — fuzz target for timeframe and symbol parsing
 * (model/tf.c, model/sym.c).
 *
 * A parsed timeframe's canonical name must parse to the same timeframe; a
 * parsed symbol must be a fixed point of bk_sym_parse and a rejected one
 * must leave an empty string. Violations abort. Inputs are capped at 256
 * bytes.
 */
#include "model/sym.h"
#include "model/tf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_MAX_INPUT 256

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_tf(const char *s)
{
    bk_tf tf, back;
    if (bk_tf_parse(s, &tf) != 0)
        return;
    if ((unsigned)tf >= BK_TF__N || bk_tf_parse(bk_tf_name(tf), &back) != 0 || back != tf)
        abort();
}

static void check_sym(const char *s)
{
    char out[BK_SYM_MAX + 1], again[BK_SYM_MAX + 1];
    if (bk_sym_parse(s, out) != 0) {
        if (out[0] != '\0')
            abort();
        return;
    }
    size_t n = strlen(out);
    if (n == 0 || n > BK_SYM_MAX || n != strlen(s))
        abort();
    if (bk_sym_parse(out, again) != 0 || strcmp(out, again) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char s[FUZZ_MAX_INPUT + 1];
    if (size > FUZZ_MAX_INPUT)
        size = FUZZ_MAX_INPUT;
    memcpy(s, data, size);
    s[size] = '\0';
    check_tf(s);
    check_sym(s);
    return 0;
}
