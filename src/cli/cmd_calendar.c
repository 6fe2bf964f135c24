/*
 * cmd_calendar.c — `barkeep calendar`: market sessions in UTC.
 */
#include "cal/cal.h"
#include "cli/cli.h"
#include "core/clock.h"
#include "json/jw.h"
#include "model/time.h"

#include <stdio.h>
#include <string.h>

static const char calendar_usage[] =
    "usage: barkeep calendar [--from DATE] [--to DATE] [--extended] [--format csv|json]\n"
    "\n"
    "NYSE/Nasdaq sessions for New York trading dates from..to (inclusive; default:\n"
    "today and the next 30 days), with the regular open and close in UTC, early\n"
    "closes marked; --extended adds the 04:00-20:00 extended-hours bounds.\n";

static int parse_date_arg(const char *what, const char *s, int32_t *out)
{
    if (bk_date_parse(s, out) != 0)
        return bk_cli_usage_error("invalid %s '%s' (a date like 2024-06-03)", what, s);
    return 0;
}

static void session_json(bk_jw *w, const bk_session *ss, bool extended)
{
    char d[16];
    bk_jw_obj_begin(w);
    bk_jw_key(w, "date");
    bk_jw_str(w, bk_date_format(ss->day, d));
    bk_jw_key(w, "open");
    bk_jw_time(w, ss->open_us);
    bk_jw_key(w, "close");
    bk_jw_time(w, ss->close_us);
    bk_jw_key(w, "early_close");
    bk_jw_bool(w, ss->early_close);
    if (extended) {
        bk_jw_key(w, "pre");
        bk_jw_time(w, ss->pre_us);
        bk_jw_key(w, "post");
        bk_jw_time(w, ss->post_us);
    }
    bk_jw_obj_end(w);
}

int bk_cmd_calendar(bk_cli *cli, int argc, char **argv)
{
    (void)cli;
    const char *from_s = NULL, *to_s = NULL, *format = "csv", *pos[1];
    bool extended = false;
    int n_pos, rc;
    bk_opt opts[] = {{"--from", true, &from_s, NULL},
                     {"--to", true, &to_s, NULL},
                     {"--format", true, &format, NULL},
                     {"--extended", false, NULL, &extended},
                     {NULL, false, NULL, NULL}};
    if ((rc = bk_cli_parse(argc - 1, argv + 1, opts, pos, 0, &n_pos, calendar_usage)) != 0)
        return rc < 0 ? 0 : rc;
    int32_t from = bk_cal_ny_day(bk_clock_now_us()), to;
    if (from_s && parse_date_arg("--from", from_s, &from))
        return BK_EXIT_USAGE;
    to = from + 30;
    if (to_s && parse_date_arg("--to", to_s, &to))
        return BK_EXIT_USAGE;
    if (to < from)
        return bk_cli_usage_error("--to %s is before --from", to_s);
    if (to - from > 366 * 120)
        return bk_cli_usage_error("range too long (at most 120 years)");
    bool json = strcmp(format, "json") == 0;
    if (!json && strcmp(format, "csv") != 0)
        return bk_cli_usage_error("invalid format '%s' (csv or json)", format);
    bk_buf b;
    bk_buf_init(&b);
    bk_jw w;
    bk_jw_init(&w, &b);
    if (json)
        bk_jw_arr_begin(&w);
    else
        printf("date,open,close,early_close%s\n", extended ? ",pre,post" : "");
    for (int32_t day = from; day <= to; day++) {
        bk_session ss;
        if (!bk_cal_session(day, &ss))
            continue;
        if (json) {
            session_json(&w, &ss, extended);
            continue;
        }
        char d[16], o[BK_TIME_STR_MAX], c[BK_TIME_STR_MAX], p[BK_TIME_STR_MAX], q[BK_TIME_STR_MAX];
        printf("%s,%s,%s,%s", bk_date_format(day, d), bk_time_format(ss.open_us, o),
               bk_time_format(ss.close_us, c), ss.early_close ? "true" : "false");
        if (extended)
            printf(",%s,%s", bk_time_format(ss.pre_us, p), bk_time_format(ss.post_us, q));
        putchar('\n');
    }
    if (json) {
        bk_jw_arr_end(&w);
        printf("%s\n", b.data);
    }
    bk_buf_fini(&b);
    return 0;
}
