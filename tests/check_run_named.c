/* check_run_named.c — inputs and outputs by name (tsr_plan_find_input / _output,
 * tsr_plan_run_named): any input order and any subset of outputs give the positional run's
 * results (and those computed by hand); unknown, duplicate and missing names are refused with a
 * message naming them. */
#include "test_support.h"

#include <string.h>

#define N 6 /* elements of every tensor: [2, 3] */

/* a, b [2, 3] -> sum = Sub(a, b) (order matters), prod = Mul(a, b), act = Relu(sum). */
static tsr_plan *build(tsr_context *ctx, tsr_graph **gout) {
    tsr_graph *g = NULL;
    ck_assert_int_eq(tsr_graph_create(ctx, &g), TSR_OK);
    struct tsr_tensor_desc d = {.dtype = TSR_F32, .rank = 2, .dims = {2, 3}};
    tsr_value a, b, diff, prod, act;
    ck_assert_int_eq(tsr_graph_input(g, "a", &d, &a), TSR_OK);
    ck_assert_int_eq(tsr_graph_input(g, "b", &d, &b), TSR_OK);
    tsr_value ab[2] = {a, b};
    ck_assert_int_eq(tsr_graph_op(g, TSR_OP_SUB, ab, 2, NULL, "sub", &diff), TSR_OK);
    ck_assert_int_eq(tsr_graph_op(g, TSR_OP_MUL, ab, 2, NULL, "mul", &prod), TSR_OK);
    ck_assert_int_eq(tsr_graph_op(g, TSR_OP_RELU, &diff, 1, NULL, "relu", &act), TSR_OK);
    ck_assert_int_eq(tsr_graph_output(g, "diff", diff), TSR_OK);
    ck_assert_int_eq(tsr_graph_output(g, "prod", prod), TSR_OK);
    ck_assert_int_eq(tsr_graph_output(g, "act", act), TSR_OK);
    struct tsr_compile_options o = tsr_compile_options_default();
    o.device = "cpu";
    tsr_plan *plan = NULL;
    ck_assert_int_eq(tsr_compile(ctx, g, &o, &plan), TSR_OK);
    *gout = g;
    return plan;
}

static struct tsr_tensor tensor(float *data) {
    return (struct tsr_tensor){.desc = {.dtype = TSR_F32, .rank = 2, .dims = {2, 3}}, .data = data};
}

struct fixture {
    tsr_context *ctx;
    tsr_graph *g;
    tsr_plan *plan;
    float a[N], b[N];
    float ref[3][N]; /* by hand: diff, prod, act */
    float pos[3][N]; /* the positional run */
};

static void setup(struct fixture *f) {
    memset(f, 0, sizeof *f);
    f->ctx = ts_context();
    f->plan = build(f->ctx, &f->g);
    ts_fill_uniform(f->a, N, 1, -1.0f, 1.0f);
    ts_fill_uniform(f->b, N, 2, -1.0f, 1.0f);
    for (int i = 0; i < N; i++) {
        f->ref[0][i] = f->a[i] - f->b[i];
        f->ref[1][i] = f->a[i] * f->b[i];
        f->ref[2][i] = f->ref[0][i] > 0 ? f->ref[0][i] : 0.0f;
    }
    struct tsr_tensor in[2] = {tensor(f->a), tensor(f->b)};
    struct tsr_tensor out[3] = {tensor(f->pos[0]), tensor(f->pos[1]), tensor(f->pos[2])};
    ck_assert_int_eq(tsr_plan_run(f->plan, in, 2, out, 3), TSR_OK);
    for (int k = 0; k < 3; k++)
        ck_assert_double_le(ts_max_abs_diff(f->pos[k], f->ref[k], N), 1e-6);
}

static void teardown(struct fixture *f) {
    tsr_plan_destroy(f->plan);
    tsr_graph_destroy(f->g);
    tsr_context_destroy(f->ctx);
}

START_TEST(test_find) {
    struct fixture f;
    setup(&f);
    int i = -1;
    ck_assert_int_eq(tsr_plan_find_input(f.plan, "b", &i), TSR_OK);
    ck_assert_int_eq(i, 1);
    ck_assert_int_eq(tsr_plan_find_output(f.plan, "act", &i), TSR_OK);
    ck_assert_int_eq(i, 2);
    ck_assert_int_eq(tsr_plan_find_input(f.plan, "c", &i), TSR_E_NOT_FOUND);
    const char *m = tsr_last_error(f.ctx)->message;
    ck_assert_msg(strstr(m, "'c'") && strstr(m, "'a', 'b'"), "message: %s", m);
    ck_assert_int_eq(tsr_plan_find_output(f.plan, "a", &i), TSR_E_NOT_FOUND);
    m = tsr_last_error(f.ctx)->message;
    ck_assert_msg(strstr(m, "'diff', 'prod', 'act'"), "message: %s", m);
    ck_assert_int_eq(tsr_plan_find_input(f.plan, NULL, &i), TSR_E_INVALID_ARG);
    ck_assert_int_eq(tsr_plan_find_input(NULL, "a", &i), TSR_E_INVALID_ARG);
    ck_assert_int_eq(tsr_plan_find_output(f.plan, "act", NULL), TSR_E_INVALID_ARG);
    teardown(&f);
}
END_TEST

/* Inputs given b first, all outputs in reverse order: the positional results, bit for bit. */
START_TEST(test_any_order) {
    struct fixture f;
    setup(&f);
    const char *in_names[2] = {"b", "a"};
    struct tsr_tensor in[2] = {tensor(f.b), tensor(f.a)};
    float y[3][N];
    memset(y, 0, sizeof y);
    const char *out_names[3] = {"act", "prod", "diff"};
    struct tsr_tensor out[3] = {tensor(y[0]), tensor(y[1]), tensor(y[2])};
    ck_assert_int_eq(tsr_plan_run_named(f.plan, in_names, in, 2, out_names, out, 3), TSR_OK);
    ck_assert_int_eq(memcmp(y[0], f.pos[2], sizeof y[0]), 0);
    ck_assert_int_eq(memcmp(y[1], f.pos[1], sizeof y[1]), 0);
    ck_assert_int_eq(memcmp(y[2], f.pos[0], sizeof y[2]), 0);
    ck_assert_int_eq(out[0].desc.rank, 2);
    ck_assert_int_eq(out[0].desc.dims[1], 3);
    teardown(&f);
}
END_TEST

/* One output, or two of three: the rest computed into scratch; results as positional. */
START_TEST(test_subset) {
    struct fixture f;
    setup(&f);
    const char *in_names[2] = {"a", "b"};
    struct tsr_tensor in[2] = {tensor(f.a), tensor(f.b)};
    float y[2][N];
    const char *one[1] = {"diff"};
    struct tsr_tensor out[2] = {tensor(y[0]), tensor(y[1])};
    for (int rep = 0; rep < 2; rep++) {
        memset(y, 0, sizeof y);
        ck_assert_int_eq(tsr_plan_run_named(f.plan, in_names, in, 2, one, out, 1), TSR_OK);
        ck_assert_int_eq(memcmp(y[0], f.pos[0], sizeof y[0]), 0);
    }
    const char *two[2] = {"act", "prod"};
    memset(y, 0, sizeof y);
    ck_assert_int_eq(tsr_plan_run_named(f.plan, in_names, in, 2, two, out, 2), TSR_OK);
    ck_assert_int_eq(memcmp(y[0], f.pos[2], sizeof y[0]), 0);
    ck_assert_int_eq(memcmp(y[1], f.pos[1], sizeof y[1]), 0);
    teardown(&f);
}
END_TEST

/* Bad names: unknown (NOT_FOUND, listing the plan's names), duplicate, missing, NULL. */
START_TEST(test_bad_names) {
    struct fixture f;
    setup(&f);
    float y[N];
    struct tsr_tensor in[2] = {tensor(f.a), tensor(f.b)};
    struct tsr_tensor out[3] = {tensor(y), tensor(y), tensor(y)};
    const char *outs[2] = {"prod", "prod"};
    const char *ok_out[1] = {"prod"};

    const char *unknown[2] = {"a", "bb"};
    ck_assert_int_eq(tsr_plan_run_named(f.plan, unknown, in, 2, ok_out, out, 1), TSR_E_NOT_FOUND);
    const char *m = tsr_last_error(f.ctx)->message;
    ck_assert_msg(strstr(m, "'bb'") && strstr(m, "'a', 'b'"), "message: %s", m);

    const char *dup[2] = {"a", "a"};
    ck_assert_int_eq(tsr_plan_run_named(f.plan, dup, in, 2, ok_out, out, 1), TSR_E_INVALID_ARG);
    m = tsr_last_error(f.ctx)->message;
    ck_assert_msg(strstr(m, "'a' given twice"), "message: %s", m);

    const char *names[2] = {"a", "b"};
    ck_assert_int_eq(tsr_plan_run_named(f.plan, names, in, 1, ok_out, out, 1), TSR_E_INVALID_ARG);
    m = tsr_last_error(f.ctx)->message;
    ck_assert_msg(strstr(m, "1 inputs given, the plan has 2"), "message: %s", m);

    ck_assert_int_eq(tsr_plan_run_named(f.plan, names, in, 2, outs, out, 2), TSR_E_INVALID_ARG);
    m = tsr_last_error(f.ctx)->message;
    ck_assert_msg(strstr(m, "'prod' asked for twice"), "message: %s", m);

    const char *bad_out[1] = {"y"};
    ck_assert_int_eq(tsr_plan_run_named(f.plan, names, in, 2, bad_out, out, 1), TSR_E_NOT_FOUND);
    m = tsr_last_error(f.ctx)->message;
    ck_assert_msg(strstr(m, "'y'") && strstr(m, "'diff', 'prod', 'act'"), "message: %s", m);

    const char *null_name[2] = {"a", NULL};
    ck_assert_int_eq(tsr_plan_run_named(f.plan, null_name, in, 2, ok_out, out, 1),
                     TSR_E_INVALID_ARG);
    ck_assert_int_eq(tsr_plan_run_named(f.plan, names, in, 2, ok_out, out, 0), TSR_E_INVALID_ARG);
    ck_assert_int_eq(tsr_plan_run_named(f.plan, names, in, 2, ok_out, out, 4), TSR_E_INVALID_ARG);
    ck_assert_int_eq(tsr_plan_run_named(NULL, names, in, 2, ok_out, out, 1), TSR_E_INVALID_ARG);
    /* a wrong shape is still the positional run's error, naming the input */
    struct tsr_tensor bad = tensor(f.a);
    bad.desc.dims[1] = 2;
    struct tsr_tensor in2[2] = {tensor(f.a), bad};
    ck_assert_int_eq(tsr_plan_run_named(f.plan, names, in2, 2, ok_out, out, 1), TSR_E_SHAPE);
    m = tsr_last_error(f.ctx)->message;
    ck_assert_msg(strstr(m, "'b'"), "message: %s", m);
    teardown(&f);
}
END_TEST

static Suite *named_suite(void) {
    Suite *s = suite_create("run_named");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_find);
    tcase_add_test(tc, test_any_order);
    tcase_add_test(tc, test_subset);
    tcase_add_test(tc, test_bad_names);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    return ts_run_suite(named_suite());
}
