/*
 * keyfile.c — reading NAME=VALUE files of secrets (keyfile.h). The mode is
 * checked on the open descriptor (fstat), so the file checked is the file
 * read; every line buffer is wiped before it is released.
 */
#include "core/keyfile.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

/* One line (without its end): a usage error, a skipped line or fn's call. */
static int one_line(char *line, const char *path, int lineno, bk_keyfile_fn fn, void *ctx,
                    bk_err *err)
{
    char *p = line + strspn(line, " \t");
    if (*p == '#' || *p == '\0')
        return 0;
    if (strncmp(p, "export ", 7) == 0)
        p += 7;
    char *eq = strchr(p, '=');
    if (!eq || eq == p)
        return bk_err_set(err, BK_EINVAL, "%s line %d: expected NAME=VALUE", path, lineno);
    *eq = '\0';
    return fn(ctx, p, eq + 1, lineno, err);
}

int bk_keyfile_read(const char *path, const char *role, bk_keyfile_fn fn, void *ctx, bk_err *err)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return bk_err_set(err, BK_EINVAL, "cannot read %s %s", role, path);
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || (st.st_mode & (S_IRWXG | S_IRWXO))) {
        fclose(f);
        return bk_err_set(err, BK_EINVAL,
                          "%s %s must not be accessible by group or others (chmod 600)", role,
                          path);
    }
    setvbuf(f, NULL, _IONBF, 0); /* no copy of the secrets in stdio's buffer */
    char line[BK_KEYFILE_LINE_MAX + 2];
    int lineno = 0, rc = 0;
    while (rc == 0 && fgets(line, sizeof line, f)) {
        lineno++;
        size_t n = strcspn(line, "\r\n");
        if (line[n] == '\0' && !feof(f)) {
            rc = bk_err_set(err, BK_EINVAL, "%s line %d: longer than %d bytes", path, lineno,
                            BK_KEYFILE_LINE_MAX);
            break;
        }
        line[n] = '\0';
        rc = one_line(line, path, lineno, fn, ctx, err);
    }
    explicit_bzero(line, sizeof line);
    fclose(f);
    return rc;
}
