/*
 * jwt.h — JSON Web Tokens as Supabase issues them: HS256, signed with the
 * project's JWT secret, carrying a `role` claim (anon, authenticated,
 * service_role) and usually `exp`. Only what a key check needs: verify a
 * token (strict base64url, alg HS256 only, constant-time signature compare,
 * exp and nbf against barkeep's clock) and read its role; and sign one
 * (tests, `barkeep keys jwt`). HMAC comes from libcrypto, JSON from src/json.
 *
 * The token is outside bytes: every function here is a parser of them, and
 * fuzz/fuzz_jwt.c drives it. Nothing here logs or echoes a token or the
 * secret.
 */
#ifndef BK_API_JWT_H
#define BK_API_JWT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/req.h"
#include "core/util.h"

#define BK_JWT_MAX        8192 /* longest token read (a user's access token with metadata) */
#define BK_JWT_SECRET_MIN 32   /* Supabase asks for at least 32 characters */

typedef struct bk_jwt_claims {
    char role[64];
    bool has_exp, has_nbf;
    int64_t exp_s, nbf_s; /* NumericDate, seconds since the epoch (floored) */
} bk_jwt_claims;

/* Shaped like a compact JWS: three non-empty base64url segments joined by
 * two dots. Says nothing about validity. */
bool bk_jwt_shaped(const char *token);

/* Strict base64url without padding (RFC 7515 §2): the alphabet only, no
 * '=', no length of 1 mod 4, unused trailing bits zero. Writes *out_len
 * bytes into out (cap bytes at most). 0 or BK_EINVAL. */
int bk_jwt_b64url_decode(unsigned char *out, size_t cap, size_t *out_len, const char *s, size_t n);

/* The claims of a payload (JSON object): role (a string, if present), exp
 * and nbf (numbers, if present). 0, or BK_EINVAL with e (401 invalid_jwt). */
int bk_jwt_parse_claims(bk_jwt_claims *out, const char *json, size_t n, bk_api_error *e);

/* Verify token[0..n) with secret[0..secret_len) at now_s: header alg
 * HS256 (no crit), a valid signature, not expired (now_s >= exp), not
 * before nbf. 0 with *out, or BK_EINVAL with e: status 401, code
 * "jwt_expired" or "invalid_jwt" and the reason. Any thread. */
int bk_jwt_verify(bk_jwt_claims *out, const char *token, size_t n, const char *secret,
                  size_t secret_len, int64_t now_s, bk_api_error *e);

/* Append to out base64url(header) "." base64url(payload_json) "." the
 * HS256 signature of both: header_json NULL is {"alg":"HS256","typ":"JWT"}
 * (another header is for tests of refusal). Both are taken as is. */
void bk_jwt_sign(bk_buf *out, const char *header_json, const char *payload_json, const char *secret,
                 size_t secret_len);

#endif
