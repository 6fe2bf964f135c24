/*
 * bench_cpu.h — CPU time of a local PostgreSQL server for the benchmarks:
 * its postmaster (the first line of postmaster.pid in its data directory)
 * with every child, live (utime + stime) or reaped (cutime + cstime), read
 * from /proc. Only for a server on this machine whose data directory is
 * readable; else unknown (-1).
 */
#ifndef BK_BENCH_CPU_H
#define BK_BENCH_CPU_H

/* The postmaster's pid of the server at url, or -1. */
long bk_bench_pg_postmaster(const char *url);
/* CPU seconds of that postmaster and its children so far, or -1. */
double bk_bench_pg_cpu_s(long postmaster);

#endif
