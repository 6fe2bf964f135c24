/*
 * ptest.h — the plumbing shared by the provider adapter tests
 * (test_<name>.c): a fixture server answering from recorded-format bodies
 * under $BK_FIXTURES/<provider>/, the adapter under test, and the page and
 * error of its last fetch, set up and torn down together (pt_env); fetch
 * helpers; bar comparisons; and time helpers.
 *
 * The fixture answers in one of two ways, as a test prefers:
 *   - scripted (pt_env_scripted): response i answers request i, the last
 *     repeating; a missing fixture file aborts;
 *   - served (pt_env_served): every request gets what the test set last
 *     with pt_serve (and pt_serve_extra), under a lock, so a test changes the
 *     answer between fetches; a missing fixture file answers 500.
 *
 * Threads: the fixture's handler runs on the server's threads; everything
 * else on the test's thread. Needs cmocka.h included before it.
 * Read next: fixture.h (the server and what it records).
 */
#ifndef BK_TEST_PTEST_H
#define BK_TEST_PTEST_H

#include <math.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "fixture.h"
#include "prov/prov.h"

#define assert_near(a, b) assert_true(fabs((double)(a) - (double)(b)) < 1e-9)

/* ---- time ---- */

/* New York local y-mo-d h:mi as UTC µs. */
int64_t pt_ny(int y, int mo, int d, int h, int mi);
/* The daily bar label of New York date y-mo-d. */
int64_t pt_day_label(int y, int mo, int d);
/* An RFC 3339 time as µs (asserted to parse). */
int64_t pt_at(const char *iso);

/* ---- the fixture and the adapter ---- */

/* One answer of a scripted fixture. */
typedef struct pt_step {
    const char *file; /* under $BK_FIXTURES/<provider>/, or NULL */
    const char *text; /* the body when there is no file */
    int status;       /* 0 = 200 */
    const char *retry_after;
    const char *content_type;
    int delay_ms;
    long truncate_at; /* 0 = whole body */
} pt_step;

typedef struct pt_script {
    pt_step steps[8];
    int n;
} pt_script;

/* Extras of a served answer; 0 / NULL fields leave it as pt_serve set it. */
typedef struct pt_extra {
    const char *content_type;
    const char *retry_after;
    int delay_ms;
    long truncate_at;
} pt_extra;

/* What a served fixture answers (guarded by mu). */
typedef struct pt_answer {
    pthread_mutex_t mu;
    int status;
    char file[64]; /* under $BK_FIXTURES/<provider>/, or "" for text */
    char text[256];
    char ctype[32]; /* "" = application/json */
    char retry_after[16];
    int delay_ms;
    long truncate_at;
} pt_answer;

typedef struct pt_env {
    const char *provider;    /* the fixtures' folder */
    const pt_script *script; /* NULL: served */
    pt_answer answer;        /* when served */
    fx *f;
    bk_prov *p; /* NULL until pt_env_prov */
    bk_page pg; /* the last fetch's page */
    bk_err err; /* and its error */
} pt_env;

/* An adapter's constructor (bk_<name>_new). */
typedef int (*pt_ctor)(bk_prov **out, const bk_prov_cfg *cfg, bk_err *err);

/* A fixture answering by script (borrowed: it must outlive the env). */
pt_env *pt_env_scripted(const char *provider, const pt_script *s);
/* A fixture answering what pt_serve set, at first 200 "{}". */
pt_env *pt_env_served(const char *provider);
/* (Re)make the adapter: ctor with cfg pointed at the fixture (asserted to
 * succeed); a previous adapter is freed. */
void pt_env_prov(pt_env *e, pt_ctor ctor, const bk_prov_cfg *cfg);
void pt_env_free(pt_env *e);

/* Answer status with file (under the provider's folder) or else text, no
 * extras. */
void pt_serve(pt_env *e, int status, const char *file, const char *text);
void pt_serve_extra(pt_env *e, const pt_extra *x);

/* ---- fetches and requests ---- */

/* Fetch AAPL tf [from, to) with page token token into e->pg / e->err. */
int pt_fetch(pt_env *e, bk_tf tf, int64_t from, int64_t to, const char *token);
/* Fetch sym tf [from, to) given as RFC 3339 times into e->pg / e->err. */
int pt_fetch_at(pt_env *e, const char *sym, bk_tf tf, const char *from, const char *to);
/* Every page of AAPL tf [from, to) appended to all, following next_token
 * (asserted to change) for at most 16 pages. 0, or the failing fetch's
 * code (e->err). */
int pt_fetch_all(pt_env *e, bk_tf tf, int64_t from, int64_t to, bk_page *all);

/* A fetch of AAPL tf [from, to) whose answer holds an impossible source bar
 * (high below low) for an aggregated timeframe fails with BK_EBADBAR
 * (INVALID_BAR) naming that, and returns no bar. */
void pt_check_bad_source_bar(pt_env *e, bk_tf tf, int64_t from, int64_t to);

/* Request i the fixture received (asserted to exist). */
fx_req pt_request(pt_env *e, int i);
/* The last request the fixture received (asserted to exist). */
void pt_last_request(pt_env *e, fx_req *out);

/* ---- parsers ---- */

/* An adapter's parser (bk_<name>_parse). */
typedef int (*pt_parse)(const char *body, size_t len, const bk_fetch_req *req, bk_anchor anchor,
                        bk_page *out, bk_err *err);

/* A body a parser must refuse, and the message it must give. */
typedef struct pt_bad_body {
    const char *body, *msg;
} pt_bad_body;

/* Each of bad[0..n), parsed (session anchor) as the answer to req into pg,
 * fails with BK_EPROV_MALFORMED and exactly its message, and leaves pg
 * empty. */
void pt_parse_bad(pt_parse parse, const bk_fetch_req *req, const pt_bad_body *bad, size_t n,
                  bk_page *pg);

/* ---- bars ---- */

/* b is labelled ts (RFC 3339) with exactly these prices and volume. */
void pt_check_bar(const bk_bar *b, const char *ts, double o, double h, double l, double c,
                  double v);
/* The same within 1e-9 (printing what it got when it differs). */
void pt_check_bar_near(const bk_bar *b, const char *ts, double o, double h, double l, double c,
                       double v);

#endif
