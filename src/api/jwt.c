/*
 * jwt.c — HS256 JSON Web Tokens (jwt.h). The order of the checks is the
 * safe one: the token's shape, then the header (alg), then the signature
 * over the bytes as received, and only a token signed with the secret has
 * its payload parsed. Decoding is strict base64url, so one token has one
 * spelling.
 */
#include "api/jwt.h"
#include "json/jr.h"

#include <math.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <string.h>

#define SIG_LEN  32   /* SHA-256 */
#define PART_MAX 6144 /* a decoded header or payload */

static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

int bk_jwt_b64url_decode(unsigned char *out, size_t cap, size_t *out_len, const char *s, size_t n)
{
    *out_len = 0;
    if (n % 4 == 1 || n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0) > cap)
        return BK_EINVAL;
    uint32_t acc = 0;
    int bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64_value((unsigned char)s[i]);
        if (v < 0)
            return BK_EINVAL;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    if (acc != 0) /* non-zero unused bits: a second spelling of the same bytes */
        return BK_EINVAL;
    *out_len = o;
    return 0;
}

static void b64url_encode(bk_buf *out, const unsigned char *p, size_t n)
{
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    char q[4];
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        size_t k = n - i >= 3 ? 3 : n - i;
        if (k > 1)
            v |= (uint32_t)p[i + 1] << 8;
        if (k > 2)
            v |= p[i + 2];
        for (size_t j = 0; j < 4; j++)
            q[j] = abc[(v >> (18 - 6 * j)) & 63];
        bk_buf_append(out, q, k + 1);
    }
}

/* The two dots of a compact JWS: 0 with dot1, dot2, or BK_EINVAL. */
static int split(const char *t, size_t n, size_t *dot1, size_t *dot2)
{
    const char *a = memchr(t, '.', n);
    if (!a)
        return BK_EINVAL;
    const char *b = memchr(a + 1, '.', n - (size_t)(a + 1 - t));
    if (!b || memchr(b + 1, '.', n - (size_t)(b + 1 - t)))
        return BK_EINVAL;
    *dot1 = (size_t)(a - t);
    *dot2 = (size_t)(b - t);
    return *dot1 > 0 && *dot2 > *dot1 + 1 && *dot2 + 1 < n ? 0 : BK_EINVAL;
}

bool bk_jwt_shaped(const char *token)
{
    size_t d1, d2, n = strlen(token);
    if (split(token, n, &d1, &d2) != 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (token[i] != '.' && b64_value((unsigned char)token[i]) < 0)
            return false;
    return true;
}

static int invalid(bk_api_error *e, const char *why)
{
    return bk_api_fail(e, 401, "invalid_jwt", "invalid JWT: %s", why);
}

/* A JSON object decoded from a base64url segment. */
static int parse_part(bk_jdoc **doc, const char *s, size_t n, const char *what, bk_api_error *e)
{
    unsigned char buf[PART_MAX];
    size_t len;
    char why[64];
    *doc = NULL;
    if (bk_jwt_b64url_decode(buf, sizeof buf, &len, s, n) != 0) {
        snprintf(why, sizeof why, "the %s is not base64url", what);
        return invalid(e, why);
    }
    bk_err err = {0};
    if (bk_jdoc_parse(doc, (const char *)buf, len, &err) != 0 ||
        bk_jv_type(bk_jdoc_root(*doc)) != BK_JT_OBJECT) {
        bk_jdoc_free(*doc);
        *doc = NULL;
        snprintf(why, sizeof why, "the %s is not a JSON object", what);
        return invalid(e, why);
    }
    return 0;
}

static int check_header(const char *s, size_t n, bk_api_error *e)
{
    bk_jdoc *doc;
    int rc = parse_part(&doc, s, n, "header", e);
    if (rc)
        return rc;
    const bk_jval *h = bk_jdoc_root(doc);
    const char *alg = NULL;
    size_t alg_len = 0;
    if (bk_jv_str(bk_jv_get(h, "alg"), &alg, &alg_len) != 0)
        rc = invalid(e, "the header has no alg");
    else if (alg_len != 5 || memcmp(alg, "HS256", 5) != 0)
        rc = invalid(e, "alg must be HS256");
    else if (bk_jv_get(h, "crit"))
        rc = invalid(e, "critical header extensions are not supported");
    bk_jdoc_free(doc);
    return rc;
}

/* A NumericDate claim: absent (0, *has false), or a finite number. */
static int numeric_date(const bk_jval *v, const char *name, bool *has, int64_t *out,
                        bk_api_error *e)
{
    *has = false;
    if (!v)
        return 0;
    double d;
    if (bk_jv_num(v, &d) != 0 || !isfinite(d) || d < -9.2e18 || d > 9.2e18) {
        char why[64];
        snprintf(why, sizeof why, "the %s claim is not a number", name);
        return invalid(e, why);
    }
    *has = true;
    *out = (int64_t)floor(d);
    return 0;
}

int bk_jwt_parse_claims(bk_jwt_claims *out, const char *json, size_t n, bk_api_error *e)
{
    memset(out, 0, sizeof *out);
    bk_jdoc *doc = NULL;
    bk_err err = {0};
    if (bk_jdoc_parse(&doc, json, n, &err) != 0 || bk_jv_type(bk_jdoc_root(doc)) != BK_JT_OBJECT) {
        bk_jdoc_free(doc);
        return invalid(e, "the payload is not a JSON object");
    }
    const bk_jval *p = bk_jdoc_root(doc);
    const bk_jval *role = bk_jv_get(p, "role");
    const char *r = NULL;
    size_t rl = 0;
    int rc = 0;
    if (role && (bk_jv_str(role, &r, &rl) != 0 || rl >= sizeof out->role || memchr(r, 0, rl)))
        rc = invalid(e, "the role claim is not a short string");
    else if (role)
        memcpy(out->role, r, rl);
    if (rc == 0)
        rc = numeric_date(bk_jv_get(p, "exp"), "exp", &out->has_exp, &out->exp_s, e);
    if (rc == 0)
        rc = numeric_date(bk_jv_get(p, "nbf"), "nbf", &out->has_nbf, &out->nbf_s, e);
    bk_jdoc_free(doc);
    return rc;
}

static void hs256(unsigned char mac[SIG_LEN], const char *secret, size_t secret_len,
                  const char *data, size_t n)
{
    unsigned int len = SIG_LEN;
    if (!HMAC(EVP_sha256(), secret, (int)secret_len, (const unsigned char *)data, n, mac, &len))
        memset(mac, 0, SIG_LEN); /* never matches a real signature: decoded ones are checked */
}

int bk_jwt_verify(bk_jwt_claims *out, const char *token, size_t n, const char *secret,
                  size_t secret_len, int64_t now_s, bk_api_error *e)
{
    memset(out, 0, sizeof *out);
    size_t d1, d2;
    if (n > BK_JWT_MAX || split(token, n, &d1, &d2) != 0)
        return invalid(e, "expected header.payload.signature");
    int rc = check_header(token, d1, e);
    if (rc)
        return rc;
    unsigned char sig[SIG_LEN + 3], want[SIG_LEN];
    size_t sig_len;
    if (bk_jwt_b64url_decode(sig, sizeof sig, &sig_len, token + d2 + 1, n - d2 - 1) != 0 ||
        sig_len != SIG_LEN)
        return invalid(e, "the signature is not 32 base64url bytes");
    hs256(want, secret, secret_len, token, d2);
    bool ok = CRYPTO_memcmp(sig, want, SIG_LEN) == 0;
    OPENSSL_cleanse(want, sizeof want);
    if (!ok)
        return invalid(e, "bad signature (not signed with this server's JWT secret)");
    unsigned char payload[PART_MAX];
    size_t plen;
    if (bk_jwt_b64url_decode(payload, sizeof payload, &plen, token + d1 + 1, d2 - d1 - 1) != 0)
        return invalid(e, "the payload is not base64url");
    rc = bk_jwt_parse_claims(out, (const char *)payload, plen, e);
    if (rc)
        return rc;
    if (out->has_exp && now_s >= out->exp_s)
        return bk_api_fail(e, 401, "jwt_expired", "JWT expired %lld s ago (exp %lld)",
                           (long long)(now_s - out->exp_s), (long long)out->exp_s);
    if (out->has_nbf && now_s < out->nbf_s)
        return bk_api_fail(e, 401, "invalid_jwt", "JWT not valid before %lld (nbf), %lld s ahead",
                           (long long)out->nbf_s, (long long)(out->nbf_s - now_s));
    return 0;
}

void bk_jwt_sign(bk_buf *out, const char *header_json, const char *payload_json, const char *secret,
                 size_t secret_len)
{
    const char *header = header_json ? header_json : "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
    size_t start = out->len;
    b64url_encode(out, (const unsigned char *)header, strlen(header));
    bk_buf_puts(out, ".");
    b64url_encode(out, (const unsigned char *)payload_json, strlen(payload_json));
    unsigned char mac[SIG_LEN];
    hs256(mac, secret, secret_len, out->data + start, out->len - start);
    bk_buf_puts(out, ".");
    b64url_encode(out, mac, sizeof mac);
}
