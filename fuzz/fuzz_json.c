/*
 * fuzz_json.c — fuzz target for the JSON reader (json/jr.c).
 *
 * Parses the input and walks the document with every getter: each value's
 * typed reads must succeed exactly for its type, strings must be
 * NUL-terminated at their length, arrays must end where bk_jv_len says.
 * jr.h cannot enumerate object keys, so members are looked up by every
 * quoted string found in the input plus a few fixed names. A rejected input
 * must leave *out NULL and an error message. Violations abort.
 */
#include "json/jr.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_KEYS 16
#define KEY_MAX  64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct keys {
    char key[MAX_KEYS][KEY_MAX];
    int n;
} keys;

static void check(bool ok)
{
    if (!ok)
        abort();
}

/* Add s[0..len) unless present: a repeated key would walk a subtree twice
 * per level, exponentially in the depth. */
static void add_key(keys *k, const void *s, size_t len)
{
    if (k->n == MAX_KEYS || len >= KEY_MAX || memchr(s, '\0', len))
        return;
    for (int i = 0; i < k->n; i++)
        if (strlen(k->key[i]) == len && memcmp(k->key[i], s, len) == 0)
            return;
    memcpy(k->key[k->n], s, len);
    k->key[k->n++][len] = '\0';
}

/* Raw text between double quotes in the input (escapes left as they are). */
static void find_keys(const uint8_t *p, size_t n, keys *k)
{
    static const char *const fixed[] = {"", "a", "symbol", "timeframe"};
    k->n = 0;
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        add_key(k, fixed[i], strlen(fixed[i]));
    for (size_t i = 0; i + 1 < n && k->n < MAX_KEYS; i++) {
        if (p[i] != '"')
            continue;
        const uint8_t *end = memchr(p + i + 1, '"', n - i - 1);
        if (!end)
            break;
        size_t len = (size_t)(end - (p + i + 1));
        add_key(k, p + i + 1, len);
        i += len + 1;
    }
}

static void walk(const bk_jval *v, const keys *k, int depth)
{
    check(depth <= BK_JR_DEPTH);
    bk_jtype t = bk_jv_type(v);
    check(bk_jtype_name(t)[0] != '?');
    const char *s;
    size_t len;
    int64_t i64;
    double x;
    bool b;
    check((bk_jv_str(v, &s, &len) == 0) == (t == BK_JT_STRING));
    if (t == BK_JT_STRING)
        check(s[len] == '\0' && strlen(s) <= len);
    check((bk_jv_int(v, &i64) == 0) == (t == BK_JT_INT));
    check((bk_jv_num(v, &x) == 0) == (t == BK_JT_INT || t == BK_JT_REAL));
    check((bk_jv_bool(v, &b) == 0) == (t == BK_JT_BOOL));
    size_t n = bk_jv_len(v);
    check(t == BK_JT_ARRAY || n == 0);
    for (size_t i = 0; i < n; i++) {
        const bk_jval *item = bk_jv_at(v, i);
        check(item != NULL);
        walk(item, k, depth + 1);
    }
    check(bk_jv_at(v, n) == NULL);
    for (int i = 0; i < k->n; i++) {
        const bk_jval *m = bk_jv_get(v, k->key[i]);
        check(t == BK_JT_OBJECT || m == NULL);
        if (m)
            walk(m, k, depth + 1);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    bk_jdoc *d = NULL;
    bk_err err = {0};
    if (bk_jdoc_parse(&d, (const char *)data, size, &err) != 0) {
        check(d == NULL && err.code == BK_EINVAL && err.msg[0] != '\0');
        return 0;
    }
    static keys k;
    find_keys(data, size, &k);
    walk(bk_jdoc_root(d), &k, 0);
    bk_jdoc_free(d);
    return 0;
}
