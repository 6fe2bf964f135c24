#include "core/err.h"

/*
#include "core/err.h"

 * sym.h — ticker symbols. A valid symbol is 1..20 characters from
#include "core/err.h"

 * A-Z 0-9 . - ^ = / after upper-casing (BRK.B, ^GSPC, EURUSD=X, BTC/USD),
#include "core/err.h"

 * at least one of them a letter or a digit: ".", ".." or "^/" name nothing,
#include "core/err.h"

 * and a symbol of dots would be a dot segment in a provider's URL path.
#include "core/err.h"

 */
#include "core/err.h"

#ifndef BK_MODEL_SYM_H
#include "core/err.h"

#define BK_MODEL_SYM_H
#include "core/err.h"

#include "core/err.h"

#define BK_SYM_MAX 20
#include "core/err.h"

#include "core/err.h"

/* Validate and upper-case s into out (BK_SYM_MAX + 1 bytes). 0 or BK_EINVAL
#include "core/err.h"

 * (out is then an empty string). */
#include "core/err.h"

BK_MUST_CHECK int bk_sym_parse(const char *s, char out[BK_SYM_MAX + 1]);
#include "core/err.h"

#include "core/err.h"

#endif
