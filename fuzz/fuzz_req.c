/*
 * fuzz_req.c — fuzz target for HTTP request validation (api/req.c).
 *
 * The first input byte selects a parser (low 3 bits) and, for credentials,
 * the key buffer size (high bits); the rest is a request body, or for the
 * query and header parsers their string arguments separated by '\n' (a
 * missing argument is NULL, an empty one ""). Each call must either succeed
 * with a valid request (symbol a fixed point of bk_sym_parse, timeframe in
 * range, numbers in their documented ranges, run id a lower-case uuid) or
 * fail with a 4xx status and a non-empty code and message. Violations abort.
 */
#include "api/req.h"
#include "core/err.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define N_ARGS 4

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok)
{
    if (!ok)
        abort();
}

static void check_sym(const char *s, bool may_be_empty)
{
    char again[BK_SYM_MAX + 1];
    size_t n = strnlen(s, BK_SYM_MAX + 1);
    check(n <= BK_SYM_MAX);
    if (n == 0) {
        check(may_be_empty);
        return;
    }
    check(bk_sym_parse(s, again) == 0 && strcmp(s, again) == 0);
}

static void check_error(int rc, const bk_api_error *e, int status)
{
    check(rc == BK_EINVAL);
    check(e->status >= 400 && e->status <= 499);
    check(status == 0 || e->status == status);
    check(memchr(e->code, '\0', sizeof e->code) && e->code[0] != '\0');
    check(memchr(e->msg, '\0', sizeof e->msg) && e->msg[0] != '\0');
}

static void check_uuid(const char *s)
{
    check(strnlen(s, 37) == 36);
    for (int i = 0; i < 36; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        check(dash ? s[i] == '-' : (s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'));
    }
}

static void fuzz_bodies(int which, const char *body, size_t len)
{
    bk_api_error e;
    int rc;
    if (which == 0) {
        bk_ensure_req r;
        if ((rc = bk_req_ensure(body, len, &r, &e)) != 0) {
            check_error(rc, &e, 0);
            return;
        }
        check_sym(r.symbol, false);
        check((unsigned)r.tf < BK_TF__N);
        check(r.window_days >= 1 && r.window_days <= 36500);
        check(r.priority >= -1000000 && r.priority <= 1000000);
    } else if (which == 1) {
        bk_chart_req r;
        if ((rc = bk_req_chart(body, len, &r, &e)) != 0) {
            check_error(rc, &e, 0);
            return;
        }
        check_sym(r.symbol, false);
        check((unsigned)r.tf < BK_TF__N);
        check(r.days >= 1 && r.days <= 36500);
    } else {
        bk_fetch_bars_req r;
        if ((rc = bk_req_fetch_bars(body, len, &r, &e)) != 0) {
            check_error(rc, &e, 0);
            return;
        }
        check_uuid(r.run_id);
    }
}

static void fuzz_action(const char *s)
{
    bk_action a;
    bk_api_error e;
    int rc = bk_req_action(s, &a, &e);
    if (rc != 0) {
        check_error(rc, &e, 400);
        return;
    }
    check(a == BK_ACTION_TICK || a == BK_ACTION_STATUS || a == BK_ACTION_RETRY_FAILED);
}

static void fuzz_ops(char *const args[N_ARGS])
{
    bk_ops_req r;
    bk_api_error e;
    int rc = bk_req_ops(args[0], args[1], args[2], &r, &e);
    if (rc != 0) {
        check_error(rc, &e, 400);
        return;
    }
    check_sym(r.symbol, true);
    check(r.tf >= -1 && r.tf < BK_TF__N);
    check(r.hours >= 1 && r.hours <= 8760);
}

static void fuzz_subscribe(char *const args[N_ARGS])
{
    bk_sub_req r;
    bk_api_error e;
    int rc = bk_req_subscribe(args[0], args[1], args[2], args[3], &r, &e);
    if (rc != 0) {
        check_error(rc, &e, 400);
        return;
    }
    check_sym(r.symbol, true);
    check(r.tf >= -1 && r.tf < BK_TF__N);
    check(r.last_event_id <= (uint64_t)INT64_MAX);
}

static void fuzz_credentials(char *const args[N_ARGS], size_t cap)
{
    char key[64];
    bk_api_error e;
    memset(key, 'x', sizeof key);
    int rc = bk_req_credentials(args[0], args[1], key, cap, &e);
    if (rc == BK_ENOENT) {
        check(!args[0] && !args[1] && e.status == 401);
        return;
    }
    if (rc != 0) {
        check_error(rc, &e, 401);
        return;
    }
    size_t n = strnlen(key, sizeof key);
    check(n >= 1 && n < cap);
    for (size_t i = 0; i < n; i++)
        check((unsigned char)key[i] > 0x20 && (unsigned char)key[i] < 0x7f);
}

/* Split rest on '\n' into up to N_ARGS malloc'd C strings; missing ones NULL. */
static void split(const uint8_t *p, size_t n, char *args[N_ARGS])
{
    for (int i = 0; i < N_ARGS; i++) {
        args[i] = NULL;
        if (!p)
            continue;
        const uint8_t *nl = memchr(p, '\n', n);
        size_t len = nl ? (size_t)(nl - p) : n;
        args[i] = malloc(len + 1);
        memcpy(args[i], p, len);
        args[i][len] = '\0';
        p = nl ? nl + 1 : NULL;
        n = nl ? n - len - 1 : 0;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    unsigned sel = data[0];
    const uint8_t *rest = data + 1;
    size_t n = size - 1;
    if ((sel & 7) < 3) {
        fuzz_bodies((int)(sel & 7), (const char *)rest, n);
        return 0;
    }
    char *args[N_ARGS];
    split(n ? rest : NULL, n, args);
    switch (sel & 7) {
    case 3:
        fuzz_action(args[0]);
        break;
    case 4:
        fuzz_ops(args);
        break;
    case 5:
        fuzz_subscribe(args);
        break;
    default:
        fuzz_credentials(args, (sel >> 3) * 2);
        break;
    }
    for (int i = 0; i < N_ARGS; i++)
        free(args[i]);
    return 0;
}
