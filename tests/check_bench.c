/*
 * check_bench.c — the `tessera bench` harness (bench/harness.h): statistics of known samples
 * against values worked out by hand, the stop rule (minimum count AND minimum time, caps), the
 * noise flag, and failure handling. A fake clock makes every count exact; nothing here is timed.
 */
#include "bench/harness.h"
#include "test_support.h"

#include <math.h>
#include <stdlib.h>

START_TEST(test_stats_known_samples) {
    /* 2, 4, 4, 4, 5, 5, 7, 9: mean 5, sum of squared deviations 32, sample variance 32/7. */
    const double s[8] = {9, 4, 2, 5, 4, 7, 4, 5};
    struct tsr_bench_stats st;
    ck_assert_int_eq(tsr_bench_stats_compute(s, 8, &st), 0);
    ck_assert_int_eq(st.n, 8);
    ck_assert_double_eq_tol(st.median_ms, 4.5, 1e-12); /* (4 + 5) / 2 */
    ck_assert_double_eq_tol(st.min_ms, 2, 1e-12);
    ck_assert_double_eq_tol(st.max_ms, 9, 1e-12);
    ck_assert_double_eq_tol(st.mean_ms, 5, 1e-12);
    ck_assert_double_eq_tol(st.stddev_ms, sqrt(32.0 / 7.0), 1e-12);
    ck_assert_double_eq_tol(st.cv, sqrt(32.0 / 7.0) / 5.0, 1e-12);
    /* The input is not reordered. */
    ck_assert_double_eq(s[0], 9);
}
END_TEST

START_TEST(test_stats_odd_single_empty) {
    const double s[3] = {3, 1, 2};
    struct tsr_bench_stats st;
    ck_assert_int_eq(tsr_bench_stats_compute(s, 3, &st), 0);
    ck_assert_double_eq_tol(st.median_ms, 2, 1e-12);
    ck_assert_double_eq_tol(st.stddev_ms, 1, 1e-12); /* deviations -1, 0, 1: 2 / (3 - 1) */
    const double one = 7;
    ck_assert_int_eq(tsr_bench_stats_compute(&one, 1, &st), 0);
    ck_assert_double_eq(st.median_ms, 7);
    ck_assert_double_eq(st.stddev_ms, 0);
    ck_assert_double_eq(st.cv, 0);
    ck_assert_int_eq(tsr_bench_stats_compute(NULL, 0, &st), 0);
    ck_assert_int_eq(st.n, 0);
    ck_assert_double_eq(st.median_ms, 0);
}
END_TEST

START_TEST(test_stop_rule) {
    struct tsr_bench_config c = {
        .min_iters = 5, .min_time_ns = 1000, .max_iters = 20, .max_time_ns = 100000};
    ck_assert(!tsr_bench_should_stop(&c, 4, 5000));  /* time reached, count not */
    ck_assert(!tsr_bench_should_stop(&c, 10, 999));  /* count reached, time not */
    ck_assert(tsr_bench_should_stop(&c, 5, 1000));   /* both */
    ck_assert(tsr_bench_should_stop(&c, 20, 10));    /* iteration cap */
    ck_assert(tsr_bench_should_stop(&c, 3, 100000)); /* time cap once 3 samples exist */
    ck_assert(!tsr_bench_should_stop(&c, 2, 200000));
}
END_TEST

/* Fake clock: each reading advances by *step ns. */
static uint64_t fake_clock(void *arg) {
    uint64_t *t = arg;
    t[0] += t[1];
    return t[0];
}

struct counter {
    int calls;
    int fail_at; /* 0 = never */
    double dev;  /* device time to report; < 0 none */
};

static int counting_fn(void *arg, double *device_ms) {
    struct counter *c = arg;
    c->calls++;
    if (c->fail_at && c->calls == c->fail_at) return 1;
    if (c->dev >= 0) *device_ms = c->dev;
    return 0;
}

START_TEST(test_measure_min_time_dominates) {
    /* Each call reads the clock twice, 1 ms apart: a call takes 1 ms. min 3 calls, 10 ms. */
    uint64_t clk[2] = {0, 1000000};
    struct tsr_bench_config c = {.warmup = 2,
                                 .min_iters = 3,
                                 .min_time_ns = 10000000,
                                 .cv_threshold = 0.1,
                                 .clock_ns = fake_clock,
                                 .clock_arg = clk};
    struct counter k = {0, 0, 0.25};
    struct tsr_bench_result r;
    ck_assert_int_eq(tsr_bench_measure(&c, counting_fn, &k, &r), 0);
    ck_assert_int_eq(r.n_samples, 10);
    ck_assert_int_eq(k.calls, 12); /* + 2 warm-ups */
    ck_assert_int_eq(r.n_dev, 10);
    ck_assert_double_eq_tol(r.host.median_ms, 1.0, 1e-12);
    ck_assert_double_eq_tol(r.dev.median_ms, 0.25, 1e-12);
    ck_assert_double_eq_tol(r.host.cv, 0, 1e-12);
    ck_assert_int_eq(r.noisy, 0);
    tsr_bench_result_free(&r);
    ck_assert_ptr_null(r.host_ms);
}
END_TEST

START_TEST(test_measure_min_count_dominates) {
    uint64_t clk[2] = {0, 1000000};
    struct tsr_bench_config c = {.warmup = 0,
                                 .min_iters = 25,
                                 .min_time_ns = 2000000,
                                 .cv_threshold = 0.1,
                                 .clock_ns = fake_clock,
                                 .clock_arg = clk};
    struct counter k = {0, 0, -1};
    struct tsr_bench_result r;
    ck_assert_int_eq(tsr_bench_measure(&c, counting_fn, &k, &r), 0);
    ck_assert_int_eq(r.n_samples, 25);
    ck_assert_int_eq(r.n_dev, 0); /* no device time reported */
    ck_assert_int_eq(r.dev.n, 0);
    tsr_bench_result_free(&r);
}
END_TEST

START_TEST(test_noise_flag) {
    /* 1, 1, 1, 1, 2: mean 1.2, stddev sqrt(0.8/4) = 0.447, CV 0.373 > 0.1 → noisy. */
    const double noisy[5] = {1, 1, 2, 1, 1};
    struct tsr_bench_config c = tsr_bench_config_default(1);
    struct tsr_bench_result r;
    ck_assert_int_eq(tsr_bench_result_from_samples(&c, noisy, 5, NULL, 0, &r), 0);
    ck_assert_double_eq_tol(r.host.cv, sqrt(0.2) / 1.2, 1e-12);
    ck_assert_int_eq(r.noisy, 1);
    tsr_bench_result_free(&r);
    /* 100, 101, 99, 100, 100: CV 0.0071 → quiet; with threshold 0.005 → noisy. */
    const double quiet[5] = {100, 101, 99, 100, 100};
    ck_assert_int_eq(tsr_bench_result_from_samples(&c, quiet, 5, NULL, 0, &r), 0);
    ck_assert_int_eq(r.noisy, 0);
    tsr_bench_result_free(&r);
    c.cv_threshold = 0.005;
    ck_assert_int_eq(tsr_bench_result_from_samples(&c, quiet, 5, NULL, 0, &r), 0);
    ck_assert_int_eq(r.noisy, 1);
    tsr_bench_result_free(&r);
}
END_TEST

START_TEST(test_measure_failure) {
    uint64_t clk[2] = {0, 1000};
    struct tsr_bench_config c = {.warmup = 1,
                                 .min_iters = 10,
                                 .clock_ns = fake_clock,
                                 .clock_arg = clk,
                                 .cv_threshold = 0.1};
    struct counter k = {0, 4, -1}; /* warm-up + 2 good timed calls, the 4th call fails */
    struct tsr_bench_result r;
    ck_assert_int_eq(tsr_bench_measure(&c, counting_fn, &k, &r), -1);
    ck_assert_int_eq(r.failed, 1);
    ck_assert_int_eq(r.n_samples, 2);
    tsr_bench_result_free(&r);
    struct counter w = {0, 1, -1}; /* the warm-up fails */
    ck_assert_int_eq(tsr_bench_measure(&c, counting_fn, &w, &r), -1);
    ck_assert_int_eq(r.failed, 1);
    ck_assert_int_eq(r.n_samples, 0);
    tsr_bench_result_free(&r);
}
END_TEST

START_TEST(test_defaults_quick_shorter) {
    struct tsr_bench_config full = tsr_bench_config_default(0), quick = tsr_bench_config_default(1);
    ck_assert_int_ge(full.min_iters, quick.min_iters);
    ck_assert_uint_gt(full.min_time_ns, quick.min_time_ns);
    ck_assert_int_ge(quick.warmup, 1); /* compiles and first touches stay out of timed runs */
    ck_assert_double_eq(full.cv_threshold, TSR_BENCH_CV_THRESHOLD);
}
END_TEST

static Suite *bench_suite(void) {
    Suite *s = suite_create("bench");
    TCase *tc = tcase_create("harness");
    tcase_add_test(tc, test_stats_known_samples);
    tcase_add_test(tc, test_stats_odd_single_empty);
    tcase_add_test(tc, test_stop_rule);
    tcase_add_test(tc, test_measure_min_time_dominates);
    tcase_add_test(tc, test_measure_min_count_dominates);
    tcase_add_test(tc, test_noise_flag);
    tcase_add_test(tc, test_measure_failure);
    tcase_add_test(tc, test_defaults_quick_shorter);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    return ts_run_suite(bench_suite());
}
