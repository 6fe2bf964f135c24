/*
 * test_api.c — the HTTP API of the real binary over real HTTP on loopback
 * (libcurl against `barkeep serve --listen 127.0.0.1:0`): the guide's curl
 * commands one for one, ensure-coverage hydrating an empty database, live
 * events with strictly increasing progress, Last-Event-ID replay, keys and
 * trusted clients, bad input that changes nothing, fetch-bars for external
 * dispatchers, the operations endpoints, and what Supabase clients send
 * (JWT keys, a signed-in user, a %3F-encoded function query, CORS
 * preflight). Windows are 5 days or more, so
 * they hold sessions at any instant barkeep is pinned to (BK_TEST_NOW).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "api/jwt.h"
#include "api_client.h"
#include "testutil.h"

#define SERVICE "service-key-0123456789abcdef"
#define ANON    "anon-key-0123456789abcdef0123"
#define BEARER  "Authorization: Bearer " SERVICE
#define JSON_CT "Content-Type: application/json"

static const char *const svc_hdrs[] = {BEARER, JSON_CT, NULL};
static const char *const key_env[] = {"BARKEEP_SERVICE_KEY=" SERVICE, "BARKEEP_ANON_KEY=" ANON,
                                      NULL};

static json_t *get(json_t *o, const char *path)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    json_t *cur = o;
    for (char *save = NULL, *k = strtok_r(buf, ".", &save); k && cur;
         k = strtok_r(NULL, ".", &save))
        cur = json_object_get(cur, k);
    if (!cur)
        fail_msg("missing key %s", path);
    return cur;
}

static void want_int(json_t *o, const char *path)
{
    if (!json_is_integer(get(o, path)))
        fail_msg("%s is not an integer", path);
}

static void want_str(json_t *o, const char *path)
{
    if (!json_is_string(get(o, path)))
        fail_msg("%s is not a string", path);
}

static void want_str_or_null(json_t *o, const char *path)
{
    json_t *v = get(o, path);
    if (!json_is_string(v) && !json_is_null(v))
        fail_msg("%s is neither string nor null", path);
}

static void want_arr(json_t *o, const char *path)
{
    if (!json_is_array(get(o, path)))
        fail_msg("%s is not an array", path);
}

static resp expect(const srv *s, const char *method, const char *path, const char *body,
                   const char *const hdrs[], long status)
{
    resp r = http_req(s, method, path, body, hdrs, NULL);
    if (r.status != status)
        fail_msg("%s %s: status %ld (want %ld): %s", method, path, r.status, status, r.body);
    return r;
}

/* 4xx with {"error": string, "code": code}. */
static void expect_error(const srv *s, const char *method, const char *path, const char *body,
                         long status, const char *code)
{
    resp r = expect(s, method, path, body, svc_hdrs, status);
    assert_non_null(r.json);
    want_str(r.json, "error");
    if (strcmp(json_string_value(get(r.json, "code")), code) != 0)
        fail_msg("%s %s %s: code %s, want %s", method, path, body ? body : "", r.body, code);
    resp_free(&r);
}

static void assert_nothing_written(const srv *s)
{
    resp r = expect(s, "POST", "/functions/v1/orchestrator?action=status", NULL, svc_hdrs, 200);
    assert_int_equal(json_integer_value(get(r.json, "definitions.total")), 0);
    assert_int_equal(json_integer_value(get(r.json, "counts.total")), 0);
    resp_free(&r);
}

/* ---- the guide's commands, Steps 2, 6 and 8 ---- */

static void check_ensure_shape(json_t *j)
{
    want_str(j, "job_def_id");
    want_str(j, "symbol");
    want_str(j, "timeframe");
    const char *st = json_string_value(get(j, "status"));
    assert_true(strcmp(st, "coverage_complete") == 0 || strcmp(st, "gaps_detected") == 0);
    want_str_or_null(j, "coverage_status.from_ts");
    want_str_or_null(j, "coverage_status.to_ts");
    want_str_or_null(j, "coverage_status.last_success_at");
    want_int(j, "coverage_status.gaps_found");
    const char *ints[] = {"total_slices",  "completed_slices", "running_slices", "queued_slices",
                          "failed_slices", "progress_percent", "bars_written"};
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        char p[64];
        snprintf(p, sizeof p, "backfill_progress.%s", ints[i]);
        want_int(j, p);
    }
}

static void check_ops_shape(json_t *j, int hours)
{
    want_int(j, "window_hours");
    assert_int_equal(json_integer_value(get(j, "window_hours")), hours);
    get(j, "filters");
    const char *ints[] = {"stats.total", "stats.queued", "stats.running", "stats.success",
                          "stats.failed"};
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++)
        want_int(j, ints[i]);
    json_t *rate = get(j, "stats.success_rate");
    assert_true(json_is_number(rate) || json_is_null(rate));
    want_arr(j, "provider_stats");
    want_arr(j, "coverage");
    want_arr(j, "active_jobs");
    want_arr(j, "queued_jobs");
    want_arr(j, "recent_errors");
    want_int(j, "dead_letter");
    want_str(j, "timestamp");
}

static bool chart_has_bars(const srv *s, const char *body)
{
    resp r = expect(s, "POST", "/functions/v1/chart-data-v2", body, svc_hdrs, 200);
    bool yes = json_integer_value(get(r.json, "metadata.total_bars")) > 0;
    resp_free(&r);
    return yes;
}

static void nap_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void test_guide_commands(void **state)
{
    (void)state;
    srv s;
    srv_start(&s, NULL, key_env);
    /* Step 2: test orchestrator, ensure-coverage, ops endpoint */
    resp r = expect(&s, "POST", "/functions/v1/orchestrator?action=status", NULL, svc_hdrs, 200);
    assert_true(json_is_true(get(r.json, "success")));
    want_int(r.json, "counts.total");
    want_int(r.json, "counts.queued");
    want_arr(r.json, "active_jobs");
    resp_free(&r);
    const char *body = "{\"symbol\":\"AAPL\",\"timeframe\":\"1h\",\"window_days\":7}";
    r = expect(&s, "POST", "/functions/v1/ensure-coverage", body, svc_hdrs, 200);
    check_ensure_shape(r.json);
    assert_string_equal(json_string_value(get(r.json, "symbol")), "AAPL");
    /* on an empty database the slices are enqueued at once */
    assert_true(json_integer_value(get(r.json, "backfill_progress.total_slices")) > 0);
    resp_free(&r);
    r = expect(&s, "GET", "/functions/v1/ops-jobs?symbol=AAPL&timeframe=1h", NULL, svc_hdrs, 200);
    check_ops_shape(r.json, 24);
    assert_string_equal(json_string_value(get(r.json, "filters.symbol")), "AAPL");
    resp_free(&r);
    /* Step 6: trigger orchestrator */
    r = expect(&s, "POST", "/functions/v1/orchestrator?action=tick", NULL, svc_hdrs, 200);
    want_int(r.json, "enqueued");
    want_int(r.json, "requeued");
    resp_free(&r);
    /* Step 8: health, a symbol over 6 hours, retry failed */
    r = expect(&s, "GET", "/functions/v1/ops-jobs?hours=24", NULL, svc_hdrs, 200);
    check_ops_shape(r.json, 24);
    resp_free(&r);
    r = expect(&s, "GET", "/functions/v1/ops-jobs?symbol=AAPL&timeframe=1h&hours=6", NULL, svc_hdrs,
               200);
    check_ops_shape(r.json, 6);
    resp_free(&r);
    r = expect(&s, "POST", "/functions/v1/orchestrator?action=retry_failed", NULL, svc_hdrs, 200);
    want_int(r.json, "retried");
    resp_free(&r);
    /* bars arrive shortly after ensure-coverage, served by chart-data-v2 */
    const char *chart = "{\"symbol\":\"AAPL\",\"timeframe\":\"1h\",\"days\":7}";
    for (int i = 0; i < 400 && !chart_has_bars(&s, chart); i++)
        nap_ms(25);
    r = expect(&s, "POST", "/functions/v1/chart-data-v2", chart, svc_hdrs, 200);
    assert_true(json_integer_value(get(r.json, "metadata.total_bars")) > 0);
    want_int(r.json, "layers.historical.count");
    want_int(r.json, "layers.intraday.count");
    want_arr(r.json, "layers.forecast.data");
    json_t *bars = json_array_size(get(r.json, "layers.intraday.data"))
                       ? get(r.json, "layers.intraday.data")
                       : get(r.json, "layers.historical.data");
    json_t *bar = json_array_get(bars, 0);
    want_str(bar, "ts");
    const char *num[] = {"open", "high", "low", "close", "volume"};
    for (size_t i = 0; i < 5; i++)
        assert_true(json_is_number(get(bar, num[i])));
    assert_string_equal(json_string_value(get(bar, "provider")), "sim");
    resp_free(&r);
    srv_stop(&s);
}

/* ---- live progress ---- */

typedef struct run_watch {
    const char *symbol;
    char run[40]; /* the first run seen reaching success */
} run_watch;

static bool some_run_succeeded(const sse *c, void *ctx)
{
    run_watch *w = ctx;
    for (size_t i = 0; i < c->n_ev; i++)
        if (strcmp(c->ev[i].status, "success") == 0 && strcmp(c->ev[i].symbol, w->symbol) == 0) {
            snprintf(w->run, sizeof w->run, "%s", c->ev[i].run_id);
            return true;
        }
    return false;
}

static void test_sse_progress(void **state)
{
    (void)state;
    const char *args[] = {"--set", "sim_latency_ms=20", "--set", "sim_page_size=2",
                          "--set", "workers=1",         NULL};
    srv s;
    srv_start(&s, args, NULL);
    sse c;
    sse_open(&c, &s, "?symbol=MSFT&timeframe=15m", 0);
    sse_pump(&c, 100); /* connected */
    resp r = expect(&s, "POST", "/functions/v1/ensure-coverage",
                    "{\"symbol\":\"IBM\",\"timeframe\":\"15m\",\"window_days\":5}", svc_hdrs, 200);
    resp_free(&r);
    r = expect(&s, "POST", "/functions/v1/ensure-coverage",
               "{\"symbol\":\"MSFT\",\"timeframe\":\"15m\",\"window_days\":5}", svc_hdrs, 200);
    resp_free(&r);
    run_watch w = {.symbol = "MSFT"};
    assert_true(sse_until(&c, some_run_succeeded, &w, 30000));
    /* the run's events: queued (INSERT), running with strictly rising
     * progress, then success at 100 */
    double last = -1;
    int n = 0;
    const char *prev_status = "";
    for (size_t i = 0; i < c.n_ev; i++) {
        sse_event *e = &c.ev[i];
        assert_string_equal(e->symbol, "MSFT"); /* the filter holds */
        assert_string_equal(e->timeframe, "15m");
        if (strcmp(e->run_id, w.run) != 0)
            continue;
        if (n == 0) {
            assert_string_equal(e->type, "INSERT");
            assert_string_equal(e->status, "queued");
        } else {
            assert_string_equal(e->type, "UPDATE");
            assert_true(e->progress > last);
            assert_true(strcmp(e->status, "running") == 0 || strcmp(e->status, "success") == 0);
        }
        if (n > 0)
            last = e->progress;
        prev_status = e->status;
        n++;
    }
    assert_string_equal(prev_status, "success");
    assert_true(last == 100.0);
    assert_true(n >= 5); /* queued, running 0, at least two steps, success */
    sse_close(&c);
    srv_stop(&s);
}

static bool has_n_events(const sse *c, void *ctx)
{
    return c->n_ev >= *(size_t *)ctx;
}

static bool saw_success_of(const sse *c, void *ctx)
{
    for (size_t i = 0; i < c->n_ev; i++)
        if (strcmp(c->ev[i].symbol, (const char *)ctx) == 0 &&
            strcmp(c->ev[i].status, "success") == 0)
            return true;
    return false;
}

static void wait_idle(const srv *s)
{
    for (int i = 0; i < 800; i++) {
        resp r = expect(s, "POST", "/functions/v1/orchestrator?action=status", NULL, svc_hdrs, 200);
        json_int_t busy = json_integer_value(get(r.json, "counts.queued")) +
                          json_integer_value(get(r.json, "counts.running"));
        resp_free(&r);
        if (busy == 0)
            return;
        nap_ms(25);
    }
    fail_msg("queue never went idle");
}

static void test_sse_replay(void **state)
{
    (void)state;
    srv s;
    srv_start(&s, NULL, NULL);
    sse c;
    sse_open(&c, &s, NULL, 0);
    sse_pump(&c, 100);
    resp r = expect(&s, "POST", "/functions/v1/ensure-coverage",
                    "{\"symbol\":\"IBM\",\"timeframe\":\"1h\",\"window_days\":5}", svc_hdrs, 200);
    resp_free(&r);
    size_t want = 3;
    assert_true(sse_until(&c, has_n_events, &want, 20000));
    long long last = c.ev[c.n_ev - 1].id;
    sse_close(&c);
    wait_idle(&s);
    /* while disconnected: another series hydrates */
    r = expect(&s, "POST", "/functions/v1/ensure-coverage",
               "{\"symbol\":\"ORCL\",\"timeframe\":\"1h\",\"window_days\":5}", svc_hdrs, 200);
    resp_free(&r);
    wait_idle(&s);
    sse_open(&c, &s, NULL, last);
    char orcl[] = "ORCL";
    assert_true(sse_until(&c, saw_success_of, orcl, 20000));
    assert_int_equal(c.ev[0].id, last + 1); /* nothing missed, nothing repeated */
    for (size_t i = 1; i < c.n_ev; i++)
        assert_int_equal(c.ev[i].id, c.ev[i - 1].id + 1);
    sse_close(&c);
    srv_stop(&s);
}

/* ---- keys ---- */

static bool got_bytes(const sse *c, void *ctx)
{
    (void)ctx;
    return c->len > 0;
}

static void test_keys(void **state)
{
    (void)state;
    srv s;
    srv_start(&s, NULL, key_env);
    const char *ensure = "{\"symbol\":\"AAPL\",\"timeframe\":\"1h\",\"window_days\":7}";
    const char *none[] = {JSON_CT, NULL};
    const char *wrong[] = {"Authorization: Bearer not-the-key-0123456789", NULL};
    const char *anon[] = {"Authorization: Bearer " ANON, NULL};
    const char *anon_apikey[] = {"apikey: " ANON, NULL};
    resp r = http_req(&s, "POST", "/functions/v1/ensure-coverage", ensure, none, NULL);
    assert_int_equal(r.status, 401);
    assert_string_equal(json_string_value(get(r.json, "code")), "unauthorized");
    resp_free(&r);
    r = http_req(&s, "POST", "/functions/v1/ensure-coverage", ensure, wrong, NULL);
    assert_int_equal(r.status, 401);
    resp_free(&r);
    const char *service_only[] = {"/functions/v1/orchestrator?action=tick",
                                  "/functions/v1/orchestrator?action=retry_failed",
                                  "/functions/v1/fetch-bars"};
    for (size_t i = 0; i < 3; i++) {
        r = http_req(&s, "POST", service_only[i],
                     "{\"job_run_id\":\"00000000-0000-4000-8000-000000000000\"}", anon, NULL);
        assert_int_equal(r.status, 403);
        assert_string_equal(json_string_value(get(r.json, "code")), "forbidden");
        resp_free(&r);
    }
    assert_nothing_written(&s);
    r = http_req(&s, "GET", "/healthz", NULL, NULL, NULL);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    r = http_req(&s, "POST", "/functions/v1/orchestrator?action=status", NULL, anon_apikey, NULL);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    /* a signed-in user's JWT, which this server (no JWT secret) cannot check,
     * with the anon key: anon rights; alone, or with a wrong apikey: 401 */
    const char *user_jwt = "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJyb2xlIjoiYXV0aCJ9.c2ln";
    const char *user_anon[] = {user_jwt, "apikey: " ANON, NULL};
    const char *user_alone[] = {user_jwt, NULL};
    const char *user_wrong[] = {user_jwt, "apikey: not-the-key-0123456789", NULL};
    const char *user_service[] = {user_jwt, "apikey: " SERVICE, NULL};
    r = http_req(&s, "POST", "/functions/v1/orchestrator?action=status", NULL, user_anon, NULL);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    r = http_req(&s, "POST", "/functions/v1/orchestrator?action=status", NULL, user_alone, NULL);
    assert_int_equal(r.status, 401);
    resp_free(&r);
    r = http_req(&s, "POST", "/functions/v1/orchestrator?action=status", NULL, user_wrong, NULL);
    assert_int_equal(r.status, 401);
    resp_free(&r);
    r = http_req(&s, "POST", "/functions/v1/orchestrator?action=tick", NULL, user_service, NULL);
    assert_int_equal(r.status, 403); /* never more than anon rights */
    resp_free(&r);
    r = http_req(&s, "POST", "/functions/v1/ensure-coverage", ensure, anon, NULL);
    assert_int_equal(r.status, 200); /* the anon key may ensure coverage */
    resp_free(&r);
    /* EventSource cannot send headers: the stream takes ?apikey= */
    r = http_req(&s, "GET", "/realtime/v1/job_runs?apikey=not-the-key-0123456789", NULL, NULL,
                 NULL);
    assert_int_equal(r.status, 401);
    resp_free(&r);
    sse c;
    sse_open(&c, &s, "?apikey=" ANON, 0);
    assert_true(sse_until(&c, got_bytes, NULL, 10000));
    long code = 0;
    curl_easy_getinfo(c.easy, CURLINFO_RESPONSE_CODE, &code);
    assert_int_equal(code, 200);
    sse_close(&c);
    srv_stop(&s);
}

/* ---- keys and calls as Supabase clients send them ---- */

#define JWT_SECRET "jwt-secret-for-tests-0123456789abcdef0123"

/* The pinned instant barkeep runs at (BK_TEST_NOW), in epoch seconds. */
static int64_t pinned_now_s(void)
{
    struct tm tm = {0};
    assert_int_equal(sscanf(bk_t_now(), "%d-%d-%dT%d:%d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                            &tm.tm_hour, &tm.tm_min, &tm.tm_sec),
                     6);
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (int64_t)timegm(&tm);
}

/* "Authorization: Bearer <JWT of role, expiring exp_in_s after the pinned
 * instant, signed with secret (header NULL: HS256)>", malloc'd. */
static char *bearer_jwt(const char *header, const char *role, int64_t exp_in_s, const char *secret)
{
    char payload[256];
    snprintf(payload, sizeof payload,
             "{\"iss\":\"supabase\",\"role\":\"%s\",\"sub\":\"u-1\",\"iat\":%lld,"
             "\"exp\":%lld}",
             role, (long long)(pinned_now_s() - 60), (long long)(pinned_now_s() + exp_in_s));
    bk_buf b;
    bk_buf_init(&b);
    bk_buf_puts(&b, "Authorization: Bearer ");
    bk_jwt_sign(&b, header, payload, secret, strlen(secret));
    return b.data;
}

/* POST path with one header (and the apikey header when apikey): the status
 * and, for 4xx, the code. */
static void expect_call(const srv *s, const char *path, const char *hdr, const char *apikey,
                        long status, const char *code)
{
    char ak[300];
    snprintf(ak, sizeof ak, "apikey: %s", apikey ? apikey : "");
    const char *hdrs[3] = {NULL, NULL, NULL}, **h = hdrs;
    if (hdr)
        *h++ = hdr;
    if (apikey)
        *h = ak;
    resp r = http_req(s, "POST", path, NULL, hdrs, NULL);
    if (r.status != status)
        fail_msg("POST %s: status %ld (want %ld): %s", path, r.status, status, r.body);
    if (code && strcmp(json_string_value(get(r.json, "code")), code) != 0)
        fail_msg("POST %s: %s, want code %s", path, r.body, code);
    resp_free(&r);
}

static void test_supabase_keys(void **state)
{
    (void)state;
    const char *env[] = {"BARKEEP_JWT_SECRET=" JWT_SECRET, "BARKEEP_ANON_KEY=" ANON, NULL};
    srv s;
    srv_start(&s, NULL, env);
    const char *status = "/functions/v1/orchestrator?action=status";
    const char *tick = "/functions/v1/orchestrator?action=tick";
    char *service = bearer_jwt(NULL, "service_role", 3600, JWT_SECRET);
    char *anon = bearer_jwt(NULL, "anon", 3600, JWT_SECRET);
    char *user = bearer_jwt(NULL, "authenticated", 3600, JWT_SECRET);
    char *expired = bearer_jwt(NULL, "service_role", -1, JWT_SECRET);
    char *forged = bearer_jwt(NULL, "service_role", 3600, "not-the-secret-0123456789abcdef0123456");
    char *none = bearer_jwt("{\"alg\":\"none\",\"typ\":\"JWT\"}", "service_role", 3600, JWT_SECRET);
    char *admin = bearer_jwt(NULL, "supabase_admin", 3600, JWT_SECRET);
    expect_call(&s, tick, service, NULL, 200, NULL);
    expect_call(&s, status, anon, NULL, 200, NULL);
    expect_call(&s, tick, anon, NULL, 403, "forbidden");
    expect_call(&s, status, user, ANON, 200, NULL); /* a signed-in user */
    expect_call(&s, tick, user, ANON, 403, "forbidden");
    expect_call(&s, status, NULL, anon + strlen("Authorization: Bearer "), 200, NULL);
    expect_call(&s, status, expired, ANON, 401, "jwt_expired");
    expect_call(&s, status, forged, NULL, 401, "invalid_jwt");
    expect_call(&s, status, none, NULL, 401, "invalid_jwt");
    expect_call(&s, status, admin, NULL, 401, "invalid_jwt");
    expect_call(&s, status, "Authorization: Bearer a.b.c", NULL, 401, "invalid_jwt");
    expect_call(&s, status, "Authorization: Bearer " SERVICE, NULL, 401, "unauthorized");
    resp r = http_req(&s, "POST", status, NULL, (const char *[]){expired, NULL}, NULL);
    assert_non_null(strstr(json_string_value(get(r.json, "error")), "expired"));
    resp_free(&r);
    /* supabase-swift percent-encodes the '?' of a function name */
    r = http_req(&s, "POST", "/functions/v1/orchestrator%3Faction=status", NULL,
                 (const char *[]){anon, NULL}, NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(json_string_value(get(r.json, "action")), "status");
    /* the original function's top-level fields beside counts */
    want_int(r.json, "queued");
    want_int(r.json, "running");
    want_int(r.json, "counts.queued");
    want_arr(r.json, "queued_jobs");
    want_arr(r.json, "running_jobs");
    want_arr(r.json, "recent_jobs");
    resp_free(&r);
    expect_call(&s, "/functions/v1/orchestrator%3Faction=tick", anon, NULL, 403, "forbidden");
    expect_call(&s, "/functions/v1/orchestrator%3Faction=bogus", service, NULL, 400,
                "unknown_action");
    /* a browser's preflight gets Supabase's CORS answer */
    int fd = raw_connect(&s, NULL);
    assert_true(fd >= 0);
    assert_true(raw_send(fd, "OPTIONS /functions/v1/ensure-coverage HTTP/1.1\r\nHost: x\r\n"
                             "Origin: http://app.example\r\n"
                             "Access-Control-Request-Method: POST\r\n"
                             "Access-Control-Request-Headers: x-region, content-profile\r\n"
                             "Connection: close\r\n\r\n"));
    bool closed = false;
    char *got = raw_read_all(fd, 10000, &closed);
    close(fd);
    assert_non_null(strstr(got, "HTTP/1.1 200"));
    assert_non_null(strstr(got, "Access-Control-Allow-Origin: *"));
    assert_non_null(
        strstr(got, "Access-Control-Allow-Methods: GET, POST, PUT, PATCH, DELETE, OPTIONS"));
    static const char *const allowed[] = {"authorization",   "x-client-info",  "apikey",
                                          "content-type",    "x-region",       "x-retry-count",
                                          "content-profile", "accept-profile", "prefer",
                                          "range",           "last-event-id"};
    char *allow = strstr(got, "Access-Control-Allow-Headers: ");
    assert_non_null(allow);
    char *eol = strstr(allow, "\r\n");
    *eol = '\0';
    for (size_t i = 0; i < BK_ARRAY_LEN(allowed); i++)
        if (!strstr(allow, allowed[i]))
            fail_msg("%s lacks %s", allow, allowed[i]);
    *eol = '\r';
    assert_non_null(strstr(got, "Access-Control-Expose-Headers: Content-Range"));
    free(got);
    free(service);
    free(anon);
    free(user);
    free(expired);
    free(forged);
    free(none);
    free(admin);
    srv_stop(&s);
}

static void test_untrusted_client(void **state)
{
    (void)state;
    const char *args[] = {"--set", "trusted_clients=127.0.0.1/32", NULL};
    srv s;
    srv_start(&s, args, NULL);
    resp r =
        http_req(&s, "POST", "/functions/v1/orchestrator?action=tick", NULL, NULL, "127.0.0.2");
    assert_int_equal(r.status, 403);
    assert_string_equal(json_string_value(get(r.json, "code")), "untrusted_client");
    resp_free(&r);
    r = http_req(&s, "POST", "/functions/v1/ensure-coverage",
                 "{\"symbol\":\"AAPL\",\"timeframe\":\"1h\"}", NULL, "127.0.0.2");
    assert_int_equal(r.status, 403);
    resp_free(&r);
    assert_nothing_written(&s);
    r = http_req(&s, "GET", "/healthz", NULL, NULL, "127.0.0.2"); /* probes from anywhere */
    assert_int_equal(r.status, 200);
    resp_free(&r);
    r = http_req(&s, "GET", "/functions/v1/ops-jobs", NULL, NULL, "127.0.0.1");
    assert_int_equal(r.status, 200);
    resp_free(&r);
    srv_stop(&s);
}

/* ---- hostile clients ---- */

static size_t count_sub(const char *s, const char *sub)
{
    size_t n = 0;
    for (const char *p = s; (p = strstr(p, sub)) != NULL; p += strlen(sub))
        n++;
    return n;
}

/* A body both Content-Length- and chunked-framed is refused and the
 * connection closed, so the bytes after it are never answered as a second
 * request; control bytes in parameters are refused; a client that trickles
 * its request head is cut after http_head_timeout_s of silence; one address
 * gets at most http_max_per_client connections, and probes from another
 * address still answer. */
static void test_hostile_clients(void **state)
{
    (void)state;
    const char *args[] = {"--set", "http_head_timeout_s=1", "--set", "http_max_per_client=4", NULL};
    srv s;
    srv_start(&s, args, NULL);
    int fd = raw_connect(&s, NULL);
    assert_true(fd >= 0);
    assert_true(raw_send(fd, "POST /functions/v1/ensure-coverage HTTP/1.1\r\nHost: x\r\n"
                             "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
                             "0\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
    bool closed = false;
    char *got = raw_read_all(fd, 10000, &closed);
    close(fd);
    assert_true(closed);
    assert_int_equal(count_sub(got, "HTTP/1.1 "), 1); /* the smuggled GET is not answered */
    assert_non_null(strstr(got, "HTTP/1.1 400"));
    assert_non_null(strstr(got, "ambiguous_length"));
    free(got);
    assert_nothing_written(&s);

    const char *bad[] = {"/functions/v1/ops-jobs?timeframe=%00",
                         "/functions/v1/ops-jobs?symbol=AAPL%0aX", "/healthz?x=%7f"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        resp r = http_req(&s, "GET", bad[i], NULL, NULL, NULL);
        if (r.status != 400 || !strstr(r.body, "invalid_parameter"))
            fail_msg("%s: %ld %s", bad[i], r.status, r.body);
        resp_free(&r);
    }

    int slow[4];
    for (int i = 0; i < 4; i++) { /* the address's quota, each trickling a head */
        slow[i] = raw_connect(&s, NULL);
        assert_true(slow[i] >= 0);
        assert_true(raw_send(slow[i], "GET /healthz HTTP/1.1\r\nHost: x\r\n"));
    }
    int extra = raw_connect(&s, NULL); /* one more from the same address: refused */
    if (extra >= 0) {
        got = raw_read_all(extra, 10000, &closed);
        assert_true(closed);
        assert_string_equal(got, "");
        free(got);
        close(extra);
    }
    resp r = http_req(&s, "GET", "/healthz", NULL, NULL, "127.0.0.2"); /* another address */
    assert_int_equal(r.status, 200);
    resp_free(&r);
    for (int i = 0; i < 4; i++) { /* cut after a second of silence, unanswered */
        got = raw_read_all(slow[i], 15000, &closed);
        assert_true(closed);
        assert_null(strstr(got, "HTTP/1.1 200"));
        free(got);
        close(slow[i]);
    }
    r = http_req(&s, "GET", "/healthz", NULL, NULL, NULL); /* the address may connect again */
    assert_int_equal(r.status, 200);
    resp_free(&r);
    srv_stop(&s);
}

/* A database another process holds locked (BEGIN EXCLUSIVE): a request
 * that writes waits http_store_wait_ms, then answers 503 store_busy (never
 * a 500 after the store's 10 s); health answers; the lock gone, all is
 * well. */
static void test_busy_store(void **state)
{
    (void)state;
    if (getenv("BK_TEST_DB_URL"))
        skip(); /* SQLite's file lock */
    const char *args[] = {"--set", "http_store_wait_ms=200", "--set", "workers=0", NULL};
    srv s;
    srv_start(&s, args, NULL);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(s.db, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 30000);
    assert_int_equal(sqlite3_exec(db, "BEGIN EXCLUSIVE", NULL, NULL, NULL), SQLITE_OK);
    expect_error(&s, "POST", "/functions/v1/ensure-coverage",
                 "{\"symbol\":\"AAPL\",\"timeframe\":\"1h\"}", 503, "store_busy");
    resp r = http_req(&s, "GET", "/readyz", NULL, NULL, NULL); /* reads go on (WAL) */
    assert_true(r.status == 200 || r.status == 503);
    resp_free(&r);
    r = http_req(&s, "GET", "/healthz", NULL, NULL, NULL); /* alive all the same */
    assert_int_equal(r.status, 200);
    resp_free(&r);
    assert_int_equal(sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    r = expect(&s, "POST", "/functions/v1/ensure-coverage",
               "{\"symbol\":\"AAPL\",\"timeframe\":\"1h\"}", svc_hdrs, 200);
    resp_free(&r);
    srv_stop(&s);
}

static size_t log_count(const srv *s, const char *what)
{
    FILE *f = fopen(s->log, "r");
    size_t n = 0;
    char line[2048];
    while (f && fgets(line, sizeof line, f))
        n += strstr(line, what) != NULL;
    if (f)
        fclose(f);
    return n;
}

/* Workers whose claims the store fails (here the queue's table is gone; a
 * full disk alike) back off instead of spinning, log once per ten seconds
 * with a count of what they did not log, and /readyz says not ready. */
static void test_failing_claims(void **state)
{
    (void)state;
    if (getenv("BK_TEST_DB_URL"))
        skip(); /* the table is dropped through SQLite */
    const char *args[] = {"--set", "workers=4", NULL};
    srv s;
    srv_start(&s, args, NULL);
    resp r = expect(&s, "GET", "/readyz", NULL, NULL, 200);
    resp_free(&r);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(s.db, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 30000); /* the workers' claims hold the write lock briefly */
    assert_int_equal(sqlite3_exec(db, "DROP TABLE job_runs", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    for (int i = 0;; i++) { /* the workers' next claims fail */
        r = http_req(&s, "GET", "/readyz", NULL, NULL, NULL);
        long st = r.status;
        bool says = r.body && strstr(r.body, "workers cannot use the store");
        resp_free(&r);
        if (st == 503 && says)
            break;
        if (i == 400)
            fail_msg("/readyz never said the workers fail (%ld)", st);
        nap_ms(25);
    }
    size_t before = log_count(&s, "claim failed");
    for (int i = 0; i < 40; i++) /* two seconds of failing claims */
        nap_ms(50);
    size_t after = log_count(&s, "claim failed");
    if (after - before > 1) /* spinning claims logged thousands of lines a second */
        fail_msg("%zu claim-failed lines in 2 s", after - before);
    assert_true(before >= 1);
    kill(s.pid, SIGKILL); /* its store is broken on purpose: no clean stop to check */
    bk_t_wait(s.pid);
    bk_t_rmtree(s.dir);
    free(s.dir);
    free(s.db);
    free(s.port_file);
    free(s.log);
}

/* Poll /readyz (bounded) until its status is want and, for a 503, its
 * message holds says. */
static void readyz_until(const srv *s, long want, const char *says)
{
    for (int i = 0;; i++) {
        resp r = http_req(s, "GET", "/readyz", NULL, NULL, NULL);
        bool ok = r.status == want && (!says || (r.body && strstr(r.body, says)));
        long st = r.status;
        resp_free(&r);
        if (ok)
            return;
        if (i == 400)
            fail_msg("/readyz answered %ld, never %ld", st, want);
        nap_ms(25);
    }
}

/* A process without workers whose writes fail (here the scheduler's leader
 * lease, whose table is renamed away; a full disk alike) is not ready, and
 * ready again once a write succeeds. */
static void test_failing_writes(void **state)
{
    (void)state;
    if (getenv("BK_TEST_DB_URL"))
        skip(); /* the table is renamed through SQLite */
    const char *args[] = {"--set", "workers=0", "--set", "lease_ms=600", NULL};
    srv s;
    srv_start(&s, args, NULL);
    readyz_until(&s, 200, NULL);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(s.db, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 30000);
    assert_int_equal(
        sqlite3_exec(db, "ALTER TABLE scheduler_leases RENAME TO gone", NULL, NULL, NULL),
        SQLITE_OK);
    readyz_until(&s, 503, "store writes fail"); /* the leader renews every 200 ms */
    assert_int_equal(
        sqlite3_exec(db, "ALTER TABLE gone RENAME TO scheduler_leases", NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(db);
    readyz_until(&s, 200, NULL);
    srv_stop(&s);
}

/* How far the process's clock is from the database's, in /readyz (ready
 * all the same, with a warning: leases and budgets use the database's clock),
 * /metrics and, once, the log: on PostgreSQL a serve pinned 45 s ahead of the
 * real clock reports about 45 s; on SQLite (one machine, one clock) 0. */
static void test_clock_skew(void **state)
{
    (void)state;
    bool pg = getenv("BK_TEST_DB_URL") != NULL;
    char now[32], env_now[48];
    time_t t = time(NULL) + 45;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(now, sizeof now, "%Y-%m-%dT%H:%M:%SZ", &tm);
    snprintf(env_now, sizeof env_now, "BARKEEP_NOW=%s", now);
    const char *env[] = {env_now, NULL};
    const char *args[] = {"--set", "workers=0", NULL};
    srv s;
    srv_start(&s, args, env);
    resp r = expect(&s, "GET", "/readyz", NULL, NULL, 200);
    double skew = json_number_value(get(r.json, "clock_skew_s"));
    assert_true(json_is_true(get(r.json, "clock_pinned")));
    json_t *warn = json_object_get(r.json, "warnings");
    if (pg) {
        if (!(skew > 40 && skew <= 45.5))
            fail_msg("clock_skew_s %.3f, want about 45", skew);
        assert_int_equal(json_array_size(warn), 1);
        assert_non_null(strstr(json_string_value(json_array_get(warn, 0)), "ahead of"));
    } else {
        assert_true(skew == 0.0);
        assert_null(warn);
    }
    resp_free(&r);
    r = expect(&s, "GET", "/metrics", NULL, NULL, 200);
    const char *key = "\nbarkeep_clock_skew_seconds ";
    const char *m = strstr(r.body, key);
    assert_non_null(m);
    double gauge = strtod(m + strlen(key), NULL);
    if (pg)
        assert_true(gauge > 40 && gauge <= 45.5);
    else
        assert_true(gauge == 0.0);
    resp_free(&r);
    assert_int_equal(log_count(&s, "clock skew"), pg ? 1 : 0);
    srv_stop(&s);
}

/* The anon key's ensure-coverage is bounded: window and priority cut to
 * the anon maxima, an existing definition left as the service key set it,
 * creations per hour and the total capped with 429 and Retry-After. */
static void test_anon_bounds(void **state)
{
    (void)state;
    const char *args[] = {
        "--set", "anon_defs_per_hour=3", "--set", "anon_max_definitions=5", "--set", "workers=0",
        NULL};
    srv s;
    srv_start(&s, args, key_env);
    const char *anon[] = {"Authorization: Bearer " ANON, JSON_CT, NULL};
    const char *E = "/functions/v1/ensure-coverage";
    resp r = expect(&s, "POST", E,
                    "{\"symbol\":\"AAPL\",\"timeframe\":\"1m\",\"window_days\":36500,"
                    "\"priority\":1000000}",
                    anon, 200);
    assert_int_equal(json_integer_value(get(r.json, "window_days")), 60);
    assert_int_equal(json_integer_value(get(r.json, "priority")),
                     150); /* anon_max_priority: below the service intraday default */
    resp_free(&r);
    r = expect(&s, "POST", E,
               "{\"symbol\":\"MSFT\",\"timeframe\":\"1h\",\"window_days\":400,\"priority\":500}",
               svc_hdrs, 200); /* the service key is not bounded */
    assert_int_equal(json_integer_value(get(r.json, "window_days")), 400);
    resp_free(&r);
    r = expect(&s, "POST", E,
               "{\"symbol\":\"MSFT\",\"timeframe\":\"1h\",\"window_days\":3,\"priority\":1}", anon,
               200); /* neither lowered nor raised by the anon key */
    assert_int_equal(json_integer_value(get(r.json, "window_days")), 400);
    assert_int_equal(json_integer_value(get(r.json, "priority")), 500);
    resp_free(&r);
    const char *more[] = {"IBM", "ORCL", "CSCO"};
    for (int i = 0; i < 3; i++) {
        char body[96];
        snprintf(body, sizeof body, "{\"symbol\":\"%s\",\"timeframe\":\"1h\"}", more[i]);
        r = http_req(&s, "POST", E, body, anon, NULL);
        if (i < 2) { /* the hour's third and fourth creation: AAPL was the first */
            assert_int_equal(r.status, 200);
        } else {
            assert_int_equal(r.status, 429);
            assert_string_equal(json_string_value(get(r.json, "code")), "rate_limited");
            assert_true(atoi(r.retry_after) > 0);
        }
        resp_free(&r);
    }
    r = expect(&s, "POST", E, "{\"symbol\":\"NFLX\",\"timeframe\":\"1h\"}", svc_hdrs, 200);
    resp_free(&r); /* five definitions now: the anon key creates no more */
    r = http_req(&s, "POST", E, "{\"symbol\":\"AMD\",\"timeframe\":\"d1\"}", anon, NULL);
    assert_int_equal(r.status, 429);
    assert_string_equal(json_string_value(get(r.json, "code")), "too_many_definitions");
    assert_string_equal(r.retry_after, "3600");
    resp_free(&r);
    r = expect(&s, "GET", "/functions/v1/watchlist", NULL, svc_hdrs, 200);
    assert_int_equal(json_array_size(get(r.json, "definitions")), 5);
    resp_free(&r);
    srv_stop(&s);
}

/* ---- bad input ---- */

static void test_bad_input(void **state)
{
    (void)state;
    srv s;
    srv_start(&s, NULL, key_env);
    const char *E = "/functions/v1/ensure-coverage";
    expect_error(&s, "POST", E, "{", 400, "invalid_json");
    expect_error(&s, "POST", E, "", 400, "invalid_json");
    expect_error(&s, "POST", E, "[1,2]", 400, "invalid_body");
    /* dots only: no ticker, and a dot segment in a provider's URL */
    expect_error(&s, "POST", E, "{\"symbol\":\"..\",\"timeframe\":\"1h\"}", 400, "invalid_symbol");
    /* a symbol no provider knows (the sim knows none starting ZZZ): said at
     * once, and no definition or run is created */
    expect_error(&s, "POST", E, "{\"symbol\":\"ZZZQ\",\"timeframe\":\"1h\"}", 404,
                 "unknown_symbol");
    expect_error(&s, "POST", E, "{\"symbol\":1,\"timeframe\":\"1h\"}", 400, "invalid_type");
    expect_error(&s, "POST", E, "{\"symbol\":\"AAPL\",\"timeframe\":\"1h\",\"window_days\":\"7\"}",
                 400, "invalid_type");
    expect_error(&s, "POST", E, "{\"symbol\":\"AAPL\",\"timeframe\":\"1h\",\"window_days\":7.5}",
                 400, "invalid_type");
    expect_error(&s, "POST", E, "{}", 400, "missing_field");
    expect_error(&s, "POST", E, "{\"symbol\":\"AAPL\"}", 400, "missing_field");
    expect_error(&s, "POST", E, "{\"symbol\":\"AAPL\",\"timeframe\":\"1h\",\"window_days\":-1}",
                 400, "invalid_window");
    expect_error(&s, "POST", E, "{\"symbol\":\"AAPL\",\"timeframe\":\"1h\",\"window_days\":99999}",
                 400, "invalid_window");
    expect_error(&s, "POST", E, "{\"symbol\":\"AAPL\",\"timeframe\":\"2h\"}", 400,
                 "invalid_timeframe");
    expect_error(&s, "POST", E, "{\"symbol\":\"AA PL\",\"timeframe\":\"1h\"}", 400,
                 "invalid_symbol");
    size_t big = 70 * 1024;
    char *huge = malloc(big + 64);
    snprintf(huge, 64, "{\"symbol\":\"AAPL\",\"timeframe\":\"1h\",\"x\":\"");
    size_t off = strlen(huge);
    memset(huge + off, 'a', big);
    strcpy(huge + off + big, "\"}");
    expect_error(&s, "POST", E, huge, 413, "payload_too_large");
    free(huge);
    expect_error(&s, "POST", "/functions/v1/orchestrator?action=explode", NULL, 400,
                 "unknown_action");
    expect_error(&s, "POST", "/functions/v1/orchestrator", NULL, 400, "missing_action");
    expect_error(&s, "GET", "/functions/v1/ops-jobs?hours=abc", NULL, 400, "invalid_hours");
    expect_error(&s, "GET", "/functions/v1/ops-jobs?timeframe=7m", NULL, 400, "invalid_timeframe");
    expect_error(&s, "POST", "/functions/v1/chart-data-v2",
                 "{\"symbol\":\"AAPL\",\"timeframe\":\"1h\",\"days\":0}", 400, "invalid_days");
    expect_error(&s, "POST", "/functions/v1/fetch-bars", "{\"job_run_id\":\"abc\"}", 400,
                 "invalid_run_id");
    expect_error(&s, "POST", "/functions/v1/fetch-bars",
                 "{\"job_run_id\":\"00000000-0000-4000-8000-000000000000\"}", 404, "not_found");
    expect_error(&s, "GET", "/realtime/v1/job_runs?filter=symbol=like.AAPL", NULL, 400,
                 "invalid_filter");
    expect_error(&s, "GET", "/functions/v1/nope", NULL, 404, "not_found");
    expect_error(&s, "GET", E, NULL, 405, "method_not_allowed");
    assert_nothing_written(&s);
    srv_stop(&s);
}

/* ---- fetch-bars (external dispatchers) ---- */

static void test_fetch_bars(void **state)
{
    (void)state;
    const char *args[] = {"--set", "workers=0", NULL};
    srv s;
    srv_start(&s, args, key_env);
    resp r = expect(&s, "POST", "/functions/v1/ensure-coverage",
                    "{\"symbol\":\"NFLX\",\"timeframe\":\"1h\",\"window_days\":5}", svc_hdrs, 200);
    int64_t queued = json_integer_value(get(r.json, "backfill_progress.queued_slices"));
    assert_true(queued > 0); /* no worker in this process: they wait */
    resp_free(&r);
    r = expect(&s, "POST", "/functions/v1/orchestrator?action=status", NULL, svc_hdrs, 200);
    json_t *q = json_array_get(get(r.json, "queued_jobs"), 0);
    char id[40], body[128];
    snprintf(id, sizeof id, "%s", json_string_value(get(q, "id")));
    resp_free(&r);
    snprintf(body, sizeof body, "{\"job_run_id\":\"%s\"}", id);
    r = expect(&s, "POST", "/functions/v1/fetch-bars", body, svc_hdrs, 200);
    assert_string_equal(json_string_value(get(r.json, "job_run_id")), id);
    assert_string_equal(json_string_value(get(r.json, "status")), "success");
    assert_string_equal(json_string_value(get(r.json, "provider")), "sim");
    want_int(r.json, "rows_written");
    want_int(r.json, "duration_ms");
    want_str(r.json, "from");
    want_str(r.json, "to");
    resp_free(&r);
    expect_error(&s, "POST", "/functions/v1/fetch-bars", body, 409, "not_queued");
    srv_stop(&s);
}

/* ---- operations ---- */

static bool saw_keepalive(const sse *c, void *ctx)
{
    (void)ctx;
    return c->keepalives > 0;
}

static void test_operations(void **state)
{
    (void)state;
    const char *args[] = {"--set", "sse_keepalive_s=1", "--set", "sse_max_clients=1", NULL};
    srv s;
    srv_start(&s, args, NULL);
    /* an idle stream gets keep-alive comments; a second client is refused */
    sse c;
    sse_open(&c, &s, NULL, 0);
    assert_true(sse_until(&c, saw_keepalive, NULL, 10000));
    resp busy = http_req(&s, "GET", "/realtime/v1/job_runs", NULL, NULL, NULL);
    assert_int_equal(busy.status, 503);
    assert_string_equal(json_string_value(get(busy.json, "code")), "too_many_clients");
    resp_free(&busy);
    sse_close(&c);
    resp r = expect(&s, "POST", "/functions/v1/ensure-coverage",
                    "{\"symbol\":\"AMD\",\"timeframe\":\"d1\",\"window_days\":30}", NULL, 200);
    resp_free(&r);
    wait_idle(&s);
    r = expect(&s, "GET", "/metrics", NULL, NULL, 200);
    assert_non_null(strstr(r.content_type, "text/plain"));
    assert_non_null(strstr(r.body, "# TYPE barkeep_run_duration_seconds histogram"));
    assert_non_null(
        strstr(r.body, "barkeep_runs_finished_total{provider=\"sim\",outcome=\"success\"}"));
    assert_non_null(strstr(r.body, "barkeep_queue_depth 0"));
    assert_non_null(
        strstr(r.body, "barkeep_freshness_lag_seconds{symbol=\"AMD\",timeframe=\"d1\"}"));
    assert_non_null(strstr(r.body, "barkeep_provider_requests_total{provider=\"sim\"}"));
    assert_non_null(strstr(r.body, "barkeep_provider_breaker_open{provider=\"sim\"} 0"));
    assert_non_null(strstr(r.body, "barkeep_provider_fallback_runs_total{provider=\"sim\"} 0"));
    assert_non_null(strstr(r.body, "# TYPE barkeep_bars_revised_total counter"));
    assert_non_null(strstr(r.body, "barkeep_bars_revised_total{provider=\"sim\"} 0"));
    resp_free(&r);
    r = expect(&s, "GET", "/readyz", NULL, NULL, 200);
    resp_free(&r);
    r = expect(&s, "OPTIONS", "/functions/v1/ensure-coverage", NULL, NULL, 200);
    resp_free(&r);
    r = expect(&s, "GET", "/functions/v1/ops-jobs?symbol=AMD&timeframe=d1", NULL, NULL, 200);
    json_t *cov = json_array_get(get(r.json, "coverage"), 0);
    want_int(cov, "freshness_lag_seconds");
    json_t *ps = json_array_get(get(r.json, "provider_stats"), 0);
    want_int(ps, "p50_duration_ms");
    want_int(ps, "p95_duration_ms");
    assert_true(json_number_value(get(r.json, "stats.success_rate")) == 100.0);
    json_t *ph = json_array_get(get(r.json, "provider_health"), 0);
    assert_string_equal(json_string_value(json_object_get(ph, "provider")), "sim");
    assert_string_equal(json_string_value(json_object_get(ph, "breaker")), "closed");
    assert_true(json_integer_value(json_object_get(ph, "requests")) > 0);
    assert_int_equal(json_integer_value(json_object_get(ph, "bars_revised")), 0);
    assert_int_equal(json_integer_value(json_object_get(ph, "settle_seconds")), 0); /* sim */
    want_int(ph, "settle_seconds");
    resp_free(&r);
    srv_stop(&s);
}

/* barkeep CLI against the server's database, exit status 0 expected. */
static void cli_ok(const srv *s, const char *const args[])
{
    const char *argv[16];
    int n = 0;
    argv[n++] = bk_t_bin();
    argv[n++] = "--db";
    argv[n++] = s->db;
    for (int i = 0; args[i] && n < 15; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    bk_t_result r = bk_t_run(argv, NULL);
    if (r.status != 0)
        fprintf(stderr, "%s\n%s\n", r.out, r.err);
    assert_int_equal(r.status, 0);
    bk_t_result_free(&r);
}

static bool chart_has_forecast(const srv *s, const char *body)
{
    resp r = expect(s, "POST", "/functions/v1/chart-data-v2", body, svc_hdrs, 200);
    bool yes = json_integer_value(get(r.json, "layers.forecast.count")) > 0;
    resp_free(&r);
    return yes;
}

/* A run_forecast definition served: the scheduler plans the forecast run
 * over imported bars, chart-data-v2's forecast layer carries its steps and
 * its metadata when and on which bars it was made; once the real bars land
 * (an import) ops-jobs' forecast section and the chart's realized coverage
 * show the scores. */
static void test_forecast_layer(void **state)
{
    (void)state;
    const char *now = "2001-07-16T12:00:00Z"; /* Monday before the open */
    const char *args[] = {"--now", now, "--set", "tick_max_ms=50", NULL};
    srv s;
    srv_start(&s, args, NULL);
    char head[4200], full[4200], line[256];
    assert_non_null(getenv("BK_SOURCE_DIR"));
    snprintf(full, sizeof full, "%s/bench/data/msft_daily_2000_2001.csv", getenv("BK_SOURCE_DIR"));
    snprintf(head, sizeof head, "%s/head.csv", s.dir);
    FILE *in = fopen(full, "r"), *out = fopen(head, "w");
    assert_true(in && out);
    for (int i = 0; i <= 200 && fgets(line, sizeof line, in); i++) /* header + 200 bars */
        fputs(line, out);
    fclose(in);
    fclose(out);
    const char *imp[] = {"--now", now,           "import", head, "--symbol",
                         "MSFT",  "--timeframe", "d1",     NULL};
    cli_ok(&s, imp);
    const char *add[] = {"jobs",         "add",           "MSFT", "d1", "--type",
                         "run_forecast", "--window-days", "250",  NULL};
    cli_ok(&s, add);
    const char *chart = "{\"symbol\":\"MSFT\",\"timeframe\":\"d1\",\"days\":400}";
    for (int i = 0; i < 400 && !chart_has_forecast(&s, chart); i++)
        nap_ms(25);
    resp r = expect(&s, "POST", "/functions/v1/chart-data-v2", chart, svc_hdrs, 200);
    assert_int_equal(json_integer_value(get(r.json, "layers.forecast.count")), 20);
    assert_string_equal(json_string_value(get(r.json, "layers.forecast.model")), "garch11t-cal");
    assert_string_equal(json_string_value(get(r.json, "layers.forecast.provider")), "ml_forecast");
    json_t *f0 = json_array_get(get(r.json, "layers.forecast.data"), 0);
    assert_string_equal(json_string_value(get(f0, "ts")), "2001-07-16T04:00:00Z");
    assert_int_equal(json_integer_value(get(f0, "step")), 1);
    const char *num[] = {"point", "lo80", "hi80", "lo95", "hi95"};
    for (size_t i = 0; i < 5; i++)
        assert_true(json_is_number(get(f0, num[i])));
    assert_true(json_number_value(get(f0, "lo95")) < json_number_value(get(f0, "lo80")));
    assert_true(json_number_value(get(f0, "hi80")) < json_number_value(get(f0, "hi95")));
    assert_string_equal(json_string_value(get(f0, "model")), "garch11t-cal");
    /* the 20th session after Friday 2001-07-13: weekends skipped */
    json_t *f19 = json_array_get(get(r.json, "layers.forecast.data"), 19);
    assert_string_equal(json_string_value(get(f19, "ts")), "2001-08-10T04:00:00Z");
    assert_int_equal(json_integer_value(get(f19, "step")), 20);
    assert_int_equal(json_integer_value(get(r.json, "metadata.total_bars")), 200);
    assert_string_equal(json_string_value(get(r.json, "metadata.forecast.as_of_bar_ts")),
                        "2001-07-13T04:00:00Z");
    want_str(r.json, "metadata.forecast.made_at");
    want_str(r.json, "metadata.forecast.run_id");
    assert_true(json_integer_value(get(r.json, "metadata.forecast.bars_used")) >= 60);
    assert_int_equal(json_integer_value(get(r.json, "metadata.forecast.realized.scored_steps")), 0);
    assert_true(json_is_null(get(r.json, "metadata.forecast.realized.coverage80")));
    resp_free(&r);
    /* another series: no forecast, the layer empty as before */
    r = expect(&s, "POST", "/functions/v1/chart-data-v2",
               "{\"symbol\":\"AMD\",\"timeframe\":\"d1\",\"days\":5}", svc_hdrs, 200);
    assert_int_equal(json_integer_value(get(r.json, "layers.forecast.count")), 0);
    assert_true(json_is_null(get(r.json, "layers.forecast.provider")));
    assert_true(json_is_null(get(r.json, "metadata.forecast")));
    resp_free(&r);
    /* the real bars land: scored */
    const char *imp2[] = {"--now", now,           "import", full, "--symbol",
                          "MSFT",  "--timeframe", "d1",     NULL};
    cli_ok(&s, imp2);
    r = expect(&s, "GET", "/functions/v1/ops-jobs?symbol=MSFT&timeframe=d1", NULL, svc_hdrs, 200);
    check_ops_shape(r.json, 24);
    assert_int_equal(json_integer_value(get(r.json, "forecast.last_forecasts")), 20);
    json_t *fs = json_array_get(get(r.json, "forecast.series"), 0);
    assert_string_equal(json_string_value(get(fs, "symbol")), "MSFT");
    assert_int_equal(json_integer_value(get(fs, "horizon")), 20);
    assert_string_equal(json_string_value(get(fs, "as_of_bar_ts")), "2001-07-13T04:00:00Z");
    json_t *steps = get(fs, "steps");
    assert_int_equal(json_array_size(steps), 20);
    json_t *st20 = json_array_get(steps, 19);
    assert_int_equal(json_integer_value(get(st20, "step")), 20);
    assert_int_equal(json_integer_value(get(st20, "scored")), 1);
    const char *sn[] = {"coverage80", "coverage95", "mae", "naive_mae", "rel_mae"};
    for (size_t i = 0; i < 5; i++)
        assert_true(json_is_number(get(st20, sn[i])));
    resp_free(&r);
    r = expect(&s, "GET", "/functions/v1/ops-jobs?symbol=AMD", NULL, svc_hdrs, 200);
    assert_int_equal(json_array_size(get(r.json, "forecast.series")), 0);
    resp_free(&r);
    r = expect(&s, "POST", "/functions/v1/chart-data-v2", chart, svc_hdrs, 200);
    assert_int_equal(json_integer_value(get(r.json, "metadata.forecast.realized.scored_steps")),
                     20);
    double c80 = json_number_value(get(r.json, "metadata.forecast.realized.coverage80"));
    assert_true(c80 >= 0 && c80 <= 1);
    resp_free(&r);
    /* the watchlist: a fetch definition's last run is never the series'
     * forecast run (the imported bars cover its window: no fetch planned),
     * the run_forecast definition's is */
    const char *fetch[] = {"jobs", "add", "MSFT", "d1", "--window-days", "5", NULL};
    cli_ok(&s, fetch);
    r = expect(&s, "GET", "/functions/v1/watchlist?symbol=MSFT&timeframe=d1", NULL, svc_hdrs, 200);
    json_t *defs = get(r.json, "definitions");
    assert_int_equal(json_array_size(defs), 2);
    for (size_t i = 0; i < 2; i++) {
        json_t *d = json_array_get(defs, i);
        const char *type = json_string_value(get(d, "job_type"));
        json_t *last = json_object_get(d, "last_run"); /* null: no run */
        const char *prov = json_string_value(json_object_get(last, "provider"));
        if (strcmp(type, "run_forecast") == 0)
            assert_string_equal(prov, "ml_forecast");
        else
            assert_true(!prov || strcmp(prov, "ml_forecast") != 0);
    }
    resp_free(&r);
    /* the run_forecast definition removed: its forecast is no longer served,
     * nor listed in ops-jobs */
    const char *rm[] = {"jobs", "rm", "MSFT", "d1", "--type", "run_forecast", NULL};
    cli_ok(&s, rm);
    r = expect(&s, "POST", "/functions/v1/chart-data-v2", chart, svc_hdrs, 200);
    assert_int_equal(json_integer_value(get(r.json, "layers.forecast.count")), 0);
    assert_true(json_is_null(get(r.json, "metadata.forecast")));
    resp_free(&r);
    r = expect(&s, "GET", "/functions/v1/ops-jobs?symbol=MSFT&timeframe=d1", NULL, svc_hdrs, 200);
    assert_int_equal(json_array_size(get(r.json, "forecast.series")), 0);
    resp_free(&r);
    srv_stop(&s);
}

/* The web client's endpoints: / (the page, or the page saying it was not
 * built), the watchlist with coverage, strip and slices, the newest runs,
 * and removing a definition (service key only). */
static void test_web_endpoints(void **state)
{
    (void)state;
    /* a run per day, so that a series has several (the sim serves its 5 days
     * of 1h in one request) */
    const char *args[] = {"--set", "slice_hours_intraday=24", NULL};
    srv s;
    srv_start(&s, args, key_env);
    const char *anon[] = {"Authorization: Bearer " ANON, JSON_CT, NULL};
    resp r = http_req(&s, "GET", "/", NULL, NULL, NULL); /* public */
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.content_type, "text/html"));
    resp_free(&r);
    const char *series = "{\"symbol\":\"AMZN\",\"timeframe\":\"1h\"}";
    r = expect(&s, "POST", "/functions/v1/ensure-coverage",
               "{\"symbol\":\"AMZN\",\"timeframe\":\"1h\",\"window_days\":5}", anon, 200);
    resp_free(&r);
    /* the queue can be idle between waves (nothing running, the next wave
     * not yet planned): wait for the series itself, hydrated and whole */
    for (int i = 0;; i++) {
        r = expect(&s, "GET", "/functions/v1/watchlist?symbol=amzn&timeframe=h1", NULL, anon, 200);
        json_t *w = json_array_get(get(r.json, "definitions"), 0);
        if (w && json_is_false(get(w, "is_hydrating")) &&
            json_number_value(get(w, "coverage_percent")) == 100.0)
            break;
        resp_free(&r);
        if (i == 2000)
            fail_msg("AMZN 1h never finished hydrating");
        nap_ms(25);
    }
    assert_int_equal(json_array_size(get(r.json, "definitions")), 1);
    json_t *d = json_array_get(get(r.json, "definitions"), 0);
    assert_string_equal(json_string_value(get(d, "symbol")), "AMZN");
    assert_string_equal(json_string_value(get(d, "timeframe")), "1h");
    assert_true(json_number_value(get(d, "coverage_percent")) == 100.0);
    assert_int_equal(json_integer_value(get(d, "gaps")), 0);
    assert_true(json_is_false(get(d, "is_hydrating")));
    assert_int_equal(json_array_size(get(d, "strip")), 48);
    assert_true(json_integer_value(get(d, "bars_stored")) > 0);
    assert_int_equal(json_integer_value(get(d, "slices.total")),
                     json_integer_value(get(d, "slices.done")));
    assert_string_equal(json_string_value(get(d, "last_run.status")), "success");
    resp_free(&r);
    r = expect(&s, "GET", "/functions/v1/runs?symbol=AMZN&limit=2", NULL, anon, 200);
    assert_int_equal(json_array_size(get(r.json, "runs")), 2);
    assert_string_equal(json_string_value(get(json_array_get(get(r.json, "runs"), 0), "symbol")),
                        "AMZN");
    resp_free(&r);
    expect_error(&s, "GET", "/functions/v1/runs?limit=0", NULL, 400, "invalid_limit");
    expect_error(&s, "GET", "/functions/v1/watchlist?timeframe=7m", NULL, 400, "invalid_timeframe");
    r = http_req(&s, "POST", "/functions/v1/watchlist?action=remove", series, anon, NULL);
    assert_int_equal(r.status, 403); /* the anon key may add, not remove */
    resp_free(&r);
    expect_error(&s, "POST", "/functions/v1/watchlist", series, 400, "missing_action");
    expect_error(&s, "POST", "/functions/v1/watchlist?action=drop", series, 400, "unknown_action");
    r = expect(&s, "POST", "/functions/v1/watchlist?action=remove", series, svc_hdrs, 200);
    assert_true(json_is_true(get(r.json, "success")));
    resp_free(&r);
    expect_error(&s, "POST", "/functions/v1/watchlist?action=remove", series, 404, "not_found");
    r = expect(&s, "GET", "/functions/v1/watchlist", NULL, anon, 200);
    assert_int_equal(json_array_size(get(r.json, "definitions")), 0);
    resp_free(&r);
    srv_stop(&s);
}

/* PostgreSQL: a run executed by a worker process appears on the event
 * stream of a serve process that runs no workers itself. */
static void test_cross_process_events(void **state)
{
    (void)state;
    if (!getenv("BK_TEST_DB_URL"))
        skip(); /* needs a shared server database */
    const char *args[] = {"--set", "workers=0", NULL};
    srv s;
    srv_start(&s, args, NULL);
    char *wlog = bk_t_path(s.dir, "worker.log");
    const char *wargv[] = {bk_t_bin(), "--db", s.db, "worker", "--workers", "2", NULL};
    pid_t worker = bk_t_spawn(wargv, NULL, wlog);
    sse c;
    sse_open(&c, &s, "?symbol=CSCO", 0);
    sse_pump(&c, 100);
    resp r = expect(&s, "POST", "/functions/v1/ensure-coverage",
                    "{\"symbol\":\"CSCO\",\"timeframe\":\"1h\",\"window_days\":5}", svc_hdrs, 200);
    resp_free(&r);
    char csco[] = "CSCO";
    assert_true(sse_until(&c, saw_success_of, csco, 30000));
    sse_close(&c);
    kill(worker, SIGTERM);
    assert_int_equal(bk_t_wait(worker), 0);
    free(wlog);
    srv_stop(&s);
}

/* ---- PostgREST reads (/rest/v1/) ---- */

#define APIKEY      "apikey: " ANON
#define ANON_BEARER "Authorization: Bearer " ANON

static resp rest(const srv *s, const char *method, const char *path, const char *body,
                 const char *extra1, const char *extra2, long status)
{
    const char *h[] = {APIKEY, ANON_BEARER, JSON_CT, extra1, extra2, NULL};
    resp r = http_req(s, method, path, body, h, NULL);
    if (r.status != status)
        fail_msg("%s %s: status %ld (want %ld): %s", method, path, r.status, status, r.body);
    return r;
}

/* PostgREST's error JSON: code, message, details and hint (null or string). */
static void rest_error(const srv *s, const char *method, const char *path, long status,
                       const char *code, const char *message)
{
    resp r = rest(s, method, path, NULL, NULL, NULL, status);
    assert_non_null(r.json);
    assert_string_equal(json_string_value(get(r.json, "code")), code);
    want_str(r.json, "message");
    if (message)
        assert_string_equal(json_string_value(get(r.json, "message")), message);
    want_str_or_null(r.json, "details");
    want_str_or_null(r.json, "hint");
    resp_free(&r);
}

static const char *str_at(json_t *arr, size_t i, const char *key)
{
    return json_string_value(json_object_get(json_array_get(arr, i), key));
}

static void test_rest_reads(void **state)
{
    (void)state;
    const char *args[] = {"--set", "rest_max_rows=5", NULL};
    srv s;
    srv_start(&s, args, key_env);
    const char *bodies[] = {"{\"symbol\":\"AMD\",\"timeframe\":\"d1\",\"window_days\":30}",
                            "{\"symbol\":\"MSFT\",\"timeframe\":\"d1\",\"window_days\":30}"};
    for (int i = 0; i < 2; i++) {
        resp r = expect(&s, "POST", "/functions/v1/ensure-coverage", bodies[i], svc_hdrs, 200);
        resp_free(&r);
    }
    wait_idle(&s);
    /* select with columns, typed values, an eq filter */
    resp r = rest(&s, "GET",
                  "/rest/v1/job_runs?select=id,symbol,status,progress_percent,created_at,"
                  "error_code,attempt&symbol=eq.AMD",
                  NULL, NULL, NULL, 200);
    assert_string_equal(r.content_type, "application/json; charset=utf-8");
    assert_string_equal(r.content_range, "0-0/*");
    assert_int_equal(json_array_size(r.json), 1);
    json_t *run = json_array_get(r.json, 0);
    assert_int_equal(json_object_size(run), 7);
    assert_string_equal(json_string_value(get(run, "status")), "success");
    assert_true(json_is_number(get(run, "progress_percent")));
    assert_true(json_number_value(get(run, "progress_percent")) == 100.0);
    assert_true(json_is_integer(get(run, "attempt")));
    assert_true(json_is_null(get(run, "error_code")));
    const char *created = json_string_value(get(run, "created_at"));
    assert_non_null(strstr(created, "+00:00"));
    assert_int_equal(created[10], 'T');
    char id_filter[128];
    snprintf(id_filter, sizeof id_filter, "/rest/v1/job_runs?select=symbol&id=eq.%s",
             json_string_value(get(run, "id")));
    resp_free(&r);
    r = rest(&s, "GET", id_filter, NULL, NULL, NULL, 200);
    assert_string_equal(str_at(r.json, 0, "symbol"), "AMD");
    resp_free(&r);
    /* in with a quoted element, order desc */
    r = rest(&s, "GET",
             "/rest/v1/job_runs?select=symbol&status=in.(%22success%22,queued)&order=symbol.desc",
             NULL, NULL, NULL, 200);
    assert_int_equal(json_array_size(r.json), 2);
    assert_string_equal(str_at(r.json, 0, "symbol"), "MSFT");
    assert_string_equal(str_at(r.json, 1, "symbol"), "AMD");
    resp_free(&r);
    /* is null, not.is.null (an empty answer), gte on a number, lt on a time */
    r = rest(&s, "GET", "/rest/v1/job_runs?error_code=is.null&progress_percent=gte.100", NULL, NULL,
             NULL, 200);
    assert_int_equal(json_array_size(r.json), 2);
    resp_free(&r);
    r = rest(&s, "GET", "/rest/v1/job_runs?error_code=not.is.null", NULL, NULL, NULL, 200);
    assert_int_equal(json_array_size(r.json), 0);
    assert_string_equal(r.content_range, "*/*");
    resp_free(&r);
    r = rest(&s, "GET", "/rest/v1/job_runs?created_at=lt.2000-01-01T00:00:00%2B00:00", NULL, NULL,
             NULL, 200);
    assert_int_equal(json_array_size(r.json), 0);
    resp_free(&r);
    r = rest(&s, "GET",
             "/rest/v1/job_definitions?select=symbol,enabled,window_days&enabled=is.true"
             "&order=symbol",
             NULL, NULL, NULL, 200);
    assert_int_equal(json_array_size(r.json), 2);
    assert_true(json_is_true(get(json_array_get(r.json, 0), "enabled")));
    assert_int_equal(json_integer_value(get(json_array_get(r.json, 0), "window_days")), 30);
    resp_free(&r);
    /* limit/offset and Range, with and without count=exact */
    r = rest(&s, "GET", "/rest/v1/job_runs?select=symbol&order=symbol.asc&limit=1&offset=1", NULL,
             "Prefer: count=exact", NULL, 206);
    assert_string_equal(r.content_range, "1-1/2");
    assert_string_equal(str_at(r.json, 0, "symbol"), "MSFT");
    resp_free(&r);
    r = rest(&s, "GET", "/rest/v1/job_runs?select=symbol&order=symbol", NULL, "Range: 0-0",
             "Range-Unit: items", 200);
    assert_string_equal(r.content_range, "0-0/*");
    assert_int_equal(json_array_size(r.json), 1);
    resp_free(&r);
    r = rest(&s, "GET", "/rest/v1/job_runs", NULL, "Range: 0-0", "Prefer: count=exact", 206);
    assert_string_equal(r.content_range, "0-0/2");
    resp_free(&r);
    r = rest(&s, "GET", "/rest/v1/job_runs", NULL, "Prefer: count=exact", NULL, 200);
    assert_string_equal(r.content_range, "0-1/2");
    resp_free(&r);
    r = rest(&s, "HEAD", "/rest/v1/coverage_status", NULL, "Prefer: count=exact", NULL, 200);
    assert_string_equal(r.content_range, "0-1/2");
    assert_string_equal(r.body, "");
    resp_free(&r);
    r = rest(&s, "GET", "/rest/v1/job_runs?offset=5", NULL, "Prefer: count=exact", NULL, 416);
    assert_string_equal(json_string_value(get(r.json, "code")), "PGRST103");
    resp_free(&r);
    /* one object */
    r = rest(&s, "GET", "/rest/v1/coverage_status?symbol=eq.AMD", NULL,
             "Accept: application/vnd.pgrst.object+json", NULL, 200);
    assert_true(json_is_object(r.json));
    want_str(r.json, "from_ts");
    assert_true(json_is_integer(get(r.json, "last_rows_written")));
    resp_free(&r);
    r = rest(&s, "GET", "/rest/v1/coverage_status", NULL,
             "Accept: application/vnd.pgrst.object+json", NULL, 406);
    assert_string_equal(json_string_value(get(r.json, "code")), "PGRST116");
    resp_free(&r);
    /* bars: one series at a time, at most rest_max_rows rows */
    r = rest(&s, "GET",
             "/rest/v1/ohlc_bars_v2?select=ts,close&symbol=eq.AMD&timeframe=eq.d1&order=ts.desc"
             "&limit=100",
             NULL, "Prefer: count=exact", NULL, 206);
    assert_int_equal(json_array_size(r.json), 5);
    assert_true(json_is_number(get(json_array_get(r.json, 0), "close")));
    assert_true(strcmp(str_at(r.json, 0, "ts"), str_at(r.json, 1, "ts")) > 0);
    assert_non_null(strstr(r.content_range, "0-4/"));
    resp_free(&r);
    rest_error(&s, "GET", "/rest/v1/ohlc_bars_v2?limit=1", 400, "PGRST100", NULL);
    /* errors */
    rest_error(&s, "GET", "/rest/v1/job_runs?select=id,foo", 400, "42703",
               "column job_runs.foo does not exist");
    rest_error(&s, "GET", "/rest/v1/job_runs?foo=eq.1", 400, "42703",
               "column job_runs.foo does not exist");
    rest_error(&s, "GET", "/rest/v1/job_runs?symbol=like.A%25", 400, "PGRST100", NULL);
    rest_error(&s, "GET", "/rest/v1/job_runs?order=symbol.sideways", 400, "PGRST100", NULL);
    rest_error(&s, "GET", "/rest/v1/job_runs?attempt=eq.one", 400, "22P02", NULL);
    rest_error(&s, "GET", "/rest/v1/job_runs?limit=-1", 400, "PGRST100", NULL);
    rest_error(&s, "GET", "/rest/v1/market_secrets", 404, "PGRST205", NULL);
    rest_error(&s, "POST", "/rest/v1/job_runs", 401, "42501",
               "permission denied for table job_runs");
    rest_error(&s, "PATCH", "/rest/v1/job_definitions?symbol=eq.AMD", 401, "42501",
               "permission denied for table job_definitions");
    rest_error(&s, "DELETE", "/rest/v1/job_runs", 401, "42501",
               "permission denied for table job_runs");
    r = rest(&s, "GET", "/rest/v1/job_runs", NULL, "Prefer: count=exact", NULL, 200);
    assert_string_equal(r.content_range, "0-1/2"); /* nothing deleted */
    resp_free(&r);
    /* rpc: the same gaps on both stores (p_now pins the instant) */
    r = rest(&s, "POST", "/rest/v1/rpc/get_coverage_gaps",
             "{\"p_symbol\":\"zzzz\",\"p_timeframe\":\"1h\",\"p_window_days\":3,"
             "\"p_now\":\"2026-03-04T15:00:00Z\"}",
             NULL, NULL, 200);
    char *got = json_dumps(r.json, JSON_COMPACT);
    assert_string_equal(got, "[{\"gap_from\":\"2026-03-02T14:30:00+00:00\",\"gap_to\":\"2026-03-02T"
                             "21:00:00+00:00\",\"gap_hours\":6.5},{\"gap_from\":\"2026-03-03T14:"
                             "30:00+00:00\",\"gap_to\":\"2026-03-03T21:00:00+00:00\",\"gap_hours\":"
                             "6.5}]");
    free(got);
    resp_free(&r);
    r = rest(&s, "GET",
             "/rest/v1/rpc/get_coverage_gaps?p_symbol=ZZZZ&p_timeframe=1h&p_window_days=3"
             "&p_now=2026-03-04T15:00:00Z",
             NULL, NULL, NULL, 200);
    assert_int_equal(json_array_size(r.json), 2); /* rpc(..., { get: true }): the same rows */
    assert_string_equal(str_at(r.json, 1, "gap_to"), "2026-03-03T21:00:00+00:00");
    resp_free(&r);
    r = rest(&s, "POST", "/rest/v1/rpc/get_coverage_gaps",
             "{\"p_symbol\":\"AMD\",\"p_timeframe\":\"d1\",\"p_window_days\":30}", NULL, NULL, 200);
    assert_true(json_is_array(r.json));
    resp_free(&r);
    r = rest(&s, "POST", "/rest/v1/rpc/get_coverage_gaps",
             "{\"p_symbol\":\"AMD\",\"p_timeframe\":\"2h\",\"p_window_days\":3}", NULL, NULL, 400);
    assert_string_equal(json_string_value(get(r.json, "code")), "22023");
    resp_free(&r);
    r = rest(&s, "POST", "/rest/v1/rpc/get_coverage_gaps",
             "{\"p_symbol\":\"AMD\",\"p_timeframe\":\"d1\",\"p_window_days\":99999}", NULL, NULL,
             400);
    assert_string_equal(json_string_value(get(r.json, "message")),
                        "window_days out of range 1..36500: 99999");
    resp_free(&r);
    r = rest(&s, "POST", "/rest/v1/rpc/get_coverage_gaps", "{\"p_symbol\":\"AMD\"}", NULL, NULL,
             404);
    assert_string_equal(json_string_value(get(r.json, "code")), "PGRST202");
    assert_string_equal(json_string_value(get(r.json, "details")),
                        "Searched for the function public.get_coverage_gaps with parameter "
                        "p_symbol, p_timeframe, p_window_days (and optionally p_now)");
    resp_free(&r);
    /* a control byte in a query value: refused in PostgREST's shape */
    rest_error(&s, "GET", "/rest/v1/job_runs?symbol=eq.a%00b", 400, "PGRST100",
               "query parameter \"symbol\" holds a control character");
    rest_error(&s, "POST", "/rest/v1/rpc/drop_everything", 404, "PGRST202", NULL);
    srv_stop(&s);
}

int main(void)
{
    if (getenv("BK_REQUIRE_PG") && !getenv("BK_TEST_DB_URL")) {
        printf("skipped: needs BK_TEST_DB_URL (run through scripts/with-pg.sh)\n");
        return 77;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_guide_commands),   cmocka_unit_test(test_sse_progress),
        cmocka_unit_test(test_sse_replay),       cmocka_unit_test(test_keys),
        cmocka_unit_test(test_untrusted_client), cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_fetch_bars),       cmocka_unit_test(test_operations),
        cmocka_unit_test(test_forecast_layer),   cmocka_unit_test(test_cross_process_events),
        cmocka_unit_test(test_web_endpoints),    cmocka_unit_test(test_hostile_clients),
        cmocka_unit_test(test_busy_store),       cmocka_unit_test(test_failing_claims),
        cmocka_unit_test(test_anon_bounds),      cmocka_unit_test(test_clock_skew),
        cmocka_unit_test(test_failing_writes),   cmocka_unit_test(test_rest_reads),
        cmocka_unit_test(test_supabase_keys),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
