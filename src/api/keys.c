/*
 * keys.c — where API keys come from: the environment, or a keys file that
 * only its owner can read.
 */
#include "api/api.h"
#include "core/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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

static int load_file(const char *path, char service[BK_KEY_MAX], char anon[BK_KEY_MAX], bk_err *err)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return bk_err_set(err, BK_EINVAL, "cannot read keys file %s", path);
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || (st.st_mode & (S_IRWXG | S_IRWXO))) {
        fclose(f);
        return bk_err_set(err, BK_EINVAL,
                          "keys file %s must not be accessible by group or others (chmod 600)",
                          path);
    }
    char line[512];
    int rc = 0, lineno = 0;
    while (rc == 0 && fgets(line, sizeof line, f)) {
        lineno++;
        char *p = line;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '#' || *p == '\n' || *p == '\0')
            continue;
        if (strncmp(p, "service=", 8) == 0)
            rc = take(service, p + 8, path, err);
        else if (strncmp(p, "anon=", 5) == 0)
            rc = take(anon, p + 5, path, err);
        else
            rc = bk_err_set(err, BK_EINVAL, "%s line %d: expected service=KEY or anon=KEY", path,
                            lineno);
    }
    fclose(f);
    return rc;
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
        rc = load_file(conf->keys_file, service, anon, err);
    if (rc == 0 && service[0] && anon[0] && strcmp(service, anon) == 0)
        rc = bk_err_set(err, BK_EINVAL, "the service and anon keys must differ");
    return rc;
}
