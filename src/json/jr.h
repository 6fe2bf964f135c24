/*
 * jr.h — reading JSON from outside (request bodies, provider responses):
 * a thin, typed layer over jansson, the only place that includes it.
 *
 * A bk_jdoc owns a parsed document; bk_jval pointers into it are borrowed
 * and live as long as the document. Any JSON value may be the root. For a
 * duplicate object key the last one wins; trailing garbage, invalid UTF-8,
 * integers outside int64 and nesting deeper than BK_JR_DEPTH arrays/objects
 * are rejected. Strings may contain NUL bytes ("\u0000"); object keys may
 * not. Not thread-safe per document; documents are independent.
 */
#ifndef BK_JSON_JR_H
#define BK_JSON_JR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define BK_JR_DEPTH 64

typedef struct bk_jdoc bk_jdoc;
typedef struct bk_jval bk_jval;

typedef enum bk_jtype {
    BK_JT_NULL,
    BK_JT_BOOL,
    BK_JT_INT,  /* a JSON number without fraction or exponent */
    BK_JT_REAL, /* any other JSON number */
    BK_JT_STRING,
    BK_JT_ARRAY,
    BK_JT_OBJECT,
} bk_jtype;

/* Parse len bytes (need not be NUL-terminated; data may be NULL when len is
 * 0). BK_EINVAL with the line, column and reason in err; *out is then NULL. */
BK_MUST_CHECK int bk_jdoc_parse(bk_jdoc **out, const char *data, size_t len, bk_err *err);
void bk_jdoc_free(bk_jdoc *d);
const bk_jval *bk_jdoc_root(const bk_jdoc *d);

bk_jtype bk_jv_type(const bk_jval *v); /* BK_JT_NULL for a NULL v */
/* "null", "boolean", "integer", "number", "string", "array", "object". */
const char *bk_jtype_name(bk_jtype t);
/* Member of an object (NULL if v is not an object or has no such key). */
const bk_jval *bk_jv_get(const bk_jval *obj, const char *key);
size_t bk_jv_len(const bk_jval *arr);                  /* 0 unless an array */
const bk_jval *bk_jv_at(const bk_jval *arr, size_t i); /* NULL when out of range */
/* Typed reads: 0, or BK_EINVAL when v is NULL or of another type. */
/* *out is borrowed and NUL-terminated; *len (len may be NULL) is its length in
 * bytes, which exceeds strlen(*out) when the string holds a NUL byte: a
 * caller that needs a C string must check len == strlen(*out). */
int bk_jv_str(const bk_jval *v, const char **out, size_t *len);
int bk_jv_int(const bk_jval *v, int64_t *out); /* BK_JT_INT only */
int bk_jv_num(const bk_jval *v, double *out);  /* BK_JT_INT or BK_JT_REAL */
int bk_jv_bool(const bk_jval *v, bool *out);

#endif
