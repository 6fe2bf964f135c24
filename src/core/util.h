/*
 * util.h — small shared helpers: checked allocation, a growable byte buffer,
 * bounded string copy, strict integer parsing, hashing, random numbers and
 * UUIDs. Out-of-memory aborts (the process cannot do anything sensible then);
 * a buffer filled from outside is given a cap (bk_buf_init_max) that it
 * enforces itself.
 */
#ifndef BK_CORE_UTIL_H
#define BK_CORE_UTIL_H

#include "core/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BK_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define BK_MIN(a, b)    ((a) < (b) ? (a) : (b))
#define BK_MAX(a, b)    ((a) > (b) ? (a) : (b))

void *bk_xmalloc(size_t n);
void *bk_xcalloc(size_t n, size_t size);
void *bk_xrealloc(void *p, size_t n);
char *bk_xstrdup(const char *s);
/* Grow *p (an array of *cap elements of size sz) to hold at least need elements. */
void bk_grow(void **p, size_t *cap, size_t need, size_t sz);

/* Free a string that held a secret (a key, an auth header), wiped first so
 * no copy stays in freed memory. NULL is fine. */
void bk_free_secret(char *s);

/* Copy at most cap-1 bytes and NUL-terminate; returns strlen(src). */
size_t bk_strlcpy(char *dst, const char *src, size_t cap);

/* Parse a whole decimal integer in [min, max]; returns 0, BK_EINVAL or BK_ERANGE. */
BK_MUST_CHECK int bk_parse_i64(const char *s, int64_t min, int64_t max, int64_t *out);

/* Growable byte buffer, always NUL-terminated (data is NULL while empty).
 * With a cap, an append that would take it past max bytes appends nothing
 * and marks the buffer over; it stays over, and takes no more appends,
 * until reset. The writer checks bk_buf_over once, when done (as SQLite's
 * sqlite3_str keeps its error). */
typedef struct bk_buf {
    char *data;
    size_t len, cap;
    size_t max; /* 0 = no cap: what barkeep composes itself */
    bool over;
} bk_buf;
void bk_buf_init(bk_buf *b);
void bk_buf_init_max(bk_buf *b, size_t max);
void bk_buf_fini(bk_buf *b);
/* Empty it (keeping its memory and its cap) and clear over. */
void bk_buf_reset(bk_buf *b);
static inline bool bk_buf_over(const bk_buf *b)
{
    return b->over;
}
void bk_buf_append(bk_buf *b, const void *data, size_t n);
void bk_buf_puts(bk_buf *b, const char *s);
void bk_buf_printf(bk_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* 64-bit mixing (splitmix64 finaliser) and a hash of bytes seeded by h. */
uint64_t bk_mix64(uint64_t x);
uint64_t bk_hash_bytes(uint64_t h, const void *data, size_t n);
/* Uniform double in [0, 1) from a 64-bit hash. */
double bk_unit(uint64_t h);

/* Per-thread fast PRNG (xorshift*), seeded from the OS on first use. */
uint64_t bk_rand64(void);

/* A random (v4) UUID as 36 characters plus NUL. */
void bk_uuid4(char out[37]);

/* Read /proc/PID/stat into buf (cap bytes); the fields after the command
 * name (which may hold spaces and parentheses), starting with the state
 * letter (field 3), or NULL when unreadable (no such process, no /proc). */
const char *bk_proc_stat(long pid, char *buf, size_t cap);

/* Host identity for lease owners: "host:pid@start.ns", start being the
 * process's start time (field 22 of /proc/self/stat, clock ticks since boot)
 * and ns its pid namespace (the inode of /proc/self/ns/pid); "host:pid"
 * where /proc is missing. Owners are this plus ":role". */
const char *bk_host_id(void);
/* Whether owner (a lease owner written by bk_host_id + ":role") names a
 * process of this host and pid namespace that no longer runs: its pid does
 * not exist, is a zombie, or is now another process (its start time
 * differs). False for owners of other hosts or pid namespaces (containers
 * sharing a host name), owners of unknown form and live processes. An owner
 * without start time ("host:pid:role", written where /proc is missing) is
 * dead only when its pid does not exist. */
bool bk_owner_dead(const char *owner);

#endif
