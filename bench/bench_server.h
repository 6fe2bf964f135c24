/*
 * bench_server.h — start and stop the real barkeep binary for the HTTP
 * benchmarks: a free loopback port (port_file), output to DIR/serve.log.
 */
#ifndef BK_BENCH_SERVER_H
#define BK_BENCH_SERVER_H

#include <sys/types.h>

typedef struct bench_server {
    pid_t pid;
    int port;
} bench_server;

/* Run `bin --db db GLOBAL... --set port_file=DIR/port --set
 * listen=127.0.0.1:0 --log-level warn serve SERVE_ARGS...` and wait (20 s at
 * most) for its port; both lists are NULL-terminated. Exits the process on
 * failure. */
void bench_server_start(bench_server *sv, const char *bin, const char *db, const char *dir,
                        const char *const global[], const char *const serve_args[]);
/* The barkeep binary next to the build's bench/ directory. */
void bench_default_bin(char *out, size_t cap);
/* SIGTERM, wait up to 10 s, then SIGKILL. */
void bench_server_stop(bench_server *sv);

#endif
