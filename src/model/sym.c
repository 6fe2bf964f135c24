/*
 * sym.c — symbol validation and normalisation.
 */
#include "model/sym.h"
#include "core/err.h"

#include <stdbool.h>
#include <string.h>

int bk_sym_parse(const char *s, char out[BK_SYM_MAX + 1])
{
    out[0] = '\0';
    if (!s)
        return BK_EINVAL;
    size_t n = 0;
    bool alnum = false;
    for (; s[n]; n++) {
        if (n >= BK_SYM_MAX) {
            out[0] = '\0';
            return BK_EINVAL;
        }
        char c = s[n];
        if (c >= 'a' && c <= 'z')
            c = (char)(c - 'a' + 'A');
        if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || strchr(".-^=/", c))) {
            out[0] = '\0';
            return BK_EINVAL;
        }
        alnum |= (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        out[n] = c;
    }
    if (!alnum) { /* "", ".", "..", "^/": never a ticker, and dots are path segments */
        out[0] = '\0';
        return BK_EINVAL;
    }
    out[n] = '\0';
    return 0;
}
