/*
 * keys.c — where API keys and the JWT secret come from: the environment, or
 * a keys file that only its owner can read.
 */
#include "api/api.h"
#include "api/jwt.h"
#include "core/keyfile.h"
#include "core/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int take_min(char dst[BK_KEY_MAX], const char *src, const char *what, size_t min,
                    bk_err *err)
{
    size_t n = strlen(src);
    while (n && (src[n - 1] == '\n' || src[n - 1] == '\r' || src[n - 1] == ' '))
        n--;
    if (n == 0)
        return 0;
    if (n < min || n >= BK_KEY_MAX)
        return bk_err_set(err, BK_EINVAL, "%s: a %s must be %zu to %d characters", what,
                          min == 16 ? "key" : "JWT secret", min, BK_KEY_MAX - 1);
    memcpy(dst, src, n);
    dst[n] = '\0';
    return 0;
}

static int take(char dst[BK_KEY_MAX], const char *src, const char *what, bk_err *err)
{
    return take_min(dst, src, what, 16, err);
}

typedef struct api_keys {
    char *service, *anon, *jwt_secret;
    const char *path;
} api_keys;

static int file_key(void *ctx, const char *name, const char *value, int lineno, bk_err *err)
{
    api_keys *k = ctx;
    if (strcmp(name, "service") == 0)
        return take(k->service, value, k->path, err);
    if (strcmp(name, "anon") == 0)
        return take(k->anon, value, k->path, err);
    if (strcmp(name, "jwt_secret") == 0)
        return take_min(k->jwt_secret, value, k->path, BK_JWT_SECRET_MIN, err);
    return bk_err_set(err, BK_EINVAL,
                      "%s line %d: expected service=KEY, anon=KEY or jwt_secret=SECRET", k->path,
                      lineno);
}

int bk_api_load_keys(const bk_conf *conf, bk_api_opts *o, bk_err *err)
{
    char *service = o->service_key, *anon = o->anon_key, *jwt = o->jwt_secret;
    service[0] = anon[0] = jwt[0] = '\0';
    const char *v;
    int rc = 0;
    if ((v = getenv("BARKEEP_SERVICE_KEY")) != NULL)
        rc = take(service, v, "BARKEEP_SERVICE_KEY", err);
    if (rc == 0 && (v = getenv("BARKEEP_ANON_KEY")) != NULL)
        rc = take(anon, v, "BARKEEP_ANON_KEY", err);
    if (rc == 0 && (v = getenv("BARKEEP_JWT_SECRET")) != NULL)
        rc = take_min(jwt, v, "BARKEEP_JWT_SECRET", BK_JWT_SECRET_MIN, err);
    if (rc == 0 && conf->keys_file[0])
        rc = bk_keyfile_read(conf->keys_file, "keys file", file_key,
                             &(api_keys){service, anon, jwt, conf->keys_file}, err);
    if (rc == 0 && service[0] && anon[0] && strcmp(service, anon) == 0)
        rc = bk_err_set(err, BK_EINVAL, "the service and anon keys must differ");
    return rc;
}
