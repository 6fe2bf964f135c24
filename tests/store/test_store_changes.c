/*
 * test_store_changes.c — row changes reach the event bus's change
 * subscribers (api/publish.c on SQLite, api/listen.c on PostgreSQL), with
 * the API running in this process on the fixture's store and real HTTP on
 * loopback: a definition created through ensure-coverage is a
 * job_definitions INSERT, its runs job_runs INSERTs; a run executed by a
 * worker on another store connection is a job_runs UPDATE to success, and
 * its commit a coverage_status INSERT (the series' first) then UPDATE (the
 * next run's); the definition removed through the watchlist is a
 * job_definitions DELETE with its id. On PostgreSQL every change comes back
 * through NOTIFY (migration 11 for coverage_status and job_definitions).
 * The clock is pinned (bk_t_now).
 */
#include "store_fixture.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/api.h"
#include "api/events.h"
#include "conf/conf.h"
#include "integ/api_client.h"
#include "model/time.h"
#include "plan/plan.h"
#include "prov/prov.h"
#include "testutil.h"
#include "work/work.h"

#define OWNER   "w-changes"
#define WAIT_US (10 * S)

/* Wake-ups of the change subscriber. */
typedef struct sink {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int pokes;
} sink;

static void poke(void *ctx)
{
    sink *k = ctx;
    pthread_mutex_lock(&k->mu);
    k->pokes++;
    pthread_cond_broadcast(&k->cv);
    pthread_mutex_unlock(&k->mu);
}

typedef struct env {
    bk_conf conf;
    bk_prov *sim;
    bk_bus *bus;
    bk_api *api;
    bk_sub *sub;
    sink k;
    srv http; /* only port is used */
    int64_t now;
} env;

static bool change_is(const bk_change *c, const char *table, const char *type, const char *needle)
{
    return strcmp(c->table->name, table) == 0 && strcmp(c->type, type) == 0 &&
           (!needle || strstr(c->record ? c->record : c->old_record, needle));
}

/* The next change of table and type whose record (old_record for DELETE)
 * holds needle, skipping others; fails after WAIT_US. */
static const bk_change *wait_change(env *e, const char *table, const char *type, const char *needle)
{
    int64_t deadline = bk_clock_mono_us() + WAIT_US;
    for (;;) {
        pthread_mutex_lock(&e->k.mu);
        int seen = e->k.pokes;
        pthread_mutex_unlock(&e->k.mu);
        bool dropped = false;
        const bk_change *c;
        while ((c = bk_sub_next_change(e->sub, &dropped)) != NULL) {
            if (change_is(c, table, type, needle))
                return c;
            bk_change_release(c);
        }
        assert_false(dropped);
        if (bk_clock_mono_us() >= deadline)
            fail_msg("no %s %s change holding %s", table, type, needle ? needle : "-");
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 100 * 1000 * 1000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_mutex_lock(&e->k.mu);
        if (e->k.pokes == seen)
            pthread_cond_timedwait(&e->k.cv, &e->k.mu, &ts);
        pthread_mutex_unlock(&e->k.mu);
    }
}

static void env_start(env *e, const char *url)
{
    memset(e, 0, sizeof *e);
    int64_t now;
    assert_int_equal(bk_time_parse(bk_t_now(), &now), 0);
    bk_clock_start_at(now);
    e->now = now;
    bk_conf_defaults(&e->conf);
    e->conf.slice_hours[BK_JOB_INTRADAY] = 6;
    bk_sim_opts so;
    bk_sim_opts_default(&so);
    bk_err err = {0};
    if (bk_sim_new(&e->sim, &so, &err) != 0)
        fail_msg("sim: %s", err.msg);
    assert_int_equal(bk_bus_new(&e->bus, NULL), 0);
    bk_api_opts ao = {
        .listen = "127.0.0.1:0", .db_url = url, .conf = &e->conf, .prov = e->sim, .bus = e->bus};
    bk_plan_cfg_from_conf(&ao.plan, &e->conf, 0);
    if (bk_api_start(&e->api, &ao, &err) != 0)
        fail_msg("api: %s", err.msg);
    e->http.port = bk_api_port(e->api);
    pthread_mutex_init(&e->k.mu, NULL);
    pthread_cond_init(&e->k.cv, NULL);
    assert_int_equal(bk_bus_subscribe_changes(e->bus, poke, &e->k, &e->sub), 0);
}

static void env_stop(env *e)
{
    bk_bus_unsubscribe(e->bus, e->sub);
    bk_api_stop(e->api);
    bk_bus_free(e->bus);
    bk_prov_free(e->sim);
    pthread_mutex_destroy(&e->k.mu);
    pthread_cond_destroy(&e->k.cv);
}

/* Claim the next run on s (another connection than the API's) and execute
 * it as a worker of serve does, its events going to the API. */
static void work_one(env *e, bk_store *s, bk_run *run)
{
    OK(bk_store_run_claim(s, OWNER, bk_clock_now_us(), 60 * S, run, ERR));
    bk_work_env we = {
        .prov = e->sim, .conf = &e->conf, .on_event = bk_api_on_run, .event_ctx = e->api};
    bk_outcome out;
    OK(bk_work_execute(s, &we, OWNER, run, &out, ERR));
    assert_int_equal(out.status, BK_ST_SUCCESS);
}

static void t_changes_reach_subscribers(void **state)
{
    fixture *fx = *state;
    env e;
    env_start(&e, fx->url);

    resp r = http_req(&e.http, "POST", "/functions/v1/ensure-coverage",
                      "{\"symbol\":\"AAPL\",\"timeframe\":\"1h\",\"window_days\":5}", NULL, NULL);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    const bk_change *c = wait_change(&e, "job_definitions", "INSERT", "\"symbol\":\"AAPL\"");
    assert_non_null(strstr(c->record, "\"timeframe\":\"1h\""));
    assert_non_null(strstr(c->record, "\"enabled\":true"));
    assert_null(c->old_record);
    char def_id[BK_ID_MAX];
    bk_strlcpy(def_id, c->values[bk_rt_col(c->table, "id")], sizeof def_id);
    bk_change_release(c);
    c = wait_change(&e, "job_runs", "INSERT", "\"status\":\"queued\"");
    if (!c->values[bk_rt_col(c->table, "job_def_id")])
        fail_msg("no job_def_id: %s", c->record);
    assert_string_equal(c->values[bk_rt_col(c->table, "job_def_id")], def_id);
    bk_change_release(c);

    /* a worker on another connection: the run's UPDATEs, then the series'
     * first coverage row */
    bk_run run;
    work_one(&e, fx->s, &run);
    char needle[64];
    snprintf(needle, sizeof needle, "\"id\":\"%s\"", run.id);
    c = wait_change(&e, "job_runs", "UPDATE", needle);
    bk_change_release(c);
    c = wait_change(&e, "coverage_status", "INSERT", "\"symbol\":\"AAPL\"");
    assert_non_null(strstr(c->record, "\"timeframe\":\"1h\""));
    assert_null(c->old_record);
    assert_non_null(c->values[bk_rt_col(c->table, "from_ts")]);
    bk_change_release(c);
    /* the next run of the series updates it */
    work_one(&e, fx->s, &run);
    c = wait_change(&e, "coverage_status", "UPDATE", "\"symbol\":\"AAPL\"");
    assert_string_equal(c->old_record, "{\"symbol\":\"AAPL\",\"timeframe\":\"1h\"}");
    bk_change_release(c);

    r = http_req(&e.http, "POST", "/functions/v1/watchlist?action=remove",
                 "{\"symbol\":\"AAPL\",\"timeframe\":\"1h\"}", NULL, NULL);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    snprintf(needle, sizeof needle, "\"id\":\"%s\"", def_id);
    c = wait_change(&e, "job_definitions", "DELETE", needle);
    assert_null(c->record);
    bk_change_release(c);
    env_stop(&e);
}

/* PostgreSQL: a change made by hand in SQL, by another session, is
 * published with the operation it had (the trigger's), DELETE included. */
static void t_pg_sql_changes(void **state)
{
    fixture *fx = *state;
    env e;
    env_start(&e, fx->url);
    OK(bk_store__pg_exec(fx->s,
                         "INSERT INTO coverage_status (symbol, timeframe, last_rows_written)"
                         " VALUES ('MSFT', '1h', 3)",
                         ERR));
    const bk_change *c = wait_change(&e, "coverage_status", "INSERT", "\"symbol\":\"MSFT\"");
    assert_non_null(strstr(c->record, "\"last_rows_written\":3"));
    bk_change_release(c);
    OK(bk_store__pg_exec(
        fx->s, "UPDATE coverage_status SET last_rows_written = 4 WHERE symbol = 'MSFT'", ERR));
    c = wait_change(&e, "coverage_status", "UPDATE", "\"last_rows_written\":4");
    bk_change_release(c);
    OK(bk_store__pg_exec(fx->s, "DELETE FROM coverage_status WHERE symbol = 'MSFT'", ERR));
    c = wait_change(&e, "coverage_status", "DELETE", "\"symbol\":\"MSFT\"");
    assert_string_equal(c->old_record, "{\"symbol\":\"MSFT\",\"timeframe\":\"1h\"}");
    bk_change_release(c);
    OK(bk_store__pg_exec(fx->s,
                         "INSERT INTO job_definitions (id, job_type, symbol, timeframe)"
                         " VALUES ('11111111-2222-3333-4444-555555555555', 'fetch_intraday',"
                         " 'SPY', '5m')",
                         ERR));
    c = wait_change(&e, "job_definitions", "INSERT", "\"symbol\":\"SPY\"");
    bk_change_release(c);
    /* one transaction: the row is read when the notes arrive, after its
     * commit, so the UPDATE finds nothing to show and the DELETE is shown */
    OK(bk_store__pg_exec(fx->s,
                         "UPDATE job_definitions SET enabled = false WHERE symbol = 'SPY';"
                         "DELETE FROM job_definitions WHERE symbol = 'SPY'",
                         ERR));
    c = wait_change(&e, "job_definitions", "DELETE", "11111111-2222-3333-4444-555555555555");
    assert_string_equal(c->old_record, "{\"id\":\"11111111-2222-3333-4444-555555555555\"}");
    bk_change_release(c);
    env_stop(&e);
}

static const struct CMUnitTest generic[] = {
    FX(t_changes_reach_subscribers),
};

static const struct CMUnitTest pg_only[] = {
    FX(t_pg_sql_changes),
};

int main(void)
{
    const store_suite suite = {
        .name = "changes",
        .generic = generic,
        .n_generic = BK_ARRAY_LEN(generic),
        .pg_only = pg_only,
        .n_pg_only = BK_ARRAY_LEN(pg_only),
    };
    return store_suite_main(&suite);
}
