/*
 * publish.c — the run-event glue: bk_api_on_run and bk_api_on_enqueue are the
 * work and plan event callbacks. They count a run's outcome in the metrics
 * (metrics.c) and, unless the change listener publishes instead (PostgreSQL,
 * listen.c), publish the change on the event bus (events.h) for SSE clients.
 */
#include "api/api_impl.h"
#include "core/clock.h"

/* When the store notifies (PostgreSQL), the change listener (listen.c)
 * publishes every change, this process's included: publishing here too would
 * show each change twice. */
void bk_api_on_run(void *ctx, const bk_run *run)
{
    bk_api *a = ctx;
    if (!a->notifies)
        bk_bus_publish_run(a->opts.bus, "UPDATE", run,
                           run->updated_us ? run->updated_us : bk_clock_now_us());
    bk_metrics__on_run(&a->metrics, run);
}

void bk_api_on_enqueue(void *ctx, const bk_run *run)
{
    bk_api *a = ctx;
    if (!a->notifies)
        bk_bus_publish_run(a->opts.bus, "INSERT", run,
                           run->created_us ? run->created_us : bk_clock_now_us());
}
