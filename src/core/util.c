/*
 * util.c — allocation, buffers, strict parsing, hashing, random, UUIDs.
 */
#include "core/util.h"
#include "core/err.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

static void oom(void)
{
    fputs("barkeep: out of memory\n", stderr);
    abort();
}

void *bk_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        oom();
    return p;
}

void *bk_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        oom();
    return p;
}

void *bk_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        oom();
    return q;
}

char *bk_xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = bk_xmalloc(n);
    memcpy(d, s, n);
    return d;
}

void bk_grow(void **p, size_t *cap, size_t need, size_t sz)
{
    assert(sz > 0 && (*p != NULL || *cap == 0));
    if (need <= *cap)
        return;
    if (need > SIZE_MAX / 2 / sz)
        abort(); /* no array of that size: a caller's arithmetic went wrong */
    size_t c = *cap ? *cap : 8;
    while (c < need)
        c *= 2;
    *p = bk_xrealloc(*p, c * sz);
    *cap = c;
}

void bk_free_secret(char *s)
{
    if (s)
        explicit_bzero(s, strlen(s));
    free(s);
}

size_t bk_strlcpy(char *dst, const char *src, size_t cap)
{
    size_t n = strlen(src);
    if (cap) {
        size_t k = n < cap - 1 ? n : cap - 1;
        memcpy(dst, src, k);
        dst[k] = '\0';
    }
    return n;
}

int bk_parse_i64(const char *s, int64_t min, int64_t max, int64_t *out)
{
    if (!s || !*s)
        return BK_EINVAL;
    const char *p = s;
    int neg = 0;
    if (*p == '-' || *p == '+')
        neg = *p++ == '-';
    if (*p < '0' || *p > '9')
        return BK_EINVAL;
    uint64_t v = 0;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (v > (UINT64_MAX - 9) / 10)
            return BK_ERANGE;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    if (*p)
        return BK_EINVAL;
    if (v > (uint64_t)INT64_MAX + (uint64_t)neg)
        return BK_ERANGE;
    int64_t r = neg ? (int64_t)(0 - v) : (int64_t)v;
    if (r < min || r > max)
        return BK_ERANGE;
    *out = r;
    return 0;
}

void bk_buf_init(bk_buf *b)
{
    bk_buf_init_max(b, 0);
}

void bk_buf_init_max(bk_buf *b, size_t max)
{
    b->data = NULL;
    b->len = b->cap = 0;
    b->max = max;
    b->over = false;
}

void bk_buf_fini(bk_buf *b)
{
    free(b->data);
    bk_buf_init_max(b, b->max);
}

void bk_buf_reset(bk_buf *b)
{
    b->len = 0;
    b->over = false;
    if (b->data)
        b->data[0] = '\0';
}

/* Whether n more bytes fit; if not, b is over from now on. */
static bool fits(bk_buf *b, size_t n)
{
    if (!b->over && (b->max == 0 || (b->len <= b->max && n <= b->max - b->len)))
        return true;
    b->over = true;
    return false;
}

void bk_buf_append(bk_buf *b, const void *data, size_t n)
{
    assert(b->len < b->cap || b->cap == 0);
    if (!fits(b, n))
        return;
    bk_grow((void **)&b->data, &b->cap, b->len + n + 1, 1);
    memcpy(b->data + b->len, data, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void bk_buf_puts(bk_buf *b, const char *s)
{
    bk_buf_append(b, s, strlen(s));
}

void bk_buf_printf(bk_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || !fits(b, (size_t)n))
        return;
    bk_grow((void **)&b->data, &b->cap, b->len + (size_t)n + 1, 1);
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

uint64_t bk_mix64(uint64_t x)
{
    x += UINT64_C(0x9e3779b97f4a7c15);
    x = (x ^ (x >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    x = (x ^ (x >> 27)) * UINT64_C(0x94d049bb133111eb);
    return x ^ (x >> 31);
}

uint64_t bk_hash_bytes(uint64_t h, const void *data, size_t n)
{
    const unsigned char *p = data;
    h ^= UINT64_C(0xcbf29ce484222325);
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * UINT64_C(0x100000001b3);
    return bk_mix64(h);
}

double bk_unit(uint64_t h)
{
    return (double)(h >> 11) * (1.0 / 9007199254740992.0);
}

uint64_t bk_rand64(void)
{
    static _Thread_local uint64_t s;
    if (s == 0) {
        if (getrandom(&s, sizeof s, 0) != (ssize_t)sizeof s || s == 0)
            s = bk_mix64((uint64_t)getpid() ^ (uint64_t)(uintptr_t)&s);
    }
    s ^= s >> 12;
    s ^= s << 25;
    s ^= s >> 27;
    return s * UINT64_C(2685821657736338717);
}

void bk_uuid4(char out[37])
{
    unsigned char b[16];
    uint64_t a = bk_rand64(), c = bk_rand64();
    memcpy(b, &a, 8);
    memcpy(b + 8, &c, 8);
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
             b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
             b[14], b[15]);
}

static char g_host[256], g_host_id[300];
static long long g_start = -1;
static unsigned long long g_ns;
static pthread_once_t g_host_once = PTHREAD_ONCE_INIT;

/* Field 22 of /proc/PID/stat (the start time in clock ticks since boot) and
 * field 3 (the state letter) into *state; -1 when unreadable (no /proc). */
const char *bk_proc_stat(long pid, char *buf, size_t cap)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f || cap < 2) {
        if (f)
            fclose(f);
        return NULL;
    }
    size_t n = fread(buf, 1, cap - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')'); /* the command name may hold spaces and parentheses */
    return p && p[1] == ' ' ? p + 2 : NULL;
}

static long long proc_start(long pid, char *state)
{
    char buf[1024];
    const char *p = bk_proc_stat(pid, buf, sizeof buf);
    if (!p)
        return -1;
    if (state)
        *state = *p;
    for (int field = 3; field < 22; field++) {
        p = strchr(p, ' ');
        if (!p)
            return -1;
        p++;
    }
    char *end;
    long long v = strtoll(p, &end, 10);
    return end == p ? -1 : v;
}

/* The pid namespace of this process (the inode of /proc/self/ns/pid), 0 when
 * unknown: pids of two containers sharing a host name are not comparable. */
static unsigned long long pid_ns(void)
{
    struct stat st;
    return stat("/proc/self/ns/pid", &st) == 0 ? (unsigned long long)st.st_ino : 0;
}

static void host_id_init(void)
{
    snprintf(g_host, sizeof g_host, "localhost");
    gethostname(g_host, sizeof g_host - 1);
    g_host[sizeof g_host - 1] = '\0';
    g_start = proc_start((long)getpid(), NULL);
    g_ns = pid_ns();
    if (g_start >= 0)
        snprintf(g_host_id, sizeof g_host_id, "%s:%ld@%lld.%llu", g_host, (long)getpid(), g_start,
                 g_ns);
    else
        snprintf(g_host_id, sizeof g_host_id, "%s:%ld", g_host, (long)getpid());
}

const char *bk_host_id(void)
{
    pthread_once(&g_host_once, host_id_init);
    return g_host_id;
}

bool bk_owner_dead(const char *owner)
{
    pthread_once(&g_host_once, host_id_init);
    const char *colon = owner ? strchr(owner, ':') : NULL;
    if (!colon || (size_t)(colon - owner) != strlen(g_host) ||
        memcmp(owner, g_host, (size_t)(colon - owner)) != 0)
        return false; /* another host (or not an owner barkeep wrote): cannot tell */
    const char *p = colon + 1;
    char *end;
    long pid = strtol(p, &end, 10);
    if (end == p || pid <= 0 || (*end != ':' && *end != '@' && *end != '\0'))
        return false;
    long long start = -1;
    if (*end == '@') { /* "@start.ns" */
        p = end + 1;
        start = strtoll(p, &end, 10);
        if (end == p || *end != '.')
            return false;
        p = end + 1;
        unsigned long long ns = strtoull(p, &end, 10);
        if (end == p || (*end != ':' && *end != '\0') || ns == 0 || ns != g_ns)
            return false; /* another pid namespace (a container): its pids are not ours */
    }
    if (pid == (long)getpid())
        return start >= 0 && g_start >= 0 && start != g_start; /* an earlier process, our pid */
    if (kill((pid_t)pid, 0) != 0 && errno == ESRCH)
        return true;
    char state = '?';
    long long now_start = proc_start(pid, &state);
    if (now_start < 0)
        return false; /* no /proc: the pid exists, assume it is the owner */
    return state == 'Z' || state == 'X' || (start >= 0 && now_start != start);
}
