/*
 * testutil.h — helpers shared by the cmocka suites: temporary directories
 * and running the real barkeep binary with captured output.
 */
#ifndef BK_TESTUTIL_H
#define BK_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Create a fresh temporary directory (under $TMPDIR or /tmp); returns a
 * malloc'd path. bk_t_rmtree removes it and everything below. */
char *bk_t_tmpdir(const char *tag);
void bk_t_rmtree(const char *path);
/* path = dir + "/" + name, malloc'd. */
char *bk_t_path(const char *dir, const char *name);

/* The barkeep binary under test ($BARKEEP_BIN). */
const char *bk_t_bin(void);

/* The instant barkeep's clock is pinned to in every process a test starts:
 * $BK_TEST_NOW (the clock matrix of scripts/test.sh sets it to hostile
 * instants: weekends, holidays, before the open, after an early close), else
 * BK_T_DEFAULT_NOW. bk_t_run and bk_t_spawn put it in the child's
 * environment as BARKEEP_NOW unless the test set BARKEEP_NOW itself; a test
 * whose data needs an instant of its own passes --now, which wins. No
 * process a test starts runs on the wall clock. */
#define BK_T_DEFAULT_NOW "2026-11-18T20:00:00Z" /* a Wednesday, 15:00 New York */
const char *bk_t_now(void);

/* The size of a property test: fast in its unit suite, slow when
 * BK_TEST_SLOW is set (the suite's copy labelled slow, run once by the test
 * command: tests/CMakeLists.txt, bk_slow_test). */
int bk_t_rounds(int fast, int slow);
/* $BK_TEST_NOW, else dflt: for a suite with a default instant of its own
 * whose checks follow whatever instant it is given. */
const char *bk_t_now_or(const char *dflt);

typedef struct bk_t_result {
    int status; /* exit code, or 128 + signal */
    char *out;  /* captured stdout (malloc'd, NUL-terminated) */
    char *err;  /* captured stderr */
} bk_t_result;

/* Run argv (argv[0] is the program) with extra environment entries
 * ("K=V", NULL-terminated list or NULL; BARKEEP_NOW is added as above),
 * wait, capture output. */
bk_t_result bk_t_run(const char *const argv[], const char *const env[]);
void bk_t_result_free(bk_t_result *r);

/* Empty the PostgreSQL database at url (drop and recreate schema public, with
 * psql); 0, or -1 with psql's message in msg. */
int bk_t_pg_reset(const char *url, char *msg, size_t cap);

/* Start argv in the background with stdout/stderr to log_path; returns pid. */
pid_t bk_t_spawn(const char *const argv[], const char *const env[], const char *log_path);
/* Wait for pid; returns exit status as in bk_t_result. */
int bk_t_wait(pid_t pid);
/* SIGKILL and reap every child started by bk_t_spawn and not yet waited for
 * (a test that failed half-way leaves none behind). Also runs at exit. */
void bk_t_kill_all(void);

#endif
