/*
 * bench_server.c — see bench_server.h.
 */
#include "bench_server.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/util.h"

extern char **environ;

void bench_server_start(bench_server *sv, const char *bin, const char *db, const char *dir,
                        const char *const global[], const char *const serve_args[])
{
    char pf[1200], portf[1100], log[1100];
    snprintf(portf, sizeof portf, "%s/port", dir);
    snprintf(pf, sizeof pf, "port_file=%s", portf);
    snprintf(log, sizeof log, "%s/serve.log", dir);
    unlink(portf);
    const char *argv[64];
    size_t n = 0;
    const char *head[] = {bin, "--db", db};
    for (size_t i = 0; i < BK_ARRAY_LEN(head); i++)
        argv[n++] = head[i];
    for (size_t i = 0; global && global[i] && n < 40; i++)
        argv[n++] = global[i];
    const char *mid[] = {"--set",       pf,     "--set", "listen=127.0.0.1:0",
                         "--log-level", "warn", "serve"};
    for (size_t i = 0; i < BK_ARRAY_LEN(mid); i++)
        argv[n++] = mid[i];
    for (size_t i = 0; serve_args && serve_args[i] && n < 62; i++)
        argv[n++] = serve_args[i];
    argv[n] = NULL;
    char *copy[64];
    for (size_t i = 0; i <= n; i++)
        copy[i] = argv[i] ? bk_xstrdup(argv[i]) : NULL;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    int rc = posix_spawn(&sv->pid, bin, &fa, NULL, copy, environ);
    posix_spawn_file_actions_destroy(&fa);
    for (size_t i = 0; i < n; i++)
        free(copy[i]);
    if (rc != 0) {
        fprintf(stderr, "bench: cannot start %s: %s\n", bin, strerror(rc));
        exit(1);
    }
    int64_t deadline = bk_clock_mono_us() + 20 * BK_US_PER_S;
    while (bk_clock_mono_us() < deadline) {
        FILE *f = fopen(portf, "r");
        if (f) {
            int ok = fscanf(f, "%d", &sv->port) == 1;
            fclose(f);
            if (ok && sv->port > 0)
                return;
        }
        bk_sleep_us(10 * BK_US_PER_MS);
    }
    kill(sv->pid, SIGKILL);
    fprintf(stderr, "bench: serve did not start; see %s\n", log);
    exit(1);
}

void bench_server_stop(bench_server *sv)
{
    kill(sv->pid, SIGTERM);
    for (int i = 0; i < 500; i++) { /* 10 s at most */
        if (waitpid(sv->pid, NULL, WNOHANG) == sv->pid)
            return;
        bk_sleep_us(20 * BK_US_PER_MS);
    }
    kill(sv->pid, SIGKILL);
    waitpid(sv->pid, NULL, 0);
}

void bench_default_bin(char *out, size_t cap)
{
    char self[1000];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) {
        fprintf(stderr, "bench: cannot read /proc/self/exe\n");
        exit(1);
    }
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    if (slash)
        *slash = '\0';
    snprintf(out, cap, "%.1000s/../barkeep", self);
}
