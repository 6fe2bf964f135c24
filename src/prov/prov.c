/*
 * prov.c — the provider interface's shared parts: pages and dispatch.
 */
#include "prov/prov.h"
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
    return p->ops->fetch(p, req, out, err);
}

void bk_prov_free(bk_prov *p)
{
    if (p)
        p->ops->free(p);
}
