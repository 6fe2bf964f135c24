/*
 * registry.c — the table of providers (registry.h) and their keys.
 */
#include "prov/registry.h"
#include "core/keyfile.h"
#include "core/util.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const bk_prov_kind bk_prov_kinds[BK_PROV_KINDS] = {
    {"massive", "MASSIVE_API_KEY", "POLYGON_API_KEY", NULL, NULL, bk_massive_new},
    {"alpaca", "ALPACA_API_KEY_ID", NULL, "ALPACA_API_SECRET_KEY", "iex,sip", bk_alpaca_new},
    {"tradier", "TRADIER_API_KEY", NULL, NULL, NULL, bk_tradier_new},
    {"finnhub", "FINNHUB_API_KEY", NULL, NULL, NULL, bk_finnhub_new},
    {"yahoo", NULL, NULL, NULL, NULL, bk_yahoo_new},
};

const bk_prov_kind *bk_prov_kind_find(const char *name)
{
    for (size_t i = 0; i < BK_PROV_KINDS; i++)
        if (strcmp(bk_prov_kinds[i].name, name) == 0)
            return &bk_prov_kinds[i];
    return NULL;
}

bool bk_prov_known(const char *name, size_t len)
{
    if (len == 3 && strncmp(name, "sim", 3) == 0)
        return true;
    for (size_t i = 0; i < BK_PROV_KINDS; i++)
        if (strlen(bk_prov_kinds[i].name) == len && strncmp(name, bk_prov_kinds[i].name, len) == 0)
            return true;
    return false;
}

static char g_known[128];
static pthread_once_t g_known_once = PTHREAD_ONCE_INIT;

static void known_init(void)
{
    size_t off = 0;
    for (size_t i = 0; i < BK_PROV_KINDS; i++)
        off += (size_t)snprintf(g_known + off, sizeof g_known - off, "%s, ", bk_prov_kinds[i].name);
    snprintf(g_known + off, sizeof g_known - off, "sim");
}

const char *bk_prov_known_list(void)
{
    pthread_once(&g_known_once, known_init);
    return g_known;
}

/* One NAME=VALUE of the keys file: kept if NAME is a provider variable the
 * environment left empty. */
static int file_var(void *ctx, const char *name, const char *value, int lineno, bk_err *err)
{
    (void)lineno;
    (void)err;
    bk_prov_keys *k = ctx;
    for (size_t i = 0; i < BK_PROV_KINDS; i++) {
        const bk_prov_kind *p = &bk_prov_kinds[i];
        char *dst = NULL;
        if ((p->key_env && strcmp(name, p->key_env) == 0) ||
            (p->alias_env && strcmp(name, p->alias_env) == 0))
            dst = k->key[i];
        else if (p->secret_env && strcmp(name, p->secret_env) == 0)
            dst = k->secret[i];
        if (dst && !dst[0])
            bk_strlcpy(dst, value, BK_PROV_KEY_MAX);
    }
    return 0;
}

int bk_prov_keys_load(bk_prov_keys *k, const char *file, bk_err *err)
{
    memset(k, 0, sizeof *k);
    for (size_t i = 0; i < BK_PROV_KINDS; i++) {
        const bk_prov_kind *p = &bk_prov_kinds[i];
        const char *v = p->key_env ? getenv(p->key_env) : NULL;
        if ((!v || !*v) && p->alias_env)
            v = getenv(p->alias_env);
        if (v && *v)
            bk_strlcpy(k->key[i], v, BK_PROV_KEY_MAX);
        v = p->secret_env ? getenv(p->secret_env) : NULL;
        if (v && *v)
            bk_strlcpy(k->secret[i], v, BK_PROV_KEY_MAX);
    }
    if (file && *file)
        return bk_keyfile_read(file, "provider keys file", file_var, k, err);
    return 0;
}

bool bk_prov_keys_ready(const bk_prov_keys *k, size_t i)
{
    const bk_prov_kind *p = &bk_prov_kinds[i];
    if (!p->key_env)
        return true;
    return k->key[i][0] && (!p->secret_env || k->secret[i][0]);
}

void bk_prov_kind_key_hint(const bk_prov_kind *kind, char *out, size_t cap)
{
    snprintf(out, cap, "%s%s%s", kind->key_env ? kind->key_env : "",
             kind->secret_env ? " and " : "", kind->secret_env ? kind->secret_env : "");
}

void bk_prov_keys_wipe(bk_prov_keys *k)
{
    explicit_bzero(k, sizeof *k);
}

/* Whether word is an entry of the comma list. */
static bool in_list(const char *list, const char *word)
{
    size_t n = strlen(word);
    for (const char *s = list; *s;) {
        size_t len = strcspn(s, ",");
        if (len == n && strncmp(s, word, n) == 0)
            return true;
        s += len + (s[len] == ',');
    }
    return false;
}

int bk_prov_check_conf(const bk_conf *conf, bk_err *err)
{
    for (int i = 0; i < conf->n_prov; i++) {
        const bk_conf_prov *p = &conf->prov[i];
        const bk_prov_kind *kind = bk_prov_kind_find(p->name);
        const char *setting = p->url[0] ? "url" : "feed";
        if (!kind)
            return bk_err_set(err, BK_EINVAL, "%s_%s: unknown provider '%s' (known: %s)", p->name,
                              setting, p->name, bk_prov_known_list());
        if (p->feed[0] && !kind->feeds)
            return bk_err_set(err, BK_EINVAL, "%s_feed: %s has no feeds to choose from", p->name,
                              p->name);
        if (p->feed[0] && !in_list(kind->feeds, p->feed))
            return bk_err_set(err, BK_EINVAL, "%s_feed: '%s' is not one of %s", p->name, p->feed,
                              kind->feeds);
    }
    return 0;
}
