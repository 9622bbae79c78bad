/*
 * cmd_bench.c — `tessera bench`: device comparison benchmarks with peers side by side
 * (the harness and suites live in bench/, see bench/bench.h).
 */
#include "cli.h"

#include "bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const BENCH_USAGE =
    "usage: tessera bench [options]\n"
    "\n"
    "Measures tessera on every device next to its peers (OpenBLAS, CLBlast, PyTorch, ONNX\n"
    "Runtime, STREAM-like loops) and prints one table; medians after warm-up runs.\n"
    "\n"
    "  --quick              smaller case list and shorter runs (well under 2 minutes)\n"
    "  --device LIST        comma-separated device ids (cpu,opencl:0); default: every device\n"
    "  --suite LIST         gemm,elementwise,reduction,memory,model,fusion (default: all)\n"
    "  --model FILE.onnx    also benchmark this model (repeatable; models/digits.onnx always)\n"
    "  --json FILE          every measurement, machine and devices as JSON\n"
    "  --csv FILE           every measurement as CSV\n"
    "  --plot FILE.png|svg  bar chart per suite + roofline (needs gnuplot)\n"
    "  --cv-threshold X     flag results whose coefficient of variation exceeds X (default 0.10)\n"
    "  --python PATH        interpreter for the PyTorch / ONNX Runtime peers (default: .venv\n"
    "                       made by tools/bench-venv.sh, else /usr/bin/python3)\n"
    "  --no-peers           measure tessera only (peers are listed as absent)\n"
    "  --dim NAME=N         model suite: symbolic input dims named NAME (other than the batch,\n"
    "                       dim 0) take N, e.g. --dim sequence=128 (repeatable; default 1)\n"
    "  --rounds N           model suite on the CPU: rounds of the interleaved timing against\n"
    "                       ONNX Runtime (default 10, quick 5)\n"
    "  --reps K             ... timed runs of each side per round (default 3)\n"
    "  --no-progress        no progress bar on stderr\n"
    "\n"
    "Exit status: 0 success (also when some cases are unsupported), 2 bad option or device,\n"
    "1 internal error or an output file that cannot be written.\n";

static unsigned parse_suites(const char *list) {
    static const char *const names[] = {"gemm",   "elementwise", "reduction",
                                        "memory", "model",       "fusion"};
    unsigned bits = 0;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", list);
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        unsigned b = 0;
        for (int i = 0; i < 6; i++)
            if (!strcmp(t, names[i])) b = 1u << i;
        if (!strcmp(t, "all")) b = TSR_SUITE_ALL;
        if (!b) return 0;
        bits |= b;
    }
    return bits;
}

int cmd_bench(int argc, char **argv) {
    struct tsr_bench_run run = {0};
    const char *json = NULL, *csv = NULL, *plot = NULL, *devices = NULL;
    double cv = TSR_BENCH_CV_THRESHOLD;
    char digits[4096];
    snprintf(digits, sizeof digits, "%s/digits.onnx", cli_models_dir());
    run.models[run.n_models++] = digits;
    run.suites = TSR_SUITE_ALL;
    run.progress = 1;
    enum {
        O_QUICK = 256,
        O_NO_PEERS,
        O_NO_PROGRESS,
        O_DEVICE,
        O_SUITE,
        O_MODEL,
        O_JSON,
        O_CSV,
        O_PLOT,
        O_PYTHON,
        O_DIM,
        O_ROUNDS,
        O_REPS,
        O_CV
    };
    static const struct option longopts[] = {{"help", no_argument, NULL, 'h'},
                                             {"quick", no_argument, NULL, O_QUICK},
                                             {"no-peers", no_argument, NULL, O_NO_PEERS},
                                             {"no-progress", no_argument, NULL, O_NO_PROGRESS},
                                             {"device", required_argument, NULL, O_DEVICE},
                                             {"suite", required_argument, NULL, O_SUITE},
                                             {"model", required_argument, NULL, O_MODEL},
                                             {"json", required_argument, NULL, O_JSON},
                                             {"csv", required_argument, NULL, O_CSV},
                                             {"plot", required_argument, NULL, O_PLOT},
                                             {"python", required_argument, NULL, O_PYTHON},
                                             {"dim", required_argument, NULL, O_DIM},
                                             {"rounds", required_argument, NULL, O_ROUNDS},
                                             {"reps", required_argument, NULL, O_REPS},
                                             {"cv-threshold", required_argument, NULL, O_CV},
                                             {NULL, 0, NULL, 0}};
    int c;
    const char *a = NULL;
    while ((c = cli_getopt(argc, argv, "h", longopts, &a)) != -1) {
        const char *v = optarg;
        switch (c) {
        case CLI_GETOPT_ERROR:
            return TSR_EXIT_USAGE;
        case 'h': {
            fputs(BENCH_USAGE, stdout);
            char python[4096], helper[4096];
            tsr_bench_python_paths(&run, python, sizeof python, helper, sizeof helper);
            printf("\nPeer script: %s (env TSR_BENCH_HELPER overrides)\nPython: %s\n", helper,
                   python);
            return TSR_EXIT_OK;
        }
        case O_QUICK:
            run.quick = 1;
            break;
        case O_NO_PEERS:
            run.no_peers = 1;
            break;
        case O_NO_PROGRESS:
            run.progress = 0;
            break;
        case O_DEVICE:
            devices = v;
            break;
        case O_SUITE:
            run.suites = parse_suites(v);
            if (!run.suites) return cli_usage_error("bench: bad --suite list '%s'", v);
            break;
        case O_MODEL:
            if (run.n_models == TSR_BENCH_MAX_MODELS)
                return cli_usage_error("bench: at most %d models", TSR_BENCH_MAX_MODELS - 1);
            run.models[run.n_models++] = v;
            break;
        case O_JSON:
            json = v;
            break;
        case O_CSV:
            csv = v;
            break;
        case O_PLOT:
            plot = v;
            break;
        case O_PYTHON:
            run.python = v;
            break;
        case O_DIM: {
            const char *eq = strchr(v, '=');
            char *end = NULL;
            long long n = eq ? strtoll(eq + 1, &end, 10) : 0;
            if (!eq || eq == v || (size_t)(eq - v) >= sizeof run.dim_names[0] || !end || *end ||
                n < 1 || run.n_dims == 4)
                return cli_usage_error("bench: bad --dim %s (NAME=N, N >= 1, at most 4)", v);
            snprintf(run.dim_names[run.n_dims], sizeof run.dim_names[0], "%.*s", (int)(eq - v), v);
            run.dim_values[run.n_dims++] = n;
            break;
        }
        case O_ROUNDS:
        case O_REPS: {
            char *end = NULL;
            long n = strtol(v, &end, 10);
            if (!end || *end || n < 1 || n > 1000)
                return cli_usage_error("bench: bad %s %s (1 .. 1000)", a, v);
            *(c == O_ROUNDS ? &run.pair_rounds : &run.pair_reps) = (int)n;
            break;
        }
        case O_CV: {
            char *end = NULL;
            cv = strtod(v, &end);
            if (!end || *end || cv <= 0) return cli_usage_error("bench: bad --cv-threshold %s", v);
            break;
        }
        }
    }
    if (optind < argc)
        return cli_usage_error("bench: unexpected argument '%s' (models go with --model)",
                               argv[optind]);
    if (plot) {
        const char *ext = strrchr(plot, '.');
        if (!ext || (strcmp(ext, ".png") && strcmp(ext, ".svg")))
            return cli_usage_error("bench: --plot %s: the file must end in .png or .svg", plot);
    }
    tsr_context *ctx = NULL;
    tsr_status st = tsr_context_create(NULL, &ctx);
    if (st != TSR_OK) return cli_fail(NULL, st, "context");
    run.ctx = ctx;
    if (devices) {
        char buf[512];
        snprintf(buf, sizeof buf, "%s", devices);
        for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
            int idx;
            struct tsr_device_info di;
            st = tsr_device_find(ctx, t, &idx);
            if (st != TSR_OK || run.n_devices == TSR_BENCH_MAX_DEVICES) {
                int rc = cli_fail(ctx, st == TSR_OK ? TSR_E_INVALID_ARG : st, "--device");
                tsr_context_destroy(ctx);
                return rc;
            }
            tsr_device_get_info(ctx, idx, &di);
            snprintf(run.devices[run.n_devices++], sizeof run.devices[0], "%s", di.id);
        }
    } else {
        for (int i = 0; i < tsr_device_count(ctx) && i < TSR_BENCH_MAX_DEVICES; i++) {
            struct tsr_device_info di;
            if (tsr_device_get_info(ctx, i, &di) == TSR_OK)
                snprintf(run.devices[run.n_devices++], sizeof run.devices[0], "%s", di.id);
        }
    }
    run.cfg = tsr_bench_config_default(run.quick);
    run.cfg.cv_threshold = cv;
    run.progress_total = tsr_bench_count_cases(&run);
    uint64_t t0 = tsr_bench_now_ns();
    run.load_start = tsr_bench_loadavg();
    int rc = 0;
    if (!rc && (run.suites & TSR_SUITE_MEMORY)) rc = tsr_bench_suite_memory(&run);
    if (!rc && (run.suites & TSR_SUITE_GEMM)) rc = tsr_bench_suite_gemm(&run);
    if (!rc && (run.suites & TSR_SUITE_ELEMENTWISE)) rc = tsr_bench_suite_elementwise(&run);
    if (!rc && (run.suites & TSR_SUITE_REDUCTION)) rc = tsr_bench_suite_reduction(&run);
    if (!rc && (run.suites & TSR_SUITE_MODEL)) rc = tsr_bench_suite_model(&run);
    if (!rc && (run.suites & TSR_SUITE_FUSION)) rc = tsr_bench_suite_fusion(&run);
    tsr_bench_serve_close(run.serve);
    run.serve = NULL;
    if (run.progress && run.progress_done < run.progress_total) fprintf(stderr, "\n");
    if (!rc) rc = tsr_bench_python_peers(&run);
    if (rc) {
        fprintf(stderr, "tessera: error: bench: out of memory\n");
        tsr_bench_run_free(&run);
        tsr_context_destroy(ctx);
        return TSR_EXIT_FAIL;
    }
    if (!run.no_peers) {
        int have_blas = 0, have_clblast = 0;
        for (int i = 0; i < run.n_peers; i++) {
            have_blas |= !strcmp(run.peers[i].name, "openblas");
            have_clblast |= !strcmp(run.peers[i].name, "clblast");
        }
        if (!have_blas && (run.suites & TSR_SUITE_GEMM))
            tsr_bench_peer_note(&run, "openblas", 0, "no cpu device selected");
        if (!have_clblast && (run.suites & TSR_SUITE_GEMM))
            tsr_bench_peer_note(&run, "clblast", 0, "no OpenCL device selected or present");
    } else {
        tsr_bench_peer_note(&run, "openblas", 0, "disabled (--no-peers)");
        tsr_bench_peer_note(&run, "clblast", 0, "disabled (--no-peers)");
    }
    tsr_bench_compute_ratios(&run);
    run.duration_s = (double)(tsr_bench_now_ns() - t0) / 1e9;
    run.load_end = tsr_bench_loadavg();
    tsr_bench_print_table(&run, stdout);
    int out_rc = TSR_EXIT_OK;
    if (json && tsr_bench_write_json(&run, json)) out_rc = TSR_EXIT_FAIL;
    if (csv && tsr_bench_write_csv(&run, csv)) out_rc = TSR_EXIT_FAIL;
    if (plot && tsr_bench_write_plot(&run, plot)) out_rc = TSR_EXIT_FAIL;
    tsr_bench_run_free(&run);
    tsr_context_destroy(ctx);
    return out_rc;
}
