/*
 * jr.c — the JSON reader of jr.h on jansson, the only file that includes
 * <jansson.h> for reading.
 *
 * A bk_jval is a json_t in disguise: the opaque pointer is the jansson node
 * itself, so getters are casts plus one jansson call and cost nothing to
 * allocate. Parsing uses jansson's defaults where they already match the
 * contract (the last duplicate key wins; trailing bytes are rejected;
 * integers outside int64 are a decode error) and adds two things: any value
 * may be the root (JSON_DECODE_ANY, so callers can say "not an object"
 * rather than "not JSON"), strings may hold "\u0000" (JSON_ALLOW_NUL; the
 * length is handed out so callers can refuse them), and nesting is checked
 * against BK_JR_DEPTH after decoding, since jansson's own limit (2048) is
 * fixed at compile time. Read next: req.c, the main caller.
 */
#include "json/jr.h"

#include "core/util.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>

struct bk_jdoc {
    json_t *root;
};

static const json_t *J(const bk_jval *v)
{
    return (const json_t *)(const void *)v;
}

static const bk_jval *V(const json_t *j)
{
    return (const bk_jval *)(const void *)j;
}

/* True when j nests no deeper than limit containers (j itself counting one). */
static bool depth_ok(const json_t *j, int limit)
{
    if (!json_is_array(j) && !json_is_object(j))
        return true;
    if (limit <= 0)
        return false;
    if (json_is_array(j)) {
        for (size_t i = 0; i < json_array_size(j); i++)
            if (!depth_ok(json_array_get(j, i), limit - 1))
                return false;
        return true;
    }
    /* jansson's iterator API takes a non-const object but does not modify it */
    json_t *obj = (json_t *)(uintptr_t)j;
    for (void *it = json_object_iter(obj); it; it = json_object_iter_next(obj, it))
        if (!depth_ok(json_object_iter_value(it), limit - 1))
            return false;
    return true;
}

int bk_jdoc_parse(bk_jdoc **out, const char *data, size_t len, bk_err *err)
{
    *out = NULL;
    if (!data && len > 0)
        return bk_err_set(err, BK_EINVAL, "invalid JSON: no data");
    json_error_t je;
    json_t *root = json_loadb(data ? data : "", len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    if (!root) {
        if (json_error_code(&je) == json_error_numeric_overflow)
            return bk_err_set(err, BK_EINVAL,
                              "invalid JSON at line %d column %d: number out of range "
                              "(integers must fit in 64 bits): %s",
                              je.line, je.column, je.text);
        return bk_err_set(err, BK_EINVAL, "invalid JSON at line %d column %d: %s", je.line,
                          je.column, je.text);
    }
    if (!depth_ok(root, BK_JR_DEPTH)) {
        json_decref(root);
        return bk_err_set(err, BK_EINVAL, "invalid JSON: nested deeper than %d levels",
                          BK_JR_DEPTH);
    }
    bk_jdoc *d = bk_xmalloc(sizeof *d);
    d->root = root;
    *out = d;
    return 0;
}

void bk_jdoc_free(bk_jdoc *d)
{
    if (!d)
        return;
    json_decref(d->root);
    free(d);
}

const bk_jval *bk_jdoc_root(const bk_jdoc *d)
{
    return d ? V(d->root) : NULL;
}

bk_jtype bk_jv_type(const bk_jval *v)
{
    if (!v)
        return BK_JT_NULL;
    switch (json_typeof(J(v))) {
    case JSON_OBJECT:
        return BK_JT_OBJECT;
    case JSON_ARRAY:
        return BK_JT_ARRAY;
    case JSON_STRING:
        return BK_JT_STRING;
    case JSON_INTEGER:
        return BK_JT_INT;
    case JSON_REAL:
        return BK_JT_REAL;
    case JSON_TRUE:
    case JSON_FALSE:
        return BK_JT_BOOL;
    case JSON_NULL:
        break;
    }
    return BK_JT_NULL;
}

const char *bk_jtype_name(bk_jtype t)
{
    static const char *const names[] = {
        [BK_JT_NULL] = "null",     [BK_JT_BOOL] = "boolean",  [BK_JT_INT] = "integer",
        [BK_JT_REAL] = "number",   [BK_JT_STRING] = "string", [BK_JT_ARRAY] = "array",
        [BK_JT_OBJECT] = "object",
    };
    return (unsigned)t < sizeof names / sizeof names[0] ? names[t] : "?";
}

const bk_jval *bk_jv_get(const bk_jval *obj, const char *key)
{
    if (!obj || !key)
        return NULL;
    return V(json_object_get(J(obj), key));
}

size_t bk_jv_len(const bk_jval *arr)
{
    return arr ? json_array_size(J(arr)) : 0;
}

const bk_jval *bk_jv_at(const bk_jval *arr, size_t i)
{
    return arr ? V(json_array_get(J(arr), i)) : NULL;
}

int bk_jv_str(const bk_jval *v, const char **out, size_t *len)
{
    if (!v || !json_is_string(J(v)))
        return BK_EINVAL;
    *out = json_string_value(J(v));
    if (len)
        *len = json_string_length(J(v));
    return 0;
}

int bk_jv_int(const bk_jval *v, int64_t *out)
{
    if (!v || !json_is_integer(J(v)))
        return BK_EINVAL;
    *out = (int64_t)json_integer_value(J(v));
    return 0;
}

int bk_jv_num(const bk_jval *v, double *out)
{
    if (!v || !json_is_number(J(v)))
        return BK_EINVAL;
    *out = json_number_value(J(v));
    return 0;
}

int bk_jv_bool(const bk_jval *v, bool *out)
{
    if (!v || !json_is_boolean(J(v)))
        return BK_EINVAL;
    *out = json_is_true(J(v));
    return 0;
}
