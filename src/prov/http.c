/*
 * http.c — GET over libcurl for the provider adapters. See http.h.
 *
 * Handles are pooled (a mutex-protected stack) so connections and TLS
 * sessions are reused across pages and workers; a handle is reset before
 * each use. curl_global_init runs once (pthread_once), before any thread
 * can race on it.
 */
#include "prov/http.h"
#include "core/util.h"

#include <ctype.h>
#include <curl/curl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define POOL_MAX 64

struct bk_http {
    pthread_mutex_t mu;
    CURL *free_handles[POOL_MAX];
    int n_free;
    char user_agent[128];
};

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc;

static void global_init(void)
{
    global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

int bk_http_new(bk_http **out, const char *user_agent, bk_err *err)
{
    pthread_once(&global_once, global_init);
    if (global_rc != CURLE_OK)
        return bk_err_set(err, BK_EIO, "libcurl: %s", curl_easy_strerror(global_rc));
    bk_http *h = bk_xcalloc(1, sizeof *h);
    pthread_mutex_init(&h->mu, NULL);
    bk_strlcpy(h->user_agent, user_agent ? user_agent : "barkeep/0.1", sizeof h->user_agent);
    *out = h;
    return 0;
}

void bk_http_free(bk_http *h)
{
    if (!h)
        return;
    for (int i = 0; i < h->n_free; i++)
        curl_easy_cleanup(h->free_handles[i]);
    pthread_mutex_destroy(&h->mu);
    free(h);
}

static CURL *take_handle(bk_http *h)
{
    CURL *c = NULL;
    pthread_mutex_lock(&h->mu);
    if (h->n_free > 0)
        c = h->free_handles[--h->n_free];
    pthread_mutex_unlock(&h->mu);
    if (c)
        curl_easy_reset(c);
    else
        c = curl_easy_init();
    return c;
}

static void give_handle(bk_http *h, CURL *c)
{
    pthread_mutex_lock(&h->mu);
    if (h->n_free < POOL_MAX) {
        h->free_handles[h->n_free++] = c;
        c = NULL;
    }
    pthread_mutex_unlock(&h->mu);
    if (c)
        curl_easy_cleanup(c);
}

typedef struct sink {
    bk_buf body; /* capped at the request's max_body */
    bk_http_resp *resp;
} sink;

static size_t on_body(char *data, size_t size, size_t nmemb, void *ctx)
{
    sink *s = ctx;
    size_t n = size * nmemb;
    bk_buf_append(&s->body, data, n);
    return bk_buf_over(&s->body) ? 0 : n; /* 0 aborts the transfer (CURLE_WRITE_ERROR) */
}

/* Retry-After: delta-seconds or an HTTP date (RFC 9110 §10.2.3). */
static int64_t parse_retry_after(const char *v, size_t n)
{
    char tmp[64];
    while (n && isspace((unsigned char)*v))
        v++, n--;
    while (n && isspace((unsigned char)v[n - 1]))
        n--;
    if (n == 0 || n >= sizeof tmp)
        return -1;
    memcpy(tmp, v, n);
    tmp[n] = '\0';
    int64_t secs;
    if (bk_parse_i64(tmp, 0, 86400 * 365, &secs) == 0)
        return secs * 1000;
    time_t t = curl_getdate(tmp, NULL);
    if (t < 0)
        return -1;
    int64_t d = ((int64_t)t - (int64_t)time(NULL)) * 1000;
    return d > 0 ? d : 0;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *ctx)
{
    sink *s = ctx;
    size_t n = size * nmemb;
    static const char ra[] = "retry-after:";
    static const char ct[] = "content-type:";
    if (n > sizeof ra - 1 && strncasecmp(data, ra, sizeof ra - 1) == 0)
        s->resp->retry_after_ms = parse_retry_after(data + sizeof ra - 1, n - (sizeof ra - 1));
    else if (n > sizeof ct - 1 && strncasecmp(data, ct, sizeof ct - 1) == 0) {
        const char *v = data + sizeof ct - 1;
        size_t m = n - (sizeof ct - 1);
        while (m && isspace((unsigned char)*v))
            v++, m--;
        while (m && isspace((unsigned char)v[m - 1]))
            m--;
        m = BK_MIN(m, sizeof s->resp->content_type - 1);
        memcpy(s->resp->content_type, v, m);
        s->resp->content_type[m] = '\0';
    } else if (n >= 5 && strncmp(data, "HTTP/", 5) == 0) {
        /* a new response (after a redirect or 100-continue): forget the last */
        s->resp->retry_after_ms = -1;
        s->resp->content_type[0] = '\0';
    }
    return n;
}

/* The URL without its query (which may hold a key), for messages. */
static void url_for_log(const char *url, char *out, size_t cap)
{
    size_t n = strcspn(url, "?#");
    n = BK_MIN(n, cap - 1);
    memcpy(out, url, n);
    out[n] = '\0';
}

int bk_http_get(bk_http *h, const char *who, const bk_http_req *req, bk_http_resp *resp,
                bk_err *err)
{
    memset(resp, 0, sizeof *resp);
    resp->retry_after_ms = -1;
    CURL *c = take_handle(h);
    if (!c)
        return bk_err_set(err, BK_ENOMEM, "%s: cannot create an HTTP handle", who);
    sink s = {.resp = resp};
    bk_buf_init_max(&s.body, req->max_body ? req->max_body : (size_t)64 << 20);
    struct curl_slist *hdrs = NULL;
    for (int i = 0; i < BK_HTTP_MAX_HEADERS && req->headers[i]; i++)
        hdrs = curl_slist_append(hdrs, req->headers[i]);
    char errbuf[CURL_ERROR_SIZE] = "";
    int64_t timeout = req->timeout_ms > 0 ? req->timeout_ms : 30000;
    curl_easy_setopt(c, CURLOPT_URL, req->url);
    curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L); /* the path asked is the path sent */
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_USERAGENT, h->user_agent);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)timeout);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)BK_MIN(timeout, 10000));
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, ""); /* whatever libcurl can decode */
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, 3L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &s);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    CURLcode cc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);
    curl_slist_free_all(hdrs);
    int rc = 0;
    char where[256];
    url_for_log(req->url, where, sizeof where);
    if (cc != CURLE_OK) {
        const char *why = errbuf[0] ? errbuf : curl_easy_strerror(cc);
        if (bk_buf_over(&s.body))
            rc = bk_err_set(err, BK_EPROV_MALFORMED, "%s: response body over %zu bytes (%s)", who,
                            s.body.max, where);
        else if (cc == CURLE_OPERATION_TIMEDOUT)
            rc = bk_err_set(err, BK_ETIMEDOUT, "%s: no complete answer within %lld ms (%s)", who,
                            (long long)timeout, where);
        else
            rc = bk_err_set(err, BK_EPROV_NET, "%s: %s (%s)", who, why, where);
        /* a connection that failed mid-transfer is not worth keeping */
        curl_easy_cleanup(c);
        c = NULL;
        bk_buf_fini(&s.body);
        memset(resp, 0, sizeof *resp);
        resp->retry_after_ms = -1;
    } else {
        resp->status = status;
        resp->body = s.body.data ? s.body.data : bk_xstrdup(""); /* bk_buf keeps a NUL */
        resp->len = s.body.len;
    }
    if (c)
        give_handle(h, c);
    return rc;
}

void bk_http_resp_fini(bk_http_resp *r)
{
    free(r->body);
    memset(r, 0, sizeof *r);
    r->retry_after_ms = -1;
}

/* The start of a body, printable bytes only, for an error message (which
 * ends up in logs as key="value": double quotes and backslashes become
 * single quotes so the line stays parseable). */
static void snippet(const bk_http_resp *r, char *out, size_t cap)
{
    size_t j = 0;
    for (size_t i = 0; i < r->len && j + 1 < cap && i < 160; i++) {
        unsigned char ch = (unsigned char)r->body[i];
        out[j++] = ch == '"' || ch == '\\' ? '\'' : (ch >= 0x20 && ch < 0x7f) ? (char)ch : ' ';
    }
    out[j] = '\0';
}

int bk_http_classify(const bk_http_resp *r, const char *who, bk_err *err)
{
    long st = r->status;
    if (st >= 200 && st < 300)
        return 0;
    char body[168];
    snippet(r, body, sizeof body);
    int code;
    if (st == 429)
        code = BK_EPROV_RATE;
    else if (st == 401 || st == 403)
        code = BK_EPROV_AUTH;
    else if (st == 404)
        code = BK_EPROV_SYMBOL;
    else if (st == 408 || st >= 500)
        code = BK_EPROV_5XX;
    else
        code = BK_EPROV_MALFORMED;
    bk_err_set(err, code, "%s: HTTP %ld%s%s", who, st, body[0] ? ": " : "", body);
    if (st == 429 && r->retry_after_ms >= 0)
        err->retry_after_ms = BK_MAX(r->retry_after_ms, 1);
    return code;
}

void bk_url_escape(bk_buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (isalnum(ch) || ch == '-' || ch == '.' || ch == '_' || ch == '~') {
            bk_buf_append(b, s, 1);
        } else {
            char e[3] = {'%', hex[ch >> 4], hex[ch & 15]};
            bk_buf_append(b, e, 3);
        }
    }
}
