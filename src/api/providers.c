/*
 * providers.c — the api's view of the configured providers: the list (the
 * provider set's, or the one provider) and each one's circuit breaker, read
 * by /metrics, ops-jobs and chart-data-v2.
 */
#include "api/api_impl.h"

size_t bk_api_providers(const bk_api_opts *o, bk_prov **out, size_t cap)
{
    if (o->provs) {
        size_t n = BK_MIN(cap, bk_provset_count(o->provs));
        for (size_t i = 0; i < n; i++)
            out[i] = bk_provset_at(o->provs, i);
        return n;
    }
    if (!o->prov || cap == 0)
        return 0;
    out[0] = o->prov;
    return 1;
}

bk_breaker_state bk_api_breaker(const bk_api_opts *o, const bk_prov *p, int64_t now_us,
                                int64_t *until_us)
{
    *until_us = 0;
    return o->provs ? bk_provset_breaker(o->provs, p, now_us, until_us) : BK_BREAKER_CLOSED;
}
