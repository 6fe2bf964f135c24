/*
 * cmd_keys.c — `barkeep keys jwt`: mint a key as Supabase issues them, an
 * HS256 JWT signed with the configured JWT secret (BARKEEP_JWT_SECRET or
 * jwt_secret= in keys_file), for apps that take an anon or service_role
 * key. The secret is read as `serve` reads it and wiped after use.
 */
#include "api/api.h"
#include "api/jwt.h"
#include "cli/cli.h"
#include "core/clock.h"

#include <stdio.h>
#include <string.h>

static const char keys_usage[] =
    "usage: barkeep keys jwt --role anon|authenticated|service_role [--days N]\n"
    "\n"
    "Print an HS256 JWT of that role, valid N days from now (default 3650), signed\n"
    "with the JWT secret serve uses (BARKEEP_JWT_SECRET or jwt_secret= in the\n"
    "keys_file). Role service_role has service rights, the others anon rights.\n";

int bk_cmd_keys(bk_cli *cli, int argc, char **argv)
{
    const char *role = NULL, *days_s = "3650", *pos[1];
    int n_pos, rc;
    bk_opt opts[] = {
        {"--role", true, &role, NULL}, {"--days", true, &days_s, NULL}, {NULL, false, NULL, NULL}};
    if ((rc = bk_cli_parse(argc - 1, argv + 1, opts, pos, 1, &n_pos, keys_usage)) != 0)
        return rc < 0 ? 0 : rc;
    if (n_pos != 1 || strcmp(pos[0], "jwt") != 0)
        return bk_cli_usage_error("expected 'keys jwt' (see barkeep keys --help)");
    if (!role || (strcmp(role, "anon") != 0 && strcmp(role, "authenticated") != 0 &&
                  strcmp(role, "service_role") != 0))
        return bk_cli_usage_error("--role must be anon, authenticated or service_role");
    int64_t days;
    if (bk_parse_i64(days_s, 1, 36500, &days) != 0)
        return bk_cli_usage_error("invalid --days '%s' (1 to 36500)", days_s);
    bk_api_opts ko;
    memset(&ko, 0, sizeof ko);
    bk_err err = {0};
    rc = bk_api_load_keys(&cli->conf, &ko, &err);
    explicit_bzero(ko.service_key, sizeof ko.service_key);
    explicit_bzero(ko.anon_key, sizeof ko.anon_key);
    if (rc == 0 && !ko.jwt_secret[0])
        rc = bk_err_set(&err, BK_EINVAL,
                        "no JWT secret: set BARKEEP_JWT_SECRET or jwt_secret= in "
                        "the keys_file");
    if (rc) {
        explicit_bzero(ko.jwt_secret, sizeof ko.jwt_secret);
        return bk_cli_usage_error("%s", err.msg);
    }
    int64_t now_s = bk_clock_now_us() / BK_US_PER_S;
    char payload[160];
    snprintf(payload, sizeof payload,
             "{\"iss\":\"barkeep\",\"role\":\"%s\",\"iat\":%lld,\"exp\":%lld}", role,
             (long long)now_s, (long long)(now_s + days * 86400));
    bk_buf b;
    bk_buf_init(&b);
    bk_jwt_sign(&b, NULL, payload, ko.jwt_secret, strlen(ko.jwt_secret));
    explicit_bzero(ko.jwt_secret, sizeof ko.jwt_secret);
    printf("%s\n", b.data);
    bk_buf_fini(&b);
    return 0;
}
