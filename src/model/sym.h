/*
 * sym.h — ticker symbols. A valid symbol is 1..20 characters from
 * A-Z 0-9 . - ^ = / after upper-casing (BRK.B, ^GSPC, EURUSD=X, BTC/USD),
 * at least one of them a letter or a digit: ".", ".." or "^/" name nothing,
 * and a symbol of dots would be a dot segment in a provider's URL path.
 */
#ifndef BK_MODEL_SYM_H
#define BK_MODEL_SYM_H

#define BK_SYM_MAX 20

/* Validate and upper-case s into out (BK_SYM_MAX + 1 bytes). 0 or BK_EINVAL
 * (out is then an empty string). */
int bk_sym_parse(const char *s, char out[BK_SYM_MAX + 1]);

#endif
