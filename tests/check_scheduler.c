/* check_scheduler.c — roofline predictions and the auto device choice on hand-made devices. */
#include "scheduler/select.h"
#include "runtime/topology.h"
#include "tessera/sched.h"
#include "test_support.h"

#include <math.h>
#include <string.h>

static struct tsr_device_info make_dev(const char *backend, const char *id, const char *type,
                                       double gflops, double gbps, double launch_us,
                                       double transfer_gbps) {
    struct tsr_device_info d;
    memset(&d, 0, sizeof d);
    snprintf(d.backend, sizeof d.backend, "%s", backend);
    d.host_memory = !strcmp(backend, "cpu"); /* as the CPU backend declares */
    snprintf(d.id, sizeof d.id, "%s", id);
    snprintf(d.device_type, sizeof d.device_type, "%s", type);
    d.est_gflops = gflops;
    d.est_gbps = gbps;
    d.est_launch_us = launch_us;
    d.est_transfer_gbps = transfer_gbps;
    return d;
}

/* Independent reference: the roofline formula of select.h written out in seconds. */
static double ref_ms(double flops, double bytes, int kernels, double io, double gflops, double gbps,
                     double launch_us, double xfer) {
    double c = flops / (gflops * 1e9), m = bytes / (gbps * 1e9);
    double t = (c > m ? c : m) + kernels * launch_us * 1e-6 + (xfer > 0 ? io / (xfer * 1e9) : 0);
    return t * 1e3;
}

START_TEST(test_compute_bound) {
    struct tsr_device_info cpu = make_dev("cpu", "cpu", "cpu", 100.0, 10.0, 0.0, 0.0);
    struct tsr_workload w = {.flops = 1e9, .bytes = 1e6, .kernels = 0};
    /* 1e9 FLOP at 100 GFLOP/s = 10 ms; 1e6 B at 10 GB/s = 0.1 ms → compute-bound 10 ms */
    ck_assert_double_eq_tol(tsr_sched_predict_ms(&cpu, &w), 10.0, 1e-9);
    cpu.est_launch_us = 5.0;
    w.kernels = 4; /* + 20 µs */
    ck_assert_double_eq_tol(tsr_sched_predict_ms(&cpu, &w), 10.02, 1e-9);
    /* the native CPU never pays a transfer, whatever io_bytes is */
    w.io_bytes = 1e9;
    ck_assert_double_eq_tol(tsr_sched_predict_ms(&cpu, &w), 10.02, 1e-9);
}
END_TEST

START_TEST(test_memory_bound) {
    struct tsr_device_info gpu = make_dev("opencl", "opencl:0", "gpu", 1000.0, 100.0, 10.0, 10.0);
    struct tsr_workload w = {.flops = 1e6, .bytes = 1e9, .kernels = 3, .io_bytes = 5e7};
    /* memory 1e9/100e9 = 10 ms; launch 3*10 µs = 0.03 ms; transfer 5e7/10e9 = 5 ms */
    ck_assert_double_eq_tol(tsr_sched_predict_ms(&gpu, &w), 15.03, 1e-9);
    ck_assert_double_eq_tol(tsr_sched_predict_ms(&gpu, &w),
                            ref_ms(1e6, 1e9, 3, 5e7, 1000.0, 100.0, 10.0, 10.0), 1e-9);
    /* weights are uploaded once per plan, not per run */
    w.weight_bytes = 1e12;
    ck_assert_double_eq_tol(tsr_sched_predict_ms(&gpu, &w), 15.03, 1e-9);
}
END_TEST

START_TEST(test_choose_faster) {
    struct tsr_device_info devs[2] = {
        make_dev("cpu", "cpu", "cpu", 100.0, 20.0, 2.0, 0.0),
        make_dev("opencl", "opencl:0", "gpu", 50.0, 10.0, 2.0, 100.0),
    };
    struct tsr_workload w = {.flops = 1e9, .bytes = 1e8, .kernels = 1, .io_bytes = 1e6};
    char reason[512];
    ck_assert_int_eq(tsr_sched_choose(devs, 2, &w, reason, sizeof reason), 0);
    /* swap the figures: the OpenCL GPU is now the faster one */
    devs[1].est_gflops = 1000.0;
    devs[1].est_gbps = 500.0;
    ck_assert_int_eq(tsr_sched_choose(devs, 2, &w, reason, sizeof reason), 1);
    ck_assert_ptr_nonnull(strstr(reason, "cpu"));
    ck_assert_ptr_nonnull(strstr(reason, "opencl:0"));
    /* the reason states each prediction in ms */
    char expect[64];
    snprintf(expect, sizeof expect, "cpu %.3f ms", tsr_sched_predict_ms(&devs[0], &w));
    ck_assert_msg(strstr(reason, expect), "'%s' not in '%s'", expect, reason);
    snprintf(expect, sizeof expect, "opencl:0 %.3f ms", tsr_sched_predict_ms(&devs[1], &w));
    ck_assert_msg(strstr(reason, expect), "'%s' not in '%s'", expect, reason);
    ck_assert_ptr_nonnull(strstr(reason, "chose opencl:0"));
}
END_TEST

START_TEST(test_tie_native_cpu_wins) {
    /* identical figures, no transfer cost on either: a tie; the CPU wins in either order */
    struct tsr_device_info devs[2] = {
        make_dev("opencl", "opencl:0", "gpu", 100.0, 10.0, 1.0, 0.0),
        make_dev("cpu", "cpu", "cpu", 100.0, 10.0, 1.0, 0.0),
    };
    struct tsr_workload w = {.flops = 1e9, .bytes = 1e6, .kernels = 2, .io_bytes = 0};
    ck_assert_double_eq(tsr_sched_predict_ms(&devs[0], &w), tsr_sched_predict_ms(&devs[1], &w));
    char reason[512];
    ck_assert_int_eq(tsr_sched_choose(devs, 2, &w, reason, sizeof reason), 1);
    struct tsr_device_info swapped[2] = {devs[1], devs[0]};
    ck_assert_int_eq(tsr_sched_choose(swapped, 2, &w, reason, sizeof reason), 0);
    ck_assert_ptr_nonnull(strstr(reason, "tie"));
}
END_TEST

START_TEST(test_opencl_cpu_device_loses) {
    /* an OpenCL CPU device with the same figures and even no launch/transfer cost */
    struct tsr_device_info devs[2] = {
        make_dev("opencl", "opencl:0", "cpu", 100.0, 10.0, 0.0, 0.0),
        make_dev("cpu", "cpu", "cpu", 100.0, 10.0, 2.0, 0.0),
    };
    struct tsr_workload w = tsr_sched_typical_workload();
    char reason[512];
    ck_assert_int_eq(tsr_sched_choose(devs, 2, &w, reason, sizeof reason), 1);
    ck_assert_ptr_nonnull(strstr(reason, "opencl:0"));
    /* alone, the OpenCL CPU device is chosen (there is nothing else) */
    ck_assert_int_eq(tsr_sched_choose(devs, 1, &w, reason, sizeof reason), 0);
}
END_TEST

START_TEST(test_gpu_large_vs_tiny) {
    struct tsr_device_info devs[2] = {
        make_dev("cpu", "cpu", "cpu", 100.0, 20.0, 2.0, 0.0),
        make_dev("opencl", "opencl:0", "gpu", 1000.0, 200.0, 20.0, 12.0),
    };
    char reason[512];
    struct tsr_workload big = tsr_sched_typical_workload();
    big.flops *= 16; /* a bigger batch: 4096 rows */
    big.bytes *= 16;
    big.io_bytes *= 16;
    ck_assert_int_eq(tsr_sched_choose(devs, 2, &big, reason, sizeof reason), 1);
    /* tiny: a 16-element elementwise op; launch + transfer dominate on the GPU */
    struct tsr_workload tiny = {.flops = 16, .bytes = 128, .kernels = 1, .io_bytes = 128};
    ck_assert_int_eq(tsr_sched_choose(devs, 2, &tiny, reason, sizeof reason), 0);
    ck_assert_ptr_nonnull(strstr(reason, "cpu"));
    ck_assert_ptr_nonnull(strstr(reason, "opencl:0"));
}
END_TEST

START_TEST(test_reason_truncation_and_no_estimate) {
    struct tsr_device_info devs[3] = {
        make_dev("cpu", "cpu", "cpu", 100.0, 20.0, 2.0, 0.0),
        make_dev("opencl", "opencl:0", "gpu", 0.0, 0.0, 0.0, 0.0),
        make_dev("opencl", "opencl:1", "gpu", 200.0, 40.0, 1.0, 10.0),
    };
    struct tsr_workload w = tsr_sched_typical_workload();
    ck_assert(isinf(tsr_sched_predict_ms(&devs[1], &w)));
    char reason[512];
    int best = tsr_sched_choose(devs, 3, &w, reason, sizeof reason);
    ck_assert_int_ne(best, 1);
    ck_assert_ptr_nonnull(strstr(reason, "opencl:0 no estimate"));
    ck_assert_ptr_nonnull(strstr(reason, "opencl:1"));
    char small[8];
    memset(small, 'x', sizeof small);
    ck_assert_int_eq(tsr_sched_choose(devs, 3, &w, small, sizeof small), best);
    ck_assert_uint_eq(strlen(small), sizeof small - 1);
}
END_TEST

START_TEST(test_typical_workload) {
    struct tsr_workload w = tsr_sched_typical_workload();
    ck_assert_double_ge(w.flops, 2.0 * 256 * 1024 * 1024);
    ck_assert_double_gt(w.bytes, 0);
    ck_assert_int_ge(w.kernels, 1);
    ck_assert_double_eq(w.io_bytes, (256.0 * 1024 + 256.0 * 1024) * 4);
    ck_assert_double_ge(w.weight_bytes, 1024.0 * 1024 * 4);
}
END_TEST

/* tessera/sched.h: the typical choice of a real context is tsr_sched_choose over its devices. */
START_TEST(test_public_typical_choice) {
    tsr_context *ctx = ts_context();
    struct tsr_typical_choice ch;
    ck_assert_int_eq(tsr_sched_typical_choice(ctx, &ch), TSR_OK);
    struct tsr_workload w = tsr_sched_typical_workload();
    ck_assert(ch.workload.flops == w.flops && ch.workload.bytes == w.bytes);
    ck_assert(ch.workload.io_bytes == w.io_bytes && ch.workload.weight_bytes == w.weight_bytes);
    ck_assert_int_eq(ch.workload.kernels, w.kernels);
    char reason[2048];
    struct tsr_device_info infos[16];
    int n_infos = tsr_device_count(ctx);
    ck_assert_int_le(n_infos, 16);
    for (int i = 0; i < n_infos; i++)
        ck_assert_int_eq(tsr_device_get_info(ctx, i, &infos[i]), TSR_OK);
    int pick = tsr_sched_choose(infos, n_infos, &w, reason, sizeof reason);
    ck_assert_int_eq(ch.device, pick);
    ck_assert_str_eq(ch.reason, reason);
    for (int i = 0; i < tsr_device_count(ctx); i++) {
        double ms = -1;
        ck_assert_int_eq(tsr_sched_typical_predicted_ms(ctx, i, &ms), TSR_OK);
        ck_assert(ms == tsr_sched_predict_ms(&infos[i], &w));
    }
    double ms = -1;
    ck_assert_int_eq(tsr_sched_typical_predicted_ms(ctx, tsr_device_count(ctx), &ms),
                     TSR_E_INVALID_ARG);
    ck_assert_int_eq(tsr_sched_typical_predicted_ms(ctx, 0, NULL), TSR_E_INVALID_ARG);
    ck_assert_int_eq(tsr_sched_typical_choice(ctx, NULL), TSR_E_INVALID_ARG);
    ck_assert_int_eq(tsr_sched_typical_choice(NULL, &ch), TSR_E_INVALID_ARG);
    ck_assert(ms == -1);
    tsr_context_destroy(ctx);
}
END_TEST

START_TEST(test_fill_estimates) {
    const double flops_per_cycle[3] = {2.0, 32.0, 64.0};
    const char *isas[3] = {"scalar", "avx2", "avx512"};
    for (int i = 0; i < 3; i++) {
        struct tsr_device_info cpu = make_dev("cpu", "cpu", "cpu", 0, 0, 0, 0);
        snprintf(cpu.isa, sizeof cpu.isa, "%s", isas[i]);
        cpu.compute_units = 4;
        cpu.max_clock_mhz = 3000;
        tsr_sched_fill_estimates(&cpu, NULL);
        /* cores * GHz * FLOP/cycle */
        ck_assert_double_eq_tol(cpu.est_gflops, 4 * 3.0 * flops_per_cycle[i], 1e-9);
        ck_assert_double_gt(cpu.est_gbps, 0);
        ck_assert_double_gt(cpu.est_launch_us, 0);
        ck_assert_double_eq(cpu.est_transfer_gbps, 0);
    }

    /* An OpenCL CPU device on the same cores: same peak/bandwidth as a native CPU that uses the
     * best ISA at the host clock, higher launch overhead, a non-zero transfer cost. */
    struct tsr_topology *topo = NULL;
    ck_assert_int_eq(tsr_topology_create(NULL, &topo), TSR_OK);
    const struct tsr_cpu_topology_info *ci = tsr_topology_cpu(topo);
    struct tsr_device_info cl = make_dev("opencl", "opencl:0", "cpu", 0, 0, 0, 0);
    cl.compute_units = ci->pus;
    cl.max_clock_mhz = 1;
    tsr_sched_fill_estimates(&cl, ci);
    struct tsr_device_info cpu = make_dev("cpu", "cpu", "cpu", 0, 0, 0, 0);
    cpu.compute_units = ci->cores;
    const char *best = __builtin_cpu_supports("avx512f") ? "avx512"
                       : (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
                           ? "avx2"
                           : "scalar";
    snprintf(cpu.isa, sizeof cpu.isa, "%s", best);
    tsr_sched_fill_estimates(&cpu, ci);
    ck_assert_double_eq_tol(cl.est_gflops, cpu.est_gflops, 1e-9);
    ck_assert_double_eq_tol(cl.est_gbps, cpu.est_gbps, 1e-9);
    ck_assert_double_gt(cl.est_launch_us, cpu.est_launch_us);
    ck_assert_double_gt(cl.est_transfer_gbps, 0);
    tsr_topology_destroy(topo);

    /* GPU: compute units * clock * lanes * 2, lanes per CU by vendor (64 for AMD) */
    struct tsr_device_info gpu = make_dev("opencl", "opencl:1", "gpu", 0, 0, 0, 0);
    snprintf(gpu.vendor, sizeof gpu.vendor, "Advanced Micro Devices, Inc.");
    gpu.compute_units = 32;
    gpu.max_clock_mhz = 2000;
    tsr_sched_fill_estimates(&gpu, NULL);
    ck_assert_double_eq_tol(gpu.est_gflops, 32 * 2.0 * 64 * 2, 1e-9);
    ck_assert_double_gt(gpu.est_gbps, 0);
    ck_assert_double_gt(gpu.est_launch_us, 0);
    ck_assert_double_gt(gpu.est_transfer_gbps, 0);
}
END_TEST

static Suite *scheduler_suite(void) {
    Suite *s = suite_create("scheduler");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_compute_bound);
    tcase_add_test(tc, test_memory_bound);
    tcase_add_test(tc, test_choose_faster);
    tcase_add_test(tc, test_tie_native_cpu_wins);
    tcase_add_test(tc, test_opencl_cpu_device_loses);
    tcase_add_test(tc, test_gpu_large_vs_tiny);
    tcase_add_test(tc, test_reason_truncation_and_no_estimate);
    tcase_add_test(tc, test_typical_workload);
    tcase_add_test(tc, test_fill_estimates);
    tcase_add_test(tc, test_public_typical_choice);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    return ts_run_suite(scheduler_suite());
}
