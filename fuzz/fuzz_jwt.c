/*
 * fuzz_jwt.c — fuzz target for the JWTs that are keys (api/jwt.c).
 *
 * The first input byte selects what the rest is: 0, a token verified with a
 * fixed secret; 1, a payload whose claims are read; 2, base64url to decode;
 * 3, "HEADER\nPAYLOAD" (or a payload alone) signed with the secret and then
 * verified, so the header and payload parsers run behind a valid signature.
 * Each call must succeed with sane claims (a NUL-terminated role; a
 * verified token's exp after now and nbf not after it) or fail with 401, a
 * non-empty code and message. Violations abort.
 */
#include "api/jwt.h"
#include "core/err.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define SECRET "fuzz-secret-0123456789abcdef0123456789abcdef"
#define NOW_S  INT64_C(1780000000)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok)
{
    if (!ok)
        abort();
}

static void check_result(int rc, const bk_jwt_claims *c, const bk_api_error *e, bool verified)
{
    if (rc != 0) {
        check(rc == BK_EINVAL && e->status == 401);
        check(memchr(e->code, '\0', sizeof e->code) && e->code[0] != '\0');
        check(memchr(e->msg, '\0', sizeof e->msg) && e->msg[0] != '\0');
        return;
    }
    check(memchr(c->role, '\0', sizeof c->role) != NULL);
    if (verified) {
        check(!c->has_exp || NOW_S < c->exp_s);
        check(!c->has_nbf || NOW_S >= c->nbf_s);
    }
}

static int verify(bk_jwt_claims *c, const char *t, size_t n, bk_api_error *e)
{
    return bk_jwt_verify(c, t, n, SECRET, strlen(SECRET), NOW_S, e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    char *s = malloc(size); /* the rest, NUL-terminated */
    if (!s)
        return 0;
    size_t n = size - 1;
    memcpy(s, data + 1, n);
    s[n] = '\0';
    bk_jwt_claims c;
    bk_api_error e;
    unsigned char out[256];
    size_t len = 0;
    switch (data[0] & 3) {
    case 0:
        check_result(verify(&c, s, n, &e), &c, &e, true);
        break;
    case 1:
        check_result(bk_jwt_parse_claims(&c, s, n, &e), &c, &e, false);
        break;
    case 2:
        if (bk_jwt_b64url_decode(out, sizeof out, &len, s, n) == 0)
            check(len <= sizeof out && len == n * 3 / 4);
        break;
    default: {
        if (strlen(s) != n) /* the signer takes C strings */
            break;
        char *nl = strchr(s, '\n');
        if (nl)
            *nl = '\0';
        bk_buf t;
        bk_buf_init(&t);
        bk_jwt_sign(&t, nl ? s : NULL, nl ? nl + 1 : s, SECRET, strlen(SECRET));
        check(bk_jwt_shaped(t.data) || n == 0 || (nl && (nl == s || nl[1] == '\0')));
        check_result(verify(&c, t.data, t.len, &e), &c, &e, true);
        bk_buf_fini(&t);
    }
    }
    free(s);
    return 0;
}
