/*
 * adapt.h — what the HTTP provider adapters (prov_<name>.c) share beyond
 * prov.h: turning a parsed page into the contract's page (sort, dedupe,
 * aggregate, keep [from, to)), one request's round trip (GET, the
 * provider's status words, the parser), labelling daily and weekly stamps,
 * our "resume:<label µs>" page tokens, and the pieces of construction every
 * adapter repeats (base URL, credential checks, header lines).
 *
 * Two kinds of adapter finish their pages differently, on purpose:
 *   - window adapters (Yahoo, Finnhub, Tradier) answer one window per
 *     request, in any order and possibly with revised duplicates:
 *     bk_adapt_finish_window;
 *   - cursor adapters (Massive, Alpaca) page through a range with the
 *     provider's cursor, strictly ascending; an aggregated timeframe ends its
 *     pages on a whole bar and continues with a resume token:
 *     bk_adapt_finish_cursor.
 *
 * Internal to src/prov: not part of the provider interface. Everything but
 * bk_adapt_fetch (which blocks on the network) is a pure function of its
 * arguments or allocates what it returns; any thread may call any of it.
 *
 * Read next: prov.h (the contract and bk_prov_aggregate), prov_massive.c
 * (a cursor adapter), prov_yahoo.c (a window adapter).
 */
#ifndef BK_PROV_ADAPT_H
#define BK_PROV_ADAPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "json/jr.h"
#include "prov/http.h"
#include "prov/prov.h"

/* Page tokens of ours start with this; what follows is a label in µs. */
#define BK_ADAPT_RESUME_PREFIX "resume:"

/* ---- pages ---- */

/* Keep the bars of pg whose label lies in [req->from_us, req->to_us), in
 * order. With session_step_us > 0, keep only those of them whose span
 * [label, label + session_step_us) overlaps the regular session of their New
 * York date (extended-hours bars dropped); 0 keeps every bar in range. */
void bk_adapt_keep_range(bk_page *pg, const bk_fetch_req *req, int64_t session_step_us);

/* Finish a window adapter's page of native bars (the timeframe the provider
 * answered in: req->tf, or a finer one to aggregate): sort by label (stable),
 * keep the last of bars with one label (a revised bar), aggregate into
 * req->tf with anchor when native differs (bk_prov_aggregate: its error is
 * returned as is), then keep labels in [from, to) and, for native intraday
 * bars, those touching the regular session. */
BK_MUST_CHECK int bk_adapt_finish_window(bk_page *pg, const bk_fetch_req *req, bk_anchor anchor,
                                         bk_tf native, bk_err *err);

/* A cursor adapter's page: who it is, how it was asked and what comes next. */
typedef struct bk_adapt_cursor {
    const char *who;  /* the provider's name: the prefix of error messages */
    bk_anchor anchor; /* how aggregated bars are labelled */
    bk_tf src;        /* the timeframe asked of the provider; != req->tf: aggregated */
    const char *cont; /* the provider's continuation token, "" on its last page */
} bk_adapt_cursor;

/* Finish a cursor adapter's page of strictly ascending source bars. Native
 * (src == req->tf): next_token = c->cont. Aggregated: the bars are
 * aggregated into req->tf; when the provider has more, next_token becomes a
 * resume token: from the end of the last bar's trading span when the page
 * reaches it (the bar is whole), else from its label, the bar, possibly
 * partial, being dropped (from the end of the last source bar when no bar
 * was made); none when that point is at or past to. Then labels are kept in
 * [from, to). Aggregation's error as is (BK_EBADBAR: an impossible source
 * bar, or labels going back), prefixed with c->who; BK_EPROV_MALFORMED when
 * a page would resume at or before where this request started (no
 * progress). */
BK_MUST_CHECK int bk_adapt_finish_cursor(bk_page *pg, const bk_fetch_req *req,
                                         const bk_adapt_cursor *c, bk_err *err);

/* A response body, and the request it answers. */
typedef struct bk_adapt_body {
    const char *data;
    size_t len;
    const bk_fetch_req *req;
} bk_adapt_body;

/* A cursor adapter's reader of its JSON document: the bars of root (in the
 * source timeframe, strictly ascending) appended to out, and the provider's
 * continuation token copied to cont (BK_PAGE_TOKEN_MAX bytes, "" when none).
 * BK_EPROV_* with err set on a body it cannot read. */
typedef int (*bk_adapt_read_fn)(const bk_jval *root, const bk_fetch_req *req, bk_page *out,
                                char *cont, bk_err *err);

/* A cursor adapter's parser (bk_massive_parse, bk_alpaca_parse): out reset;
 * BK_EINVAL "WHO: bad timeframe" for a timeframe out of range;
 * BK_EPROV_MALFORMED "WHO: invalid JSON: ..." for a body that is not JSON;
 * else read's bars finished by bk_adapt_finish_cursor with c (whose cont is
 * ignored: read's is used). On failure out holds no bar. */
BK_MUST_CHECK int bk_adapt_parse_cursor(const bk_adapt_body *body, const bk_adapt_cursor *c,
                                        bk_adapt_read_fn read, bk_page *out, bk_err *err);

/* ---- requests ---- */

/* An adapter's parser (bk_<name>_parse, see prov.h). */
typedef int (*bk_adapt_parse_fn)(const char *body, size_t len, const bk_fetch_req *req,
                                 bk_anchor anchor, bk_page *out, bk_err *err);

/* The provider's words on a response before its parser (its quirks, then
 * usually bk_http_classify): 0 to parse the body, or an error code with err
 * set. */
typedef int (*bk_adapt_check_fn)(const bk_prov *p, const bk_fetch_req *req, const bk_http_resp *r,
                                 bk_err *err);

/* One request of an adapter, and how its answer is read. */
typedef struct bk_adapt_call {
    const char *who; /* the provider's name, for bk_http_get's messages */
    bk_http *http;
    bk_http_req hr; /* url, headers, timeout */
    bk_adapt_check_fn check;
    bk_adapt_parse_fn parse;
} bk_adapt_call;

/* GET c->hr, then c->check the response and c->parse its body (with
 * p->anchor) into out. Transport failures as bk_http_get's; out holds no bar
 * on failure. Blocks for the request; thread-safe as bk_http_get is. */
BK_MUST_CHECK int bk_adapt_fetch(const bk_adapt_call *c, const bk_prov *p, const bk_fetch_req *req,
                                 bk_page *out, bk_err *err);

/* ---- page tokens ---- */

/* True if token (may be NULL) is one of our resume tokens. */
bool bk_adapt_is_resume(const char *token);

/* Where the request for req starts: req->from_us, or the point of its resume
 * token, which must lie in [from, to): BK_EINVAL ("WHO: page token resumes
 * outside the range") otherwise. Other page tokens are the caller's. */
BK_MUST_CHECK int bk_adapt_request_start(int64_t *out_us, const bk_fetch_req *req, const char *who,
                                         bk_err *err);

/* ---- labels ---- */

/* The label of the d1 or w1 (tf) bar that a stamp dated New York date
 * ny_day names: 00:00 New York of the date for d1; for w1, 00:00 New York
 * of its week's Monday, where a stamp on a Sunday names the week that
 * follows, and with weekend_next one on a Saturday too. */
int64_t bk_adapt_date_label(bk_tf tf, int32_t ny_day, bool weekend_next);

/* The label of a bar stamped stamp_us in tf, for providers whose d1/w1
 * stamps fall anywhere in the date they name (00:00 UTC, 00:00 New York,
 * the open): intraday stamps are bar starts; a d1/w1 stamp names the New
 * York date 12 h later (so all of those agree), and a weekly stamp on a
 * weekend the week that follows. */
int64_t bk_adapt_stamp_label(bk_tf tf, int64_t stamp_us);

/* ---- construction ---- */

/* A copy of base_url (dflt when NULL or "") without trailing '/'s. The
 * caller frees it. */
char *bk_adapt_base_url(const char *base_url, const char *dflt);

/* A header line "name: value", or "name: scheme value" when scheme is not
 * NULL. The caller frees it (bk_free_secret when value is a key). */
char *bk_adapt_header(const char *name, const char *scheme, const char *value);

/* A configured API key: present and free of line breaks (it goes into a
 * header). BK_EINVAL "WHO: no API key (set ENV)" or "WHO: the API key holds a
 * line break". */
BK_MUST_CHECK int bk_adapt_check_key(const char *who, const char *key, const char *env,
                                     bk_err *err);

/* The transport settings of cfg: the base URL (dflt when unset) is http(s),
 * the timeout not negative, the anchor one of the two. BK_EINVAL naming
 * which. */
BK_MUST_CHECK int bk_adapt_check_transport(const char *who, const bk_prov_cfg *cfg,
                                           const char *dflt, bk_err *err);

#endif
