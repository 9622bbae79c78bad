/*
 * check_onnx.c — ONNX import: every model of tests/data/cases.txt imports with the input and
 * output shapes of the PyTorch-written .npy files next to it; attributes reach the graph; every
 * bad file of tests/data/bad_cases.txt gives its status and a message naming the file / node;
 * the digits model takes a batch override; cut and corrupted buffers never crash.
 * (Running the imported graphs against PyTorch outputs is tests/check_models.c.)
 */
#include "runtime/graph.h"
#include "test_support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    tcase_add_test(tc, test_value_input_reshape);
    tcase_add_test(tc, test_digits_batch);
    tcase_add_test(tc, test_cut_and_corrupted_buffers);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    return ts_run_suite(onnx_suite());
}
