/*
 * log.c — the line formatter behind bk_log (key=value or JSON lines).
 */
#include "core/log.h"
#include "core/clock.h"
#include "core/err.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static enum bk_log_level g_level = BK_LOG_INFO;
static enum bk_log_format g_format = BK_LOG_KV;
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *level_names[] = {"debug", "info", "warn", "error", "off"};

void bk_log_setup(enum bk_log_level min_level, enum bk_log_format format)
{
    g_level = min_level;
    g_format = format;
}

int bk_log_parse_level(const char *s, enum bk_log_level *out)
{
    for (int i = 0; i <= BK_LOG_OFF; i++) {
        if (strcmp(s, level_names[i]) == 0) {
            *out = (enum bk_log_level)i;
            return 0;
        }
    }
    return BK_EINVAL;
}

/* Append s to out as JSON string content (no quotes). */
static size_t json_esc(char *out, size_t cap, size_t pos, const char *s, size_t n)
{
    for (size_t i = 0; i < n && pos + 7 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            out[pos++] = '\\';
            out[pos++] = (char)c;
        } else if (c < 0x20) {
            pos += (size_t)snprintf(out + pos, cap - pos, "\\u%04x", c);
        } else {
            out[pos++] = (char)c;
        }
    }
    return pos;
}

/* Rewrite "msg k=v k2=\"v 2\"" into JSON members after the fixed ones. */
static size_t kv_to_json(char *out, size_t cap, size_t pos, const char *body)
{
    const char *kv = strstr(body, " ");
    const char *p = body;
    /* the message runs until the first " word=" */
    const char *msg_end = body + strlen(body);
    for (kv = body; (kv = strchr(kv, ' ')) != NULL; kv++) {
        const char *eq = kv + 1;
        while (*eq && *eq != ' ' && *eq != '=')
            eq++;
        if (*eq == '=' && eq > kv + 1) {
            msg_end = kv;
            break;
        }
    }
    pos += (size_t)snprintf(out + pos, cap - pos, ",\"msg\":\"");
    pos = json_esc(out, cap, pos, p, (size_t)(msg_end - p));
    if (pos + 1 < cap)
        out[pos++] = '"';
    p = msg_end;
    while (*p && pos + 8 < cap) {
        while (*p == ' ')
            p++;
        const char *eq = strchr(p, '=');
        if (!eq)
            break;
        out[pos++] = ',';
        out[pos++] = '"';
        pos = json_esc(out, cap, pos, p, (size_t)(eq - p));
        out[pos++] = '"';
        out[pos++] = ':';
        out[pos++] = '"';
        const char *v = eq + 1, *vend;
        if (*v == '"') {
            v++;
            vend = strchr(v, '"');
            if (!vend)
                vend = v + strlen(v);
            p = *vend ? vend + 1 : vend;
        } else {
            vend = strchr(v, ' ');
            if (!vend)
                vend = v + strlen(v);
            p = vend;
        }
        pos = json_esc(out, cap, pos, v, (size_t)(vend - v));
        if (pos + 1 < cap)
            out[pos++] = '"';
    }
    return pos;
}

void bk_log(enum bk_log_level level, const char *sub, const char *fmt, ...)
{
    if (level < g_level || level >= BK_LOG_OFF)
        return;
    char body[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(body, sizeof body, fmt, ap);
    va_end(ap);

    char ts[40];
    bk_clock_format_wall(ts, sizeof ts);
    char line[4096];
    size_t pos;
    if (g_format == BK_LOG_JSON) {
        pos = (size_t)snprintf(line, sizeof line, "{\"ts\":\"%s\",\"level\":\"%s\",\"sub\":\"%s\"",
                               ts, level_names[level], sub);
        pos = kv_to_json(line, sizeof line - 3, pos, body);
        line[pos++] = '}';
    } else {
        const char *sp = strchr(body, ' ');
        const char *msg_end = body + strlen(body);
        for (const char *k = sp; k; k = strchr(k + 1, ' ')) {
            const char *eq = k + 1;
            while (*eq && *eq != ' ' && *eq != '=')
                eq++;
            if (*eq == '=' && eq > k + 1) {
                msg_end = k;
                break;
            }
        }
        pos = (size_t)snprintf(line, sizeof line, "ts=%s level=%s sub=%s msg=\"%.*s\"%s", ts,
                               level_names[level], sub, (int)(msg_end - body), body, msg_end);
        if (pos >= sizeof line - 1)
            pos = sizeof line - 2;
    }
    line[pos++] = '\n';
    pthread_mutex_lock(&g_lock);
    fwrite(line, 1, pos, stderr);
    fflush(stderr);
    pthread_mutex_unlock(&g_lock);
}
