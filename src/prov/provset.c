/*
 * provset.c — configured providers, fallback chains, circuit breakers. See
 * provset.h.
 */
#include "prov/provset.h"
#include "core/util.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct breaker {
    int failures;          /* consecutive */
    int64_t open_until_us; /* > 0: open (or half-open once passed) */
    bool trial;            /* a half-open trial request is out */
} breaker;

struct bk_provset {
    bk_prov *provs[BK_PROVSET_MAX];
    breaker br[BK_PROVSET_MAX];
    size_t n;
    bk_prov *chain[BK_CLASS__N][BK_PROVSET_MAX];
    size_t n_chain[BK_CLASS__N];
    bk_breaker_cfg cfg;
    pthread_mutex_t mu; /* breakers */
};

enum bk_tf_class bk_tf_class_of(bk_tf tf)
{
    return bk_tf_intraday(tf) ? BK_CLASS_INTRADAY : BK_CLASS_DAILY;
}

bk_provset *bk_provset_new(const bk_breaker_cfg *breaker_cfg)
{
    bk_provset *ps = bk_xcalloc(1, sizeof *ps);
    ps->cfg = *breaker_cfg;
    if (ps->cfg.failures < 1)
        ps->cfg.failures = 1;
    pthread_mutex_init(&ps->mu, NULL);
    return ps;
}

void bk_provset_free(bk_provset *ps)
{
    if (!ps)
        return;
    for (size_t i = 0; i < ps->n; i++)
        bk_prov_free(ps->provs[i]);
    pthread_mutex_destroy(&ps->mu);
    free(ps);
}

int bk_provset_add(bk_provset *ps, bk_prov *p, bk_err *err)
{
    if (bk_provset_get(ps, p->name)) {
        bk_prov_free(p);
        return bk_err_set(err, BK_EEXIST, "provider %s configured twice", p->name);
    }
    if (ps->n == BK_PROVSET_MAX) {
        bk_prov_free(p);
        return bk_err_set(err, BK_ERANGE, "more than %d providers", BK_PROVSET_MAX);
    }
    ps->provs[ps->n++] = p;
    return 0;
}

int bk_provset_set_chain(bk_provset *ps, enum bk_tf_class cls, const char *names, bk_err *err)
{
    bk_prov *chain[BK_PROVSET_MAX];
    size_t n = 0;
    const char *s = names;
    while (*s) {
        size_t len = strcspn(s, ", ");
        if (len > 0) {
            char name[32];
            if (len >= sizeof name)
                return bk_err_set(err, BK_EINVAL, "unknown provider in chain \"%s\"", names);
            memcpy(name, s, len);
            name[len] = '\0';
            bk_prov *p = bk_provset_get(ps, name);
            if (!p)
                return bk_err_set(err, BK_EINVAL,
                                  "provider chain names %s, which is not configured", name);
            bool dup = false;
            for (size_t i = 0; i < n; i++)
                dup |= chain[i] == p;
            if (!dup && n < BK_PROVSET_MAX)
                chain[n++] = p;
        }
        s += len;
        s += strspn(s, ", ");
    }
    if (n == 0)
        return bk_err_set(err, BK_EINVAL, "empty provider chain");
    memcpy(ps->chain[cls], chain, n * sizeof *chain);
    ps->n_chain[cls] = n;
    return 0;
}

size_t bk_provset_chain(const bk_provset *ps, bk_tf tf, bk_prov **out, size_t cap)
{
    enum bk_tf_class c = bk_tf_class_of(tf);
    size_t n = BK_MIN(cap, ps->n_chain[c]);
    memcpy(out, ps->chain[c], n * sizeof *out);
    return n;
}

bk_prov *bk_provset_primary(const bk_provset *ps, bk_tf tf)
{
    enum bk_tf_class c = bk_tf_class_of(tf);
    return ps->n_chain[c] ? ps->chain[c][0] : (ps->n ? ps->provs[0] : NULL);
}

size_t bk_provset_count(const bk_provset *ps)
{
    return ps->n;
}

bk_prov *bk_provset_at(const bk_provset *ps, size_t i)
{
    return i < ps->n ? ps->provs[i] : NULL;
}

bk_prov *bk_provset_get(const bk_provset *ps, const char *name)
{
    for (size_t i = 0; i < ps->n; i++)
        if (strcmp(ps->provs[i]->name, name) == 0)
            return ps->provs[i];
    return NULL;
}

void bk_provset_chain_str(const bk_provset *ps, enum bk_tf_class cls, char *out, size_t cap)
{
    size_t off = 0;
    out[0] = '\0';
    for (size_t i = 0; i < ps->n_chain[cls] && off < cap; i++) {
        int k = snprintf(out + off, cap - off, "%s%s", i ? "," : "", ps->chain[cls][i]->name);
        if (k < 0)
            break;
        off += (size_t)k;
    }
}

static breaker *br_of(bk_provset *ps, const bk_prov *p)
{
    for (size_t i = 0; i < ps->n; i++)
        if (ps->provs[i] == p)
            return &ps->br[i];
    return NULL;
}

bool bk_provset_admit(bk_provset *ps, bk_prov *p, int64_t now_us, int64_t *until_us)
{
    breaker *b = br_of(ps, p);
    if (!b)
        return true;
    bool ok = true;
    pthread_mutex_lock(&ps->mu);
    if (b->open_until_us > 0) {
        if (now_us < b->open_until_us) {
            ok = false;
            *until_us = b->open_until_us;
        } else if (b->trial) {
            ok = false; /* half-open: one trial at a time */
            *until_us = now_us + BK_MIN(ps->cfg.open_us, 1000000);
        } else {
            b->trial = true;
        }
    }
    pthread_mutex_unlock(&ps->mu);
    return ok;
}

/* Failures that say the provider itself is unwell: it answered with a
 * server error or not at all, or refused the credentials. A malformed answer
 * does not count: it came with a 2xx (or another 4xx, a refusal of that
 * request), so the provider's servers are up, and it is mostly about one
 * request (a page that cuts a bar, a field of one symbol); an outage page
 * comes with a 5xx and counts as one. Counting it would let one series'
 * fault close the provider to every other series. */
static bool health_failure(int rc)
{
    return rc == BK_EPROV_5XX || rc == BK_EPROV_NET || rc == BK_ETIMEDOUT || rc == BK_EPROV_AUTH;
}

void bk_provset_report(bk_provset *ps, bk_prov *p, int rc, int64_t now_us)
{
    breaker *b = br_of(ps, p);
    if (!b)
        return;
    pthread_mutex_lock(&ps->mu);
    bool was_trial = b->trial;
    b->trial = false;
    if (rc == BK_ECANCELED) {
        /* not asked: no verdict */
    } else if (rc == 0) {
        b->failures = 0;
        b->open_until_us = 0;
    } else if (health_failure(rc)) {
        b->failures++;
        if (rc == BK_EPROV_AUTH)
            b->open_until_us = now_us + ps->cfg.open_us * 20;
        else if (was_trial || b->failures >= ps->cfg.failures)
            b->open_until_us = now_us + ps->cfg.open_us;
    } else if (was_trial) {
        b->open_until_us = 0; /* it answered: healthy enough */
        b->failures = 0;
    }
    pthread_mutex_unlock(&ps->mu);
}

bool bk_provset_failing(bk_provset *ps, const bk_prov *p)
{
    breaker *b = br_of(ps, p);
    if (!b)
        return false;
    pthread_mutex_lock(&ps->mu);
    bool failing = b->failures > 0;
    pthread_mutex_unlock(&ps->mu);
    return failing;
}

bk_breaker_state bk_provset_breaker(bk_provset *ps, const bk_prov *p, int64_t now_us,
                                    int64_t *open_until_us)
{
    breaker *b = br_of(ps, p);
    bk_breaker_state st = BK_BREAKER_CLOSED;
    *open_until_us = 0;
    if (!b)
        return st;
    pthread_mutex_lock(&ps->mu);
    if (b->open_until_us > 0) {
        *open_until_us = b->open_until_us;
        st = now_us < b->open_until_us ? BK_BREAKER_OPEN : BK_BREAKER_HALF_OPEN;
    }
    pthread_mutex_unlock(&ps->mu);
    return st;
}

const char *bk_breaker_name(bk_breaker_state s)
{
    switch (s) {
    case BK_BREAKER_OPEN:
        return "open";
    case BK_BREAKER_HALF_OPEN:
        return "half_open";
    default:
        return "closed";
    }
}

static bool consolidated(const char *feed)
{
    return strcmp(feed, "sip") == 0 || strcmp(feed, "consolidated") == 0;
}

bool bk_prov_compatible(const bk_prov *p, const char *feed, const char *adjustment, char *why,
                        size_t cap)
{
    if (adjustment && *adjustment && strcmp(adjustment, p->adjustment) != 0) {
        snprintf(why, cap, "%s serves %s bars, the series holds %s bars", p->name, p->adjustment,
                 adjustment);
        return false;
    }
    if (feed && *feed && strcmp(feed, p->feed) != 0 &&
        !(consolidated(feed) && consolidated(p->feed))) {
        snprintf(why, cap, "%s serves the %s feed, the series holds %s bars", p->name, p->feed,
                 feed);
        return false;
    }
    return true;
}
