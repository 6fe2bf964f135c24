/*
 * rt.c — Realtime channel logic of one socket (rt.h): a list of joined
 * topics, each with its postgres_changes bindings (event, table, parsed
 * filter, the id echoed in the join reply). A join answers as Supabase's
 * Realtime does: the reply echoes the bindings in order with integer ids,
 * then a "system" message says whether the subscription exists; an unknown
 * table or a filter that does not parse gives the system error and a
 * channel that receives nothing. An access_token (in the join or its own
 * message) is checked through the socket's check_token, as Realtime checks
 * it. A change is matched against every binding
 * of every channel; one frame per channel carries the ids that matched.
 */
#include "api/rt.h"
#include "json/jw.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define TOPIC_PREFIX "realtime:"
#define MAX_BINDINGS 100 /* postgres_changes entries of one join */

typedef struct binding {
    int64_t id;
    char event[8];             /* "*", "INSERT", "UPDATE", "DELETE" */
    const bk_table_def *table; /* NULL = every table */
    bk_rt_filter *filter;      /* NULL = no filter */
} binding;

typedef struct channel {
    char *topic;
    char *join_ref;
    bool legacy; /* joined without config: bare-data events named by type */
    bool failed; /* the system error was sent: nothing is delivered */
    binding *b;
    size_t n;
    struct channel *next;
} channel;

struct bk_rtc {
    bk_rtc_opts o;
    channel *head;
    size_t n;
    bk_buf frame; /* scratch for one outgoing frame */
    bk_buf ids;   /* scratch: the matching ids of a channel */
};

bk_rtc *bk_rtc_new(const bk_rtc_opts *o)
{
    bk_rtc *c = bk_xcalloc(1, sizeof *c);
    c->o = *o;
    bk_buf_init(&c->frame);
    bk_buf_init(&c->ids);
    return c;
}

static void channel_free(channel *ch)
{
    if (!ch)
        return;
    for (size_t i = 0; i < ch->n; i++)
        bk_rt_filter_free(ch->b[i].filter);
    free(ch->b);
    free(ch->topic);
    free(ch->join_ref);
    free(ch);
}

void bk_rtc_free(bk_rtc *c)
{
    if (!c)
        return;
    while (c->head) {
        channel *ch = c->head;
        c->head = ch->next;
        channel_free(ch);
    }
    bk_buf_fini(&c->frame);
    bk_buf_fini(&c->ids);
    free(c);
}

size_t bk_rtc_channels(const bk_rtc *c)
{
    return c->n;
}

static void send_frame(bk_rtc *c, const char *join_ref, const char *ref, const char *topic,
                       const char *event, const char *payload)
{
    bk_buf_reset(&c->frame);
    bk_phx_encode(&c->frame, c->o.vsn, join_ref, ref, topic, event, payload);
    c->o.send(c->o.ctx, c->frame.data, c->frame.len);
}

static void reply_ok(bk_rtc *c, const bk_phx_msg *m, const char *response)
{
    bk_buf p;
    bk_buf_init(&p);
    bk_buf_puts(&p, "{\"status\":\"ok\",\"response\":");
    bk_buf_puts(&p, response);
    bk_buf_puts(&p, "}");
    send_frame(c, m->join_ref, m->ref, m->topic, "phx_reply", p.data);
    bk_buf_fini(&p);
}

static void reply_error(bk_rtc *c, const bk_phx_msg *m, const char *reason)
{
    bk_buf p;
    bk_buf_init(&p);
    bk_buf_puts(&p, "{\"status\":\"error\",\"response\":{\"reason\":");
    bk_phx_json_str(&p, reason);
    bk_buf_puts(&p, "}}");
    send_frame(c, m->join_ref, m->ref, m->topic, "phx_reply", p.data);
    bk_buf_fini(&p);
}

/* A system message of extension: ok, or the error text. */
static void send_system_of(bk_rtc *c, const channel *ch, const char *extension, const char *error,
                           const char *ok_msg)
{
    bk_buf p;
    bk_buf_init(&p);
    bk_buf_puts(&p, "{\"extension\":");
    bk_phx_json_str(&p, extension);
    bk_buf_puts(&p, ",\"status\":");
    bk_buf_puts(&p, error ? "\"error\"" : "\"ok\"");
    bk_buf_puts(&p, ",\"message\":");
    bk_phx_json_str(&p, error ? error : ok_msg);
    bk_buf_puts(&p, ",\"channel\":");
    bk_phx_json_str(&p, ch->topic + strlen(TOPIC_PREFIX));
    bk_buf_puts(&p, "}");
    send_frame(c, ch->join_ref, NULL, ch->topic, "system", p.data);
    bk_buf_fini(&p);
}

/* The system message after a join: ok, or the error text. */
static void send_system(bk_rtc *c, const channel *ch, const char *error)
{
    send_system_of(c, ch, "postgres_changes", error, "Subscribed to PostgreSQL");
}

/* Whether the access_token of payload (if any) is refused; the reason in
 * reason[cap]. A token that is not a string is refused; absent or null is
 * not (the key checked at connect time applies). */
static bool token_refused(bk_rtc *c, const bk_jval *payload, char *reason, size_t cap)
{
    const bk_jval *v = bk_jv_get(payload, "access_token");
    const char *tok = NULL;
    size_t n = 0;
    if (!v || bk_jv_type(v) == BK_JT_NULL)
        return false;
    if (bk_jv_str(v, &tok, &n) != 0 || n != strlen(tok)) {
        snprintf(reason, cap, "Invalid token: access_token must be a string");
        return true;
    }
    if (!c->o.check_token)
        return false;
    reason[0] = '\0';
    if (c->o.check_token(c->o.ctx, tok, reason, cap) == 0)
        return false;
    if (!reason[0])
        snprintf(reason, cap, "Invalid token");
    return true;
}

static channel *find(bk_rtc *c, const char *topic, channel ***link)
{
    channel **l = &c->head;
    for (; *l; l = &(*l)->next)
        if (strcmp((*l)->topic, topic) == 0)
            break;
    if (link)
        *link = l;
    return *l;
}

static void unlink_channel(bk_rtc *c, const char *topic)
{
    channel **l;
    channel *ch = find(c, topic, &l);
    if (!ch)
        return;
    *l = ch->next;
    c->n--;
    channel_free(ch);
}

/* An id per distinct (event, schema, table, filter): FNV-1a, 31 bits, as
 * Realtime's phash2 of the params is one integer per distinct entry. */
static int64_t binding_id(const char *event, const char *schema, const char *table,
                          const char *filter)
{
    uint32_t h = 2166136261u;
    const char *parts[4] = {event, schema, table, filter};
    for (int i = 0; i < 4; i++) {
        for (const char *p = parts[i] ? parts[i] : ""; *p; p++)
            h = (h ^ (unsigned char)*p) * 16777619u;
        h = (h ^ 0x1f) * 16777619u; /* separator */
    }
    return (int64_t)(h & 0x7fffffffu);
}

/* The reason a binding cannot be subscribed, as Realtime words it. */
static void cannot_subscribe(char *msg, size_t cap, const char *event, const char *schema,
                             const char *table)
{
    snprintf(msg, cap,
             "Unable to subscribe to changes with given parameters. Please check Realtime is "
             "enabled for the given connect parameters: [event: %.16s, schema: %.64s, table: "
             "%.64s, filters: []]",
             event, schema, table ? table : "*");
}

/* Fill b from its parts; on failure *msg holds the system error text. */
static int make_binding(binding *b, const char *event, const char *schema, const char *table,
                        const char *filter, char *msg, size_t cap)
{
    memset(b, 0, sizeof *b);
    b->id = binding_id(event, schema, table, filter);
    static const char *const events[] = {"*", "INSERT", "UPDATE", "DELETE"};
    bool ev_ok = false;
    for (size_t i = 0; i < BK_ARRAY_LEN(events); i++)
        if (strcasecmp(event, events[i]) == 0) {
            bk_strlcpy(b->event, events[i], sizeof b->event);
            ev_ok = true;
        }
    bool all_tables = !table || strcmp(table, "*") == 0;
    if (!all_tables)
        b->table = bk_rt_table(table);
    if (!ev_ok || strcmp(schema, "public") != 0 || (!all_tables && !b->table)) {
        cannot_subscribe(msg, cap, event, schema, table);
        return BK_EINVAL;
    }
    if (filter && *filter) {
        bk_err err = {0};
        if (all_tables) {
            snprintf(msg, cap, "Error parsing `filter` params: a filter needs a table");
            return BK_EINVAL;
        }
        if (bk_rt_filter_parse(b->table, filter, &b->filter, &err) != 0) {
            snprintf(msg, cap, "Error parsing `filter` params: %s", err.msg);
            return BK_EINVAL;
        }
    }
    return 0;
}

static const char *opt_str(const bk_jval *obj, const char *key, bool *bad)
{
    const bk_jval *v = bk_jv_get(obj, key);
    const char *s = NULL;
    size_t n = 0;
    if (!v || bk_jv_type(v) == BK_JT_NULL)
        return NULL;
    if (bk_jv_str(v, &s, &n) != 0 || n != strlen(s) || n > 1024) {
        *bad = true;
        return NULL;
    }
    return s;
}

/* The join reply's response and the channel's bindings from
 * config.postgres_changes. Returns the error reply's reason for a payload
 * of the wrong shape (the join then fails), NULL otherwise; *sys_err holds
 * the system error when a binding could not be subscribed. */
static const char *join_config(channel *ch, const bk_jval *pcs, bk_buf *resp, char *sys_err,
                               size_t cap)
{
    size_t n = bk_jv_len(pcs);
    if (pcs && bk_jv_type(pcs) != BK_JT_ARRAY)
        return "config.postgres_changes must be an array";
    if (n > MAX_BINDINGS)
        return "too many postgres_changes bindings";
    ch->b = bk_xcalloc(n ? n : 1, sizeof *ch->b);
    bk_buf_puts(resp, "{\"postgres_changes\":[");
    for (size_t i = 0; i < n; i++) {
        const bk_jval *e = bk_jv_at(pcs, i);
        bool bad = bk_jv_type(e) != BK_JT_OBJECT;
        const char *event = opt_str(e, "event", &bad), *schema = opt_str(e, "schema", &bad);
        const char *table = opt_str(e, "table", &bad), *filter = opt_str(e, "filter", &bad);
        if (bad || !event || !schema)
            return "each postgres_changes entry needs string event and schema (strings of at "
                   "most 1024 bytes)";
        binding *b = &ch->b[ch->n++];
        char msg[512];
        if (make_binding(b, event, schema, table, filter, msg, sizeof msg) != 0 && !sys_err[0])
            bk_strlcpy(sys_err, msg, cap);
        bk_buf_puts(resp, i ? ",{\"event\":" : "{\"event\":");
        bk_phx_json_str(resp, event);
        bk_buf_puts(resp, ",\"schema\":");
        bk_phx_json_str(resp, schema);
        if (table) {
            bk_buf_puts(resp, ",\"table\":");
            bk_phx_json_str(resp, table);
        }
        if (filter) {
            bk_buf_puts(resp, ",\"filter\":");
            bk_phx_json_str(resp, filter);
        }
        bk_buf_printf(resp, ",\"id\":%" PRId64 "}", b->id);
    }
    bk_buf_puts(resp, "]}");
    return NULL;
}

/* "realtime:schema[:table[:filter]]" ("realtime:*" = every table). */
static void join_legacy(channel *ch, char *sys_err, size_t cap)
{
    char buf[1024];
    bk_strlcpy(buf, ch->topic + strlen(TOPIC_PREFIX), sizeof buf);
    char *schema = buf, *table = NULL, *filter = NULL;
    char *colon = strchr(buf, ':');
    if (colon) {
        *colon = '\0';
        table = colon + 1;
        if ((colon = strchr(table, ':')) != NULL) {
            *colon = '\0';
            filter = colon + 1;
        }
    }
    ch->legacy = true;
    ch->b = bk_xcalloc(1, sizeof *ch->b);
    ch->n = 1;
    if (strcmp(schema, "*") == 0)
        schema = (char *)(uintptr_t) "public";
    if (make_binding(&ch->b[0], "*", schema, table, filter, sys_err, cap) != 0)
        ch->failed = true;
}

static void on_join(bk_rtc *c, const bk_phx_msg *m)
{
    channel *old = find(c, m->topic, NULL);
    if (old) { /* Phoenix closes the old channel first */
        send_frame(c, old->join_ref, old->join_ref, old->topic, "phx_close", "{}");
        unlink_channel(c, m->topic);
    }
    char why[320];
    if (token_refused(c, m->payload, why, sizeof why)) {
        reply_error(c, m, why); /* Realtime: the join fails, no channel */
        return;
    }
    if (c->n >= c->o.max_channels) {
        reply_error(c, m, "Too many channels");
        return;
    }
    channel *ch = bk_xcalloc(1, sizeof *ch);
    ch->topic = bk_xstrdup(m->topic);
    ch->join_ref = m->join_ref ? bk_xstrdup(m->join_ref) : m->ref ? bk_xstrdup(m->ref) : NULL;
    const bk_jval *config = bk_jv_get(m->payload, "config");
    char sys_err[512] = "";
    bk_buf resp;
    bk_buf_init(&resp);
    const char *reason = NULL;
    bool with_pc = true;
    if (config && bk_jv_type(config) == BK_JT_OBJECT) {
        const bk_jval *pcs = bk_jv_get(config, "postgres_changes");
        with_pc = bk_jv_len(pcs) > 0;
        reason = join_config(ch, pcs, &resp, sys_err, sizeof sys_err);
    } else if (config && bk_jv_type(config) != BK_JT_NULL) {
        reason = "config must be an object";
    } else {
        join_legacy(ch, sys_err, sizeof sys_err);
        bk_buf_puts(&resp, "{}");
    }
    if (reason) {
        reply_error(c, m, reason);
        channel_free(ch);
    } else {
        ch->failed = sys_err[0] != '\0';
        ch->next = c->head;
        c->head = ch;
        c->n++;
        reply_ok(c, m, resp.data);
        if (with_pc)
            send_system(c, ch, ch->failed ? sys_err : NULL);
    }
    bk_buf_fini(&resp);
}

static void on_leave(bk_rtc *c, const bk_phx_msg *m, channel *ch)
{
    char *join_ref = ch->join_ref ? bk_xstrdup(ch->join_ref) : NULL;
    reply_ok(c, m, "{}");
    send_frame(c, join_ref, join_ref, m->topic, "phx_close", "{}");
    free(join_ref);
    unlink_channel(c, m->topic);
}

/* access_token on a joined channel: no reply; a refused token stops the
 * channel as Realtime stops it (a system error, then phx_close). A payload
 * without a string token is ignored, as Realtime ignores it. */
static void on_access_token(bk_rtc *c, const bk_phx_msg *m, channel *ch)
{
    const bk_jval *v = bk_jv_get(m->payload, "access_token");
    char why[320];
    if (!v || bk_jv_type(v) != BK_JT_STRING || !token_refused(c, m->payload, why, sizeof why))
        return;
    send_system_of(c, ch, "system", why, NULL);
    send_frame(c, ch->join_ref, ch->join_ref, ch->topic, "phx_close", "{}");
    unlink_channel(c, m->topic);
}

int bk_rtc_handle(bk_rtc *c, const char *data, size_t len)
{
    bk_phx_msg m;
    bk_err err = {0};
    if (bk_phx_decode(&m, c->o.vsn, data, len, &err) != 0)
        return 1007;
    channel *ch = find(c, m.topic, NULL);
    if (strcmp(m.topic, "phoenix") == 0 && strcmp(m.event, "heartbeat") == 0)
        reply_ok(c, &m, "{}");
    else if (strcmp(m.event, "phx_join") == 0 &&
             strncmp(m.topic, TOPIC_PREFIX, strlen(TOPIC_PREFIX)) == 0 &&
             m.topic[strlen(TOPIC_PREFIX)] != '\0')
        on_join(c, &m);
    else if (!ch)
        reply_error(c, &m, "unmatched topic");
    else if (strcmp(m.event, "phx_leave") == 0)
        on_leave(c, &m, ch);
    else if (strcmp(m.event, "access_token") == 0)
        on_access_token(c, &m, ch);
    else
        reply_error(c, &m, "unknown event");
    bk_phx_msg_fini(&m);
    return 0;
}

/* "YYYY-MM-DDTHH:MM:SS.mmmZ", Realtime's commit_timestamp. */
static void put_timestamp(bk_buf *out, int64_t us)
{
    int64_t s = us / 1000000, ms = (us % 1000000) / 1000;
    if (us < 0 && us % 1000000) {
        s--;
        ms = (us % 1000000 + 1000000) / 1000;
    }
    time_t t = (time_t)s;
    struct tm tm;
    gmtime_r(&t, &tm);
    bk_buf_printf(out, "\"%04d-%02d-%02dT%02d:%02d:%02d.%03dZ\"", tm.tm_year + 1900, tm.tm_mon + 1,
                  tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)ms);
}

void bk_rt_render_data(bk_buf *out, const bk_change *ch)
{
    bk_buf_puts(out, "{\"schema\":\"public\",\"table\":");
    bk_phx_json_str(out, ch->table->name);
    bk_buf_puts(out, ",\"commit_timestamp\":");
    put_timestamp(out, ch->commit_us);
    bk_buf_puts(out, ",\"type\":");
    bk_phx_json_str(out, ch->type);
    bk_buf_puts(out, ",\"columns\":");
    bk_buf_puts(out, ch->table->columns_json);
    if (ch->record) {
        bk_buf_puts(out, ",\"record\":");
        bk_buf_puts(out, ch->record);
    }
    if (ch->old_record) {
        bk_buf_puts(out, ",\"old_record\":");
        bk_buf_puts(out, ch->old_record);
    }
    bk_buf_puts(out, ",\"errors\":null}");
}

static bool binding_matches(const binding *b, const bk_change *ch)
{
    if (b->table && b->table != ch->table)
        return false;
    if (strcmp(b->event, "*") != 0 && strcmp(b->event, ch->type) != 0)
        return false;
    return bk_rt_filter_match(b->filter, ch);
}

void bk_rtc_change(bk_rtc *c, const bk_change *chg, const char *data)
{
    for (channel *ch = c->head; ch; ch = ch->next) {
        if (ch->failed)
            continue;
        size_t hits = 0;
        bk_buf_reset(&c->ids);
        for (size_t i = 0; i < ch->n; i++) {
            if (!binding_matches(&ch->b[i], chg))
                continue;
            bool seen = false; /* identical bindings share an id: list it once */
            for (size_t j = 0; j < i && !seen; j++)
                seen = ch->b[j].id == ch->b[i].id && binding_matches(&ch->b[j], chg);
            if (!seen)
                bk_buf_printf(&c->ids, "%s%" PRId64, hits++ ? "," : "", ch->b[i].id);
        }
        if (!hits)
            continue;
        bk_buf_reset(&c->frame);
        if (ch->legacy) {
            bk_phx_encode(&c->frame, c->o.vsn, NULL, NULL, ch->topic, chg->type, data);
        } else {
            const char *parts[] = {"{\"ids\":[", c->ids.data, "],\"data\":", data, "}"};
            bk_phx_encode_parts(&c->frame, c->o.vsn, NULL, NULL, ch->topic, "postgres_changes",
                                parts, BK_ARRAY_LEN(parts));
        }
        c->o.send(c->o.ctx, c->frame.data, c->frame.len);
    }
}
