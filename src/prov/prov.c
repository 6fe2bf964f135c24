/*
 * prov.c — the provider interface's shared parts: pages and dispatch.
 */
#include "prov/prov.h"
#include "core/clock.h"
#include "core/util.h"

#include <stdlib.h>
#include <string.h>

void bk_page_init(bk_page *p)
{
    memset(p, 0, sizeof *p);
}

void bk_page_fini(bk_page *p)
{
    free(p->bars);
    bk_page_init(p);
}

void bk_page_reset(bk_page *p)
{
    p->n = 0;
    p->next_token[0] = '\0';
    p->total_hint = 0;
}

void bk_page_push(bk_page *p, const bk_bar *bar)
{
    bk_grow((void **)&p->bars, &p->cap, p->n + 1, sizeof *p->bars);
    p->bars[p->n++] = *bar;
}

int bk_prov_fetch(bk_prov *p, const bk_fetch_req *req, bk_page *out, bk_err *err)
{
    bk_page_reset(out);
    int64_t t0 = bk_clock_mono_us();
    int rc = p->ops->fetch(p, req, out, err);
    atomic_fetch_add(&p->stats.requests, 1);
    atomic_fetch_add(&p->stats.latency_us, bk_clock_mono_us() - t0);
    if (rc)
        atomic_fetch_add(&p->stats.errors, 1);
    if (rc == BK_EPROV_RATE)
        atomic_fetch_add(&p->stats.rate_limited, 1);
    return rc;
}

void bk_prov_free(bk_prov *p)
{
    if (p)
        p->ops->free(p);
}
