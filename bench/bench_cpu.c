/*
 * bench_cpu.c — CPU time of a local PostgreSQL server. See bench_cpu.h.
 */
#include "bench_cpu.h"
#include "core/util.h"

#include <dirent.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

long bk_bench_pg_postmaster(const char *url)
{
    long pid = -1;
    PGconn *c = PQconnectdb(url);
    PGresult *r = PQexec(c, "SHOW data_directory");
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
        char path[1024];
        snprintf(path, sizeof path, "%s/postmaster.pid", PQgetvalue(r, 0, 0));
        FILE *f = fopen(path, "r");
        if (f) {
            if (fscanf(f, "%ld", &pid) != 1)
                pid = -1;
            fclose(f);
        }
    }
    PQclear(r);
    PQfinish(c);
    return pid;
}

/* utime + stime (+ cutime + cstime with children) of pid in clock ticks, and
 * its parent; -1 if unreadable. */
static long long proc_ticks(long pid, bool children, long *ppid)
{
    char buf[1024];
    const char *p = bk_proc_stat(pid, buf, sizeof buf);
    long long v[15] = {0};
    if (!p || sscanf(p, "%*c %lld %*d %*d %*d %*d %*u %*u %*u %*u %*u %lld %lld %lld %lld", &v[0],
                     &v[1], &v[2], &v[3], &v[4]) != 5)
        return -1;
    *ppid = (long)v[0];
    return v[1] + v[2] + (children ? v[3] + v[4] : 0);
}

double bk_bench_pg_cpu_s(long postmaster)
{
    long ppid;
    if (postmaster <= 0)
        return -1;
    long long t = proc_ticks(postmaster, true, &ppid);
    DIR *d = t >= 0 ? opendir("/proc") : NULL;
    if (!d)
        return -1;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        long pid = strtol(e->d_name, NULL, 10);
        long long c = pid > 0 ? proc_ticks(pid, false, &ppid) : -1;
        if (c >= 0 && ppid == postmaster)
            t += c;
    }
    closedir(d);
    return (double)t / (double)sysconf(_SC_CLK_TCK);
}
