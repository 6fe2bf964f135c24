/*
 * rt.h — the Realtime channels of one WebSocket: what Supabase's Realtime
 * server does with the Phoenix messages of a socket (heartbeat, phx_join
 * with config.postgres_changes or a legacy "realtime:schema:table:filter"
 * topic, phx_leave, access_token) and which postgres_changes frames a
 * change becomes on it. Reference: docs/internals/realtime.md and the
 * Supabase wire notes it cites.
 *
 * No I/O: frames go out through the send callback, messages come in as
 * whole text frames. The socket thread (ws.c) owns each bk_rtc; tests drive
 * it directly with constructed changes. Not thread-safe.
 */
#ifndef BK_API_RT_H
#define BK_API_RT_H

#include <stddef.h>

#include "api/change.h"
#include "api/phx.h"
#include "core/util.h"

typedef struct bk_rtc bk_rtc;

/* Called once per outgoing text frame; frame is valid during the call. */
typedef void (*bk_rtc_send_fn)(void *ctx, const char *frame, size_t len);

/* The check of a client's access_token (a string of the phx_join payload
 * or of an access_token message): 0 to accept it, nonzero to refuse it with
 * the reason written to reason[cap]. Called with the same ctx as send. */
typedef int (*bk_rtc_token_fn)(void *ctx, const char *token, char *reason, size_t cap);

typedef struct bk_rtc_opts {
    bk_phx_vsn vsn;
    size_t max_channels; /* joined topics at most (a join beyond gets an error reply) */
    bk_rtc_send_fn send;
    bk_rtc_token_fn check_token; /* NULL: every access_token is accepted unchecked */
    void *ctx;
} bk_rtc_opts;

bk_rtc *bk_rtc_new(const bk_rtc_opts *o);
void bk_rtc_free(bk_rtc *c); /* NULL is fine */

/* Handle one text message. Returns 0, or 1007 (the WebSocket close code for
 * invalid data) when it is not a Phoenix message at all; what could be
 * answered (an unknown event, an unmatched topic, a bad join) was answered
 * with an error reply and returns 0. An access_token is checked as Realtime
 * checks it (check_token): refused in a phx_join, the join gets the error
 * reply {"reason": ...} and no channel; refused in an access_token message,
 * the channel gets a "system" error message and a phx_close and is gone;
 * an accepted access_token message gets no reply. */
int bk_rtc_handle(bk_rtc *c, const char *data, size_t len);

/* The "data" object of a postgres_changes push for ch (Realtime's shape:
 * schema, table, commit_timestamp, type, columns, record, old_record,
 * errors), appended to out. Rendered once per change and handed to every
 * socket's bk_rtc_change. */
void bk_rt_render_data(bk_buf *out, const bk_change *ch);

/* Send the frames ch becomes on this socket: one postgres_changes frame per
 * channel with at least one matching binding, carrying the ids of all its
 * matching bindings (legacy channels: an event named by the type with the
 * bare data). data is bk_rt_render_data's text for ch. */
void bk_rtc_change(bk_rtc *c, const bk_change *ch, const char *data);

size_t bk_rtc_channels(const bk_rtc *c);

#endif
