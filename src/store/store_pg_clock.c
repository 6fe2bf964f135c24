/*
 * store_pg_clock.c — one clock for every process on a PostgreSQL database.
 *
 * The instants that one process writes and another compares — a run's
 * lease_until (written by the worker's claim and heartbeats, compared by the
 * leader's requeue_expired), a provider budget's updated_at (refilled by
 * every worker) and the leader row's lease_until — are kept in the database
 * server's time. Each connection measures how far the server's clock is from
 * the machine's (SELECT clock_timestamp(), best of three round trips, the
 * server's instant against the middle of the round trip) and converts those
 * instants between barkeep's clock (bk_clock_now_us, which --now may pin far
 * from the machine's) and the server's:
 *
 *     server time = barkeep's time − pin + machine skew
 *
 * so two machines whose clocks differ by a minute, or two processes pinned
 * to the same --now a few seconds apart, agree on when a lease expires. Every
 * other instant (not_before, created_at, bars, coverage) stays in barkeep's
 * time: the planner's calendar and the pinned tests need it.
 *
 * The machine skew is one value per process, shared by its connections (a
 * process talks to one database server): it starts at 0 and a measurement
 * replaces it only when it differs by at least PG_CLOCK_IGNORE_US, beyond the
 * measurement's precision on a busy machine. So the conversion is identical
 * on every connection of a process (an instant written through one reads back
 * unchanged through another), and exact on the server's own machine, where
 * the skew stays 0.
 *
 * The measurement is made at the first need, again on every new session
 * (a reset) and every PG_CLOCK_REFRESH_US; never inside a transaction (a
 * failed probe would abort it). The first time a process finds its clock at
 * least BK_STORE_CLOCK_SKEW_WARN_US off the server's it says so in its log.
 */
#include "store/store_pg.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"

#define PG_CLOCK_IGNORE_US  (200 * BK_US_PER_MS)
#define PG_CLOCK_REFRESH_US BK_US_PER_MIN
#define PG_CLOCK_PROBES     3

static _Atomic int64_t g_machine_us; /* server − machine clock, for every connection */
static atomic_bool g_skew_logged;    /* the process said it once */

static const char SQL_CLOCK_NOW[] = "SELECT clock_timestamp()";

/* The machine's real clock: barkeep's clock without the --now pin. */
static int64_t machine_now_us(void)
{
    return bk_clock_now_us() - bk_clock_pin_us();
}

/* Server − machine, from the probe with the shortest round trip; 0 with err
 * set when no probe answered. */
static int probe(pg_store *q, int64_t *skew_us, bk_err *err)
{
    int64_t best_rtt = INT64_MAX;
    for (int i = 0; i < PG_CLOCK_PROBES; i++) {
        int64_t t0 = machine_now_us();
        PGresult *r =
            bk_pg_exec(q, P_CLOCK_NOW, SQL_CLOCK_NOW, "", NULL, "read the server's clock", err);
        int64_t t1 = machine_now_us();
        if (!r)
            return best_rtt == INT64_MAX ? bk_pg_errc(err) : 0;
        int64_t server = PQntuples(r) == 1 ? bk_pg_c_time(r, 0, 0) : 0;
        PQclear(r);
        if (server && t1 - t0 < best_rtt) {
            best_rtt = t1 - t0;
            *skew_us = server - (t0 + (t1 - t0) / 2);
        }
    }
    return best_rtt == INT64_MAX ? bk_err_set(err, BK_ESTORE, "read the server's clock: no row")
                                 : 0;
}

static void log_once(const pg_store *q, int64_t skew_us)
{
    if (llabs(skew_us) < BK_STORE_CLOCK_SKEW_WARN_US || atomic_exchange(&g_skew_logged, true))
        return;
    bk_log(BK_LOG_WARN, "store",
           "clock skew: this process's clock is off the database's (leases, heartbeats and"
           " provider budgets use the database's clock, planning this process's) skew_s=%.3f"
           " direction=%s pinned=%s db=%s",
           (double)skew_us / BK_US_PER_S, skew_us > 0 ? "ahead" : "behind",
           bk_clock_pinned() ? "true" : "false", q->where);
}

/* Measure when due; keep the last value when the server cannot be asked. */
static void refresh(pg_store *q)
{
    int64_t mono = bk_clock_mono_us();
    if (q->in_tx || (q->clock_mono_us && q->clock_session == q->session &&
                     mono - q->clock_mono_us < PG_CLOCK_REFRESH_US))
        return;
    int64_t m = 0;
    bk_err err = {0};
    if (probe(q, &m, &err) < 0) {
        bk_log(BK_LOG_DEBUG, "store", "clock probe failed db=%s error=\"%s\"", q->where, err.msg);
        return;
    }
    if (llabs(m - atomic_load(&g_machine_us)) >= PG_CLOCK_IGNORE_US)
        atomic_store(&g_machine_us, m);
    q->clock_mono_us = bk_clock_mono_us();
    q->clock_session = q->session; /* after the probe: it may have reset the session */
    log_once(q, -pg_clock_off_cached(q));
}

int64_t pg_clock_off_cached(const pg_store *q)
{
    return atomic_load(&g_machine_us) - bk_clock_pin_us() - q->clock_test_us;
}

int64_t pg_clock_off(pg_store *q)
{
    refresh(q);
    return pg_clock_off_cached(q);
}

int64_t pg_clock_from_db(const pg_store *q, int64_t db_us)
{
    return db_us ? db_us - pg_clock_off_cached(q) : 0;
}

int pg_clock_skew(bk_store *s, int64_t *skew_us, bk_err *err)
{
    pg_store *q = pgs(s);
    (void)err;
    *skew_us = -pg_clock_off(q);
    return 0;
}

int bk_store__pg_set_clock(bk_store *s, int64_t ahead_us, bk_err *err)
{
    if (!s || strcmp(bk_store_kind(s), "postgres") != 0)
        return bk_err_set(err, BK_EINVAL, "not a PostgreSQL store");
    pg_store *q = pgs(s);
    q->clock_test_us = ahead_us;
    q->clock_mono_us = 0; /* measure again */
    return 0;
}
