/*
 * check_calibrate.c — calibration cache and cost model (issue 5, parts 1-2).
 *
 * The cache lives in a fresh temporary TSR_CACHE_DIR. Checked: measured figures are positive and
 * physically plausible (no timing thresholds: only orders of magnitude no machine can leave);
 * the file round-trips exactly; a corrupt file, a file of another format version, of another key
 * and one with a missing figure are rejected and rebuilt; a valid file is reused without
 * measuring; the MAD rule against a hand computation; the cost model against the formulas of
 * scheduler/cost.h written out here.
 * Case "options" (issue 11): the context options of tessera.h — a log callback receives every
 * line (announcements at info, a debug line, a host pool error) and stderr none; the level from
 * code beats TSR_LOG; the calibration policy from code beats TSR_CALIBRATE both ways and
 * TSR_CALIBRATE stays the default; cache_dir from code holds the file while TSR_CACHE_DIR's
 * directory stays empty; the announcement appears once per measurement (no cache, invalid file
 * with its reason, forced), on stderr by default, never with a valid cache or an explicit warn
 * level; out-of-range option values are refused.
 */
#ifdef TSR_WITH_OPENCL
#include "backends/opencl/cl_fault.h"
#endif
#include "runtime/internal.h"
#include "runtime/pool.h"
#include "runtime/program.h"
#include "scheduler/calibrate.h"
#include "scheduler/cost.h"
#include "scheduler/select.h"
#include "tessera/sched.h"
#include "test_support.h"

#include <json-c/json.h>
#include <pthread.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* One cache directory for the suite, made in main before Check forks the tests and removed
 * after them (mkdtemp in a forked test would make, and leave, one per test). */
static char g_dir[] = "/tmp/tsr_calib_XXXXXX";

static void setup_dir(void) {
    setenv("TSR_CACHE_DIR", g_dir, 1);
    tsr_calib_forget_all();
}

static void check_plausible(const struct tsr_calibration *c, int opencl) {
    ck_assert_msg(c->bandwidth_gbps > 0.01 && c->bandwidth_gbps < 1e5, "bandwidth %g GB/s",
                  c->bandwidth_gbps);
    ck_assert_msg(c->launch_us > 0 && c->launch_us < 1e5, "launch %g us", c->launch_us);
    ck_assert_msg(c->run_overhead_us >= 0 && c->run_overhead_us < 1e6, "overhead %g us",
                  c->run_overhead_us);
    ck_assert_int_eq(c->n_gemm, opencl ? 5 : 6); /* the CPU also measures n = 1024 */
    /* format 3: bandwidth curve of 3 copies (64 Ki, 1 Mi, 16 Mi floats), the largest is the
     * bandwidth figure; kernels version 4: conv figures on every device (the same probes) */
    ck_assert_int_eq(c->n_bw, 3);
    ck_assert_double_eq(c->bw[0].bytes, 8.0 * 65536);
    ck_assert_double_eq(c->bw[2].bytes, 8.0 * 16777216);
    for (int i = 0; i < c->n_bw; i++) {
        ck_assert_msg(c->bw[i].gbps > 0.01 && c->bw[i].gbps < 1e5, "bw %d: %g", i, c->bw[i].gbps);
        if (i) ck_assert(c->bw[i].bytes > c->bw[i - 1].bytes);
    }
    ck_assert(c->bandwidth_gbps == c->bw[2].gbps);
    ck_assert_msg(c->trans_slow_gops > 1e-4 && c->trans_slow_gops < 1e5, "slow trans %g",
                  c->trans_slow_gops);
    if (opencl)
        ck_assert_msg(c->h2d_small_gbps > 0.001 && c->d2h_small_gbps > 0.001, "small %g %g",
                      c->h2d_small_gbps, c->d2h_small_gbps);
    else
        ck_assert(c->h2d_small_gbps == 0 && c->d2h_small_gbps == 0);
    ck_assert_msg(c->conv_gflops > 1e-3 && c->conv_gflops < 1e5, "conv %g", c->conv_gflops);
    ck_assert_msg(c->dwconv_gflops > 1e-3 && c->dwconv_gflops < 1e5, "dwconv %g", c->dwconv_gflops);
    ck_assert_msg(c->trans_gops > 1e-4 && c->trans_gops < 1e5, "transcendental %g Gop/s",
                  c->trans_gops);
    for (int i = 0; i < c->n_gemm; i++) {
        ck_assert_msg(c->gemm[i].gflops > 0.001 && c->gemm[i].gflops < 1e6, "gemm %lld: %g",
                      (long long)c->gemm[i].m, c->gemm[i].gflops);
        if (i) ck_assert_int_gt(c->gemm[i].m, c->gemm[i - 1].m);
    }
    if (opencl) {
        ck_assert_msg(c->h2d_gbps > 0.001 && c->h2d_gbps < 1e5, "h2d %g", c->h2d_gbps);
        ck_assert_msg(c->d2h_gbps > 0.001 && c->d2h_gbps < 1e5, "d2h %g", c->d2h_gbps);
        ck_assert_msg(c->latency_us > 0 && c->latency_us < 1e6, "latency %g", c->latency_us);
    } else {
        ck_assert(c->h2d_gbps == 0 && c->d2h_gbps == 0 && c->latency_us == 0);
    }
    ck_assert(c->seconds > 0);
}

static int same_cal(const struct tsr_calibration *a, const struct tsr_calibration *b) {
#define EQ(x) (fabs(a->x - b->x) <= 1e-12 * fabs(a->x))
    if (strcmp(a->key, b->key) || a->n_gemm != b->n_gemm || a->created_unix != b->created_unix)
        return 0;
    if (!EQ(bandwidth_gbps) || !EQ(launch_us) || !EQ(run_overhead_us) || !EQ(h2d_gbps) ||
        !EQ(d2h_gbps) || !EQ(latency_us) || !EQ(seconds) || !EQ(conv_gflops) ||
        !EQ(dwconv_gflops) || !EQ(trans_slow_gops) || !EQ(h2d_small_gbps) || !EQ(d2h_small_gbps) ||
        a->n_bw != b->n_bw)
        return 0;
    for (int i = 0; i < a->n_bw; i++)
        if (!EQ(bw[i].bytes) || !EQ(bw[i].gbps)) return 0;
    for (int i = 0; i < a->n_gemm; i++)
        if (a->gemm[i].m != b->gemm[i].m || !EQ(gemm[i].gflops)) return 0;
    return 1;
#undef EQ
}

/* The cache key is the file's identity: its text for a CPU and an OpenCL device is exactly the
 * format of calibrate.h (so cache files written before the backend registry stay valid). */
START_TEST(test_key_format_stable) {
#if defined(__OPTIMIZE__)
    const char *build = "opt";
#else
    const char *build = "debug";
#endif
    struct tsr_device_info cpu, cl;
    memset(&cpu, 0, sizeof cpu);
    memset(&cl, 0, sizeof cl);
    snprintf(cpu.backend, sizeof cpu.backend, "cpu");
    snprintf(cpu.name, sizeof cpu.name, "Some CPU");
    snprintf(cpu.isa, sizeof cpu.isa, "avx2");
    cpu.compute_units = 2;
    snprintf(cl.backend, sizeof cl.backend, "opencl");
    snprintf(cl.name, sizeof cl.name, "pthread-cpu");
    snprintf(cl.driver_version, sizeof cl.driver_version, "6.0");
    snprintf(cl.platform, sizeof cl.platform, "Portable Computing Language");
    char key[512], want[512];
    tsr_calib_key(&cpu, key, sizeof key);
    snprintf(want, sizeof want, "cpu|Some CPU||%s|isa=avx2|threads=2|build=%s|kernels=%d",
             TSR_VERSION_STRING, build, TSR_CALIB_KERNELS_VERSION);
    ck_assert_str_eq(key, want);
    tsr_calib_key(&cl, key, sizeof key);
    snprintf(want, sizeof want,
             "opencl|pthread-cpu|6.0|%s|Portable Computing Language|build=%s|"
             "kernels=%d",
             TSR_VERSION_STRING, build, TSR_CALIB_KERNELS_VERSION);
    ck_assert_str_eq(key, want);
}
END_TEST

/* Every device: measured, plausible, written, read back identically, then reused. */
START_TEST(test_measure_round_trip) {
    setup_dir();
    tsr_context *ctx = ts_context();
    for (int d = 0; d < ctx->n_devices; d++) {
        struct tsr_calibration c, back, again;
        tsr_status st = tsr_calibrate_device(ctx, d, 1, &c);
        ck_assert_msg(st == TSR_OK, "%s: %s", ctx->devices[d].info.id,
                      tsr_last_error(ctx)->message);
        check_plausible(&c, !ctx->devices[d].info.host_memory);
        /* the device's estimates now come from the measurement */
        ck_assert(ctx->devices[d].info.est_gbps == c.bandwidth_gbps);
        ck_assert(ctx->devices[d].info.est_launch_us == c.launch_us);
        char key[512], path[4096];
        tsr_calib_key(&ctx->devices[d].info, key, sizeof key);
        ck_assert_str_eq(key, c.key);
        ck_assert_int_eq(tsr_calib_cache_path(NULL, key, path, sizeof path), 0);
        ck_assert_msg(strncmp(path, g_dir, strlen(g_dir)) == 0, "%s not under %s", path, g_dir);
        ck_assert_int_eq(access(path, R_OK), 0);
        ck_assert_int_eq(tsr_calib_load(NULL, key, &back, NULL), 0);
        ck_assert_msg(same_cal(&c, &back), "%s: file does not round-trip", ctx->devices[d].info.id);
        /* a new process (table forgotten) reuses the file: same measurement, not a new one */
        tsr_calib_forget_all();
        ck_assert_int_eq(tsr_calibrate_device(ctx, d, 0, &again), TSR_OK);
        ck_assert_msg(same_cal(&c, &again), "%s: valid cache file was not reused",
                      ctx->devices[d].info.id);
    }
    tsr_context_destroy(ctx);
}
END_TEST

/* tessera/sched.h: none known before the first calibration; afterwards the public record holds
 * exactly the internal figures, whether just measured or looked up. The CPU only (time). */
START_TEST(test_public_calibration) {
    char dir[] = "/tmp/tsr_calib_pub_XXXXXX"; /* empty, whatever ran before in this process */
    ck_assert_ptr_nonnull(mkdtemp(dir));
    setenv("TSR_CACHE_DIR", dir, 1);
    tsr_calib_forget_all();
    tsr_context *ctx = ts_context();
    struct tsr_calibration_info pub, known;
    memset(&pub, 0, sizeof pub);
    ck_assert_int_eq(tsr_device_calibration(ctx, 0, &pub), TSR_E_NOT_FOUND);
    ck_assert_int_eq(tsr_device_calibration(ctx, tsr_device_count(ctx), &pub), TSR_E_INVALID_ARG);
    ck_assert_int_eq(tsr_device_calibration(ctx, 0, NULL), TSR_E_INVALID_ARG);
    ck_assert_int_eq(tsr_device_calibrate(ctx, -1, 0, NULL), TSR_E_INVALID_ARG);
    ck_assert_int_eq(tsr_device_calibrate(NULL, 0, 0, NULL), TSR_E_INVALID_ARG);
    ck_assert_int_eq(tsr_device_calibrate(ctx, 0, 0, &pub), TSR_OK);
    ck_assert_int_eq(tsr_device_calibration(ctx, 0, &known), TSR_OK);
    struct tsr_calibration c;
    ck_assert(tsr_calibration_lookup(&ctx->devices[0].info, &c));
    const struct tsr_calibration_info *rec[2] = {&pub, &known};
    for (int r = 0; r < 2; r++) {
        const struct tsr_calibration_info *p = rec[r];
        ck_assert_str_eq(p->key, c.key);
        ck_assert(p->bandwidth_gbps == c.bandwidth_gbps && p->launch_us == c.launch_us);
        ck_assert(p->run_overhead_us == c.run_overhead_us && p->latency_us == c.latency_us);
        ck_assert(p->h2d_gbps == c.h2d_gbps && p->d2h_gbps == c.d2h_gbps);
        ck_assert(p->h2d_small_gbps == c.h2d_small_gbps && p->d2h_small_gbps == c.d2h_small_gbps);
        ck_assert(p->trans_gops == c.trans_gops && p->trans_slow_gops == c.trans_slow_gops);
        ck_assert(p->conv_gflops == c.conv_gflops && p->dwconv_gflops == c.dwconv_gflops);
        ck_assert(p->seconds == c.seconds && p->created_unix == c.created_unix);
        ck_assert_int_eq(p->n_gemm, c.n_gemm);
        for (int i = 0; i < c.n_gemm; i++)
            ck_assert(p->gemm[i].m == c.gemm[i].m && p->gemm[i].n == c.gemm[i].n &&
                      p->gemm[i].k == c.gemm[i].k && p->gemm[i].gflops == c.gemm[i].gflops);
        ck_assert_int_eq(p->n_bw, c.n_bw);
        for (int i = 0; i < c.n_bw; i++)
            ck_assert(p->bw[i].bytes == c.bw[i].bytes && p->bw[i].gbps == c.bw[i].gbps);
    }
    /* the device's estimates follow, as tsr_device_get_info shows */
    struct tsr_device_info d;
    ck_assert_int_eq(tsr_device_get_info(ctx, 0, &d), TSR_OK);
    ck_assert(d.est_gbps == pub.bandwidth_gbps && d.est_launch_us == pub.launch_us);
    tsr_context_destroy(ctx);
    ck_assert_int_eq(ts_remove_tree(dir), 0);
}
END_TEST

/* Rewrites field `name` of the cache file at path with `value` (NULL deletes it). */
static void edit_file(const char *path, const char *name, struct json_object *value) {
    struct json_object *root = json_object_from_file(path);
    ck_assert_ptr_nonnull(root);
    if (value)
        json_object_object_add(root, name, value);
    else
        json_object_object_del(root, name);
    ck_assert_int_eq(json_object_to_file(path, root), 0);
    json_object_put(root);
}

/* Corrupt, other-version, other-key and incomplete files are rejected and rebuilt. */
START_TEST(test_bad_files_rebuilt) {
    setup_dir();
    tsr_context *ctx = ts_context();
    struct tsr_calibration c, fresh, back;
    ck_assert_int_eq(tsr_calibrate_device(ctx, 0, 0, &c), TSR_OK);
    char path[4096];
    ck_assert_int_eq(tsr_calib_cache_path(NULL, c.key, path, sizeof path), 0);
    /* the key names the kernels' version, so a changed executor ignores old files */
    char want[32];
    snprintf(want, sizeof want, "|kernels=%d", TSR_CALIB_KERNELS_VERSION);
    ck_assert_ptr_nonnull(strstr(c.key, want));
    for (int kase = 0; kase < 7; kase++) {
        const char *why = NULL;
        switch (kase) {
        case 0: { /* corrupt: truncated JSON */
            FILE *f = fopen(path, "w");
            ck_assert_ptr_nonnull(f);
            fputs("{\"format\": \"tessera-calibration\", \"format_ver", f);
            fclose(f);
            break;
        }
        case 1:
            edit_file(path, "format_version", json_object_new_int(TSR_CALIB_FORMAT_VERSION + 1));
            break;
        case 2: /* written by another tessera version (the key carries it) */
            edit_file(path, "key", json_object_new_string("cpu|x|y|0.0.1|isa=scalar|threads=1"));
            break;
        case 3:
            edit_file(path, "bandwidth_gbps", NULL);
            break;
        case 4:
            edit_file(path, "launch_us", json_object_new_double(-1.0));
            break;
        case 5: /* a format-2 style file: no bandwidth curve */
            edit_file(path, "bandwidth", NULL);
            break;
        case 6: { /* measured with older kernels (the same device otherwise) */
            char old[600];
            snprintf(old, sizeof old, "%.*s|kernels=%d", (int)(strstr(c.key, want) - c.key), c.key,
                     TSR_CALIB_KERNELS_VERSION - 1);
            edit_file(path, "key", json_object_new_string(old));
            break;
        }
        }
        ck_assert_int_eq(tsr_calib_load(NULL, c.key, &back, &why), -2);
        ck_assert_ptr_nonnull(why);
        /* rejected → measured again and the file rewritten valid */
        tsr_calib_forget_all();
        ck_assert_int_eq(tsr_calibrate_device(ctx, 0, 0, &fresh), TSR_OK);
        check_plausible(&fresh, 0);
        ck_assert_int_eq(tsr_calib_load(NULL, c.key, &back, NULL), 0);
        ck_assert(same_cal(&fresh, &back));
        ck_assert_msg(fresh.seconds != c.seconds || fresh.bandwidth_gbps != c.bandwidth_gbps,
                      "case %d: the rejected file's figures were reused", kase);
        c = fresh;
    }
    /* a missing file is "not there", not "rejected" */
    ck_assert_int_eq(unlink(path), 0);
    ck_assert_int_eq(tsr_calib_load(NULL, c.key, &back, NULL), -1);
    tsr_context_destroy(ctx);
}
END_TEST

/* MAD rule: {0.9, 1, 1.05, 1.1, 100}: median 1.05, deviations {0.15, 0.05, 0, 0.05, 98.95},
 * MAD 0.05, limit 3 * 1.4826 * 0.05 = 0.222 → 100 rejected → median of 4 kept = 1.025. */
START_TEST(test_robust_median) {
    double x[5] = {100.0, 1.0, 0.9, 1.1, 1.05};
    ck_assert_double_eq_tol(tsr_calib_robust_median(x, 5), 1.025, 1e-12);
    double y[4] = {2.0, 2.0, 2.0, 7.0}; /* MAD 0: only samples equal to the median stay */
    ck_assert_double_eq_tol(tsr_calib_robust_median(y, 4), 2.0, 1e-12);
    double z[3] = {3.0, 1.0, 2.0};
    ck_assert_double_eq_tol(tsr_calib_robust_median(z, 3), 2.0, 1e-12);
    ck_assert(isnan(tsr_calib_robust_median(z, 0)));
    /* plain median of a sample's runs: a preempted run does not move it */
    double r[5] = {4000.0, 1.0, 3.0, 2.0, 2.5};
    ck_assert_double_eq_tol(tsr_calib_median(r, 5), 2.5, 1e-12);
    double e[4] = {5.0, 1.0, 3.0, 100.0};
    ck_assert_double_eq_tol(tsr_calib_median(e, 4), 4.0, 1e-12);
    ck_assert(isnan(tsr_calib_median(e, 0)));
}
END_TEST

/* Writes a calibration file with known figures for device d of ctx and loads it. */
static void install_known(tsr_context *ctx, int d, int opencl) {
    struct tsr_calibration c;
    memset(&c, 0, sizeof c);
    tsr_calib_key(&ctx->devices[d].info, c.key, sizeof c.key);
    c.bandwidth_gbps = 10.0;
    c.launch_us = 5.0;
    c.run_overhead_us = 20.0;
    if (opencl) {
        c.h2d_gbps = 4.0;
        c.d2h_gbps = 2.0;
        c.latency_us = 30.0;
    }
    c.trans_gops = 1.0;
    c.trans_slow_gops = 1.0;
    c.n_gemm = 2;
    c.gemm[0] = (struct tsr_calib_gemm){32, 32, 32, 10.0};
    c.gemm[1] = (struct tsr_calib_gemm){512, 512, 512, 100.0};
    c.seconds = 1.0;
    c.created_unix = 1;
    ck_assert_int_eq(tsr_calib_save(NULL, &c), 0);
    tsr_calib_forget_all();
    tsr_sched_apply_calibration(ctx);
    ck_assert(ctx->devices[d].info.est_gbps == 10.0);
    ck_assert(ctx->devices[d].info.est_gflops == 100.0);
}

/* Cost model vs the formulas of cost.h, written out with the figures of install_known. */
START_TEST(test_cost_model) {
    setup_dir();
    tsr_context *ctx = ts_context();
    install_known(ctx, 0, 0);
    /* program: x[128*128] (input), w (const), GEMM 128^3 → t, relu(t) → y (output) */
    struct tsr_buffer bufs[4];
    struct tsr_kernel ks[2];
    memset(bufs, 0, sizeof bufs);
    memset(ks, 0, sizeof ks);
    size_t nbytes = 128 * 128 * 4;
    bufs[0] = (struct tsr_buffer){.kind = TSR_BUF_INPUT, .bytes = nbytes};
    bufs[1] = (struct tsr_buffer){.kind = TSR_BUF_CONST, .bytes = nbytes};
    bufs[2] = (struct tsr_buffer){.kind = TSR_BUF_TEMP, .bytes = nbytes};
    bufs[3] = (struct tsr_buffer){.kind = TSR_BUF_OUTPUT, .bytes = nbytes};
    ks[0].kind = TSR_K_GEMM;
    ks[0].flops = 2ull * 128 * 128 * 128;
    ks[0].bytes = 3 * nbytes;
    ks[0].u.gemm.batch = 1;
    ks[0].u.gemm.act = TSR_ACT_RELU; /* an OpenCL epilogue launch */
    ks[1].kind = TSR_K_EW;
    ks[1].flops = 128 * 128;
    ks[1].bytes = 2 * nbytes;
    /* a well-typed program (runtime/program.h): the device choice asks the backends' supports,
     * whose default is the dtype check */
    for (int i = 0; i < 4; i++)
        bufs[i].desc.dtype = TSR_F32;
    ks[0].dtype = ks[1].dtype = TSR_F32;
    int in_ids[1] = {0}, out_ids[1] = {3};
    struct tsr_program p = {.n_buffers = 4,
                            .buffers = bufs,
                            .n_kernels = 2,
                            .kernels = ks,
                            .n_inputs = 1,
                            .n_outputs = 1,
                            .input_buffers = in_ids,
                            .output_buffers = out_ids};
    /* GEMM rate at 2*128^3: log-linear between (2*32^3, 10) and (2*512^3, 100) */
    double f = 2.0 * 128 * 128 * 128, f0 = 2.0 * 32 * 32 * 32, f1 = 2.0 * 512 * 512 * 512;
    double rate = 10.0 + (log(f) - log(f0)) / (log(f1) - log(f0)) * 90.0;
    double gemm_s = fmax(f / (rate * 1e9), 3.0 * nbytes / 10e9) + 5e-6;
    double ew_s = fmax(128.0 * 128 / 100e9, 2.0 * nbytes / 10e9) + 5e-6;
    double cpu_ms = (20e-6 + gemm_s + ew_s) * 1e3;
    ck_assert_double_eq_tol(tsr_sched_predict_program_ms(&ctx->devices[0].info, &p), cpu_ms, 1e-9);
    if (ts_have_opencl(ctx)) {
        install_known(ctx, 1, 1);
        double xfer_s = (30e-6 + nbytes / 4e9) + (30e-6 + nbytes / 2e9);
        double cl_ms = (20e-6 + gemm_s + 5e-6 + ew_s + xfer_s) * 1e3;
        ck_assert_double_eq_tol(tsr_sched_predict_program_ms(&ctx->devices[1].info, &p), cl_ms,
                                1e-9);
        char reason[768];
        int pick = tsr_sched_choose_program(ctx, &p, reason, sizeof reason);
        /* same figures, plus transfers and an epilogue launch: the CPU must win */
        ck_assert_msg(pick == 0, "picked %d: %s", pick, reason);
        ck_assert_ptr_nonnull(strstr(reason, "calibrated"));
        ck_assert_ptr_nonnull(strstr(reason, "opencl:0"));
    }
    tsr_context_destroy(ctx);
}
END_TEST

/* Bandwidth curve and convolution rates (cost.h, format 3) against the formulas written out. */
START_TEST(test_bandwidth_curve_and_conv) {
    struct tsr_cost_inputs in;
    memset(&in, 0, sizeof in);
    in.calibrated = 1;
    in.peak_gflops = 100.0;
    in.bandwidth_gbps = 10.0;
    in.launch_us = 2.0;
    in.n_gemm = 2;
    in.gemm[0] = (struct tsr_calib_gemm){32, 32, 32, 10.0};
    in.gemm[1] = (struct tsr_calib_gemm){512, 512, 512, 100.0};
    /* no curve: the single figure */
    ck_assert_double_eq(tsr_cost_bandwidth_gbps(&in, 1e3), 10.0);
    in.n_bw = 3;
    in.bw[0] = (struct tsr_calib_bw){1e5, 80.0};
    in.bw[1] = (struct tsr_calib_bw){1e7, 40.0};
    in.bw[2] = (struct tsr_calib_bw){1e9, 10.0};
    ck_assert_double_eq(tsr_cost_bandwidth_gbps(&in, 10.0), 80.0);          /* below: first point */
    ck_assert_double_eq(tsr_cost_bandwidth_gbps(&in, 1e12), 10.0);          /* above: last point */
    ck_assert_double_eq_tol(tsr_cost_bandwidth_gbps(&in, 1e6), 60.0, 1e-9); /* log-midpoint */
    ck_assert_double_eq_tol(tsr_cost_bandwidth_gbps(&in, 1e8), 25.0, 1e-9);
    /* an elementwise kernel of 1e6 bytes: launch + bytes / 60 GB/s (memory-bound) */
    struct tsr_kernel k;
    memset(&k, 0, sizeof k);
    k.kind = TSR_K_EW;
    k.flops = 1000;
    k.bytes = 1000000;
    ck_assert_double_eq_tol(tsr_cost_kernel_ms(&in, &k), (2e-6 + 1e6 / 60e9) * 1e3, 1e-12);
    /* convolutions: 3x3 at min(conv_gflops, GEMM curve), depthwise at its own rate, 1x1 GEMM */
    in.conv_gflops = 5.0;
    in.dwconv_gflops = 3.0;
    memset(&k, 0, sizeof k);
    k.kind = TSR_K_CONV;
    k.u.conv = (struct tsr_k_conv){.N = 1, .C = 8, .M = 8, .KH = 3, .KW = 3, .group = 1};
    k.flops = 2ull * 128 * 128 * 128;
    k.bytes = 1000;
    double f = (double)k.flops, f0 = 2.0 * 32 * 32 * 32, f1 = 2.0 * 512 * 512 * 512;
    double rate = 10.0 + (log(f) - log(f0)) / (log(f1) - log(f0)) * 90.0;
    ck_assert_double_eq_tol(tsr_cost_kernel_ms(&in, &k), (2e-6 + f / 5e9) * 1e3, 1e-12);
    in.conv_gflops = 1000.0; /* never faster than the GEMM curve */
    ck_assert_double_eq_tol(tsr_cost_kernel_ms(&in, &k), (2e-6 + f / (rate * 1e9)) * 1e3, 1e-12);
    in.conv_gflops = 5.0;
    k.u.conv.KH = k.u.conv.KW = 1;
    ck_assert_double_eq_tol(tsr_cost_kernel_ms(&in, &k), (2e-6 + f / (rate * 1e9)) * 1e3, 1e-12);
    k.u.conv.KH = k.u.conv.KW = 3;
    k.u.conv.group = 8;
    ck_assert_double_eq_tol(tsr_cost_kernel_ms(&in, &k), (2e-6 + f / 3e9) * 1e3, 1e-12);
    /* transcendental classes: 1e6 elements of exp + erf at 2 and 0.5 Gop/s */
    memset(&k, 0, sizeof k);
    k.kind = TSR_K_EW;
    k.bytes = 8;
    k.u.ew.rank = 1;
    k.u.ew.dims[0] = 1000000;
    k.u.ew.n_instrs = 2;
    k.u.ew.instrs[0] = (struct tsr_ew_instr){.op = TSR_EW_EXP, .a = -1};
    k.u.ew.instrs[1] = (struct tsr_ew_instr){.op = TSR_EW_ERF, .a = 0};
    double slow = 0;
    ck_assert_double_eq(tsr_cost_kernel_trans_ops(&k, &slow), 2e6);
    ck_assert_double_eq(slow, 1e6);
    in.trans_gops = 2.0;
    in.trans_slow_gops = 0.5;
    ck_assert_double_eq_tol(tsr_cost_kernel_ms(&in, &k), (2e-6 + 1e6 / 2e9 + 1e6 / 0.5e9) * 1e3,
                            1e-12);
    in.trans_gops = in.trans_slow_gops = 0;
    /* transfers: log-linear between the 256 KiB and 64 MiB figures, constant outside */
    struct tsr_cost_inputs x;
    memset(&x, 0, sizeof x);
    x.device_memory = 1;
    x.latency_us = 10.0;
    x.h2d_gbps = 4.0;
    x.h2d_small_gbps = 20.0;
    x.d2h_gbps = 2.0; /* no small figure: the large one everywhere */
    double b0 = 256.0 * 1024, b1 = 64.0 * 1024 * 1024, mid = sqrt(b0 * b1);
    ck_assert_double_eq_tol(tsr_cost_transfer_ms(&x, 1000, 1), (10e-6 + 1000 / 20e9) * 1e3, 1e-12);
    ck_assert_double_eq_tol(tsr_cost_transfer_ms(&x, mid, 1), (10e-6 + mid / 12e9) * 1e3, 1e-12);
    ck_assert_double_eq_tol(tsr_cost_transfer_ms(&x, 4 * b1, 1), (10e-6 + 4 * b1 / 4e9) * 1e3,
                            1e-12);
    ck_assert_double_eq_tol(tsr_cost_transfer_ms(&x, mid, 0), (10e-6 + mid / 2e9) * 1e3, 1e-12);
    /* GEMM floor: a tiny batched GEMM costs the smallest calibrated GEMM (2*32^3 FLOPs at
     * 10 GFLOP/s) per batch item on the CPU, once on OpenCL */
    memset(&k, 0, sizeof k);
    k.kind = TSR_K_GEMM;
    k.u.gemm.batch = 4;
    k.flops = 4000;
    k.bytes = 16;
    double t32 = 2.0 * 32 * 32 * 32 / 10e9;
    ck_assert_double_eq_tol(tsr_cost_kernel_ms(&in, &k), (2e-6 + 4 * t32) * 1e3, 1e-12);
    in.device_memory = 1;
    ck_assert_double_eq_tol(tsr_cost_kernel_ms(&in, &k), (2e-6 + t32) * 1e3, 1e-12);
}
END_TEST

#ifdef TSR_WITH_OPENCL
/* The probe programs run through the OpenCL backend's prepare / execute, but a thread that
 * measures is not seen by fault injection (runtime/calibration.h): with every fault armed at its
 * first event, the measurement succeeds and counts no event; the profiler records none of its
 * probe runs (one TSR_EVENT_CALIBRATION record of the whole measurement);
 * the first event of a real plan afterwards is still number 1 (it fails, and the plan falls back
 * to the CPU). */
START_TEST(test_measuring_hides_probes) {
    setup_dir();
    setenv("TSR_FAULT", "cl_enqueue:1,cl_alloc:1,cl_build:1", 1);
    tsr_cl_fault_reset();
    struct tsr_context_options o = {.profile = 1};
    tsr_context *ctx = NULL;
    ck_assert_int_eq(tsr_context_create(&o, &ctx), TSR_OK);
    int d = -1;
    if (ts_have_opencl(ctx)) {
        ck_assert_int_eq(tsr_device_find(ctx, "opencl:0", &d), TSR_OK);
        struct tsr_calibration c;
        tsr_status st = tsr_calibrate_device(ctx, d, 1, &c);
        ck_assert_msg(st == TSR_OK, "calibrate: %s", tsr_last_error(ctx)->message);
        check_plausible(&c, 1);
        for (int kind = -1; kind < 3; kind++)
            ck_assert_uint_eq(tsr_cl_fault_count(kind), 0);
        /* one record of the measurement itself (its own kind), none of its probe runs */
        ck_assert_uint_eq(tsr_profiler_count(ctx), 1);
        struct tsr_profile_record r;
        ck_assert_int_eq(tsr_profiler_get(ctx, 0, &r), TSR_OK);
        ck_assert_int_eq(r.kind, TSR_EVENT_CALIBRATION);
        ck_assert_str_eq(r.device, "opencl:0");
        /* a real plan: its first allocation is event 1 and fails (device failure → CPU) */
        const struct tsr_tensor_desc x = {.dtype = TSR_F32, .rank = 1, .dims = {256}};
        tsr_graph *g = NULL;
        tsr_value in, y;
        ck_assert_int_eq(tsr_graph_create(ctx, &g), TSR_OK);
        ck_assert_int_eq(tsr_graph_input(g, "x", &x, &in), TSR_OK);
        ck_assert_int_eq(tsr_graph_op(g, TSR_OP_RELU, &in, 1, NULL, NULL, &y), TSR_OK);
        ck_assert_int_eq(tsr_graph_output(g, "y", y), TSR_OK);
        struct tsr_compile_options co = tsr_compile_options_default();
        co.device = "opencl:0";
        tsr_plan *plan = NULL;
        ck_assert_int_eq(tsr_compile(ctx, g, &co, &plan), TSR_OK);
        ck_assert_uint_ge(tsr_cl_fault_count(-1), 1);
        ck_assert_ptr_nonnull(strstr(tsr_plan_device_reason(plan), "fell back"));
        tsr_plan_destroy(plan);
        tsr_graph_destroy(g);
    }
    unsetenv("TSR_FAULT");
    tsr_cl_fault_reset();
    tsr_context_destroy(ctx);
}
END_TEST
#endif

/* ---- context options: log level and callback, calibration policy, cache directory ---------- */

/* What a log callback received (thread-safe: compiles may log from several threads). */
struct log_record {
    pthread_mutex_t mu;
    int n, dropped;
    tsr_log_level level[4096];
    char line[4096][320];
};

static void collect(void *user, tsr_log_level level, const char *message) {
    struct log_record *r = user;
    pthread_mutex_lock(&r->mu);
    if (r->n < 4096) {
        r->level[r->n] = level;
        snprintf(r->line[r->n], sizeof r->line[r->n], "%s", message);
        r->n++;
    } else {
        r->dropped++;
    }
    pthread_mutex_unlock(&r->mu);
}

static void record_init(struct log_record *r) {
    memset(r, 0, sizeof *r);
    pthread_mutex_init(&r->mu, NULL);
}

/* Lines of r that start with prefix (and, when `has` is not NULL, contain it). */
static int record_count(struct log_record *r, const char *prefix, const char *has) {
    int n = 0;
    for (int i = 0; i < r->n; i++)
        if (!strncmp(r->line[i], prefix, strlen(prefix)) && (!has || strstr(r->line[i], has))) n++;
    return n;
}

/* Fd 2 into a fresh temporary file until stderr_end, which returns what was written (caller
 * frees). */
static int g_saved_stderr = -1;
static char g_stderr_path[64];
static void stderr_begin(void) {
    snprintf(g_stderr_path, sizeof g_stderr_path, "/tmp/tsr_calib_err_XXXXXX");
    int fd = mkstemp(g_stderr_path);
    ck_assert_int_ge(fd, 0);
    fflush(stderr);
    g_saved_stderr = dup(2);
    ck_assert_int_ge(g_saved_stderr, 0);
    ck_assert_int_eq(dup2(fd, 2), 2);
    close(fd);
}
static char *stderr_end(void) {
    fflush(stderr);
    ck_assert_int_eq(dup2(g_saved_stderr, 2), 2);
    close(g_saved_stderr);
    FILE *f = fopen(g_stderr_path, "rb");
    ck_assert_ptr_nonnull(f);
    char *text = calloc(1, 65536);
    ck_assert_ptr_nonnull(text);
    size_t n = fread(text, 1, 65535, f);
    text[n] = '\0';
    fclose(f);
    unlink(g_stderr_path);
    return text;
}

/* Compiles y = relu(x) for device "cpu" (the compile calibrates the CPU as the policy says). */
static void compile_on_cpu(tsr_context *ctx) {
    const struct tsr_tensor_desc x = {.dtype = TSR_F32, .rank = 1, .dims = {64}};
    tsr_graph *g = NULL;
    tsr_value in, y;
    ck_assert_int_eq(tsr_graph_create(ctx, &g), TSR_OK);
    ck_assert_int_eq(tsr_graph_input(g, "x", &x, &in), TSR_OK);
    ck_assert_int_eq(tsr_graph_op(g, TSR_OP_RELU, &in, 1, NULL, NULL, &y), TSR_OK);
    ck_assert_int_eq(tsr_graph_output(g, "y", y), TSR_OK);
    struct tsr_compile_options co = tsr_compile_options_default();
    co.device = "cpu";
    tsr_plan *plan = NULL;
    ck_assert_int_eq(tsr_compile(ctx, g, &co, &plan), TSR_OK);
    tsr_plan_destroy(plan);
    tsr_graph_destroy(g);
}

/* A context of the CPU only with the given policy, cache directory and log path. */
static tsr_context *options_context(tsr_calibrate_policy policy, const char *dir,
                                    struct log_record *log, tsr_log_level level) {
    struct tsr_context_options o;
    memset(&o, 0, sizeof o);
    o.disable_opencl = 1;
    o.calibration = policy;
    o.cache_dir = dir;
    o.log_level = level;
    if (log) {
        o.log_fn = collect;
        o.log_user = log;
    }
    tsr_context *ctx = NULL;
    ck_assert_int_eq(tsr_context_create(&o, &ctx), TSR_OK);
    return ctx;
}

/* The path of the CPU's cache file in dir, and whether it exists. */
static int cpu_cache_file(tsr_context *ctx, char *path, size_t size) {
    char key[512];
    tsr_calib_key(&ctx->devices[0].info, key, sizeof key);
    ck_assert_int_eq(tsr_calib_cache_path(ctx, key, path, size), 0);
    return access(path, F_OK) == 0;
}

/* Entries of directory dir other than . and .. (system "ls | wc -l"). */
static int dir_entries(const char *dir) {
    char cmd[300];
    snprintf(cmd, sizeof cmd, "test -z \"$(ls -A '%s')\"", dir);
    return system(cmd) == 0 ? 0 : 1;
}

/* A log callback gets every line (the calibration announcements at info level, a debug line
 * when the level from code is debug although TSR_LOG says error) and stderr none; the cache
 * directory from code holds the file, TSR_CACHE_DIR's directory stays empty. */
START_TEST(test_log_callback_and_cache_dir) {
    char env_dir[] = "/tmp/tsr_calib_env_XXXXXX", opt_dir[] = "/tmp/tsr_calib_opt_XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(env_dir));
    ck_assert_ptr_nonnull(mkdtemp(opt_dir));
    setenv("TSR_CACHE_DIR", env_dir, 1);
    setenv("TSR_LOG", "error", 1);
    unsetenv("TSR_CALIBRATE");
    tsr_calib_forget_all();
    static struct log_record log;
    record_init(&log);
    stderr_begin();
    tsr_context *ctx = options_context(TSR_CALIBRATE_DEFAULT, opt_dir, &log, TSR_LOG_DEBUG);
    tsr_profiler_enable(ctx, 1);
    compile_on_cpu(ctx);
    /* the measurement is one record of its own kind, its probe runs none (no kernel records) */
    int n_cal = 0, n_kernel = 0;
    for (size_t i = 0; i < tsr_profiler_count(ctx); i++) {
        struct tsr_profile_record r;
        ck_assert_int_eq(tsr_profiler_get(ctx, i, &r), TSR_OK);
        if (r.kind == TSR_EVENT_CALIBRATION) {
            n_cal++;
            ck_assert_str_eq(r.device, "cpu");
            ck_assert_uint_gt(r.end_ns, r.start_ns);
        }
        n_kernel += r.kind == TSR_EVENT_KERNEL;
    }
    ck_assert_int_eq(n_cal, 1);
    ck_assert_int_eq(n_kernel, 0);
    tsr_profiler_enable(ctx, 0);
    struct tsr_device_info info;
    ck_assert_int_eq(tsr_device_get_info(ctx, 99, &info), TSR_E_INVALID_ARG); /* logs at debug */
    /* an error-level line of the host pool (a free of a pointer it never handed out) */
    static _Alignas(64) unsigned char foreign[256];
    tsr_host_pool_free(ctx->host_pool, foreign + 128);
    char *err = stderr_end();
    ck_assert_msg(err[0] == '\0', "stderr got: %s", err);
    free(err);
    ck_assert_int_eq(record_count(&log, "calibrating cpu (", "no calibration cache"), 1);
    ck_assert_int_eq(record_count(&log, "calibrating cpu (", opt_dir), 1);
    ck_assert_int_eq(record_count(&log, "calibrated cpu in ", " s: "), 1);
    for (int i = 0; i < log.n; i++)
        if (!strncmp(log.line[i], "calibrat", 8)) ck_assert_int_eq(log.level[i], TSR_LOG_INFO);
    int debug = 0;
    for (int i = 0; i < log.n; i++) {
        ck_assert(log.level[i] >= TSR_LOG_ERROR && log.level[i] <= TSR_LOG_DEBUG);
        size_t len = strlen(log.line[i]);
        ck_assert(len > 0 && log.line[i][len - 1] != '\n'); /* one line, no newline */
        debug += log.level[i] == TSR_LOG_DEBUG && strstr(log.line[i], "no device 99") != NULL;
    }
    ck_assert_int_eq(debug, 1);
    ck_assert_int_eq(record_count(&log, "host pool: free of ", "not a live pool block"), 1);
    for (int i = 0; i < log.n; i++)
        if (!strncmp(log.line[i], "host pool: ", 11)) ck_assert_int_eq(log.level[i], TSR_LOG_ERROR);
    ck_assert_int_eq(log.dropped, 0);
    char path[4200];
    ck_assert(cpu_cache_file(ctx, path, sizeof path));
    ck_assert_msg(!strncmp(path, opt_dir, strlen(opt_dir)), "cache file %s", path);
    ck_assert_int_eq(dir_entries(env_dir), 0);
    tsr_context_destroy(ctx);
    /* A context without the option uses TSR_CACHE_DIR (the environment stays the default). */
    tsr_context *plain = options_context(TSR_CALIBRATE_DEFAULT, NULL, NULL, TSR_LOG_DEFAULT);
    ck_assert(!cpu_cache_file(plain, path, sizeof path));
    ck_assert_msg(!strncmp(path, env_dir, strlen(env_dir)), "cache file %s", path);
    tsr_context_destroy(plain);
    unsetenv("TSR_LOG");
    char rm[200];
    snprintf(rm, sizeof rm, "rm -rf '%s' '%s'", env_dir, opt_dir);
    ck_assert_int_eq(system(rm), 0);
}
END_TEST

/* By default (no level from code nor TSR_LOG) the announcement goes to stderr, once per
 * measurement; an explicit warn level from code silences it although TSR_LOG says info. */
START_TEST(test_announce_default_stderr) {
    char dir[] = "/tmp/tsr_calib_ann_XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    unsetenv("TSR_LOG");
    unsetenv("TSR_CALIBRATE");
    tsr_calib_forget_all();
    stderr_begin();
    tsr_context *ctx = options_context(TSR_CALIBRATE_DEFAULT, dir, NULL, TSR_LOG_DEFAULT);
    compile_on_cpu(ctx);
    compile_on_cpu(ctx); /* known now: no second measurement */
    tsr_context_destroy(ctx);
    char *err = stderr_end();
    const char *p = strstr(err, "tessera: info: calibrating cpu (");
    ck_assert_msg(p != NULL, "stderr: %s", err);
    ck_assert_msg(strstr(p + 1, "tessera: info: calibrating cpu (") == NULL, "stderr: %s", err);
    ck_assert_msg(strstr(err, "tessera: info: calibrated cpu in ") != NULL, "stderr: %s", err);
    free(err);
    /* Explicit warn from code: no announcement, TSR_LOG=info notwithstanding. */
    setenv("TSR_LOG", "info", 1);
    tsr_calib_forget_all();
    char rm[200];
    snprintf(rm, sizeof rm, "rm -rf '%s'/*", dir);
    ck_assert_int_eq(system(rm), 0);
    stderr_begin();
    ctx = options_context(TSR_CALIBRATE_DEFAULT, dir, NULL, TSR_LOG_WARN);
    compile_on_cpu(ctx);
    char path[4200];
    ck_assert(cpu_cache_file(ctx, path, sizeof path)); /* it did measure */
    tsr_context_destroy(ctx);
    err = stderr_end();
    ck_assert_msg(strstr(err, "calibrat") == NULL, "stderr: %s", err);
    free(err);
    unsetenv("TSR_LOG");
    snprintf(rm, sizeof rm, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(rm), 0);
}
END_TEST

/* The announcement: once when measuring (no cache), never when the cache is valid (a new
 * process, modelled by forgetting the process table), once with the reason when the file is
 * invalid, and "forced" under TSR_CALIBRATE_FORCE. */
START_TEST(test_announce_once) {
    char dir[] = "/tmp/tsr_calib_once_XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    unsetenv("TSR_CALIBRATE");
    unsetenv("TSR_LOG");
    tsr_calib_forget_all();
    static struct log_record log;
    record_init(&log);
    tsr_context *ctx = options_context(TSR_CALIBRATE_AUTO, dir, &log, TSR_LOG_DEFAULT);
    compile_on_cpu(ctx);
    compile_on_cpu(ctx);
    ck_assert_int_eq(record_count(&log, "calibrating cpu (", "no calibration cache"), 1);
    ck_assert_int_eq(record_count(&log, "calibrating ", NULL), 1);
    ck_assert_int_eq(record_count(&log, "calibrated cpu in ", NULL), 1);
    char path[4200];
    ck_assert(cpu_cache_file(ctx, path, sizeof path));
    tsr_context_destroy(ctx);
    /* valid cache: read, not measured, not announced */
    tsr_calib_forget_all();
    record_init(&log);
    ctx = options_context(TSR_CALIBRATE_AUTO, dir, &log, TSR_LOG_DEFAULT);
    compile_on_cpu(ctx);
    ck_assert_int_eq(record_count(&log, "calibrat", NULL), 0);
    struct tsr_calibration_info known;
    ck_assert_int_eq(tsr_device_calibration(ctx, 0, &known), TSR_OK);
    tsr_context_destroy(ctx);
    /* invalid file: one announcement naming the reason */
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs("{ not json", f);
    fclose(f);
    tsr_calib_forget_all();
    record_init(&log);
    ctx = options_context(TSR_CALIBRATE_AUTO, dir, &log, TSR_LOG_DEFAULT);
    compile_on_cpu(ctx);
    ck_assert_int_eq(record_count(&log, "calibrating cpu (",
                                  "invalid (not one JSON value (truncated or garbage))"),
                     1);
    ck_assert_int_eq(record_count(&log, "calibration cache ", "ignored (not one JSON value"), 1);
    ck_assert_int_eq(record_count(&log, "calibrating ", NULL), 1);
    ck_assert_int_eq(record_count(&log, "calibrated cpu in ", NULL), 1);
    tsr_context_destroy(ctx);
    /* forced: announced as such although the cache is valid again */
    tsr_calib_forget_all();
    record_init(&log);
    ctx = options_context(TSR_CALIBRATE_FORCE, dir, &log, TSR_LOG_DEFAULT);
    compile_on_cpu(ctx);
    compile_on_cpu(ctx); /* once per process */
    ck_assert_int_eq(record_count(&log, "calibrating cpu (", "forced"), 1);
    ck_assert_int_eq(record_count(&log, "calibrating ", NULL), 1);
    tsr_context_destroy(ctx);
    char rm[200];
    snprintf(rm, sizeof rm, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(rm), 0);
}
END_TEST

/* Compiles y = Relu(x) for the CPU, runs it and checks y against max(x, 0). */
static void run_relu_checked(tsr_context *ctx, const char *what) {
    const struct tsr_tensor_desc d = {.dtype = TSR_F32, .rank = 1, .dims = {64}};
    tsr_graph *g = NULL;
    tsr_value in, y;
    ck_assert_int_eq(tsr_graph_create(ctx, &g), TSR_OK);
    ck_assert_int_eq(tsr_graph_input(g, "x", &d, &in), TSR_OK);
    ck_assert_int_eq(tsr_graph_op(g, TSR_OP_RELU, &in, 1, NULL, NULL, &y), TSR_OK);
    ck_assert_int_eq(tsr_graph_output(g, "y", y), TSR_OK);
    struct tsr_compile_options co = tsr_compile_options_default();
    co.device = "cpu";
    tsr_plan *plan = NULL;
    ck_assert_msg(tsr_compile(ctx, g, &co, &plan) == TSR_OK, "%s: compile", what);
    float x[64], out[64], ref[64];
    ts_fill_uniform(x, 64, 5, -1.0f, 1.0f);
    for (int i = 0; i < 64; i++)
        ref[i] = x[i] > 0 ? x[i] : 0.0f;
    struct tsr_tensor ti = {.desc = d, .data = x}, to = {.desc = d, .data = out};
    ck_assert_msg(tsr_plan_run(plan, &ti, 1, &to, 1) == TSR_OK, "%s: run", what);
    ck_assert_msg(ts_max_abs_diff(out, ref, 64) == 0.0, "%s: wrong output", what);
    tsr_plan_destroy(plan);
    tsr_graph_destroy(g);
}

/* Writes n bytes to path (replacing whatever is there). */
static void put_bytes(const char *path, const void *buf, size_t n) {
    unlink(path);
    rmdir(path);
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(buf, 1, n, f), n);
    ck_assert_int_eq(fclose(f), 0);
}

static char *get_text(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    char *t = malloc(*n + 1);
    ck_assert_ptr_nonnull(t);
    ck_assert_uint_eq(fread(t, 1, *n, f), *n);
    t[*n] = '\0';
    fclose(f);
    return t;
}

/* Hostile calibration files (issue 12): truncated, flipped bytes, garbage, embedded NUL,
 * trailing bytes, a FIFO, a symlink to /dev/zero, a directory, a huge sparse file, another
 * device's file under this device's name, figures out of range: each is rejected by the reader
 * (never blocking, never trusted) with a reason; then, end to end, a compile with such a file
 * warns once through the log function, re-measures, rewrites the file valid and runs correctly;
 * and a cache directory that is a regular file gives a correct run with a warning. */
START_TEST(test_hostile_files) {
    char dir[] = "/tmp/tsr_calib_hostile_XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    unsetenv("TSR_CALIBRATE");
    unsetenv("TSR_LOG");
    tsr_calib_forget_all();
    static struct log_record log;
    record_init(&log);
    /* a valid file with known figures (nothing measured in this part: cached-only policy) */
    tsr_context *ctx = options_context(TSR_CALIBRATE_CACHED_ONLY, dir, &log, TSR_LOG_DEFAULT);
    struct tsr_calibration valid, back;
    memset(&valid, 0, sizeof valid);
    tsr_calib_key(&ctx->devices[0].info, valid.key, sizeof valid.key);
    valid.bandwidth_gbps = 10.0;
    valid.launch_us = 5.0;
    valid.run_overhead_us = 20.0;
    valid.trans_gops = valid.trans_slow_gops = 1.0;
    valid.n_gemm = 2;
    valid.gemm[0] = (struct tsr_calib_gemm){32, 32, 32, 10.0};
    valid.gemm[1] = (struct tsr_calib_gemm){512, 512, 512, 100.0};
    valid.n_bw = 1;
    valid.bw[0] = (struct tsr_calib_bw){1 << 20, 12.5};
    valid.seconds = 1.0;
    valid.created_unix = 1700000000;
    ck_assert_int_eq(tsr_calib_save(ctx, &valid), 0);
    char path[4200];
    const char *key = valid.key;
    ck_assert(cpu_cache_file(ctx, path, sizeof path));
    ck_assert_int_eq(tsr_calib_load(ctx, key, &back, NULL), 0);
    ck_assert(same_cal(&valid, &back));
    size_t n = 0;
    char *good = get_text(path, &n);
    /* another device's valid file (its own key inside) under this device's name */
    struct tsr_calibration other = valid;
    snprintf(other.key, sizeof other.key, "opencl|Other GPU|1.0|%s|Other platform|build=opt",
             TSR_VERSION_STRING);
    ck_assert_int_eq(tsr_calib_save(ctx, &other), 0);
    char other_path[4200];
    ck_assert_int_eq(tsr_calib_cache_path(ctx, other.key, other_path, sizeof other_path), 0);
    enum {
        K_TRUNC,
        K_FLIP,
        K_GARBAGE,
        K_NUL,
        K_TRAILING,
        K_FIFO,
        K_ZERO,
        K_DIR,
        K_HUGE,
        K_OTHER,
        K_RANGE_BW,
        K_RANGE_GEMM,
        K_RANGE_TIME,
        K_N
    };
    for (int k = 0; k < K_N; k++) {
        char *t = strdup(good);
        ck_assert_ptr_nonnull(t);
        char *p;
        switch (k) {
        case K_TRUNC:
            put_bytes(path, t, n / 2);
            break;
        case K_FLIP: /* digits and punctuation in the middle */
            for (size_t i = n / 3; i < n; i += 37)
                t[i] ^= 0x04;
            put_bytes(path, t, n);
            break;
        case K_GARBAGE: {
            unsigned char g[512];
            for (size_t i = 0; i < sizeof g; i++)
                g[i] = (unsigned char)(i * 131u + 7u);
            put_bytes(path, g, sizeof g);
            break;
        }
        case K_NUL: /* a valid file with a NUL inside */
            p = strstr(t, "\"seconds\"");
            ck_assert_ptr_nonnull(p);
            p[0] = '\0';
            put_bytes(path, t, n);
            break;
        case K_TRAILING: {
            put_bytes(path, t, n);
            FILE *f = fopen(path, "ab");
            fputs("{}", f);
            fclose(f);
            break;
        }
        case K_FIFO:
            unlink(path);
            ck_assert_int_eq(mkfifo(path, 0644), 0);
            break;
        case K_ZERO:
            unlink(path);
            ck_assert_int_eq(symlink("/dev/zero", path), 0);
            break;
        case K_DIR:
            unlink(path);
            ck_assert_int_eq(mkdir(path, 0755), 0);
            break;
        case K_HUGE: {
            put_bytes(path, t, n);
            ck_assert_int_eq(truncate(path, (off_t)64 << 20), 0);
            break;
        }
        case K_OTHER:
            ck_assert_int_eq(rename(other_path, path), 0);
            break;
        case K_RANGE_BW:
            put_bytes(path, t, n);
            edit_file(path, "bandwidth_gbps", json_object_new_double(1e300));
            break;
        case K_RANGE_GEMM: {
            put_bytes(path, t, n);
            struct json_object *root = json_object_from_file(path), *g = NULL;
            ck_assert(json_object_object_get_ex(root, "gemm", &g));
            json_object_object_add(json_object_array_get_idx(g, 0), "m",
                                   json_object_new_int64(1000000000000ll));
            ck_assert_int_eq(json_object_to_file(path, root), 0);
            json_object_put(root);
            break;
        }
        case K_RANGE_TIME:
            put_bytes(path, t, n);
            edit_file(path, "created_unix", json_object_new_int64(-5));
            break;
        }
        free(t);
        const char *why = NULL;
        ck_assert_msg(tsr_calib_load(ctx, key, &back, &why) == -2 && why, "case %d accepted", k);
        if (k == K_DIR) rmdir(path);
        if (k == K_OTHER) ck_assert_ptr_nonnull(strstr(why, "key differs"));
    }
    tsr_context_destroy(ctx);
    /* Cached-only policy, garbage file: a warning, the estimates, a correct run. */
    put_bytes(path, "\x01\x02garbage", 9);
    tsr_calib_forget_all();
    record_init(&log);
    ctx = options_context(TSR_CALIBRATE_CACHED_ONLY, dir, &log, TSR_LOG_DEFAULT);
    run_relu_checked(ctx, "garbage file, cached only");
    ck_assert_int_ge(record_count(&log, "calibration cache ", "ignored (not one JSON value"), 1);
    ck_assert_int_eq(record_count(&log, "calibrating ", NULL), 0); /* not measured */
    tsr_context_destroy(ctx);
    /* End to end with measuring, a FIFO (a reader that blocked would hang here): warned once,
     * re-measured, rewritten as a valid regular file, correct run. */
    unlink(path);
    ck_assert_int_eq(mkfifo(path, 0644), 0);
    tsr_calib_forget_all();
    record_init(&log);
    ctx = options_context(TSR_CALIBRATE_AUTO, dir, &log, TSR_LOG_DEFAULT);
    run_relu_checked(ctx, "FIFO");
    ck_assert_int_eq(record_count(&log, "calibration cache ", "ignored (not a regular file)"), 1);
    ck_assert_int_eq(record_count(&log, "calibrated cpu in ", NULL), 1);
    struct stat sb;
    ck_assert(lstat(path, &sb) == 0 && S_ISREG(sb.st_mode));
    ck_assert_int_eq(tsr_calib_load(ctx, key, &back, NULL), 0);
    tsr_context_destroy(ctx);
    /* The cache directory path is a regular file: measured, not written (warned), correct. */
    char file[200];
    snprintf(file, sizeof file, "%s/plain-file", dir);
    put_bytes(file, "x", 1);
    tsr_calib_forget_all();
    record_init(&log);
    ctx = options_context(TSR_CALIBRATE_AUTO, file, &log, TSR_LOG_DEFAULT);
    run_relu_checked(ctx, "cache dir is a file");
    ck_assert_int_eq(record_count(&log, "calibration of cpu could not be written", NULL), 1);
    tsr_context_destroy(ctx);
    free(good);
    tsr_calib_forget_all();
    char rm[200];
    snprintf(rm, sizeof rm, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(rm), 0);
}
END_TEST

/* The policy from code overrides TSR_CALIBRATE both ways; left default, TSR_CALIBRATE applies. */
START_TEST(test_policy_overrides_env) {
    char dir[] = "/tmp/tsr_calib_pol_XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    unsetenv("TSR_LOG");
    static struct log_record log;
    char path[4200];
    /* env off (cached only), code auto: measures */
    setenv("TSR_CALIBRATE", "off", 1);
    tsr_calib_forget_all();
    record_init(&log);
    tsr_context *ctx = options_context(TSR_CALIBRATE_AUTO, dir, &log, TSR_LOG_DEFAULT);
    compile_on_cpu(ctx);
    ck_assert(cpu_cache_file(ctx, path, sizeof path));
    ck_assert_int_eq(record_count(&log, "calibrating cpu (", NULL), 1);
    tsr_context_destroy(ctx);
    ck_assert_int_eq(unlink(path), 0);
    /* env force, code skip: neither measures nor reads, nothing known */
    setenv("TSR_CALIBRATE", "force", 1);
    const tsr_calibrate_policy never[2] = {TSR_CALIBRATE_SKIP, TSR_CALIBRATE_CACHED_ONLY};
    for (int i = 0; i < 2; i++) {
        tsr_calib_forget_all();
        record_init(&log);
        ctx = options_context(never[i], dir, &log, TSR_LOG_DEFAULT);
        compile_on_cpu(ctx);
        ck_assert(!cpu_cache_file(ctx, path, sizeof path));
        ck_assert_int_eq(record_count(&log, "calibrat", NULL), 0);
        struct tsr_calibration_info c;
        ck_assert_int_eq(tsr_device_calibration(ctx, 0, &c), TSR_E_NOT_FOUND);
        tsr_context_destroy(ctx);
    }
    /* policy left default: TSR_CALIBRATE=skip is obeyed, TSR_CALIBRATE=auto measures */
    setenv("TSR_CALIBRATE", "skip", 1);
    tsr_calib_forget_all();
    record_init(&log);
    ctx = options_context(TSR_CALIBRATE_DEFAULT, dir, &log, TSR_LOG_DEFAULT);
    compile_on_cpu(ctx);
    ck_assert(!cpu_cache_file(ctx, path, sizeof path));
    ck_assert_int_eq(record_count(&log, "calibrat", NULL), 0);
    setenv("TSR_CALIBRATE", "auto", 1);
    compile_on_cpu(ctx);
    ck_assert(cpu_cache_file(ctx, path, sizeof path));
    ck_assert_int_eq(record_count(&log, "calibrating cpu (", NULL), 1);
    tsr_context_destroy(ctx);
    unsetenv("TSR_CALIBRATE");
    char rm[200];
    snprintf(rm, sizeof rm, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(rm), 0);
}
END_TEST

/* Out-of-range option values are refused with a message naming the field. */
START_TEST(test_bad_options) {
    struct tsr_context_options o;
    tsr_context *ctx = NULL;
    memset(&o, 0, sizeof o);
    o.log_level = (tsr_log_level)9;
    ck_assert_int_eq(tsr_context_create(&o, &ctx), TSR_E_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(tsr_last_error(NULL)->message, "log_level 9"));
    memset(&o, 0, sizeof o);
    o.calibration = (tsr_calibrate_policy)-1;
    ck_assert_int_eq(tsr_context_create(&o, &ctx), TSR_E_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(tsr_last_error(NULL)->message, "calibration policy -1"));
    memset(&o, 0, sizeof o);
    static char long_dir[5000];
    memset(long_dir, 'a', sizeof long_dir - 1);
    o.cache_dir = long_dir;
    ck_assert_int_eq(tsr_context_create(&o, &ctx), TSR_E_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(tsr_last_error(NULL)->message, "cache_dir"));
    ck_assert_ptr_null(ctx);
}
END_TEST

static Suite *calibrate_suite(void) {
    Suite *s = suite_create("calibrate");
    TCase *tc = tcase_create("calibrate");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_robust_median);
    tcase_add_test(tc, test_key_format_stable);
    tcase_add_test(tc, test_measure_round_trip);
    tcase_add_test(tc, test_public_calibration);
    tcase_add_test(tc, test_bad_files_rebuilt);
    tcase_add_test(tc, test_cost_model);
    tcase_add_test(tc, test_bandwidth_curve_and_conv);
#ifdef TSR_WITH_OPENCL
    tcase_add_test(tc, test_measuring_hides_probes);
#endif
    suite_add_tcase(s, tc);
    TCase *opt = tcase_create("options");
    tcase_set_timeout(opt, 300);
    tcase_add_test(opt, test_bad_options);
    tcase_add_test(opt, test_log_callback_and_cache_dir);
    tcase_add_test(opt, test_announce_default_stderr);
    tcase_add_test(opt, test_announce_once);
    tcase_add_test(opt, test_hostile_files);
    tcase_add_test(opt, test_policy_overrides_env);
    suite_add_tcase(s, opt);
    return s;
}

int main(void) {
    if (!mkdtemp(g_dir)) {
        perror("check_calibrate: mkdtemp");
        return 1;
    }
    const int rc = ts_run_suite(calibrate_suite());
    ts_remove_tree(g_dir);
    return rc;
}
