/*
 * store_fail.h — a store that fails on command, for the error paths of the
 * code above the store (the worker, the planner).
 *
 * store_fail_wrap takes a real, open store (a SQLite file in the suites)
 * and puts a table of its own in front of the backend's ops table
 * (src/store/store_impl.h): every call is counted and then either forwarded
 * to the backend, unchanged, or failed with the code and message the test
 * chose, before the backend is reached (nothing of a failed call is
 * written). The test then asserts on the real store's state through
 * another connection or through the same one with the fault cleared.
 *
 * A fault names an op (a slot of bk_store_ops: "run_commit",
 * "runs_enqueue", ... or NULL for any op) and which of its calls fail,
 * counted from when the fault was set: the nth (1-based), and the count - 1
 * after it (count -1: every one from the nth on). Calls from any thread.
 */
#ifndef BK_TEST_STORE_FAIL_H
#define BK_TEST_STORE_FAIL_H

#include "store/store.h"

typedef struct store_fail store_fail;

/* Wrap s (open; its calls succeed until a fault is set). The wrapper lives
 * as long as s: bk_store_close(s) frees it. */
store_fail *store_fail_wrap(bk_store *s);

/* Fail the nth call of op (NULL: of any op) from now on, and count - 1 more
 * (count -1: every later one), with code and msg. Replaces the fault set
 * before, if any. */
void store_fail_set(store_fail *f, const char *op, int nth, int count, int code, const char *msg);
/* No fault: every call reaches the backend again. */
void store_fail_clear(store_fail *f);

/* Calls of op (NULL: of any op) since the wrap, and how many of them failed. */
int store_fail_calls(store_fail *f, const char *op);
int store_fail_failed(store_fail *f, const char *op);

#endif
