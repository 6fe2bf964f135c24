/*
 * ws_busstub.c — TEMPORARY: weak stand-ins for the bus's change
 * subscriptions (events.h) until their implementation lands; a subscriber
 * gets nothing. Removed when events.c defines them.
 */
#include "api/events.h"

__attribute__((weak)) int bk_bus_subscribe_changes(bk_bus *b, void (*notify)(void *ctx), void *ctx,
                                                   bk_sub **out)
{
    (void)b, (void)notify, (void)ctx;
    *out = NULL;
    return 0;
}

__attribute__((weak)) const bk_change *bk_sub_next_change(bk_sub *s, bool *dropped)
{
    (void)s;
    *dropped = false;
    return NULL;
}
