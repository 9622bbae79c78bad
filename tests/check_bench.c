/*
 * check_bench.c — the `tessera bench` harness (bench/harness.h): statistics of known samples
 * against values worked out by hand, the stop rule (minimum count AND minimum time, caps), the
 * noise flag, and failure handling. A fake clock makes every count exact; nothing here is timed.
 * Also the interleaved model timing: the summary (ratio = peer median / tessera median, per-round
 * ratio quartiles) of known samples worked out by hand, and the co-process protocol of
 * bench_peers.py --serve round-tripped through the C client (hello, errors, and with ONNX Runtime
 * installed a load of models/digits.onnx from a .npy tessera wrote, then timed runs).
 */
#include "bench/bench.h"
#include "bench/harness.h"
#include "test_support.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

START_TEST(test_pair_summary_known_samples) {
    /* 3 rounds x 2 runs. Round medians: tessera 2, 2, 4; peer 3, 4, 4 -> round ratios 1.5, 2, 1
     * (sorted 1, 1.5, 2: q1 at position 0.5 = 1.25, q3 at 1.5 = 1.75). All samples: tessera
     * {1,2,2,3,4,4} median 2.5, peer {2,3,4,4,4,5} median 4 -> ratio 1.6 (tessera faster). */
    const double t[6] = {1, 3, 2, 2, 4, 4}, p[6] = {2, 4, 5, 3, 4, 4};
    struct tsr_bench_pair pr;
    memset(&pr, 0, sizeof pr);
    ck_assert_int_eq(tsr_bench_pair_summary(t, p, 3, 2, &pr), 0);
    ck_assert_int_eq(pr.rounds, 3);
    ck_assert_int_eq(pr.reps, 2);
    ck_assert_double_eq_tol(pr.tessera_ms, 2.5, 1e-12);
    ck_assert_double_eq_tol(pr.peer_ms, 4.0, 1e-12);
    ck_assert_double_eq_tol(pr.ratio, 1.6, 1e-12);
    ck_assert_double_eq_tol(pr.round_min, 1.0, 1e-12);
    ck_assert_double_eq_tol(pr.round_q1, 1.25, 1e-12);
    ck_assert_double_eq_tol(pr.round_median, 1.5, 1e-12);
    ck_assert_double_eq_tol(pr.round_q3, 1.75, 1e-12);
    ck_assert_double_eq_tol(pr.round_max, 2.0, 1e-12);
    /* fastest runs: tessera 1, peer 2 */
    ck_assert_double_eq_tol(pr.tessera_min_ms, 1.0, 1e-12);
    ck_assert_double_eq_tol(pr.peer_min_ms, 2.0, 1e-12);
    ck_assert_double_eq_tol(pr.min_ratio, 2.0, 1e-12);
    /* the samples are not reordered */
    ck_assert_double_eq(t[1], 3);
    ck_assert_double_eq(p[2], 5);
    /* no rounds: refused, marked unmeasured */
    ck_assert_int_eq(tsr_bench_pair_summary(t, p, 0, 2, &pr), -1);
    ck_assert_int_eq(pr.rounds, 0);
}
END_TEST

/* Sends {"cmd": cmd} (+ "reps") and returns the reply (owned). */
static json_object *call(struct tsr_bench_serve *s, const char *cmd, int reps) {
    json_object *c = json_object_new_object();
    json_object_object_add(c, "cmd", json_object_new_string(cmd));
    if (reps > 0) json_object_object_add(c, "reps", json_object_new_int(reps));
    json_object *r = tsr_bench_serve_call(s, c);
    json_object_put(c);
    return r;
}

static int reply_ok(json_object *r) {
    json_object *v = NULL;
    return r && json_object_object_get_ex(r, "ok", &v) && json_object_get_boolean(v);
}

START_TEST(test_serve_round_trip) {
    struct tsr_bench_run run;
    memset(&run, 0, sizeof run);
    char python[1024], helper[1024], why[512] = "";
    tsr_bench_python_paths(&run, python, sizeof python, helper, sizeof helper);
    if (access(python, X_OK) != 0) {
        fprintf(stderr, "check_bench: no interpreter %s: serve round trip not run\n", python);
        return;
    }
    struct tsr_bench_serve *s = tsr_bench_serve_open(python, helper, why, sizeof why);
    ck_assert_msg(s != NULL, "serve_open: %s", why);
    const char *detail = NULL;
    int have_ort = tsr_bench_serve_peer(s, &detail);
    ck_assert_ptr_nonnull(detail);
    ck_assert(strlen(detail) > 0);
    /* errors are replies, and the loop goes on */
    json_object *r = call(s, "run", 2), *v = NULL;
    ck_assert_ptr_nonnull(r);
    ck_assert(!reply_ok(r));
    ck_assert(json_object_object_get_ex(r, "error", &v));
    json_object_put(r);
    r = call(s, "no-such-command", 0);
    ck_assert_ptr_nonnull(r);
    ck_assert(!reply_ok(r));
    json_object_put(r);
    if (have_ort) {
        /* digits.onnx: input "x" [N, 64] float32; tessera's .npy writer feeds ONNX Runtime */
        char model[1024], npy[] = "/tmp/check_bench_serve_XXXXXX";
        snprintf(model, sizeof model, "%s/models/digits.onnx", TSR_SOURCE_DIR);
        int fd = mkstemp(npy);
        ck_assert_int_ge(fd, 0);
        close(fd);
        struct tsr_tensor_desc d = {.dtype = TSR_F32, .rank = 2, .dims = {2, 64}};
        struct tsr_tensor x;
        ck_assert_int_eq(tsr_tensor_alloc(&d, &x), TSR_OK);
        for (int i = 0; i < 128; i++)
            ((float *)x.data)[i] = (float)((i * 37) % 64) / 32.f - 1.f;
        ck_assert_int_eq(tsr_npy_save(npy, &x), TSR_OK);
        tsr_tensor_free(&x);
        json_object *c = json_object_new_object(), *ins = json_object_new_object();
        json_object_object_add(c, "cmd", json_object_new_string("load"));
        json_object_object_add(c, "model", json_object_new_string(model));
        json_object_object_add(c, "threads", json_object_new_int(1));
        json_object_object_add(ins, "x", json_object_new_string(npy));
        json_object_object_add(c, "inputs", ins);
        r = tsr_bench_serve_call(s, c);
        json_object_put(c);
        ck_assert_msg(reply_ok(r), "load: %s", r ? json_object_to_json_string(r) : "no reply");
        ck_assert(json_object_object_get_ex(r, "detail", &v));
        ck_assert_ptr_nonnull(strstr(json_object_get_string(v), "intra_op 1"));
        json_object_put(r);
        r = call(s, "run", 4);
        ck_assert(reply_ok(r));
        ck_assert(json_object_object_get_ex(r, "samples_ms", &v));
        ck_assert_int_eq((int)json_object_array_length(v), 4);
        for (size_t i = 0; i < 4; i++)
            ck_assert_double_gt(json_object_get_double(json_object_array_get_idx(v, i)), 0);
        json_object_put(r);
        unlink(npy);
    } else {
        fprintf(stderr, "check_bench: %s: load/run not checked\n", detail);
    }
    tsr_bench_serve_close(s);
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
    TCase *tp = tcase_create("interleaved");
    tcase_set_timeout(tp, 120);
    tcase_add_test(tp, test_pair_summary_known_samples);
    tcase_add_test(tp, test_serve_round_trip);
    suite_add_tcase(s, tp);
    return s;
}

int main(void) {
    return ts_run_suite(bench_suite());
}
