/*
 * check_onnx.c — ONNX import: every model of tests/data/cases.txt imports with the input and
 * output shapes of the PyTorch-written .npy files next to it; attributes reach the graph; every
 * bad file of tests/data/bad_cases.txt gives its status and a message naming the file / node;
 * the digits model takes a batch override; cut and corrupted buffers never crash.
 * (Running the imported graphs against PyTorch outputs is tests/check_models.c.)
 */
#include "runtime/graph.h"
#include "test_support.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct onnx_case {
    char name[64];
    int n_in, n_out;
};

/* Reads tests/data/cases.txt ("name n_inputs n_outputs" per line). Returns the count. */
static int read_cases(struct onnx_case *cases, int max) {
    FILE *f = fopen(TSR_TEST_DATA_DIR "/cases.txt", "r");
    ck_assert_msg(f != NULL, "cannot open cases.txt");
    int n = 0;
    while (n < max && fscanf(f, "%63s %d %d", cases[n].name, &cases[n].n_in, &cases[n].n_out) == 3)
        n++;
    fclose(f);
    return n;
}

static void data_path(char *buf, size_t size, const char *name, const char *suffix) {
    int w = snprintf(buf, size, "%s/%s%s", TSR_TEST_DATA_DIR, name, suffix);
    ck_assert_msg(w > 0 && (size_t)w < size, "path too long");
}

static void assert_desc_eq(const struct tsr_tensor_desc *got, const struct tsr_tensor_desc *want,
                           const char *what) {
    char a[128], b[128];
    int eq = got->rank == want->rank && got->dtype == want->dtype;
    for (int i = 0; eq && i < got->rank; i++)
        eq = got->dims[i] == want->dims[i];
    ck_assert_msg(eq, "%s: got %s, want %s", what, tsr_desc_format(got, a, sizeof a),
                  tsr_desc_format(want, b, sizeof b));
}

static const struct tsr_node *find_node(const tsr_graph *g, const char *name) {
    for (int i = 0; i < g->n_nodes; i++)
        if (!strcmp(g->nodes[i].name, name)) return &g->nodes[i];
    return NULL;
}

static tsr_graph *import_case(tsr_context *ctx, const char *name) {
    char p[512];
    data_path(p, sizeof p, name, ".onnx");
    tsr_graph *g = NULL;
    tsr_status st = tsr_onnx_import_file(ctx, p, NULL, 0, &g);
    ck_assert_msg(st == TSR_OK, "%s: %s: %s", name, tsr_status_name(st),
                  tsr_last_error(ctx)->message);
    return g;
}

START_TEST(test_cases_shapes) {
    tsr_context *ctx = ts_context();
    struct onnx_case cases[128];
    int n = read_cases(cases, 128);
    ck_assert_int_ge(n, 30);
    for (int c = 0; c < n; c++) {
        tsr_graph *g = import_case(ctx, cases[c].name);
        ck_assert_int_eq(tsr_graph_input_count(g), cases[c].n_in);
        ck_assert_int_eq(tsr_graph_output_count(g), cases[c].n_out);
        ck_assert_int_ge(tsr_graph_node_count(g), 1);
        char p[512], suffix[32], what[128];
        for (int i = 0; i < cases[c].n_in; i++) {
            snprintf(suffix, sizeof suffix, "_in%d.npy", i);
            data_path(p, sizeof p, cases[c].name, suffix);
            struct tsr_tensor t;
            ck_assert_int_eq(tsr_npy_load(p, &t), TSR_OK);
            struct tsr_tensor_desc d;
            ck_assert_int_eq(tsr_graph_value_desc(g, g->inputs[i], &d), TSR_OK);
            snprintf(what, sizeof what, "%.60s input %d", cases[c].name, i);
            assert_desc_eq(&d, &t.desc, what);
            tsr_tensor_free(&t);
        }
        for (int i = 0; i < cases[c].n_out; i++) {
            snprintf(suffix, sizeof suffix, "_out%d.npy", i);
            data_path(p, sizeof p, cases[c].name, suffix);
            struct tsr_tensor t;
            ck_assert_int_eq(tsr_npy_load(p, &t), TSR_OK);
            struct tsr_tensor_desc d;
            ck_assert_int_eq(tsr_graph_value_desc(g, g->outputs[i].value, &d), TSR_OK);
            snprintf(what, sizeof what, "%.60s output %d", cases[c].name, i);
            assert_desc_eq(&d, &t.desc, what);
            tsr_tensor_free(&t);
        }
        tsr_graph_destroy(g);
    }
    tsr_context_destroy(ctx);
}
END_TEST

START_TEST(test_attributes) {
    tsr_context *ctx = ts_context();
    tsr_graph *g = import_case(ctx, "gemm_trans_mn");
    const struct tsr_node *nd = find_node(g, "gemm_t");
    ck_assert_ptr_nonnull(nd);
    ck_assert_int_eq(nd->op, TSR_OP_GEMM);
    ck_assert_float_eq(nd->attrs.alpha, 0.5f);
    ck_assert_float_eq(nd->attrs.beta, 2.0f);
    ck_assert_int_eq(nd->attrs.trans_a, 1);
    ck_assert_int_eq(nd->attrs.trans_b, 1);
    tsr_graph_destroy(g);

    /* Softmax before opset 13: 2-D coercion with default axis 1 */
    g = import_case(ctx, "softmax11_default");
    nd = find_node(g, "softmax11_default_node");
    ck_assert_ptr_nonnull(nd);
    ck_assert_int_eq(nd->attrs.softmax_2d, 1);
    ck_assert_int_eq(nd->attrs.axis, 1);
    tsr_graph_destroy(g);
    g = import_case(ctx, "softmax11_axis2");
    nd = find_node(g, "softmax11_axis2_node");
    ck_assert_int_eq(nd->attrs.softmax_2d, 1);
    ck_assert_int_eq(nd->attrs.axis, 2);
    tsr_graph_destroy(g);
    /* opset 13: one axis, default -1 */
    g = import_case(ctx, "softmax_default");
    nd = find_node(g, "softmax_default_node");
    ck_assert_int_eq(nd->attrs.softmax_2d, 0);
    ck_assert_int_eq(nd->attrs.axis, -1);
    tsr_graph_destroy(g);
    g = import_case(ctx, "softmax_axis1");
    nd = find_node(g, "softmax_axis1_node");
    ck_assert_int_eq(nd->attrs.axis, 1);
    tsr_graph_destroy(g);

    g = import_case(ctx, "flatten_axis2");
    nd = find_node(g, "flatten_a2");
    ck_assert_int_eq(nd->op, TSR_OP_FLATTEN);
    ck_assert_int_eq(nd->attrs.axis, 2);
    tsr_graph_destroy(g);

    /* Gemm without C has two inputs; initializers listed as inputs are constants */
    g = import_case(ctx, "gemm_no_c");
    ck_assert_int_eq(find_node(g, "gemm_noc")->n_inputs, 2);
    tsr_graph_destroy(g);
    g = import_case(ctx, "init_in_inputs");
    ck_assert_int_eq(tsr_graph_input_count(g), 1);
    ck_assert_str_eq(tsr_graph_input_name(g, 0), "x");
    tsr_graph_destroy(g);

    /* Constant nodes become constants, not nodes */
    g = import_case(ctx, "constant_node");
    ck_assert_int_eq(tsr_graph_node_count(g), 3);
    tsr_graph_destroy(g);
    tsr_context_destroy(ctx);
}
END_TEST

/* Reshape's shape as a graph input (reshape_dynamic.onnx, x [2, 3], s int64 [2]): a value input.
 * Imported without its contents the graph defers; each run specialises for the contents; bad
 * contents are refused naming the node. */
START_TEST(test_value_input_reshape) {
    tsr_context *ctx = ts_context();
    tsr_graph *g = NULL;
    ck_assert_int_eq(
        tsr_onnx_import_file(ctx, TSR_TEST_DATA_DIR "/reshape_dynamic.onnx", NULL, 0, &g), TSR_OK);
    struct tsr_input_info info;
    ck_assert_int_eq(tsr_graph_input_info(g, 1, &info), TSR_OK);
    ck_assert_int_eq(info.is_value, 1);
    ck_assert_int_eq(tsr_graph_input_info(g, 0, &info), TSR_OK);
    ck_assert_int_eq(info.is_value, 0);
    struct tsr_compile_options o = tsr_compile_options_default();
    o.device = "cpu";
    tsr_plan *plan = NULL;
    ck_assert_int_eq(tsr_compile(ctx, g, &o, &plan), TSR_OK);
    tsr_graph_destroy(g);
    float x[6] = {1, 2, 3, 4, 5, 6}, y[6] = {0};
    int64_t s[2] = {3, 2};
    struct tsr_tensor in[2] = {{{TSR_F32, 2, {2, 3}}, x}, {{TSR_I64, 1, {2}}, s}};
    struct tsr_tensor out = {{TSR_F32, 1, {6}}, y};
    ck_assert_int_eq(tsr_plan_specialize_inputs(plan, in, 2), TSR_OK);
    const char *name;
    struct tsr_tensor_desc od;
    ck_assert_int_eq(tsr_plan_output_desc(plan, 0, &name, &od), TSR_OK);
    ck_assert_int_eq(od.rank, 2);
    ck_assert_int_eq(od.dims[0], 3);
    ck_assert_int_eq(tsr_plan_run(plan, in, 2, &out, 1), TSR_OK);
    ck_assert_int_eq(out.desc.dims[1], 2);
    for (int i = 0; i < 6; i++)
        ck_assert_float_eq(y[i], x[i]);
    s[0] = 1, s[1] = 5; /* 5 elements for 6 */
    ck_assert_int_ne(tsr_plan_run(plan, in, 2, &out, 1), TSR_OK);
    ck_assert_ptr_nonnull(strstr(tsr_last_error(ctx)->message, "reshape_dyn"));
    tsr_plan_destroy(plan);
    tsr_context_destroy(ctx);
}
END_TEST

/* Imports every file of list `list` (tests/data, "file status substring" per line): each fails
 * with its status, a message naming the file and holding the substring, the graph untouched.
 * Returns the number of lines. */
static int check_bad_list(tsr_context *ctx, const char *list) {
    char lp[512];
    snprintf(lp, sizeof lp, "%s/%s", TSR_TEST_DATA_DIR, list);
    FILE *f = fopen(lp, "r");
    ck_assert_msg(f != NULL, "cannot open %s", lp);
    char file[64], status[32], substr[64];
    int n = 0;
    while (fscanf(f, "%63s %31s %63s", file, status, substr) == 3) {
        char p[512];
        snprintf(p, sizeof p, "%s/%s", TSR_TEST_DATA_DIR, file);
        tsr_graph *g = (tsr_graph *)&n; /* sentinel: must stay untouched */
        tsr_status st = tsr_onnx_import_file(ctx, p, NULL, 0, &g);
        const char *msg = tsr_last_error(ctx)->message;
        ck_assert_msg(!strcmp(tsr_status_name(st), status), "%s: got %s, want %s (%s)", file,
                      tsr_status_name(st), status, msg);
        ck_assert_ptr_eq(g, (tsr_graph *)&n);
        ck_assert_msg(strstr(msg, file), "%s: message '%s' does not name the file", file, msg);
        ck_assert_msg(strstr(msg, substr), "%s: message '%s' lacks '%s'", file, msg, substr);
        n++;
    }
    fclose(f);
    return n;
}

/* TSR_MAX_NODES lowered under a model's node count refuses it at import, naming the count, the
 * limit and the variable; an invalid value is warned about and the default used (issue 12). */
START_TEST(test_node_limit) {
    tsr_context *ctx = ts_context();
    tsr_graph *g = NULL;
    setenv("TSR_MAX_NODES", "3", 1);
    tsr_status st = tsr_onnx_import_file(ctx, TSR_TEST_DATA_DIR "/cycle.onnx", NULL, 0, &g);
    unsetenv("TSR_MAX_NODES");
    ck_assert_int_eq(st, TSR_E_UNSUPPORTED);
    ck_assert_ptr_null(g);
    const char *msg = tsr_last_error(ctx)->message;
    ck_assert_msg(strstr(msg, "4 nodes, over the limit of 3 (TSR_MAX_NODES"), "%s", msg);
    setenv("TSR_MAX_NODES", "-5", 1); /* ignored: the cycle is then what is refused */
    st = tsr_onnx_import_file(ctx, TSR_TEST_DATA_DIR "/cycle.onnx", NULL, 0, &g);
    unsetenv("TSR_MAX_NODES");
    ck_assert_int_eq(st, TSR_E_PARSE);
    ck_assert_ptr_nonnull(strstr(tsr_last_error(ctx)->message, "cycle through node"));
    tsr_context_destroy(ctx);
}
END_TEST

/* Limits checked by the wire-format walk before unpacking (runtime/onnx_prescan.c): each
 * environment variable lowered under a committed model refuses it, naming the file, the tensor,
 * the value, the limit and the variable (issue 12 item 4). gemm_init_transb.onnx: 434 bytes,
 * initializers w [7, 8] float (224 bytes) and bias [7], input a [6, 8]. */
START_TEST(test_prescan_limits) {
    static const struct {
        const char *var, *value, *want;
    } cases[] = {
        {"TSR_MAX_MODEL_BYTES", "100",
         "model file: 434 bytes, over the limit of 100 (TSR_MAX_MODEL_BYTES"},
        {"TSR_MAX_VALUES", "2", "3 initializers and inputs, over the limit of 2 (TSR_MAX_VALUES"},
        {"TSR_MAX_TENSOR_SIZE", "200",
         "tensor 'w': 224 bytes, over the limit of 200 (TSR_MAX_TENSOR_SIZE"},
        {"TSR_MAX_TENSOR_RANK", "1",
         "tensor 'w': 2 dims, over the limit of 1 (TSR_MAX_TENSOR_RANK"},
        {"TSR_MAX_DEPTH", "3", "message nesting: 4 levels, over the limit of 3 (TSR_MAX_DEPTH"},
    };
    tsr_context *ctx = ts_context();
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tsr_graph *g = NULL;
        setenv(cases[i].var, cases[i].value, 1);
        tsr_status st =
            tsr_onnx_import_file(ctx, TSR_TEST_DATA_DIR "/gemm_init_transb.onnx", NULL, 0, &g);
        unsetenv(cases[i].var);
        const char *msg = tsr_last_error(ctx)->message;
        ck_assert_msg(st == TSR_E_UNSUPPORTED, "%s: %s (%s)", cases[i].var, tsr_status_name(st),
                      msg);
        ck_assert_ptr_null(g);
        ck_assert_msg(strstr(msg, "gemm_init_transb.onnx"), "%s", msg);
        ck_assert_msg(strstr(msg, cases[i].want), "%s: '%s' lacks '%s'", cases[i].var, msg,
                      cases[i].want);
    }
    /* a file over the byte limit is not read to its end: a 3 MiB file, limit 100,000 bytes */
    {
        char dir[] = "/tmp/tsr_limits_XXXXXX";
        ck_assert_ptr_nonnull(mkdtemp(dir));
        char path[64];
        snprintf(path, sizeof path, "%s/big.onnx", dir);
        FILE *f = fopen(path, "wb");
        ck_assert_ptr_nonnull(f);
        static uint8_t zero[1 << 20];
        for (int i = 0; i < 3; i++)
            ck_assert_uint_eq(fwrite(zero, 1, sizeof zero, f), sizeof zero);
        fclose(f);
        setenv("TSR_MAX_MODEL_BYTES", "100000", 1);
        tsr_graph *bg = NULL;
        ck_assert_int_eq(tsr_onnx_import_file(ctx, path, NULL, 0, &bg), TSR_E_UNSUPPORTED);
        unsetenv("TSR_MAX_MODEL_BYTES");
        const char *msg = tsr_last_error(ctx)->message;
        ck_assert_msg(strstr(msg, "big.onnx: model file: more than 131072 bytes, over the limit "
                                  "of 100000 (TSR_MAX_MODEL_BYTES"),
                      "%s", msg);
        remove(path);
        rmdir(dir);
    }
    /* the option wins over the environment variable; a negative option is refused */
    setenv("TSR_MAX_TENSOR_SIZE", "100000", 1);
    tsr_context *octx = NULL;
    struct tsr_context_options o = {.disable_opencl = 1, .max_tensor_bytes = 200};
    ck_assert_int_eq(tsr_context_create(&o, &octx), TSR_OK);
    tsr_graph *og = NULL;
    ck_assert_int_eq(
        tsr_onnx_import_file(octx, TSR_TEST_DATA_DIR "/gemm_init_transb.onnx", NULL, 0, &og),
        TSR_E_UNSUPPORTED);
    ck_assert_ptr_nonnull(
        strstr(tsr_last_error(octx)->message, "224 bytes, over the limit of 200"));
    tsr_context_destroy(octx);
    unsetenv("TSR_MAX_TENSOR_SIZE");
    o.max_tensor_bytes = -1;
    ck_assert_int_eq(tsr_context_create(&o, &octx), TSR_E_INVALID_ARG);
    /* the defaults accept it */
    tsr_graph *g = NULL;
    ck_assert_int_eq(
        tsr_onnx_import_file(ctx, TSR_TEST_DATA_DIR "/gemm_init_transb.onnx", NULL, 0, &g), TSR_OK);
    tsr_graph_destroy(g);
    tsr_context_destroy(ctx);
}
END_TEST

/* Runs the model at `path` on the CPU on gemm_init_transb's input and compares with its PyTorch
 * output (the external-data models hold that model's initializers). */
static void run_gemm_ext(tsr_context *ctx, const char *path) {
    tsr_graph *g = NULL;
    tsr_status st = tsr_onnx_import_file(ctx, path, NULL, 0, &g);
    ck_assert_msg(st == TSR_OK, "%s: %s: %s", path, tsr_status_name(st),
                  tsr_last_error(ctx)->message);
    struct tsr_compile_options o = tsr_compile_options_default();
    o.device = "cpu";
    tsr_plan *plan = NULL;
    st = tsr_compile(ctx, g, &o, &plan);
    ck_assert_msg(st == TSR_OK, "%s: compile: %s", path, tsr_last_error(ctx)->message);
    tsr_graph_destroy(g);
    struct tsr_tensor in, want, got;
    ck_assert_int_eq(tsr_npy_load(TSR_TEST_DATA_DIR "/gemm_init_transb_in0.npy", &in), TSR_OK);
    ck_assert_int_eq(tsr_npy_load(TSR_TEST_DATA_DIR "/gemm_init_transb_out0.npy", &want), TSR_OK);
    ck_assert_int_eq(tsr_tensor_alloc(&want.desc, &got), TSR_OK);
    st = tsr_plan_run(plan, &in, 1, &got, 1);
    ck_assert_msg(st == TSR_OK, "%s: run: %s", path, tsr_last_error(ctx)->message);
    double err = ts_max_abs_diff(got.data, want.data, (size_t)tsr_desc_elements(&want.desc));
    ck_assert_msg(err <= 1e-5, "%s: max abs error %g vs PyTorch", path, err);
    tsr_tensor_free(&in);
    tsr_tensor_free(&want);
    tsr_tensor_free(&got);
    tsr_plan_destroy(plan);
}

/* Imports `path`, expecting `want` and a message holding `text` (and the model's file name). */
static void ext_refused(tsr_context *ctx, const char *path, tsr_status want, const char *text) {
    tsr_graph *g = NULL;
    tsr_status st = tsr_onnx_import_file(ctx, path, NULL, 0, &g);
    const char *msg = tsr_last_error(ctx)->message;
    ck_assert_msg(st == want, "%s: %s, want %s (%s)", path, tsr_status_name(st),
                  tsr_status_name(want), msg);
    ck_assert_ptr_null(g);
    ck_assert_msg(strstr(msg, text), "%s: '%s' lacks '%s'", path, msg, text);
    const char *base = strrchr(path, '/');
    ck_assert_msg(strstr(msg, base ? base + 1 : path), "'%s' does not name the model", msg);
}

/* External tensor data (tests/data/make_external_models.py): read from the model's directory
 * and matching PyTorch, also when a run at another batch re-imports the model; every location
 * outside that directory (absolute, "..", a symbolic link out of it), a FIFO (refused, not
 * blocked on), a missing or short file and a wrong length are refused with one line; a model
 * given as a buffer cannot use external data (issue 12 item 4). */
START_TEST(test_external_data) {
    tsr_context *ctx = ts_context();
#define EXT TSR_TEST_DATA_DIR "/external/"
    run_gemm_ext(ctx, EXT "gemm_ext.onnx");
    run_gemm_ext(ctx, EXT "gemm_ext_dyn.onnx"); /* built at batch 1, run at 6: re-imported */
    ext_refused(ctx, EXT "bad_abs.onnx", TSR_E_UNSUPPORTED, "'/etc/passwd' is absolute");
    ext_refused(ctx, EXT "bad_dotdot.onnx", TSR_E_UNSUPPORTED,
                "'../../../../../../etc/passwd' is outside it (..)");
    ext_refused(ctx, EXT "bad_length.onnx", TSR_E_PARSE,
                "external data length 12 bytes, but its dims and type need 224 bytes");
    ext_refused(ctx, EXT "bad_offset.onnx", TSR_E_PARSE,
                "has 252 bytes; the tensor needs 224 bytes at offset 4096");
    ext_refused(ctx, EXT "bad_missing.onnx", TSR_E_IO, "no_such.weights");
    /* 8 GiB declared, 252 bytes there: refused from the file size before any allocation */
    ext_refused(ctx, EXT "bad_huge.onnx", TSR_E_PARSE,
                "has 252 bytes; the tensor needs 8589934592 bytes at offset 0");

    /* a copy of the model in a fresh directory whose weights file is a link out of it, then a
     * FIFO, then a link to a file inside it (accepted) */
    char dir[] = "/tmp/tsr_ext_XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char model[96], weights[96], inner[96], target[PATH_MAX];
    snprintf(model, sizeof model, "%s/gemm_ext.onnx", dir);
    snprintf(weights, sizeof weights, "%s/gemm_ext.weights", dir);
    snprintf(inner, sizeof inner, "%s/inner.bin", dir);
    ck_assert_ptr_nonnull(realpath(EXT "gemm_ext.weights", target));
    FILE *src = fopen(EXT "gemm_ext.onnx", "rb"), *dst = fopen(model, "wb");
    ck_assert(src && dst);
    char buf[4096];
    size_t n = fread(buf, 1, sizeof buf, src);
    ck_assert_uint_eq(fwrite(buf, 1, n, dst), n);
    fclose(src);
    fclose(dst);
    ck_assert_int_eq(symlink(target, weights), 0);
    ext_refused(ctx, model, TSR_E_UNSUPPORTED, "outside the model's directory");
    ck_assert_int_eq(unlink(weights), 0);
    ck_assert_int_eq(mkfifo(weights, 0600), 0);
    ext_refused(ctx, model, TSR_E_IO, "is not a regular file");
    ck_assert_int_eq(unlink(weights), 0);
    src = fopen(target, "rb");
    dst = fopen(inner, "wb");
    ck_assert(src && dst);
    n = fread(buf, 1, sizeof buf, src);
    ck_assert_uint_eq(fwrite(buf, 1, n, dst), n);
    fclose(src);
    fclose(dst);
    ck_assert_int_eq(symlink("inner.bin", weights), 0);
    run_gemm_ext(ctx, model);
    /* cut short: 100 of its 252 bytes */
    ck_assert_int_eq(truncate(inner, 100), 0);
    ext_refused(ctx, model, TSR_E_PARSE, "has 100 bytes; the tensor needs 224 bytes at offset 0");
    ts_remove_tree(dir);

    /* the same model as a buffer: no directory to read from */
    src = fopen(EXT "gemm_ext.onnx", "rb");
    ck_assert_ptr_nonnull(src);
    n = fread(buf, 1, sizeof buf, src);
    fclose(src);
    tsr_graph *g = NULL;
    ck_assert_int_eq(tsr_onnx_import_buffer(ctx, buf, n, "ext.onnx", NULL, 0, &g),
                     TSR_E_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(tsr_last_error(ctx)->message, "needs the model's directory"));
    ck_assert_ptr_null(g);
#undef EXT
    tsr_context_destroy(ctx);
}
END_TEST

/* Protobuf wire-format builder for hand-made malformed models: appends a varint. */
static size_t pb_varint(uint8_t *b, size_t n, uint64_t v) {
    do {
        b[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v);
    return n;
}

/* Wraps b[0, n) as length-delimited field `num` in place (b has room); returns the new size. */
static size_t pb_wrap(uint8_t *b, size_t n, uint32_t num) {
    uint8_t hdr[16];
    size_t h = pb_varint(hdr, 0, (uint64_t)num << 3 | 2);
    h = pb_varint(hdr, h, n);
    memmove(b + h, b, n);
    memcpy(b, hdr, h);
    return n + h;
}

/* Hand-made models refused by the walk before protobuf-c allocates them: a huge declared
 * initializer dim with no data, a huge declared input dim, and 1000 levels of nested
 * subgraphs (Node.attribute.g.node...), each with one line naming the file. */
START_TEST(test_prescan_malformed) {
    tsr_context *ctx = ts_context();
    static uint8_t b[1 << 16];
    tsr_graph *g = NULL;
    /* initializer w: dims [2^40], float, no data: Model.graph(7).initializer(5) */
    size_t n = pb_varint(b, 0, 1 << 3 | 0);
    n = pb_varint(b, n, UINT64_C(1) << 40);
    n = pb_varint(b, n, 2 << 3 | 0);
    n = pb_varint(b, n, 1);
    b[n++] = 8 << 3 | 2;
    b[n++] = 1;
    b[n++] = 'w';
    n = pb_wrap(b, n, 5);
    n = pb_wrap(b, n, 7);
    tsr_status st = tsr_onnx_import_buffer(ctx, b, n, "huge_dim.onnx", NULL, 0, &g);
    const char *msg = tsr_last_error(ctx)->message;
    ck_assert_msg(st == TSR_E_UNSUPPORTED, "%s", msg);
    ck_assert_msg(strstr(msg, "huge_dim.onnx: tensor 'w': 4398046511104 bytes") &&
                      strstr(msg, "TSR_MAX_TENSOR_SIZE"),
                  "%s", msg);
    /* input x: type.tensor_type{elem_type 1, shape.dim[{dim_value 2^40}]} */
    n = pb_varint(b, 0, 1 << 3 | 0);
    n = pb_varint(b, n, UINT64_C(1) << 40);
    n = pb_wrap(b, n, 1); /* Dimension in TensorShapeProto.dim */
    n = pb_wrap(b, n, 2); /* shape in TypeProto.Tensor */
    memmove(b + 2, b, n);
    b[0] = 1 << 3 | 0; /* elem_type float */
    b[1] = 1;
    n += 2;
    n = pb_wrap(b, n, 1); /* tensor_type in TypeProto */
    n = pb_wrap(b, n, 2); /* type in ValueInfoProto */
    memmove(b + 3, b, n);
    b[0] = 1 << 3 | 2;
    b[1] = 1;
    b[2] = 'x';
    n += 3;
    n = pb_wrap(b, n, 11); /* input in GraphProto */
    n = pb_wrap(b, n, 7);
    st = tsr_onnx_import_buffer(ctx, b, n, "huge_input.onnx", NULL, 0, &g);
    msg = tsr_last_error(ctx)->message;
    ck_assert_msg(st == TSR_E_UNSUPPORTED &&
                      strstr(msg, "huge_input.onnx: input 'x': 4398046511104 bytes"),
                  "%s", msg);
    /* deep nesting: graph { node { attribute { g { node { ... } } } } } */
    n = 0;
    for (int i = 0; i < 1000; i++) {
        n = pb_wrap(b, n, 6); /* g in AttributeProto */
        n = pb_wrap(b, n, 5); /* attribute in NodeProto */
        n = pb_wrap(b, n, 1); /* node in GraphProto */
    }
    n = pb_wrap(b, n, 7);
    ck_assert_uint_lt(n, sizeof b);
    st = tsr_onnx_import_buffer(ctx, b, n, "deep.onnx", NULL, 0, &g);
    msg = tsr_last_error(ctx)->message;
    ck_assert_msg(
        st == TSR_E_UNSUPPORTED &&
            strstr(msg,
                   "deep.onnx: message nesting: 65 levels, over the limit of 64 (TSR_MAX_DEPTH"),
        "%s", msg);
    /* an initializer w [4] float whose raw_data holds 4 bytes (one element); output y */
    static const uint8_t short_init[] = {
        7 << 3 | 2, 20, 5 << 3 | 2, 13, 1 << 3, 4, 2 << 3,      1, 8 << 3 | 2, 1, 'w',
        9 << 3 | 2, 4,  0,          0,  0,      0, 12 << 3 | 2, 3, 1 << 3 | 2, 1, 'y'};
    st = tsr_onnx_import_buffer(ctx, short_init, sizeof short_init, "short.onnx", NULL, 0, &g);
    msg = tsr_last_error(ctx)->message;
    ck_assert_msg(st == TSR_E_PARSE &&
                      strstr(msg, "short.onnx: tensor 'w' has 1 elements of data for 4 elements"),
                  "%s", msg);
    ck_assert_ptr_null(g);
    /* a length past the end inside the graph: malformed, before unpacking */
    b[0] = 7 << 3 | 2;
    b[1] = 4;
    b[2] = 1 << 3 | 2;
    b[3] = 100;
    b[4] = 0;
    b[5] = 0;
    st = tsr_onnx_import_buffer(ctx, b, 6, "cut.onnx", NULL, 0, &g);
    msg = tsr_last_error(ctx)->message;
    ck_assert_msg(st == TSR_E_PARSE && strstr(msg, "cut.onnx: not a valid ONNX ModelProto"), "%s",
                  msg);
    ck_assert_ptr_null(g);
    tsr_context_destroy(ctx);
}
END_TEST

START_TEST(test_bad_files) {
    tsr_context *ctx = ts_context();
    ck_assert_int_ge(check_bad_list(ctx, "bad_cases.txt"), 5);
    /* group "multiout": multi-output and loss nodes (tests/data/make_multiout_models.py) */
    ck_assert_int_ge(check_bad_list(ctx, "multiout_bad_cases.txt"), 4);

    /* the unsupported op message names the op type and the node */
    tsr_graph *g = NULL;
    ck_assert_int_eq(
        tsr_onnx_import_file(ctx, TSR_TEST_DATA_DIR "/unsupported_op.onnx", NULL, 0, &g),
        TSR_E_UNSUPPORTED);
    ck_assert_ptr_null(g);
    ck_assert_ptr_nonnull(strstr(tsr_last_error(ctx)->message, "Det"));
    ck_assert_ptr_nonnull(strstr(tsr_last_error(ctx)->message, "my_cos_node"));

    /* a shape error from the builder keeps its detail (node, both shapes) behind the file name */
    ck_assert_int_eq(
        tsr_onnx_import_file(ctx, TSR_TEST_DATA_DIR "/shape_mismatch.onnx", NULL, 0, &g),
        TSR_E_SHAPE);
    ck_assert_ptr_null(g);
    ck_assert_ptr_nonnull(strstr(tsr_last_error(ctx)->message, "shape_mismatch.onnx"));
    ck_assert_ptr_nonnull(strstr(tsr_last_error(ctx)->message, "[2, 3]"));
    ck_assert_ptr_nonnull(strstr(tsr_last_error(ctx)->message, "[4, 5]"));

    ck_assert_int_eq(tsr_onnx_import_file(ctx, TSR_TEST_DATA_DIR "/no_such.onnx", NULL, 0, &g),
                     TSR_E_IO);
    ck_assert_int_eq(tsr_onnx_import_file(ctx, NULL, NULL, 0, &g), TSR_E_INVALID_ARG);
    ck_assert_int_eq(tsr_onnx_import_buffer(ctx, NULL, 10, "x", NULL, 0, &g), TSR_E_INVALID_ARG);
    ck_assert_int_eq(tsr_onnx_import_buffer(ctx, "", 0, "mem", NULL, 0, &g), TSR_E_PARSE);
    ck_assert_ptr_nonnull(strstr(tsr_last_error(ctx)->message, "mem"));
    tsr_context_destroy(ctx);
}
END_TEST

static const char *digits_path = TSR_MODELS_DIR "/digits.onnx";

START_TEST(test_digits_batch) {
    tsr_context *ctx = ts_context();
    /* no override: the symbolic batch dim is 1 */
    tsr_graph *g = NULL;
    ck_assert_int_eq(tsr_onnx_import_file(ctx, digits_path, NULL, 0, &g), TSR_OK);
    ck_assert_int_eq(tsr_graph_node_count(g), 5);
    ck_assert_int_eq(tsr_graph_input_count(g), 1);
    ck_assert_str_eq(tsr_graph_input_name(g, 0), "x");
    ck_assert_str_eq(tsr_graph_output_name(g, 0), "logits");
    struct tsr_tensor_desc d;
    tsr_graph_value_desc(g, g->outputs[0].value, &d);
    ck_assert_int_eq(d.rank, 2);
    ck_assert_int_eq(d.dims[0], 1);
    ck_assert_int_eq(d.dims[1], 10);
    tsr_graph_destroy(g);

    int64_t dims[2] = {17, 64};
    struct tsr_input_shape sh = {.name = "x", .desc = ts_desc(2, dims)};
    ck_assert_int_eq(tsr_onnx_import_file(ctx, digits_path, &sh, 1, &g), TSR_OK);
    tsr_graph_value_desc(g, g->inputs[0], &d);
    ck_assert_int_eq(d.dims[0], 17);
    tsr_graph_value_desc(g, g->outputs[0].value, &d);
    ck_assert_int_eq(d.dims[0], 17);
    ck_assert_int_eq(d.dims[1], 10);
    tsr_graph_destroy(g);

    /* an override that contradicts a concrete dim, or has another rank */
    g = NULL;
    int64_t bad[2] = {17, 63};
    sh.desc = ts_desc(2, bad);
    ck_assert_int_eq(tsr_onnx_import_file(ctx, digits_path, &sh, 1, &g), TSR_E_SHAPE);
    ck_assert_ptr_nonnull(strstr(tsr_last_error(ctx)->message, "[17, 63]"));
    ck_assert_ptr_nonnull(strstr(tsr_last_error(ctx)->message, "[1, 64]"));
    sh.desc = ts_desc(1, dims);
    ck_assert_int_eq(tsr_onnx_import_file(ctx, digits_path, &sh, 1, &g), TSR_E_SHAPE);
    /* an override for an input that does not exist */
    sh.name = "y";
    sh.desc = ts_desc(2, dims);
    ck_assert_int_eq(tsr_onnx_import_file(ctx, digits_path, &sh, 1, &g), TSR_E_INVALID_ARG);
    ck_assert_ptr_null(g);
    tsr_context_destroy(ctx);
}
END_TEST

/* Every prefix and many single-byte corruptions of a valid model: import must return a status
 * (OK when the cut happens to fall on a field boundary) and never crash or leak (ASan build). */
START_TEST(test_cut_and_corrupted_buffers) {
    tsr_context *ctx = ts_context();
    FILE *f = fopen(TSR_TEST_DATA_DIR "/mlp_torch.onnx", "rb");
    ck_assert_ptr_nonnull(f);
    unsigned char buf[8192];
    size_t size = fread(buf, 1, sizeof buf, f);
    fclose(f);
    ck_assert_uint_gt(size, 100);
    tsr_graph *g = NULL;
    ck_assert_int_eq(tsr_onnx_import_buffer(ctx, buf, size, "mem-mlp", NULL, 0, &g), TSR_OK);
    tsr_graph_destroy(g);
    int failures = 0;
    for (size_t cut = 0; cut < size; cut++) {
        g = NULL;
        tsr_status st = tsr_onnx_import_buffer(ctx, buf, cut, "cut", NULL, 0, &g);
        if (st == TSR_OK)
            tsr_graph_destroy(g);
        else {
            ck_assert_ptr_null(g);
            failures++;
        }
    }
    ck_assert_int_gt(failures, (int)size / 2);
    unsigned char bad[8192];
    uint64_t s = 88172645463325252ull;
    for (int k = 0; k < 2000; k++) {
        memcpy(bad, buf, size);
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        bad[s % size] ^= (unsigned char)(1u + (s >> 32) % 255u);
        g = NULL;
        tsr_status st = tsr_onnx_import_buffer(ctx, bad, size, "flip", NULL, 0, &g);
        if (st == TSR_OK)
            tsr_graph_destroy(g);
        else
            ck_assert_ptr_null(g);
    }
    tsr_context_destroy(ctx);
}
END_TEST

static Suite *onnx_suite(void) {
    Suite *s = suite_create("onnx");
    TCase *tc = tcase_create("onnx");
    tcase_add_test(tc, test_cases_shapes);
    tcase_add_test(tc, test_attributes);
    tcase_add_test(tc, test_bad_files);
    tcase_add_test(tc, test_node_limit);
    tcase_add_test(tc, test_prescan_limits);
    tcase_add_test(tc, test_prescan_malformed);
    tcase_add_test(tc, test_external_data);
    tcase_add_test(tc, test_value_input_reshape);
    tcase_add_test(tc, test_digits_batch);
    tcase_add_test(tc, test_cut_and_corrupted_buffers);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    return ts_run_suite(onnx_suite());
}
