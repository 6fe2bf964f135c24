/*
 * registry.h — the providers barkeep knows, one row each: the name, where
 * its keys come from, its constructor, whether it takes a feed. The rows are
 * in the default fallback order. Adding a provider is its adapter file, its
 * constructor in prov.h and one row in registry.c; its settings (NAME_url,
 * NAME_feed, the name=value lists provider_rates, provider_delays,
 * provider_settle) and its keys follow from the row.
 */
#ifndef BK_PROV_REGISTRY_H
#define BK_PROV_REGISTRY_H

#include "conf/conf.h"
#include "prov/prov.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct bk_prov_kind {
    const char *name;
    const char *key_env;    /* its key's variable; NULL = needs no key */
    const char *alias_env;  /* another name for key_env (NULL = none) */
    const char *secret_env; /* a second secret it needs (NULL = none) */
    const char *feeds;      /* what NAME_feed may say, "a,b" (NULL = no feeds) */
    int (*make)(bk_prov **out, const bk_prov_cfg *cfg, bk_err *err);
} bk_prov_kind;

#define BK_PROV_KINDS 5
extern const bk_prov_kind bk_prov_kinds[BK_PROV_KINDS];

/* The row of name, or NULL ("sim" has none: it is built from the sim_*
 * settings). */
const bk_prov_kind *bk_prov_kind_find(const char *name);
/* Whether name is a provider: a row or "sim". */
bool bk_prov_known(const char *name, size_t len);
/* "massive, alpaca, ..., sim": for messages. */
const char *bk_prov_known_list(void);

#define BK_PROV_KEY_MAX 512
/* Every provider's keys, by row index. Wipe before freeing. */
typedef struct bk_prov_keys {
    char key[BK_PROV_KINDS][BK_PROV_KEY_MAX];
    char secret[BK_PROV_KINDS][BK_PROV_KEY_MAX];
} bk_prov_keys;

/* Keys from the environment, then from file (NAME=VALUE lines, mode 0600;
 * NULL or "" = none) for the variables the environment left empty; lines
 * naming no provider variable are ignored. BK_EINVAL naming the file. */
BK_MUST_CHECK int bk_prov_keys_load(bk_prov_keys *k, const char *file, bk_err *err);
/* Whether row i has every key it needs. */
bool bk_prov_keys_ready(const bk_prov_keys *k, size_t i);
/* "MASSIVE_API_KEY", "ALPACA_API_KEY_ID and ALPACA_API_SECRET_KEY": what to set. */
void bk_prov_kind_key_hint(const bk_prov_kind *kind, char *out, size_t cap);
void bk_prov_keys_wipe(bk_prov_keys *k);

/* The per-provider settings of conf (NAME_url, NAME_feed) name providers
 * that exist, and feeds they serve: else BK_EINVAL naming the setting. */
BK_MUST_CHECK int bk_prov_check_conf(const bk_conf *conf, bk_err *err);

#endif
