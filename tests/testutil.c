/*
 * testutil.c — temporary directories and subprocesses for the test suites.
 */
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

char *bk_t_tmpdir(const char *tag)
{
    const char *base = getenv("TMPDIR");
    if (!base || !*base)
        base = "/tmp";
    size_t n = strlen(base) + strlen(tag) + 32;
    char *p = malloc(n);
    snprintf(p, n, "%s/bk-%s-XXXXXX", base, tag);
    if (!mkdtemp(p)) {
        perror("mkdtemp");
        abort();
    }
    return p;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void bk_t_rmtree(const char *path)
{
    if (path)
        nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

char *bk_t_path(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}

const char *bk_t_bin(void)
{
    const char *b = getenv("BARKEEP_BIN");
    return b && *b ? b : "./barkeep";
}

const char *bk_t_now_or(const char *dflt)
{
    const char *t = getenv("BK_TEST_NOW");
    return t && *t ? t : dflt;
}

int bk_t_rounds(int fast, int slow)
{
    const char *v = getenv("BK_TEST_SLOW");
    return v && *v && strcmp(v, "0") != 0 ? slow : fast;
}

const char *bk_t_now(void)
{
    return bk_t_now_or(BK_T_DEFAULT_NOW);
}

static char *slurp_fd(int fd)
{
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (n + 1 >= cap) {
            cap *= 2;
            buf = realloc(buf, cap);
        }
        ssize_t k = read(fd, buf + n, cap - n - 1);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        n += (size_t)k;
    }
    buf[n] = '\0';
    return buf;
}

/* What a child execs, built before fork: after fork in a process with
 * threads (fixture servers, worker pools) the child may only make
 * async-signal-safe calls — a malloc there can wait forever for a lock a
 * vanished thread held. */
typedef struct exec_plan {
    char **args; /* argv, copied */
    char **envp; /* environ with env's entries replacing or adding */
} exec_plan;

extern char **environ;

static bool has_var(const char *const *list, size_t n, const char *name)
{
    size_t len = strlen(name);
    for (size_t i = 0; i < n; i++)
        if (strncmp(list[i], name, len) == 0 && list[i][len] == '=')
            return true;
    return false;
}

static exec_plan plan_exec(const char *const argv[], const char *const env[])
{
    exec_plan x;
    size_t n = 0, ne = 0, nx = 0;
    while (argv[n])
        n++;
    while (environ && environ[ne])
        ne++;
    while (env && env[nx])
        nx++;
    x.args = calloc(n + 1, sizeof *x.args);
    for (size_t i = 0; i < n; i++)
        x.args[i] = strdup(argv[i]);
    x.envp = calloc(ne + nx + 2, sizeof *x.envp);
    size_t k = 0;
    for (size_t i = 0; i < ne; i++) {
        size_t klen = strcspn(environ[i], "=");
        bool replaced = false;
        for (size_t j = 0; j < nx && !replaced; j++)
            replaced = strncmp(env[j], environ[i], klen) == 0 && env[j][klen] == '=';
        if (!replaced)
            x.envp[k++] = strdup(environ[i]);
    }
    for (size_t j = 0; j < nx; j++)
        x.envp[k++] = strdup(env[j]);
    if (!has_var((const char *const *)x.envp, k, "BARKEEP_NOW")) {
        size_t len = strlen("BARKEEP_NOW=") + strlen(bk_t_now()) + 1;
        x.envp[k] = malloc(len);
        snprintf(x.envp[k], len, "BARKEEP_NOW=%s", bk_t_now());
    }
    return x;
}

static void plan_free(exec_plan *x)
{
    for (size_t i = 0; x->args[i]; i++)
        free(x->args[i]);
    for (size_t i = 0; x->envp[i]; i++)
        free(x->envp[i]);
    free(x->args);
    free(x->envp);
}

/* In the child: exec (async-signal-safe calls only). */
static void exec_child(const exec_plan *x)
{
    execve(x->args[0], x->args, x->envp);
    _exit(127);
}

static int decode_status(int st)
{
    if (WIFEXITED(st))
        return WEXITSTATUS(st);
    if (WIFSIGNALED(st))
        return 128 + WTERMSIG(st);
    return -1;
}

int bk_t_pg_reset(const char *url, char *msg, size_t cap)
{
    const char *argv[] = {"/usr/bin/psql",
                          "-q",
                          "-v",
                          "ON_ERROR_STOP=1",
                          url,
                          "-c",
                          "DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public",
                          NULL};
    bk_t_result r = bk_t_run(argv, NULL);
    int rc = r.status == 0 ? 0 : -1;
    if (rc)
        snprintf(msg, cap, "%s", r.err ? r.err : "");
    bk_t_result_free(&r);
    return rc;
}

bk_t_result bk_t_run(const char *const argv[], const char *const env[])
{
    bk_t_result r = {0};
    char tmpl_out[] = "/tmp/bk-out-XXXXXX", tmpl_err[] = "/tmp/bk-err-XXXXXX";
    int fo = mkstemp(tmpl_out), fe = mkstemp(tmpl_err);
    unlink(tmpl_out);
    unlink(tmpl_err);
    exec_plan x = plan_exec(argv, env);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fo, 1);
        dup2(fe, 2);
        int devnull = open("/dev/null", O_RDONLY);
        dup2(devnull, 0);
        exec_child(&x);
    }
    plan_free(&x);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    r.status = decode_status(st);
    lseek(fo, 0, SEEK_SET);
    lseek(fe, 0, SEEK_SET);
    r.out = slurp_fd(fo);
    r.err = slurp_fd(fe);
    close(fo);
    close(fe);
    return r;
}

void bk_t_result_free(bk_t_result *r)
{
    free(r->out);
    free(r->err);
    r->out = r->err = NULL;
}

static pid_t g_children[64];
static int g_n_children;

static void forget_child(pid_t pid)
{
    for (int i = 0; i < g_n_children; i++)
        if (g_children[i] == pid)
            g_children[i] = g_children[--g_n_children];
}

void bk_t_kill_all(void)
{
    while (g_n_children > 0) {
        pid_t pid = g_children[--g_n_children];
        kill(pid, SIGKILL);
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
            ;
    }
}

pid_t bk_t_spawn(const char *const argv[], const char *const env[], const char *log_path)
{
    static int registered;
    if (!registered)
        registered = atexit(bk_t_kill_all) == 0;
    exec_plan x = plan_exec(argv, env);
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
        dup2(fd, 1);
        dup2(fd, 2);
        int devnull = open("/dev/null", O_RDONLY);
        dup2(devnull, 0);
        exec_child(&x);
    }
    plan_free(&x);
    if (pid > 0 && g_n_children < (int)(sizeof g_children / sizeof g_children[0]))
        g_children[g_n_children++] = pid;
    return pid;
}

int bk_t_wait(pid_t pid)
{
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    forget_child(pid);
    return decode_status(st);
}
