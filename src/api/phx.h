/*
 * phx.h — the Phoenix channel message, as Supabase Realtime clients speak it
 * over a WebSocket text frame, in both serializers:
 *   vsn 1.0.0: {"topic":..,"event":..,"payload":..,"ref":..,"join_ref":..}
 *              (the server's frames leave join_ref out, as Phoenix's V1 does)
 *   vsn 2.0.0: [join_ref, ref, topic, event, payload]
 * Pure: no I/O, no state; the channel logic (rt.c) and the socket thread
 * (ws.c) use it. Fuzzed by fuzz/fuzz_phx.c.
 */
#ifndef BK_API_PHX_H
#define BK_API_PHX_H

#include <stddef.h>

#include "core/err.h"
#include "core/util.h"
#include "json/jr.h"

typedef enum bk_phx_vsn {
    BK_PHX_V1 = 1, /* "1.0.0", Phoenix's default */
    BK_PHX_V2 = 2, /* "2.0.0", supabase-js's default */
} bk_phx_vsn;

/* The vsn query parameter ("~> 1.0.0" / "~> 2.0.0": any 1.x.y or 2.x.y);
 * NULL or "" is 1.0.0. BK_EINVAL for anything else. */
int bk_phx_vsn_parse(const char *s, bk_phx_vsn *out);

/* A decoded client message. Every pointer is borrowed from doc and lives
 * until bk_phx_msg_fini. join_ref and ref are NULL for JSON null; topic and
 * event are non-empty strings without NUL bytes; payload is an object. */
typedef struct bk_phx_msg {
    bk_jdoc *doc;
    const char *join_ref;
    const char *ref;
    const char *topic;
    const char *event;
    const bk_jval *payload;
} bk_phx_msg;

/* Decode one text frame of len bytes. BK_EINVAL with the reason in err (bad
 * JSON, wrong shape, a ref that is neither a string nor null, a missing
 * topic or event, a payload that is not an object); out is then empty. */
int bk_phx_decode(bk_phx_msg *out, bk_phx_vsn vsn, const char *data, size_t len, bk_err *err);
void bk_phx_msg_fini(bk_phx_msg *m); /* fine on an empty or failed message */

/* Append one server frame to out. join_ref and ref may be NULL (null);
 * payload is the JSON text of the payload value, written as is. */
void bk_phx_encode(bk_buf *out, bk_phx_vsn vsn, const char *join_ref, const char *ref,
                   const char *topic, const char *event, const char *payload);

/* Same, with the payload given as the concatenation of parts[0..n-1]
 * (saves building it apart first). */
void bk_phx_encode_parts(bk_buf *out, bk_phx_vsn vsn, const char *join_ref, const char *ref,
                         const char *topic, const char *event, const char *const *parts, size_t n);

/* Append s as a JSON string (escaped), or null for NULL. */
void bk_phx_json_str(bk_buf *out, const char *s);

#endif
