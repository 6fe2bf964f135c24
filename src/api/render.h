/*
 * render.h — JSON renderings of store rows (model/run.h, model/coverage.h)
 * shared by the commands (and, with the same keys, by the HTTP API): the
 * guide's column names, ISO-8601 UTC times, null for unset values. Pure
 * rendering: no store access.
 */
#ifndef BK_API_RENDER_H
#define BK_API_RENDER_H

#include "json/jw.h"
#include "model/coverage.h"
#include "model/run.h"

void bk_render_run(bk_jw *w, const bk_run *r);
void bk_render_coverage(bk_jw *w, const bk_coverage *c);
/* The keys of bk_render_coverage inside an object the caller opened (and
 * closes, after keys of its own). */
void bk_render_coverage_fields(bk_jw *w, const bk_coverage *c);
/* "2024-06-03T13:30:00Z", or "-" for 0. */
const char *bk_render_time(int64_t us, char buf[40]);

#endif
