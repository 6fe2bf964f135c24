/*
 * test_keyfile.c — the reader of NAME=VALUE secret files: owner-only mode,
 * comments and "export ", malformed and overlong lines, the callback's error.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/keyfile.h"
#include "testutil.h"

typedef struct seen {
    char text[512];
    int n;
} seen;

static int collect(void *ctx, const char *name, const char *value, int lineno, bk_err *err)
{
    seen *s = ctx;
    if (strcmp(name, "STOP") == 0)
        return bk_err_set(err, BK_EINVAL, "stopped at line %d", lineno);
    size_t off = strlen(s->text);
    snprintf(s->text + off, sizeof s->text - off, "%d:%s=%s;", lineno, name, value);
    s->n++;
    return 0;
}

/* Write text to a fresh file of mode in the test directory. */
static char *file_of(const char *dir, const char *name, const char *text, mode_t mode)
{
    char *path = bk_t_path(dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    chmod(path, mode);
    return path;
}

static void t_keyfile(void **state)
{
    (void)state;
    char *dir = bk_t_tmpdir("keyfile");
    bk_err err = {0};
    seen s = {0};

    char *ok = file_of(dir, "ok", "# a comment\n\n  A=1\r\nexport B=x=y\nC=\n", 0600);
    assert_int_equal(bk_keyfile_read(ok, "keys file", collect, &s, &err), 0);
    assert_string_equal(s.text, "3:A=1;4:B=x=y;5:C=;");

    memset(&s, 0, sizeof s);
    char *open_mode = file_of(dir, "open", "A=1\n", 0640);
    assert_int_equal(bk_keyfile_read(open_mode, "keys file", collect, &s, &err), BK_EINVAL);
    assert_non_null(strstr(err.msg, "must not be accessible by group or others (chmod 600)"));
    assert_int_equal(s.n, 0); /* nothing read from it */

    char *bad = file_of(dir, "bad", "A=1\n=2\n", 0600);
    assert_int_equal(bk_keyfile_read(bad, "keys file", collect, &s, &err), BK_EINVAL);
    assert_non_null(strstr(err.msg, "line 2: expected NAME=VALUE"));

    char *stop = file_of(dir, "stop", "STOP=1\nA=2\n", 0600);
    memset(&s, 0, sizeof s);
    assert_int_equal(bk_keyfile_read(stop, "keys file", collect, &s, &err), BK_EINVAL);
    assert_string_equal(err.msg, "stopped at line 1");
    assert_int_equal(s.n, 0);

    char *long_text = malloc(BK_KEYFILE_LINE_MAX + 16);
    memset(long_text, 'k', BK_KEYFILE_LINE_MAX + 8);
    memcpy(long_text, "K=", 2);
    strcpy(long_text + BK_KEYFILE_LINE_MAX + 8, "\n");
    char *overlong = file_of(dir, "long", long_text, 0600);
    assert_int_equal(bk_keyfile_read(overlong, "keys file", collect, &s, &err), BK_EINVAL);
    assert_non_null(strstr(err.msg, "line 1: longer than"));

    char *missing = bk_t_path(dir, "missing");
    assert_int_equal(bk_keyfile_read(missing, "provider keys file", collect, &s, &err), BK_EINVAL);
    assert_non_null(strstr(err.msg, "cannot read provider keys file"));

    free(long_text);
    free(ok);
    free(open_mode);
    free(bad);
    free(stop);
    free(overlong);
    free(missing);
    bk_t_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(t_keyfile)};
    return cmocka_run_group_tests_name("keyfile", tests, NULL, NULL);
}
