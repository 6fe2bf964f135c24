/*
 * test_tf_sym.c — timeframe names and aliases (model/tf.c) and symbol
 * validation and normalisation (model/sym.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/clock.h"
#include "core/err.h"
#include "model/sym.h"
#include "model/tf.h"

typedef struct tf_case {
    const char *text;
    bk_tf tf;
} tf_case;

static const tf_case tf_cases[] = {
    {"1m", BK_TF_1M}, {"5m", BK_TF_5M},   {"15m", BK_TF_15M}, {"30m", BK_TF_30M},
    {"1h", BK_TF_1H}, {"4h", BK_TF_4H},   {"d1", BK_TF_D1},   {"w1", BK_TF_W1},
    {"m1", BK_TF_1M}, {"m5", BK_TF_5M},   {"m15", BK_TF_15M}, {"m30", BK_TF_30M},
    {"h1", BK_TF_1H}, {"h4", BK_TF_4H},   {"1d", BK_TF_D1},   {"1w", BK_TF_W1},
    {"1M", BK_TF_1M}, {"M15", BK_TF_15M}, {"1H", BK_TF_1H},   {"H4", BK_TF_4H},
    {"D1", BK_TF_D1}, {"1D", BK_TF_D1},   {"W1", BK_TF_W1},   {"1W", BK_TF_W1},
};

static void test_tf_parse(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof tf_cases / sizeof tf_cases[0]; i++) {
        bk_tf tf = BK_TF__N;
        if (bk_tf_parse(tf_cases[i].text, &tf) != 0 || tf != tf_cases[i].tf)
            fail_msg("\"%s\" parsed as %d", tf_cases[i].text, (int)tf);
    }
}

static void test_tf_names(void **state)
{
    (void)state;
    const char *canon[BK_TF__N] = {"1m", "5m", "15m", "30m", "1h", "4h", "d1", "w1"};
    for (int i = 0; i < BK_TF__N; i++) {
        assert_string_equal(bk_tf_name((bk_tf)i), canon[i]);
        bk_tf back;
        assert_int_equal(bk_tf_parse(bk_tf_name((bk_tf)i), &back), 0);
        assert_int_equal(back, i);
        assert_int_equal(bk_tf_intraday((bk_tf)i), i < BK_TF_D1);
    }
    assert_string_equal(bk_tf_name(BK_TF__N), "?");
    assert_int_equal(bk_tf_step_us(BK_TF__N), 0);
}

static void test_tf_steps(void **state)
{
    (void)state;
    assert_int_equal(bk_tf_step_us(BK_TF_1M), BK_US_PER_MIN);
    assert_int_equal(bk_tf_step_us(BK_TF_5M), 5 * BK_US_PER_MIN);
    assert_int_equal(bk_tf_step_us(BK_TF_15M), 15 * BK_US_PER_MIN);
    assert_int_equal(bk_tf_step_us(BK_TF_30M), 30 * BK_US_PER_MIN);
    assert_int_equal(bk_tf_step_us(BK_TF_1H), BK_US_PER_HOUR);
    assert_int_equal(bk_tf_step_us(BK_TF_4H), 4 * BK_US_PER_HOUR);
    assert_int_equal(bk_tf_step_us(BK_TF_D1), BK_US_PER_DAY);
    assert_int_equal(bk_tf_step_us(BK_TF_W1), 7 * BK_US_PER_DAY);
}

static void test_tf_rejects(void **state)
{
    (void)state;
    const char *bad[] = {"2h",  "",    "1",  "m",    "3m", "60m", "1h ", " 1h", "d",    "w2",
                         "1mo", "mn1", "1y", "d1\n", "h",  "1 h", "m01", "15",  "daily"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        bk_tf tf = BK_TF__N;
        if (bk_tf_parse(bad[i], &tf) != BK_EINVAL || tf != BK_TF__N)
            fail_msg("accepted \"%s\"", bad[i]);
    }
    bk_tf tf = BK_TF__N;
    assert_int_equal(bk_tf_parse(NULL, &tf), BK_EINVAL);
    assert_int_equal(tf, BK_TF__N);
}

static void expect_sym(const char *in, const char *want)
{
    char out[BK_SYM_MAX + 1];
    memset(out, 'x', sizeof out);
    if (bk_sym_parse(in, out) != 0)
        fail_msg("rejected \"%s\"", in);
    assert_string_equal(out, want);
}

static void test_sym_valid(void **state)
{
    (void)state;
    expect_sym("AAPL", "AAPL");
    expect_sym("BRK.B", "BRK.B");
    expect_sym("^GSPC", "^GSPC");
    expect_sym("EURUSD=X", "EURUSD=X");
    expect_sym("BTC/USD", "BTC/USD");
    expect_sym("BTC-USD", "BTC-USD");
    expect_sym("7203.T", "7203.T");
    expect_sym("A", "A");
    expect_sym("aapl", "AAPL");
    expect_sym("brk.b", "BRK.B");
    expect_sym("eurUsd=x", "EURUSD=X");
    expect_sym("ABCDEFGHIJKLMNOPQRST", "ABCDEFGHIJKLMNOPQRST"); /* 20 characters */
    expect_sym("abcdefghij0123456789", "ABCDEFGHIJ0123456789");
}

static void test_sym_rejects(void **state)
{
    (void)state;
    const char *bad[] = {"",           "ABCDEFGHIJKLMNOPQRSTU",
                         " AAPL",      "AAPL ",
                         "BRK B",      "A\tB",
                         "A\nB",       "AAPL!",
                         "A_B",        "A,B",
                         "A:B",        "A*B",
                         "A@B",        "$SPX",
                         "\xc3\x84PL", "\xe2\x82\xac",
                         "AAPL\xff",   "(A)",
                         "A+B",        "A\\B",
                         ".",          "..",
                         "...",        "^/",
                         "-",          "=./"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char out[BK_SYM_MAX + 1];
        memset(out, 'x', sizeof out);
        if (bk_sym_parse(bad[i], out) != BK_EINVAL)
            fail_msg("accepted \"%s\"", bad[i]);
        assert_string_equal(out, "");
    }
    char out[BK_SYM_MAX + 1] = "x";
    assert_int_equal(bk_sym_parse(NULL, out), BK_EINVAL);
    assert_string_equal(out, "");
}

/* A normalised symbol is a fixed point of bk_sym_parse. */
static void test_sym_idempotent(void **state)
{
    (void)state;
    const char *in[] = {"aapl", "brk.b", "^gspc", "eurusd=x", "btc/usd", "Msft"};
    for (size_t i = 0; i < sizeof in / sizeof in[0]; i++) {
        char once[BK_SYM_MAX + 1], twice[BK_SYM_MAX + 1];
        assert_int_equal(bk_sym_parse(in[i], once), 0);
        assert_int_equal(bk_sym_parse(once, twice), 0);
        assert_string_equal(once, twice);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tf_parse),       cmocka_unit_test(test_tf_names),
        cmocka_unit_test(test_tf_steps),       cmocka_unit_test(test_tf_rejects),
        cmocka_unit_test(test_sym_valid),      cmocka_unit_test(test_sym_rejects),
        cmocka_unit_test(test_sym_idempotent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
