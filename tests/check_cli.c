/*
 * check_cli.c — the `tessera` program as a user runs it: exit codes, JSON fields, accuracy and
 * error against PyTorch on the bundled model, bad files and shapes, traces, `info`.
 */
#include "test_support.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define TESSERA TSR_BINARY_DIR "/bin/tessera"
#define DATA    TSR_TEST_DATA_DIR

struct result {
    int code;
    char *out;
    char *err;
};

static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return strdup("");
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    size_t got = fread(s, 1, (size_t)n, f);
    s[got] = '\0';
    fclose(f);
    return s;
}

/* Runs "tessera <args>" with stdout and stderr captured. */
static struct result run(const char *args) {
    char out_path[] = "/tmp/tsr_cli_outXXXXXX", err_path[] = "/tmp/tsr_cli_errXXXXXX";
    int fo = mkstemp(out_path), fe = mkstemp(err_path);
    ck_assert(fo >= 0 && fe >= 0);
    close(fo);
    close(fe);
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "%s %s >%s 2>%s", TESSERA, args, out_path, err_path);
    int st = system(cmd);
    struct result r;
    r.code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    r.out = slurp(out_path);
    r.err = slurp(err_path);
    unlink(out_path);
    unlink(err_path);
    return r;
}

/* Occurrences of needle in hay. */
static int count(const char *hay, const char *needle) {
    int n = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + strlen(needle), needle))
        n++;
    return n;
}

static void result_free(struct result *r) {
    free(r->out);
    free(r->err);
}

static json_object *get(json_object *o, const char *key) {
    json_object *v = NULL;
    ck_assert_msg(json_object_object_get_ex(o, key, &v), "JSON has no '%s'", key);
    return v;
}

static int have_opencl(void) {
    tsr_context *ctx = ts_context();
    int r = ts_have_opencl(ctx);
    tsr_context_destroy(ctx);
    return r;
}

static void check_bundled_json(const char *device, const char *backend) {
    char args[256];
    snprintf(args, sizeof args, "run --device %s --repeat 3 --json", device);
    struct result r = run(args);
    ck_assert_msg(r.code == 0, "%s: exit %d: %s", args, r.code, r.err);
    json_object *o = json_tokener_parse(r.out);
    ck_assert_msg(o != NULL, "not JSON: %s", r.out);
    ck_assert_str_eq(json_object_get_string(get(o, "backend")), backend);
    /* It ran where it was asked to ("opencl" names opencl:0): no fallback reported. */
    ck_assert_msg(!json_object_get_boolean(get(o, "fell_back")), "%s: fell_back true", args);
    ck_assert_double_ge(json_object_get_double(get(o, "accuracy")), 0.95);
    ck_assert_double_le(json_object_get_double(get(o, "max_abs_err")), 1e-4);
    ck_assert_double_gt(json_object_get_double(get(o, "median_ms")), 0.0);
    ck_assert_int_ge(json_object_get_int(get(o, "kernels")), 1);
    ck_assert_int_eq(json_object_get_int(get(o, "pool_allocs_in_timed_runs")), 0);
    int n_outputs = 0;
    json_object_object_foreach(get(o, "outputs"), oname, oshape) {
        (void)oname;
        ck_assert_int_eq((int)json_object_array_length(oshape), 2);
        ck_assert_int_eq(json_object_get_int(json_object_array_get_idx(oshape, 0)), 360);
        ck_assert_int_eq(json_object_get_int(json_object_array_get_idx(oshape, 1)), 10);
        n_outputs++;
    }
    ck_assert_int_eq(n_outputs, 1);
    json_object *prof = get(o, "profile");
    ck_assert_int_ge((int)json_object_array_length(prof), 1);
    json_object *row = json_object_array_get_idx(prof, 0);
    get(row, "name");
    get(row, "device");
    get(row, "count");
    get(row, "total_ms");
    json_object_put(o);
    result_free(&r);
}

START_TEST(test_run_cpu_json) {
    check_bundled_json("cpu", "cpu");
}
END_TEST

START_TEST(test_run_opencl_json) {
    if (have_opencl()) {
        check_bundled_json("opencl", "opencl");
        /* An injected build failure (backends/opencl/cl_fault.h) makes the plan fall back to the
         * CPU, and --json says so. */
        setenv("TSR_FAULT", "cl_build:1", 1);
        struct result r = run("run --device opencl --repeat 1 --json");
        unsetenv("TSR_FAULT");
        ck_assert_msg(r.code == 0, "fault run: exit %d: %s", r.code, r.err);
        json_object *o = json_tokener_parse(r.out);
        ck_assert_msg(o != NULL, "not JSON: %s", r.out);
        ck_assert_str_eq(json_object_get_string(get(o, "device")), "cpu");
        ck_assert(json_object_get_boolean(get(o, "fell_back")));
        json_object_put(o);
        result_free(&r);
    } else {
        struct result r = run("run --device opencl --repeat 1");
        ck_assert_int_eq(r.code, 2);
#ifdef TSR_WITH_OPENCL
        ck_assert_ptr_nonnull(strstr(r.err, "OpenCL"));
#else /* a build without the OpenCL backend: the name is not a backend of this build */
        ck_assert_ptr_nonnull(strstr(r.err, "no backend 'opencl'"));
#endif
        result_free(&r);
    }
}
END_TEST

START_TEST(test_run_auto_and_all) {
    struct result r = run("run --repeat 2 --json");
    ck_assert_msg(r.code == 0, "exit %d: %s", r.code, r.err);
    json_object *o = json_tokener_parse(r.out);
    ck_assert_ptr_nonnull(o);
    if (!have_opencl()) ck_assert_str_eq(json_object_get_string(get(o, "backend")), "cpu");
    json_object_put(o);
    result_free(&r);
    r = run("run --device all --repeat 2");
    ck_assert_msg(r.code == 0, "exit %d: %s", r.code, r.err);
    ck_assert_ptr_nonnull(strstr(r.out, "median_ms"));
    ck_assert_ptr_nonnull(strstr(r.out, "cpu "));
    if (have_opencl()) ck_assert_ptr_nonnull(strstr(r.out, "opencl:0"));
    result_free(&r);
}
END_TEST

START_TEST(test_bad_files_exit_2) {
    static const char *const files[] = {"empty.onnx", "truncated.onnx", "garbage.onnx",
                                        "unsupported_op.onnx", "/nonexistent/model.onnx"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char args[1024];
        if (files[i][0] == '/')
            snprintf(args, sizeof args, "run %s --input %s/digits_test_x.npy", files[i],
                     TSR_MODELS_DIR);
        else
            snprintf(args, sizeof args, "run %s/%s --input %s/digits_test_x.npy", DATA, files[i],
                     TSR_MODELS_DIR);
        struct result r = run(args);
        ck_assert_msg(r.code == 2, "%s: exit %d (stderr: %s)", files[i], r.code, r.err);
        ck_assert_msg(strstr(r.err, "error:") != NULL, "%s: no error line: %s", files[i], r.err);
        ck_assert_msg(strstr(r.err, "AddressSanitizer") == NULL, "%s: %s", files[i], r.err);
        result_free(&r);
    }
    struct result r =
        run("run " DATA "/unsupported_op.onnx --input " TSR_MODELS_DIR "/digits_test_x.npy");
    ck_assert_ptr_nonnull(strstr(r.err, "Det"));
    result_free(&r);
}
END_TEST

START_TEST(test_wrong_shape_exit_2) {
    /* A 10-column input for a model that takes 64 features. */
    char path[] = "/tmp/tsr_cli_xXXXXXX.npy";
    int fd = mkstemps(path, 4);
    ck_assert(fd >= 0);
    close(fd);
    int64_t dims[2] = {5, 10};
    float data[50] = {0};
    struct tsr_tensor t = {ts_desc(2, dims), data};
    ck_assert_int_eq(tsr_npy_save(path, &t), TSR_OK);
    char args[512];
    snprintf(args, sizeof args, "run %s/digits.onnx --input %s", TSR_MODELS_DIR, path);
    struct result r = run(args);
    ck_assert_msg(r.code == 2, "exit %d: %s", r.code, r.err);
    ck_assert_msg(strstr(r.err, "[5, 10]") && strstr(r.err, "64"), "message: %s", r.err);
    result_free(&r);
    unlink(path);
    r = run("run --device nonsense");
    ck_assert_int_eq(r.code, 2);
    result_free(&r);
    r = run("run --repeat 0");
    ck_assert_int_eq(r.code, 2);
    result_free(&r);
}
END_TEST

/* A model exported with dynamic batch and sequence runs at an input of another shape than the
 * export's: the plan is re-specialised (explained, profiled), the result matches PyTorch; a
 * fixed dim that differs is refused with both shapes. */
START_TEST(test_dynamic_shapes) {
    static const char *const devices[] = {"cpu", "opencl"};
    for (int d = 0; d < (have_opencl() ? 2 : 1); d++) {
        char args[1024];
        snprintf(args, sizeof args,
                 "run " DATA "/shape_attn_op13.onnx --input x=" DATA
                 "/dynshape/attn_x_3x16.npy --expect y=" DATA
                 "/dynshape/attn_y_3x16.npy --device %s --repeat 2 --explain --profile",
                 devices[d]);
        struct result r = run(args);
        ck_assert_msg(r.code == 0, "exit %d: %s", r.code, r.err);
        ck_assert_msg(strstr(r.out, "specialised for x [3, 16, 8] (declared [batch, seq, 8])"),
                      "%s", r.out);
        ck_assert_msg(strstr(r.out, "replan [3,16,8]"), "no re-plan in the profile: %s", r.out);
        const char *e = strstr(r.out, "max abs err: ");
        ck_assert_ptr_nonnull(e);
        ck_assert_double_le(atof(e + strlen("max abs err: ")), 1e-5);
        result_free(&r);
        snprintf(args, sizeof args,
                 "run " DATA "/dynshape/block.onnx --input x=" DATA
                 "/dynshape/block_x_1x5.npy --device %s --repeat 1 --json",
                 devices[d]);
        r = run(args);
        ck_assert_msg(r.code == 0, "exit %d: %s", r.code, r.err);
        json_object *o = json_tokener_parse(r.out);
        ck_assert_ptr_nonnull(o);
        ck_assert(json_object_get_boolean(get(o, "dynamic")));
        ck_assert_double_gt(json_object_get_double(get(o, "replan_ms")), 0.0);
        json_object *in0 = json_object_array_get_idx(get(o, "inputs"), 0);
        ck_assert_str_eq(json_object_to_json_string(get(in0, "shape")), "[ 1, 5, 16 ]");
        ck_assert_str_eq(json_object_to_json_string(get(in0, "declared")),
                         "[ \"batch\", \"sequence\", 16 ]");
        json_object_put(o);
        result_free(&r);
    }
    struct result r = run("run " DATA "/shape_attn_op13.onnx --input x=" DATA
                          "/dynshape/block_x_1x5.npy --repeat 1");
    ck_assert_int_eq(r.code, 2);
    ck_assert_msg(strstr(r.err, "[1, 5, 16]") && strstr(r.err, "[batch, seq, 8]"), "%s", r.err);
    result_free(&r);
}
END_TEST

START_TEST(test_trace_is_valid) {
    char path[] = "/tmp/tsr_cli_traceXXXXXX.json";
    int fd = mkstemps(path, 5);
    ck_assert(fd >= 0);
    close(fd);
    char args[512];
    snprintf(args, sizeof args, "run --device cpu --repeat 4 --trace %s", path);
    struct result r = run(args);
    ck_assert_msg(r.code == 0, "exit %d: %s", r.code, r.err);
    json_object *o = json_object_from_file(path);
    ck_assert_ptr_nonnull(o);
    json_object *ev = get(o, "traceEvents");
    int n_x = 0;
    for (size_t i = 0; i < json_object_array_length(ev); i++) {
        json_object *e = json_object_array_get_idx(ev, i);
        if (strcmp(json_object_get_string(get(e, "ph")), "X") != 0) continue;
        n_x++;
        ck_assert_double_ge(json_object_get_double(get(e, "dur")), 0.0);
        get(e, "ts");
        get(e, "name");
    }
    ck_assert_int_ge(n_x, 4 * 3); /* 3 kernels per run, 4 timed runs */
    json_object_put(o);
    result_free(&r);
    unlink(path);
}
END_TEST

START_TEST(test_info_json) {
    struct result r = run("info --json");
    ck_assert_msg(r.code == 0, "exit %d: %s", r.code, r.err);
    json_object *o = json_tokener_parse(r.out);
    ck_assert_ptr_nonnull(o);
    json_object *cpu = get(o, "cpu");
    ck_assert_int_ge(json_object_get_int(get(cpu, "cores")), 1);
    get(cpu, "isa_detected");
    get(cpu, "isa_in_use");
    json_object *devs = get(o, "devices");
    ck_assert_int_eq((int)json_object_array_length(devs), have_opencl() ? 2 : 1);
    ck_assert_ptr_nonnull(json_object_get_string(get(get(o, "auto"), "reason")));
    json_object_put(o);
    result_free(&r);
}
END_TEST

/* Issue 11: --opt=value and --opt value, options after the model, `--` before operands; an
 * unknown option, a missing value or a value given to a flag is one line and exit 2. */
START_TEST(test_option_forms) {
    struct result r = run("run --device=cpu --repeat=2 --json");
    ck_assert_msg(r.code == 0, "--device=cpu: exit %d: %s", r.code, r.err);
    json_object *o = json_tokener_parse(r.out);
    ck_assert_ptr_nonnull(o);
    ck_assert_str_eq(json_object_get_string(get(o, "device")), "cpu");
    ck_assert_int_eq(json_object_get_int(get(o, "repeat")), 2);
    json_object_put(o);
    result_free(&r);

    r = run("run --json --repeat 1 --input=x=" TSR_MODELS_DIR
            "/digits_test_x.npy --device cpu -- " TSR_MODELS_DIR "/digits.onnx");
    ck_assert_msg(r.code == 0, "--: exit %d: %s", r.code, r.err);
    result_free(&r);

    static const struct {
        const char *args, *want;
    } bad[] = {
        {"run --nope", "unknown option '--nope'"},
        {"run --device", "--device needs a value"},
        {"run --json=yes", "'--json=yes'"},
        {"info --json=1", "'--json=1'"},
        {"info extra", "unexpected argument 'extra'"},
        {"bench --bogus", "unknown option '--bogus'"},
        {"run a.onnx b.onnx", "more than one model"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        r = run(bad[i].args);
        ck_assert_msg(r.code == 2, "%s: exit %d: %s", bad[i].args, r.code, r.err);
        ck_assert_msg(strstr(r.err, bad[i].want), "%s: stderr '%s' lacks '%s'", bad[i].args, r.err,
                      bad[i].want);
        ck_assert_msg(count(r.err, "\n") == 1, "%s: not one line: '%s'", bad[i].args, r.err);
        result_free(&r);
    }
    r = run("--version");
    ck_assert_int_eq(r.code, 0);
    ck_assert_str_eq(r.out, "tessera " TSR_VERSION_STRING "\n");
    ck_assert_str_eq(tsr_version(), TSR_VERSION_STRING);
    result_free(&r);
}
END_TEST

/* NAME=FILE is split at the first '=': NAME not an input of the model is refused with the list
 * of its inputs; a path that contains '=' works after NAME=. With the user's own input, the
 * bundled reference and labels (which belong to the bundled images) are not applied. */
START_TEST(test_named_inputs_and_bundled_reference) {
    struct result r = run("run --device cpu --input y=" TSR_MODELS_DIR "/digits_test_x.npy");
    ck_assert_msg(r.code == 2, "exit %d: %s", r.code, r.err);
    ck_assert_msg(strstr(r.err, "no input 'y'") && strstr(r.err, "x [batch, 64] float32"),
                  "message: %s", r.err);
    ck_assert_int_eq(count(r.err, "\n"), 1);
    result_free(&r);

    char dir[] = "/tmp/tsr_cli_eqXXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof path, "%s/rows=5.npy", dir);
    int64_t dims[2] = {5, 64};
    static float zeros[5 * 64];
    struct tsr_tensor t = {ts_desc(2, dims), zeros};
    ck_assert_int_eq(tsr_npy_save(path, &t), TSR_OK);
    char args[1024];
    snprintf(args, sizeof args, "run --device cpu --repeat 1 --json --input x=%s", path);
    r = run(args);
    ck_assert_msg(r.code == 0, "%s: exit %d: %s", args, r.code, r.err);
    json_object *o = json_tokener_parse(r.out), *v = NULL;
    ck_assert_ptr_nonnull(o);
    /* 5 rows of zeros: the bundled 360 labels / logits must not be compared with them. */
    if (json_object_object_get_ex(o, "accuracy", &v)) ck_assert_ptr_null(v);
    if (json_object_object_get_ex(o, "max_abs_err", &v)) ck_assert_ptr_null(v);
    json_object *shape = NULL;
    json_object_object_foreach(get(o, "outputs"), oname, oshape) {
        (void)oname;
        shape = oshape;
    }
    ck_assert_ptr_nonnull(shape);
    ck_assert_int_eq(json_object_get_int(json_object_array_get_idx(shape, 0)), 5);
    json_object_put(o);
    result_free(&r);
    unlink(path);
    rmdir(dir);
}
END_TEST

/* Runs "env ENV tessera ARGS" (ENV: NAME=VALUE words). */
static struct result run_env(const char *env, const char *args) {
    char out_path[] = "/tmp/tsr_cli_outXXXXXX", err_path[] = "/tmp/tsr_cli_errXXXXXX";
    int fo = mkstemp(out_path), fe = mkstemp(err_path);
    ck_assert(fo >= 0 && fe >= 0);
    close(fo);
    close(fe);
    char line[8192];
    snprintf(line, sizeof line, "env %s %s %s >%s 2>%s", env, TESSERA, args, out_path, err_path);
    int st = system(line);
    struct result r;
    r.code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    r.out = slurp(out_path);
    r.err = slurp(err_path);
    unlink(out_path);
    unlink(err_path);
    return r;
}

/* Bad values of TSR_LOG, TSR_CALIBRATE and TSR_DEVICE are warned about once each, naming the
 * value, and the defaults used; a bad TSR_BACKENDS is an error naming it (exit 2). */
START_TEST(test_env_validated) {
    /* TSR_CALIBRATE=maybe measures as by default: into a private cache, not ~/.cache nor the
     * scheduling suites' build/test-cache. */
    char cache[] = "/tmp/tsr_cli_cacheXXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(cache));
    char env[256];
    snprintf(env, sizeof env, "TSR_LOG=loud TSR_CALIBRATE=maybe TSR_DEVICE=gpu TSR_CACHE_DIR=%s",
             cache);
    struct result r = run_env(env, "run --repeat 1 --device all");
    ck_assert_msg(r.code == 0, "exit %d: %s", r.code, r.err);
    ck_assert_msg(count(r.err, "TSR_LOG='loud'") == 1, "stderr: %s", r.err);
    ck_assert_msg(count(r.err, "TSR_CALIBRATE='maybe'") == 1, "stderr: %s", r.err);
    result_free(&r);
    char rm[300];
    snprintf(rm, sizeof rm, "rm -rf '%s'", cache);
    ck_assert_int_eq(system(rm), 0);
    /* TSR_DEVICE applies when --device is not given. */
    r = run_env("TSR_DEVICE=gpu", "run --repeat 1");
    ck_assert_msg(r.code == 0, "exit %d: %s", r.code, r.err);
    ck_assert_msg(count(r.err, "TSR_DEVICE='gpu' ignored") == 1, "stderr: %s", r.err);
    result_free(&r);
    r = run_env("TSR_DEVICE=cpu", "run --repeat 1 --json");
    ck_assert_msg(r.code == 0, "exit %d: %s", r.code, r.err);
    json_object *o = json_tokener_parse(r.out);
    ck_assert_ptr_nonnull(o);
    ck_assert_str_eq(json_object_get_string(get(o, "device")), "cpu");
    json_object_put(o);
    result_free(&r);
    r = run_env("TSR_BACKENDS=bogus", "run --repeat 1");
    ck_assert_msg(r.code == 2, "exit %d: %s", r.code, r.err);
    ck_assert_msg(strstr(r.err, "TSR_BACKENDS='bogus'"), "stderr: %s", r.err);
    result_free(&r);
}
END_TEST

/* The --max-* options of `tessera run` (tools/cli/limits.c) set the context's limits: below the
 * bundled digits model (5 nodes, a 16384-byte weight, nesting 7, an arena of 384 bytes and 138240
 * at its bundled data's batch) each refuses it with exit 2 and the library's line; above it the run
 * passes; an option wins over its variable; a value that is not a positive integer is a usage error
 * naming the option. */
START_TEST(test_limit_flags) {
    static const struct {
        const char *args, *want;
    } refused[] = {
        {"run --max-nodes 2", "5 nodes, over the limit of 2"},
        {"run --max-tensor-bytes=1000", "16384 bytes, over the limit of 1000"},
        {"run --max-model-bytes 100", "over the limit of 100 (TSR_MAX_MODEL_BYTES"},
        {"run --max-arena-bytes 100", "over the limit of 100 bytes (TSR_MAX_ARENA_BYTES"},
        {"run --max-nodes 0", "run: --max-nodes expects a positive integer, got '0'"},
        {"run --max-depth 6", "message nesting: 7 levels, over the limit of 6"},
        {"run --max-depth x1", "run: --max-depth expects a positive integer, got 'x1'"},
        {"run --max-values 99999999999999999999", "run: --max-values expects a positive integer"},
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        struct result r = run(refused[i].args);
        ck_assert_msg(r.code == 2, "%s: exit %d: %s", refused[i].args, r.code, r.err);
        ck_assert_msg(strstr(r.err, refused[i].want) && count(r.err, "\n") == 1, "%s: stderr: %s",
                      refused[i].args, r.err);
        result_free(&r);
    }
    struct result r = run("run --repeat 1 --max-nodes 5 --max-tensor-bytes 16384 "
                          "--max-arena-bytes 1000000 --max-depth 7 --max-tensor-rank 2");
    ck_assert_msg(r.code == 0, "exit %d: %s", r.code, r.err);
    result_free(&r);
    r = run_env("TSR_MAX_NODES=2", "run --repeat 1 --max-nodes 1000");
    ck_assert_msg(r.code == 0, "exit %d: %s", r.code, r.err);
    result_free(&r);
    r = run("run --help");
    ck_assert_int_eq(r.code, 0);
    ck_assert_msg(strstr(r.out, "--max-arena-bytes N") && strstr(r.out, "overrides TSR_MAX_NODES"),
                  "%s", r.out);
    result_free(&r);
    /* `tessera serve` takes the same options (without libmicrohttpd it says so, exit 1) */
    r = run("serve " TSR_MODELS_DIR "/digits.onnx --port 0 --max-nodes 2");
    if (!(r.code == 1 && strstr(r.err, "built without")))
        ck_assert_msg(r.code == 2 && strstr(r.err, "5 nodes, over the limit of 2"), "exit %d: %s",
                      r.code, r.err);
    result_free(&r);
}
END_TEST

/* A .npy header claiming 6.4e12 elements over a few bytes: exit 2 before any allocation, the
 * path named once; every error line names a file once. */
START_TEST(test_npy_size_and_one_path) {
    char path[] = "/tmp/tsr_cli_hugeXXXXXX.npy";
    int fd = mkstemps(path, 4);
    ck_assert(fd >= 0);
    const char dict[] = "{'descr': '<f4', 'fortran_order': False, 'shape': (80000, 80000, 1000), }";
    char hdr[128];
    size_t dl = strlen(dict), pad = (64 - (10 + dl + 1) % 64) % 64, hl = dl + pad + 1;
    memcpy(hdr, dict, dl);
    memset(hdr + dl, ' ', pad);
    hdr[hl - 1] = '\n';
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)hl, 0};
    ck_assert_int_eq(write(fd, pre, 10), 10);
    ck_assert_int_eq(write(fd, hdr, hl), (ssize_t)hl);
    ck_assert_int_eq(write(fd, "12345678", 8), 8);
    close(fd);
    char args[512];
    snprintf(args, sizeof args, "run --input %s", path);
    struct result r = run(args);
    ck_assert_msg(r.code == 2, "exit %d: %s", r.code, r.err);
    ck_assert_msg(strstr(r.err, "needs 25600000000000 bytes"), "stderr: %s", r.err);
    ck_assert_msg(count(r.err, path) == 1, "path not once: %s", r.err);
    result_free(&r);
    unlink(path);

    r = run("run /nonexistent/model.onnx --input " TSR_MODELS_DIR "/digits_test_x.npy");
    ck_assert_int_eq(r.code, 2);
    ck_assert_msg(count(r.err, "/nonexistent/model.onnx") == 1, "path not once: %s", r.err);
    result_free(&r);
    r = run("run " DATA "/unsupported_op.onnx --input " TSR_MODELS_DIR "/digits_test_x.npy");
    ck_assert_int_eq(r.code, 2);
    ck_assert_msg(count(r.err, "unsupported_op.onnx") == 1, "path not once: %s", r.err);
    result_free(&r);
}
END_TEST

/* --plot to a path with a quote and a space in it (gnuplot strings are quoted): the image is
 * there. Skipped where gnuplot is not installed. */
START_TEST(test_plot_path_with_quote) {
    if (system("command -v gnuplot >/dev/null 2>&1") != 0) return;
    char dir[] = "/tmp/tsr_cli_plotXXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char args[1024], path[512];
    snprintf(path, sizeof path, "%s/it's a plot.svg", dir);
    snprintf(args, sizeof args,
             "bench --quick --suite memory --device cpu --no-peers --no-progress --plot \"%s\"",
             path);
    struct result r = run(args);
    ck_assert_msg(r.code == 0, "exit %d: %s", r.code, r.err);
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "no %s (stderr: %s)", path, r.err);
    char head[256] = {0};
    size_t n = fread(head, 1, sizeof head - 1, f);
    fclose(f);
    ck_assert_msg(n > 0 && (strstr(head, "<svg") || strstr(head, "<?xml")), "not SVG: %s", head);
    result_free(&r);
    unlink(path);
    rmdir(dir);
}
END_TEST

Suite *cli_suite(void) {
    Suite *s = suite_create("cli");
    TCase *tc = tcase_create("cli");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_run_cpu_json);
    tcase_add_test(tc, test_run_opencl_json);
    tcase_add_test(tc, test_run_auto_and_all);
    tcase_add_test(tc, test_bad_files_exit_2);
    tcase_add_test(tc, test_wrong_shape_exit_2);
    tcase_add_test(tc, test_trace_is_valid);
    tcase_add_test(tc, test_dynamic_shapes);
    tcase_add_test(tc, test_info_json);
    tcase_add_test(tc, test_option_forms);
    tcase_add_test(tc, test_named_inputs_and_bundled_reference);
    tcase_add_test(tc, test_env_validated);
    tcase_add_test(tc, test_limit_flags);
    tcase_add_test(tc, test_npy_size_and_one_path);
    tcase_add_test(tc, test_plot_path_with_quote);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    return ts_run_suite(cli_suite());
}
