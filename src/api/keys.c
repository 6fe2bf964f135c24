/*
 * keys.c — where API keys come from: the environment, or a keys file that
 * only its owner can read.
 */
#include "api/api.h"
#include "core/keyfile.h"
#include "core/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int take(char dst[BK_KEY_MAX], const char *src, const char *what, bk_err *err)
{
    size_t n = strlen(src);
    while (n && (src[n - 1] == '\n' || src[n - 1] == '\r' || src[n - 1] == ' '))
        n--;
    if (n == 0)
        return 0;
    if (n < 16 || n >= BK_KEY_MAX)
        return bk_err_set(err, BK_EINVAL, "%s: a key must be 16 to %d characters", what,
                          BK_KEY_MAX - 1);
    memcpy(dst, src, n);
    dst[n] = '\0';
    return 0;
}

typedef struct api_keys {
    char *service, *anon;
    const char *path;
} api_keys;

static int file_key(void *ctx, const char *name, const char *value, int lineno, bk_err *err)
{
    api_keys *k = ctx;
    if (strcmp(name, "service") == 0)
        return take(k->service, value, k->path, err);
    if (strcmp(name, "anon") == 0)
        return take(k->anon, value, k->path, err);
    return bk_err_set(err, BK_EINVAL, "%s line %d: expected service=KEY or anon=KEY", k->path,
                      lineno);
}

int bk_api_load_keys(const bk_conf *conf, char service[BK_KEY_MAX], char anon[BK_KEY_MAX],
                     bk_err *err)
{
    service[0] = anon[0] = '\0';
    const char *v;
    int rc = 0;
    if ((v = getenv("BARKEEP_SERVICE_KEY")) != NULL)
        rc = take(service, v, "BARKEEP_SERVICE_KEY", err);
    if (rc == 0 && (v = getenv("BARKEEP_ANON_KEY")) != NULL)
        rc = take(anon, v, "BARKEEP_ANON_KEY", err);
    if (rc == 0 && conf->keys_file[0])
        rc = bk_keyfile_read(conf->keys_file, "keys file", file_key,
                             &(api_keys){service, anon, conf->keys_file}, err);
    if (rc == 0 && service[0] && anon[0] && strcmp(service, anon) == 0)
        rc = bk_err_set(err, BK_EINVAL, "the service and anon keys must differ");
    return rc;
}
