/*
 * bench_pgcpu.c — CPU seconds a local PostgreSQL server has used so far (its
 * postmaster and every child, see bench_cpu.h), for scripts that measure
 * before and after: prints one number, or "-1" when unknown.
 *
 * usage: bench_pgcpu URL
 */
#include <stdio.h>

#include "bench_cpu.h"

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: bench_pgcpu URL\n");
        return 2;
    }
    printf("%.2f\n", bk_bench_pg_cpu_s(bk_bench_pg_postmaster(argv[1])));
    return 0;
}
