/*
 * cmd_serve.c — the commands that run the loop: `migrate`, `config`, `tick`
 * (plan once, optionally drain the queue) and `serve` (scheduler + workers
 * until a signal). The scheduler is the leader of one named lease in the
 * store; a second serve on the same database runs workers only and takes
 * over if the leader goes away.
 */
#include "cli/cli.h"
#include "prov/provset.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/util.h"
#include "model/time.h"
#include "plan/plan.h"
#include "api/api.h"
#include "work/work.h"

#include <signal.h>
#include <time.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#define LEADER_NAME   "scheduler"
#define WAIT_SLICE_US (200 * BK_US_PER_MS) /* how often waits look at the stop flag */

static const char migrate_usage[] =
    "usage: barkeep migrate\n\nCreate the database or bring its schema up to date.\n";
static const char config_usage[] =
    "usage: barkeep config\n\n"
    "Every setting with its current value, its environment variable and what it does.\n"
    "Set one with --set NAME=VALUE (before the command) or the variable.\n";
static const char tick_usage[] =
    "usage: barkeep tick [--wait] [--workers N]\n"
    "\n"
    "Plan once: requeue expired leases, find gaps, enqueue slices. With --wait, also\n"
    "run the queue with N workers (default: the workers setting), planning again as\n"
    "runs finish, until nothing is queued, running or left to plan. Exit status 1 if\n"
    "a run was dead-lettered meanwhile.\n";
static const char serve_usage[] =
    "usage: barkeep serve [--workers N] [--listen ADDR:PORT|off] [--no-scheduler]\n"
    "\n"
    "Run the scheduler, N worker threads (default: the workers setting) and the\n"
    "HTTP API (default 127.0.0.1:8080; port 0 picks a free port) until SIGINT or\n"
    "SIGTERM. In-flight runs are released back to the queue on exit.\n"
    "Roles: --workers 0 runs no workers (runs are executed by other processes or\n"
    "through fetch-bars); --listen off runs no API; --no-scheduler never plans.\n"
    "Many serve processes may share one database: one of them is the scheduler\n"
    "leader at a time, the others stand by and take over when it goes away.\n"
    "Keys: BARKEEP_SERVICE_KEY, BARKEEP_ANON_KEY, BARKEEP_JWT_SECRET (HS256 JWTs\n"
    "signed with it are keys, as Supabase issues them) or the keys_file setting;\n"
    "with none only trusted clients (trusted_clients, default loopback) are served.\n";

static const char worker_usage[] =
    "usage: barkeep worker [--workers N]\n"
    "\n"
    "Run N worker threads (default: the workers setting) and nothing else: no\n"
    "scheduler, no API. For scale-out on PostgreSQL, next to one or more serve\n"
    "processes. In-flight runs are released back to the queue on SIGINT/SIGTERM.\n";

static atomic_bool g_stop;

static void on_signal(int sig)
{
    (void)sig;
    atomic_store(&g_stop, true);
}

static void install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

int bk_cmd_migrate(bk_cli *cli, int argc, char **argv)
{
    const char *pos[1];
    int n_pos, rc;
    if ((rc = bk_cli_parse(argc - 1, argv + 1, NULL, pos, 0, &n_pos, migrate_usage)) != 0)
        return rc < 0 ? 0 : rc;
    bk_store *s;
    bk_err err = {0};
    if (bk_store_open(&s, cli->db, &err) != 0)
        return bk_cli_fail("%s", err.msg);
    int before = 0, after = 0;
    rc = bk_store_schema_version(s, &before, &err);
    if (rc == 0)
        rc = bk_store_migrate(s, &after, &err);
    bk_store_close(s);
    if (rc)
        return bk_cli_fail("%s: %s", cli->db, err.msg);
    printf("%s: schema version %d%s\n", cli->db, after,
           before == after ? " (up to date)" : " (migrated)");
    return 0;
}

int bk_cmd_config(bk_cli *cli, int argc, char **argv)
{
    const char *pos[1];
    int n_pos, rc;
    if ((rc = bk_cli_parse(argc - 1, argv + 1, NULL, pos, 0, &n_pos, config_usage)) != 0)
        return rc < 0 ? 0 : rc;
    bk_conf_print(&cli->conf, stdout);
    return 0;
}

/* --workers N; min is 0 for serve (API and scheduler only: runs are executed
 * by other processes or through fetch-bars), 1 for tick --wait. */
static int workers_opt(bk_cli *cli, const char *s, int64_t min)
{
    int64_t v;
    if (s) {
        if (bk_cli_int("worker count", s, min, 256, &v))
            return BK_EXIT_USAGE;
        cli->conf.workers = v;
    }
    if (cli->conf.workers < min)
        return bk_cli_usage_error("tick --wait needs at least one worker");
    return 0;
}

static void log_tick(const bk_tick_stats *t)
{
    bk_log(t->enqueued || t->requeued || t->revived ? BK_LOG_INFO : BK_LOG_DEBUG, "plan",
           "tick defs=%zu planned=%zu enqueued=%zu requeued=%zu revived=%zu more=%d", t->defs,
           t->planned, t->enqueued, t->requeued, t->revived, t->more);
}

static void warn_simulated(const bk_provset *ps)
{
    char ci[128], cd[128];
    bk_provset_chain_str(ps, BK_CLASS_INTRADAY, ci, sizeof ci);
    bk_provset_chain_str(ps, BK_CLASS_DAILY, cd, sizeof cd);
    bk_log(BK_LOG_INFO, "prov", "providers chain_intraday=%s chain_daily=%s", ci, cd);
    if (bk_provset_get(ps, "sim"))
        bk_log(BK_LOG_WARN, "prov",
               "NO PROVIDER KEYS CONFIGURED: using the sim provider; every bar is SIMULATED "
               "data (provider column 'sim'), not market prices");
}

/* Wait up to timeout_us, in slices that watch g_stop; with wake, return
 * early when workers make progress. Progress counts from since_f (the pool's
 * finished count when the caller last looked, e.g. before a tick: runs that
 * finished while the tick ran must not be waited for again); -1 = from now.
 * True when it returned for progress. */
static bool wait_progress(bk_pool *pool, int64_t timeout_us, bool wake, const atomic_bool *cue,
                          int64_t since_f)
{
    int64_t end = bk_clock_mono_us() + timeout_us;
    while (!atomic_load(&g_stop)) {
        int64_t left = end - bk_clock_mono_us();
        if (left <= 0)
            break;
        int64_t before_f, before_d, after_f, after_d;
        bk_pool_counts(pool, &before_f, &before_d);
        bool w = wake || (cue && atomic_load(cue));
        if (w && since_f >= 0 && before_f != since_f)
            return true;
        bk_pool_wait_progress(pool, BK_MIN(left, WAIT_SLICE_US));
        bk_pool_counts(pool, &after_f, &after_d);
        if (w && after_f != before_f)
            return true;
    }
    return false;
}

/* How long until something in the queue changes state by itself: a retry's
 * not_before comes, a lease expires. A queued run that is already due changes
 * state only when a worker claims it, and the pool reports what follows as
 * progress: it is no reason to wake before cap_us (waking at once ticked the
 * planner about a hundred times a second for as long as every worker was
 * busy and runs waited for one). */
static int64_t wait_until_us(int64_t next, int64_t cap_us)
{
    int64_t now = bk_clock_now_us();
    return next > now ? BK_MAX(BK_MIN(next - now, cap_us), 1000) : cap_us;
}

static int64_t queue_wait_us(bk_store *s, int64_t cap_us)
{
    int64_t next = 0;
    bk_err err = {0};
    if (bk_store_runs_next_event(s, &next, &err) != 0)
        next = 0;
    return wait_until_us(next, cap_us);
}

typedef struct loop {
    bk_cli *cli;
    bk_store *s;
    bk_provset *provs;
    bk_prov *prov; /* the intraday primary (borrowed from provs) */
    bk_pool *pool;
    bk_bus *bus;
    bk_api *api;
    bk_plan_cfg cfg;
} loop;

static int write_port_file(const char *path, unsigned port)
{
    FILE *f = fopen(path, "w");
    if (!f || fprintf(f, "%u\n", port) < 0 || fclose(f) != 0)
        return bk_cli_fail("cannot write port file %s", path);
    return 0;
}

/* The HTTP API and its event bus; run events and enqueues are routed to it. */
static int api_start(loop *l, bk_cli *cli)
{
    bk_err err = {0};
    /* Event ids start at the real start time in µs (not --now's clock), so
     * they keep growing across restarts. */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    bk_bus_opts bo = {.ring_size = (size_t)cli->conf.sse_ring,
                      /* event streams and realtime sockets subscribe alike */
                      .max_clients =
                          (size_t)(cli->conf.sse_max_clients + cli->conf.realtime_max_sockets),
                      .client_queue = (size_t)cli->conf.sse_queue,
                      .id_base = (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u};
    bk_api_opts ao = {.listen = cli->conf.listen,
                      .db_url = cli->db,
                      .conf = &cli->conf,
                      .prov = l->prov,
                      .provs = l->provs,
                      .plan = l->cfg};
    if (bk_api_load_keys(&cli->conf, &ao, &err) != 0) {
        explicit_bzero(ao.service_key, sizeof ao.service_key);
        explicit_bzero(ao.anon_key, sizeof ao.anon_key);
        explicit_bzero(ao.jwt_secret, sizeof ao.jwt_secret);
        return bk_cli_usage_error("%s", err.msg);
    }
    int rc = bk_bus_new(&l->bus, &bo);
    ao.bus = l->bus;
    if (rc == 0)
        rc = bk_api_start(&l->api, &ao, &err); /* it keeps its own copy of the keys */
    else
        bk_err_set(&err, BK_ENOMEM, "cannot create the event bus");
    explicit_bzero(ao.service_key, sizeof ao.service_key);
    explicit_bzero(ao.anon_key, sizeof ao.anon_key);
    explicit_bzero(ao.jwt_secret, sizeof ao.jwt_secret);
    if (rc != 0)
        return bk_cli_fail("%s", err.msg);
    l->cfg.on_enqueue = bk_api_on_enqueue;
    l->cfg.on_change = bk_api_on_run;
    l->cfg.hook_ctx = l->api;
    if (cli->conf.port_file[0])
        return write_port_file(cli->conf.port_file, bk_api_port(l->api));
    return 0;
}

/* A daemon's store: a PostgreSQL server that is restarting (or not up yet)
 * is waited for, up to START_WAIT_US with a back-off, the error logged every
 * ten seconds; anything else (a SQLite file that is not a database, a schema
 * newer than this binary) fails at once, as every other command does. */
#define START_WAIT_US (60 * BK_US_PER_S)
static int open_daemon_store(bk_cli *cli, bk_store **out)
{
    int64_t start = bk_clock_mono_us(), logged = 0, backoff = 50 * BK_US_PER_MS;
    for (;;) {
        bk_err err = {0};
        bk_store *s = NULL;
        int rc = bk_store_open(&s, cli->db, &err);
        if (rc == 0 && (rc = bk_store_migrate(s, NULL, &err)) != 0)
            bk_store_close(s);
        if (rc == 0) {
            *out = s;
            return 0;
        }
        int64_t now = bk_clock_mono_us();
        bool transient = bk_store_url_notifies(cli->db) && (rc == BK_ESTORE || rc == BK_EIO);
        if (!transient || atomic_load(&g_stop) || now - start >= START_WAIT_US)
            return bk_cli_fail("%s", err.msg);
        if (logged == 0 || now - logged >= 10 * BK_US_PER_S) {
            bk_log(BK_LOG_WARN, "serve", "waiting for the database error=\"%s\"", err.msg);
            logged = now;
        }
        bk_sleep_us(backoff);
        backoff = BK_MIN(backoff * 2, 2 * BK_US_PER_S);
    }
}

static pthread_mutex_t g_publish_order = PTHREAD_MUTEX_INITIALIZER;

static int loop_start(loop *l, bk_cli *cli, bool with_api)
{
    memset(l, 0, sizeof *l);
    l->cli = cli;
    int rc = open_daemon_store(cli, &l->s);
    if (rc)
        return rc;
    if ((rc = bk_cli_providers(cli, &l->provs)) != 0)
        return rc;
    l->prov = bk_provset_primary(l->provs, BK_TF_1M);
    bk_cli_plan_cfg(&l->cfg, &cli->conf, l->provs);
    /* Where this process publishes its own changes (SQLite: no change
     * listener), its planner and workers keep a run's INSERT event before
     * its claim's (plan.h); on PostgreSQL the notifications come in commit
     * order. */
    if (!bk_store_url_notifies(cli->db))
        l->cfg.publish_order = &g_publish_order;
    if (with_api && (rc = api_start(l, cli)) != 0)
        return rc;
    if (cli->conf.workers == 0)
        return 0; /* no workers in this process */
    bk_pool_opts po = {.db_url = cli->db, .threads = (int)cli->conf.workers};
    po.env.prov = l->prov;
    po.env.provs = l->provs;
    po.env.conf = &cli->conf;
    po.env.publish_order = l->cfg.publish_order;
    if (l->api) {
        po.env.on_event = bk_api_on_run;
        po.env.event_ctx = l->api;
    }
    bk_err err = {0};
    if (bk_pool_start(&l->pool, &po, &err) != 0)
        return bk_cli_fail("%s", err.msg);
    if (l->api)
        bk_api_attach_pool(l->api, l->pool);
    return 0;
}

static void loop_stop(loop *l)
{
    if (l->api)
        bk_api_attach_pool(l->api, NULL);
    bk_pool_stop(l->pool);
    bk_api_stop(l->api);
    bk_bus_free(l->bus);
    bk_provset_free(l->provs);
    bk_store_close(l->s);
}

static int do_tick(loop *l, const char *why, bk_tick_stats *t)
{
    bk_err err = {0};
    int rc = bk_plan_tick(l->s, &l->cfg, NULL, bk_clock_now_us(), why, t, &err);
    if (rc) {
        bk_log(BK_LOG_ERROR, "plan", "tick failed error=\"%s\"", err.msg);
        return rc;
    }
    log_tick(t);
    bk_api_on_tick(l->api, t->requeued, t->revived);
    if (l->pool && (t->enqueued || t->requeued || t->revived))
        bk_pool_wake(l->pool);
    return 0;
}

int bk_cmd_tick(bk_cli *cli, int argc, char **argv)
{
    bool wait = false;
    const char *workers = NULL, *pos[1];
    int n_pos, rc;
    bk_opt opts[] = {{"--wait", false, NULL, &wait},
                     {"--workers", true, &workers, NULL},
                     {NULL, false, NULL, NULL}};
    if ((rc = bk_cli_parse(argc - 1, argv + 1, opts, pos, 0, &n_pos, tick_usage)) != 0)
        return rc < 0 ? 0 : rc;
    if (wait && (rc = workers_opt(cli, workers, 1)) != 0)
        return rc;
    if (!wait && (rc = workers_opt(cli, workers, 0)) != 0)
        return rc;
    bk_tick_stats t;
    if (!wait) {
        bk_store *s;
        bk_provset *ps;
        if ((rc = bk_cli_open(cli, &s)) != 0)
            return rc;
        if ((rc = bk_cli_providers(cli, &ps)) != 0) {
            bk_store_close(s);
            return rc;
        }
        loop l = {.cli = cli, .s = s, .provs = ps};
        bk_cli_plan_cfg(&l.cfg, &cli->conf, ps);
        rc = do_tick(&l, "tick", &t);
        bk_provset_free(ps);
        bk_store_close(s);
        if (rc)
            return BK_EXIT_FAIL;
        printf("planned %zu slices for %zu definitions, enqueued %zu, requeued %zu, re-planned "
               "%zu dead\n",
               t.planned, t.defs, t.enqueued, t.requeued, t.revived);
        return 0;
    }
    install_signals();
    loop l;
    if ((rc = loop_start(&l, cli, false)) != 0) {
        loop_stop(&l);
        return rc;
    }
    warn_simulated(l.provs);
    size_t enqueued = 0;
    /* The planner runs when it has more to enqueue, when a wait timed out
     * (a retry's not_before, an expired lease), and before the end; a run
     * that finishes only needs the queue's next event read (none: no run
     * queued or running), not the runs counted (that grew with the table:
     * a third of the CPU of a 2,370-run backfill). */
    bool tick_due = true, more = false;
    for (;;) {
        int64_t since_f, since_d;
        bk_pool_counts(l.pool, &since_f, &since_d); /* before the tick */
        bool ticked = tick_due;
        if (ticked) {
            if (do_tick(&l, "tick", &t) != 0) {
                rc = BK_EXIT_FAIL;
                break;
            }
            enqueued += t.enqueued;
            more = t.more;
        }
        int64_t next = 0;
        bk_err err = {0};
        if (bk_store_runs_next_event(l.s, &next, &err) != 0) {
            rc = bk_cli_fail("%s", err.msg);
            break;
        }
        bool idle = next == 0;
        if (idle && ticked && t.enqueued == 0)
            break;
        if (atomic_load(&g_stop))
            break;
        bool progressed =
            !idle && wait_progress(l.pool, wait_until_us(next, BK_US_PER_S), true, NULL, since_f);
        tick_due = idle || more || !progressed;
    }
    int64_t finished, dead;
    bk_pool_counts(l.pool, &finished, &dead);
    loop_stop(&l);
    if (rc)
        return rc;
    printf("enqueued %zu runs, finished %lld attempts, dead-lettered %lld%s\n", enqueued,
           (long long)finished, (long long)dead, atomic_load(&g_stop) ? " (interrupted)" : "");
    return dead > 0 || atomic_load(&g_stop) ? BK_EXIT_FAIL : 0;
}

/* Time the store's rows are ahead of this process's clock by more than this
 * is a clock that stepped back (or another machine's clock running ahead). */
#define CLOCK_BACK_TOLERANCE_US (5 * BK_US_PER_S)

/* Once a process leads: say so when the store holds instants later than
 * now (the clock stepped back since they were written, e.g. after a crash,
 * an NTP step or a database moved to another host). Scheduling goes on:
 * dead owners' leases are taken over at once, not after the step. */
static void warn_clock_behind(loop *l)
{
    int64_t ahead = 0;
    bk_err err = {0};
    if (bk_plan_clock_behind(l->s, bk_clock_now_us(), &ahead, &err) != 0 ||
        ahead <= CLOCK_BACK_TOLERANCE_US)
        return;
    bk_log(BK_LOG_WARN, "plan",
           "clock stepped back: the store holds times %.1f s later than this process's clock; "
           "leases of processes that are gone are taken over at once, retries due at those "
           "times wait for them",
           (double)ahead / (double)BK_US_PER_S);
}

/* One scheduler step: hold or renew leadership, tick if leader, and say how
 * long to sleep. */
/* *role: -1 unknown yet, 0 standby, 1 leader (changes are logged). */
static int64_t scheduler_step(loop *l, const char *owner, int *role, bool *more)
{
    const int64_t leader_ttl_us = l->cli->conf.lease_ms * BK_US_PER_MS; /* same lease as runs */
    bk_err err = {0};
    bool leader = false;
    int64_t now = bk_clock_now_us();
    if (bk_store_leader_try(l->s, LEADER_NAME, owner, now, leader_ttl_us, &leader, &err) != 0) {
        bk_log(BK_LOG_ERROR, "plan", "leader lease failed error=\"%s\"", err.msg);
        return BK_US_PER_S;
    }
    if ((int)leader != *role)
        bk_log(BK_LOG_INFO, "plan", "%s owner=%s",
               leader ? "this process is the scheduler leader"
                      : "another process holds the scheduler lease; running workers only",
               owner);
    if (leader && *role != 1) {
        static bool clock_checked; /* the scheduler thread only; once per process */
        if (!clock_checked)
            warn_clock_behind(l);
        clock_checked = true;
    }
    *role = leader;
    if (!leader)
        return leader_ttl_us / 3;
    bk_tick_stats t;
    if (do_tick(l, "scheduler", &t) != 0)
        return BK_US_PER_S;
    int64_t wait = l->cli->conf.tick_max_ms * BK_US_PER_MS;
    if (t.next_close_us)
        wait = BK_MIN(wait, BK_MAX(t.next_close_us - bk_clock_now_us(), 1000));
    *more = t.more;
    if (t.more)
        wait = BK_MIN(wait, BK_US_PER_S); /* next wave as soon as runs finish */
    wait = BK_MIN(wait, queue_wait_us(l->s, leader_ttl_us / 3));
    return wait;
}

/* The daemon: optionally the scheduler, the API and the workers. */
typedef struct roles {
    bool scheduler;
    bool api;
} roles;

static int run_daemon(bk_cli *cli, roles r)
{
    install_signals();
    loop l;
    int rc = loop_start(&l, cli, r.api);
    if (rc) {
        loop_stop(&l);
        return rc;
    }
    warn_simulated(l.provs);
    char owner[BK_OWNER_MAX];
    snprintf(owner, sizeof owner, "%s:scheduler", bk_host_id());
    bk_log(BK_LOG_INFO, "serve", "started db=%s store=%s workers=%lld scheduler=%s api=%s", cli->db,
           bk_store_kind(l.s), (long long)cli->conf.workers, r.scheduler ? "yes" : "no",
           r.api ? cli->conf.listen : "off");
    int role = -1;
    while (!atomic_load(&g_stop)) {
        int64_t since_f, since_d;
        bk_pool_counts(l.pool, &since_f, &since_d); /* before the tick */
        bool more = false;
        atomic_bool *cue = l.api && r.scheduler ? bk_api_plan_more(l.api) : NULL;
        if (cue)
            atomic_store(cue, false); /* this tick plans what a request left */
        int64_t wait = r.scheduler ? scheduler_step(&l, owner, &role, &more) : BK_US_PER_S;
        /* finished runs matter to the planner only when it (or a request's
         * tick, cue) has more to enqueue; otherwise it sleeps until its
         * schedule (a bar closes, a retry or lease is due, tick_max_ms) */
        wait_progress(l.pool, wait, more, cue, since_f);
    }
    bk_log(BK_LOG_INFO, "serve", "stopping: releasing in-flight runs");
    bk_err err = {0};
    if (role == 1)
        bk_store_leader_release(l.s, LEADER_NAME, owner, &err);
    loop_stop(&l);
    bk_log(BK_LOG_INFO, "serve", "stopped");
    return 0;
}

int bk_cmd_serve(bk_cli *cli, int argc, char **argv)
{
    const char *workers = NULL, *listen = NULL, *pos[1];
    bool no_scheduler = false;
    int n_pos, rc;
    bk_opt opts[] = {{"--workers", true, &workers, NULL},
                     {"--listen", true, &listen, NULL},
                     {"--no-scheduler", false, NULL, &no_scheduler},
                     {NULL, false, NULL, NULL}};
    if ((rc = bk_cli_parse(argc - 1, argv + 1, opts, pos, 0, &n_pos, serve_usage)) != 0)
        return rc < 0 ? 0 : rc;
    if ((rc = workers_opt(cli, workers, 0)) != 0)
        return rc;
    if (listen) {
        bk_err err = {0};
        if (bk_conf_set(&cli->conf, "listen", listen, &err) != 0)
            return bk_cli_usage_error("--listen: %s", err.msg);
    }
    roles r = {.scheduler = !no_scheduler, .api = strcmp(cli->conf.listen, "off") != 0};
    if (!r.scheduler && !r.api && cli->conf.workers == 0)
        return bk_cli_usage_error("nothing to run: no scheduler, no API and no workers");
    return run_daemon(cli, r);
}

int bk_cmd_worker(bk_cli *cli, int argc, char **argv)
{
    const char *workers = NULL, *pos[1];
    int n_pos, rc;
    bk_opt opts[] = {{"--workers", true, &workers, NULL}, {NULL, false, NULL, NULL}};
    if ((rc = bk_cli_parse(argc - 1, argv + 1, opts, pos, 0, &n_pos, worker_usage)) != 0)
        return rc < 0 ? 0 : rc;
    if ((rc = workers_opt(cli, workers, 1)) != 0)
        return rc;
    return run_daemon(cli, (roles){.scheduler = false, .api = false});
}
