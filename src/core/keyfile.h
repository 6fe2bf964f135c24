/*
 * keyfile.h — files of secrets: NAME=VALUE lines that only their owner may
 * read (mode 0600 or stricter). One reader for every such file barkeep takes
 * (the API keys file, the provider keys file).
 */
#ifndef BK_CORE_KEYFILE_H
#define BK_CORE_KEYFILE_H

#include "core/err.h"

#include <stddef.h>

#define BK_KEYFILE_LINE_MAX 1024

/* Called for each NAME=VALUE line (VALUE without its line end; NAME not
 * empty). Returns 0 to go on, or an error (set in err) that stops the read.
 * Both strings are wiped after the call: copy what is kept. */
typedef int (*bk_keyfile_fn)(void *ctx, const char *name, const char *value, int lineno,
                             bk_err *err);

/* Read path, whose role ("keys file", "provider keys file") names it in
 * errors: BK_EINVAL when it cannot be read, when group or others may access
 * it, when a line is not NAME=VALUE (blank lines, "# comments" and a leading
 * "export " are allowed) or is longer than BK_KEYFILE_LINE_MAX; else what fn
 * returned. */
BK_MUST_CHECK int bk_keyfile_read(const char *path, const char *role, bk_keyfile_fn fn, void *ctx,
                                  bk_err *err);

#endif
