/*
 * render.c — rows to JSON with the guide's keys.
 */
#include "api/render.h"
#include "model/time.h"

static void str_or_null(bk_jw *w, const char *key, const char *s)
{
    bk_jw_key(w, key);
    bk_jw_str(w, s && *s ? s : NULL);
}

void bk_render_run(bk_jw *w, const bk_run *r)
{
    bk_jw_obj_begin(w);
    str_or_null(w, "id", r->id);
    str_or_null(w, "job_def_id", r->def_id);
    str_or_null(w, "symbol", r->symbol);
    str_or_null(w, "timeframe", bk_tf_name(r->tf));
    str_or_null(w, "job_type", bk_job_name(r->type));
    bk_jw_key(w, "slice_from");
    bk_jw_time(w, r->slice_from_us);
    bk_jw_key(w, "slice_to");
    bk_jw_time(w, r->slice_to_us);
    str_or_null(w, "status", bk_status_name(r->status));
    bk_jw_key(w, "progress_percent");
    bk_jw_num(w, r->progress_percent);
    bk_jw_key(w, "rows_written");
    bk_jw_int(w, r->rows_written);
    str_or_null(w, "provider", r->provider);
    bk_jw_key(w, "attempt");
    bk_jw_int(w, r->attempt);
    bk_jw_key(w, "max_attempts");
    bk_jw_int(w, r->max_attempts);
    bk_jw_key(w, "lease_expiries");
    bk_jw_int(w, r->lease_expiries);
    bk_jw_key(w, "dead_retries");
    bk_jw_int(w, r->dead_retries);
    bk_jw_key(w, "priority");
    bk_jw_int(w, r->priority);
    str_or_null(w, "error_code", r->error_code);
    str_or_null(w, "error_message", r->error_message);
    str_or_null(w, "triggered_by", r->triggered_by);
    bk_jw_key(w, "created_at");
    bk_jw_time(w, r->created_us);
    bk_jw_key(w, "started_at");
    bk_jw_time(w, r->started_us);
    bk_jw_key(w, "finished_at");
    bk_jw_time(w, r->finished_us);
    bk_jw_key(w, "updated_at");
    bk_jw_time(w, r->updated_us);
    bk_jw_key(w, "not_before");
    bk_jw_time(w, r->not_before_us);
    str_or_null(w, "lease_owner", r->lease_owner);
    bk_jw_key(w, "lease_until");
    bk_jw_time(w, r->lease_until_us);
    bk_jw_obj_end(w);
}

void bk_render_coverage(bk_jw *w, const bk_coverage *c)
{
    bk_jw_obj_begin(w);
    bk_render_coverage_fields(w, c);
    bk_jw_obj_end(w);
}

void bk_render_coverage_fields(bk_jw *w, const bk_coverage *c)
{
    str_or_null(w, "symbol", c->symbol);
    str_or_null(w, "timeframe", bk_tf_name(c->tf));
    bk_jw_key(w, "from_ts");
    bk_jw_time(w, c->from_us);
    bk_jw_key(w, "to_ts");
    bk_jw_time(w, c->to_us);
    bk_jw_key(w, "last_success_at");
    bk_jw_time(w, c->last_success_us);
    bk_jw_key(w, "last_rows_written");
    bk_jw_int(w, c->last_rows_written);
    str_or_null(w, "last_provider", c->last_provider);
    bk_jw_key(w, "updated_at");
    bk_jw_time(w, c->updated_us);
    bk_jw_key(w, "intervals");
    bk_jw_int(w, c->n_intervals);
    bk_jw_key(w, "covered_hours");
    bk_jw_num(w, (double)c->covered_us / 3600e6);
}

const char *bk_render_time(int64_t us, char buf[40])
{
    if (us == 0) {
        buf[0] = '-';
        buf[1] = '\0';
        return buf;
    }
    return bk_time_format(us, buf);
}
