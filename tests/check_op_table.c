/*
 * check_op_table.c — the operator table (runtime/ops/op_table.inc) is complete and consistent:
 * every op of the public enum has a full row (names, arity, category, shape rule, reference,
 * lowering), its ONNX name round-trips through the importer's lookup, elementwise ops (and only
 * they) lower to a fused-region instruction, every attribute spec is well formed and agrees with
 * tsr_op_attrs_default(), and the table-driven attribute storage keeps its contract.
 */
#include "test_support.h"

#include "runtime/ops/op_table.h"

#include <math.h>
#include <string.h>

START_TEST(test_every_op_has_a_complete_row) {
    for (int i = 0; i < TSR_OP_COUNT; i++) {
        const struct tsr_op_def *d = tsr_op_def((tsr_op)i);
        ck_assert_ptr_nonnull(d);
        ck_assert_msg(d->op == (tsr_op)i, "op %d: row missing (op field %d)", i, (int)d->op);
        ck_assert_msg(d->onnx_name && *d->onnx_name, "op %d: no ONNX name", i);
        ck_assert_msg(d->domain != NULL, "%s: no domain", d->onnx_name);
        ck_assert_msg(d->shape && d->reference && d->lower, "%s: shape, reference or lowering NULL",
                      d->onnx_name);
        ck_assert_msg(d->min_in >= 1 && d->min_in <= d->max_in && d->max_in <= TSR_NODE_MAX_INPUTS,
                      "%s: arity %d..%d", d->onnx_name, d->min_in, d->max_in);
        ck_assert_msg(d->empty_from == 0 ||
                          (d->empty_from >= d->min_in && d->empty_from < d->max_in),
                      "%s: empty_from %d outside the optional inputs", d->onnx_name, d->empty_from);
        ck_assert_int_ge(d->category, TSR_OPC_EW_UNARY);
        ck_assert_int_le(d->category, TSR_OPC_VIEW);
        /* names round-trip through the import lookup, in both spellings of the default domain */
        ck_assert_str_eq(tsr_op_name((tsr_op)i), d->onnx_name);
        ck_assert_int_eq(tsr_op_from_onnx(d->domain, d->onnx_name), i);
        if (tsr_op_domain_is_default(d->domain)) {
            ck_assert_int_eq(tsr_op_from_onnx(NULL, d->onnx_name), i);
            ck_assert_int_eq(tsr_op_from_onnx("ai.onnx", d->onnx_name), i);
            ck_assert_int_eq(tsr_op_from_onnx("com.example", d->onnx_name), -1);
        }
        for (int j = 0; j < i; j++)
            ck_assert_msg(strcmp(tsr_op_def((tsr_op)j)->onnx_name, d->onnx_name) ||
                              strcmp(tsr_op_def((tsr_op)j)->domain, d->domain),
                          "%s listed twice", d->onnx_name);
    }
    ck_assert_ptr_null(tsr_op_def(TSR_OP_COUNT));
    ck_assert_ptr_null(tsr_op_def((tsr_op)-1));
    ck_assert_str_eq(tsr_op_name(TSR_OP_COUNT), "?");
    ck_assert_int_eq(tsr_op_from_onnx("", "NoSuchOp"), -1);
    ck_assert_int_eq(tsr_op_from_onnx("", "Constant"), -1); /* the importer's own business */
}
END_TEST

START_TEST(test_elementwise_rows) {
    struct tsr_op_attrs a = tsr_op_attrs_default();
    for (int i = 0; i < TSR_OP_COUNT; i++) {
        const struct tsr_op_def *d = tsr_op_def((tsr_op)i);
        int ew = d->category == TSR_OPC_EW_UNARY || d->category == TSR_OPC_EW_BINARY;
        ck_assert_int_eq(tsr_op_is_elementwise((tsr_op)i), ew);
        ck_assert_int_eq(tsr_op_is_view((tsr_op)i), d->category == TSR_OPC_VIEW);
        ck_assert_msg(d->has_ew == ew, "%s: TSR_EW row %s", d->onnx_name,
                      ew ? "missing" : "on a non-elementwise op");
        if (!ew) {
            float p0 = 1, p1 = 1;
            ck_assert_int_eq(tsr_op_activation((tsr_op)i, &a, &p0, &p1), TSR_ACT_NONE);
            continue;
        }
        /* the instruction has the op's arity */
        ck_assert_int_eq(tsr_ew_arity(d->ew), d->category == TSR_OPC_EW_BINARY ? 2 : 1);
        if (d->has_variadic) {
            /* folded with the binary instruction in one region, then the unary finish */
            ck_assert_int_eq(d->category, TSR_OPC_EW_BINARY);
            ck_assert_int_eq(d->min_in, 1);
            ck_assert_int_le(d->max_in, TSR_EW_MAX_INPUTS);
            ck_assert_int_eq(tsr_ew_arity(d->ew_finish), 1);
        } else {
            ck_assert_int_eq(d->min_in, tsr_ew_arity(d->ew));
            ck_assert_int_eq(d->max_in, tsr_ew_arity(d->ew));
        }
        if (d->has_variant) ck_assert_int_eq(tsr_ew_arity(d->ew_variant), tsr_ew_arity(d->ew));
    }
    /* immediates and variants come from the attributes */
    float p0, p1;
    a.leaky_alpha = 0.25f;
    ck_assert_int_eq(tsr_op_ew(TSR_OP_LEAKYRELU, &a, &p0, &p1), TSR_EW_LEAKY_RELU);
    ck_assert(p0 == 0.25f && p1 == 0.0f);
    ck_assert_int_eq(tsr_op_activation(TSR_OP_LEAKYRELU, &a, &p0, &p1), TSR_ACT_LEAKY_RELU);
    ck_assert(p0 == 0.25f && p1 == 0.0f);
    a.clip_min = -2.0f;
    a.clip_max = 3.0f;
    ck_assert_int_eq(tsr_op_ew(TSR_OP_CLIP, &a, &p0, &p1), TSR_EW_CLIP);
    ck_assert(p0 == -2.0f && p1 == 3.0f);
    ck_assert_int_eq(tsr_op_ew(TSR_OP_GELU, &a, &p0, &p1), TSR_EW_GELU);
    a.gelu_tanh = 1;
    ck_assert_int_eq(tsr_op_ew(TSR_OP_GELU, &a, &p0, &p1), TSR_EW_GELU_TANH);
    ck_assert_int_eq(tsr_op_activation(TSR_OP_ADD, &a, &p0, &p1), TSR_ACT_NONE);
    ck_assert_int_eq(tsr_op_ew(TSR_OP_CONV, &a, &p0, &p1), TSR_EW_COPY);
}
END_TEST

/* The value of spec's field in attrs, as a double (scalar fields and element 0 of arrays). */
static double field_value(const struct tsr_attr_spec *s, const struct tsr_op_attrs *a) {
    const char *f = (const char *)a + s->offset;
    switch (s->kind) {
    case TSR_AK_F32:
        return *(const float *)f;
    case TSR_AK_I64:
        return (double)*(const int64_t *)f;
    case TSR_AK_BOOL:
    case TSR_AK_ENUM:
    case TSR_AK_SCALAR: /* the int fill_dtype */
        return *(const int *)f;
    case TSR_AK_INTS:
        for (int i = 1; i < s->len; i++)
            ck_assert(((const int64_t *)f)[i] == ((const int64_t *)f)[0]);
        return (double)*(const int64_t *)f;
    case TSR_AK_LIST:
        return *(const int *)((const char *)a + s->count_offset);
    default:
        return NAN;
    }
}

START_TEST(test_attribute_specs) {
    const struct tsr_op_attrs dflt = tsr_op_attrs_default();
    ck_assert_int_gt(tsr_attr_spec_count(), 0);
    ck_assert_ptr_null(tsr_attr_spec_at(tsr_attr_spec_count()));
    for (int i = 0; i < tsr_attr_spec_count(); i++) {
        const struct tsr_attr_spec *s = tsr_attr_spec_at(i);
        ck_assert_ptr_nonnull(tsr_op_def(s->op));
        ck_assert_msg(tsr_op_attr(s->op, s->name) == s, "%s.%s listed twice", tsr_op_name(s->op),
                      s->name);
        int has_field = s->kind != TSR_AK_REQUIRE && s->kind != TSR_AK_IGNORED;
        ck_assert_int_eq(s->offset >= 0, has_field);
        ck_assert(s->offset < (int)sizeof(struct tsr_op_attrs));
        ck_assert_int_eq(s->count_offset >= 0, s->kind == TSR_AK_LIST);
        ck_assert_int_eq(s->choices != NULL, s->kind == TSR_AK_ENUM);
        /* rows naming the same field agree on its default, which tsr_op_attrs_default() holds */
        if (has_field && s->kind != TSR_AK_LIST && s->kind != TSR_AK_STRING)
            ck_assert_msg(field_value(s, &dflt) ==
                              (s->kind == TSR_AK_F32 ? (double)(float)s->dflt : s->dflt),
                          "%s.%s: default %g, tsr_op_attrs_default() has %g", tsr_op_name(s->op),
                          s->name, s->dflt, field_value(s, &dflt));
        if (s->kind == TSR_AK_LIST) ck_assert_int_eq((int)field_value(s, &dflt), 0);
    }
    /* the defaults tessera.h documents */
    ck_assert(dflt.alpha == 1.0f && dflt.beta == 1.0f && dflt.axis == TSR_AXIS_DEFAULT);
    ck_assert(dflt.strides[1] == 1 && dflt.dilations[1] == 1 && dflt.group == 1);
    ck_assert(dflt.keepdims == 1 && dflt.epsilon == 1e-5f && dflt.leaky_alpha == 0.01f);
    ck_assert(dflt.clip_min == -INFINITY && dflt.clip_max == INFINITY && dflt.auto_pad == 0);
    /* inputs that are attributes point at specs of the same op; constant inputs are inputs */
    for (int op = 0; op < TSR_OP_COUNT; op++) {
        const struct tsr_op_def *d = tsr_op_def((tsr_op)op);
        int n = 0;
        for (int k = 0; k < TSR_NODE_MAX_INPUTS; k++) {
            const struct tsr_attr_spec *s = tsr_op_attr_input((tsr_op)op, k);
            if (!s) continue;
            n++;
            ck_assert_int_eq(s->op, op);
            ck_assert_msg(k >= d->max_in, "%s: input %d is both a node input and an attribute",
                          d->onnx_name, k);
            ck_assert(s->type == TSR_ATTR_T_FLOAT || s->type == TSR_ATTR_T_INTS);
            tsr_dtype dt;
            const char *what = NULL;
            if (tsr_op_const_input((tsr_op)op, k, &dt, &what))
                ck_assert_msg(0, "%s: input %d both attribute and constant", d->onnx_name, k);
        }
        ck_assert_int_eq(n, tsr_op_attr_input_count((tsr_op)op));
        for (int k = 0; k < TSR_NODE_MAX_INPUTS; k++) {
            tsr_dtype dt = (tsr_dtype)0;
            const char *what = NULL;
            if (!tsr_op_const_input((tsr_op)op, k, &dt, &what)) continue;
            ck_assert_int_lt(k, d->max_in);
            ck_assert(what && *what && tsr_dtype_size(dt) > 0);
        }
    }
    ck_assert_ptr_nonnull(tsr_op_attr_input(TSR_OP_CLIP, 1));
    ck_assert_str_eq(tsr_op_attr_input(TSR_OP_CLIP, 2)->name, "max");
}
END_TEST

START_TEST(test_attribute_storage) {
    struct tsr_op_attrs a = tsr_op_attrs_default();
    /* auto_pad choices are in TSR_AUTO_PAD_* order */
    const struct tsr_attr_spec *ap = tsr_op_attr(TSR_OP_CONV, "auto_pad");
    ck_assert_ptr_nonnull(ap);
    ck_assert_int_eq(tsr_attr_store_string(ap, &a, "SAME_LOWER"), 0);
    ck_assert_int_eq(a.auto_pad, TSR_AUTO_PAD_SAME_LOWER);
    ck_assert_int_eq(tsr_attr_store_string(ap, &a, "VALID"), 0);
    ck_assert_int_eq(a.auto_pad, TSR_AUTO_PAD_VALID);
    ck_assert_int_eq(tsr_attr_store_string(ap, &a, "SAME_UPPER"), 0);
    ck_assert_int_eq(a.auto_pad, TSR_AUTO_PAD_SAME_UPPER);
    ck_assert_int_eq(tsr_attr_store_string(ap, &a, "SAME"), -1);
    ck_assert_int_eq(tsr_attr_store_string(ap, &a, "NOTSET"), 0);
    ck_assert_int_eq(a.auto_pad, TSR_AUTO_PAD_NOTSET);
    /* fixed-length and bounded lists */
    const int64_t v[9] = {3, 1, 2, 0, 4, 5, 6, 7, 8};
    const struct tsr_attr_spec *ks = tsr_op_attr(TSR_OP_MAXPOOL, "kernel_shape");
    ck_assert_int_eq(tsr_attr_store_ints(ks, &a, v, 4), -1);
    /* group "win3d": the 3-D form keeps D apart */
    ck_assert_int_eq(tsr_attr_store_ints(ks, &a, v, 3), 0);
    ck_assert(a.win_d[0] == 3 && a.kernel_shape[0] == 1 && a.kernel_shape[1] == 2 &&
              a.win3d_given == 1);
    ck_assert_int_eq(tsr_attr_store_ints(ks, &a, v, 2), 0);
    ck_assert(a.kernel_shape[0] == 3 && a.kernel_shape[1] == 1);
    const struct tsr_attr_spec *perm = tsr_op_attr(TSR_OP_TRANSPOSE, "perm");
    ck_assert_int_eq(tsr_attr_store_ints(perm, &a, v, 3), 0);
    ck_assert(a.n_perm == 3 && a.perm[0] == 3 && a.perm[2] == 2);
    ck_assert_int_eq(tsr_attr_store_ints(perm, &a, v, 9), -1);
    /* the same ONNX name lands in the op's own field */
    ck_assert_int_eq(tsr_attr_store_float(tsr_op_attr(TSR_OP_GEMM, "alpha"), &a, 2.0f), 0);
    ck_assert_int_eq(tsr_attr_store_float(tsr_op_attr(TSR_OP_LEAKYRELU, "alpha"), &a, 0.5f), 0);
    ck_assert(a.alpha == 2.0f && a.leaky_alpha == 0.5f);
    /* int attributes stored as flags; required values; ignored attributes */
    ck_assert_int_eq(tsr_attr_store_int(tsr_op_attr(TSR_OP_GEMM, "transA"), &a, 7), 0);
    ck_assert_int_eq(a.trans_a, 1);
    ck_assert_int_eq(tsr_attr_store_int(tsr_op_attr(TSR_OP_BATCHNORM, "training_mode"), &a, 1), -1);
    /* group "multiout": MaxPool storage_order is stored (its Indices output reads it) */
    ck_assert_int_eq(tsr_attr_store_int(tsr_op_attr(TSR_OP_MAXPOOL, "storage_order"), &a, 1), 0);
    ck_assert_int_eq(a.storage_order, 1);
    ck_assert_int_eq(tsr_attr_store_int(tsr_op_attr(TSR_OP_BATCHNORM, "spatial"), &a, 1), 0);
    ck_assert_int_eq(tsr_attr_store_int(tsr_op_attr(TSR_OP_GEMM, "broadcast"), &a, 0), 0);
    ck_assert_ptr_null(tsr_op_attr(TSR_OP_RELU, "alpha"));
    /* opset-dependent defaults */
    struct tsr_op_attrs s11 = tsr_op_attrs_default(), s13 = tsr_op_attrs_default();
    tsr_op_onnx_defaults(TSR_OP_SOFTMAX, 11, &s11);
    tsr_op_onnx_defaults(TSR_OP_SOFTMAX, 13, &s13);
    ck_assert(s11.softmax_2d == 1 && s11.axis == 1);
    ck_assert(s13.softmax_2d == 0 && s13.axis == -1);
}
END_TEST

/* Group "spatial": 1-D window attributes (half the values) are stored as 2-D ones with H = 1. */
START_TEST(test_window_1d_attributes) {
    struct tsr_op_attrs a = tsr_op_attrs_default();
    const int64_t k[1] = {5}, s[1] = {2}, d[1] = {3}, p[2] = {1, 4};
    ck_assert_int_eq(tsr_attr_store_ints(tsr_op_attr(TSR_OP_CONV, "kernel_shape"), &a, k, 1), 0);
    ck_assert_int_eq(tsr_attr_store_ints(tsr_op_attr(TSR_OP_CONV, "strides"), &a, s, 1), 0);
    ck_assert_int_eq(tsr_attr_store_ints(tsr_op_attr(TSR_OP_CONV, "dilations"), &a, d, 1), 0);
    ck_assert_int_eq(tsr_attr_store_ints(tsr_op_attr(TSR_OP_CONV, "pads"), &a, p, 2), 0);
    ck_assert(a.kernel_shape[0] == 1 && a.kernel_shape[1] == 5);
    ck_assert(a.strides[0] == 1 && a.strides[1] == 2);
    ck_assert(a.dilations[0] == 1 && a.dilations[1] == 3);
    ck_assert(a.pads[0] == 0 && a.pads[1] == 1 && a.pads[2] == 0 && a.pads[3] == 4);
    struct tsr_op_attrs b = tsr_op_attrs_default();
    ck_assert_int_eq(tsr_attr_store_ints(tsr_op_attr(TSR_OP_AVGPOOL, "pads"), &b, p, 2), 0);
    ck_assert(b.pads[1] == 1 && b.pads[3] == 4);
    ck_assert_int_eq(tsr_attr_store_ints(tsr_op_attr(TSR_OP_MAXPOOL, "kernel_shape"), &b, k, 1), 0);
    ck_assert(b.kernel_shape[0] == 1 && b.kernel_shape[1] == 5);
    /* 3 pads values fit no spatial rank tessera has */
    const int64_t p3[3] = {1, 1, 1};
    ck_assert_int_eq(tsr_attr_store_ints(tsr_op_attr(TSR_OP_CONV, "pads"), &b, p3, 3), -1);
}
END_TEST

static Suite *op_table_suite(void) {
    Suite *s = suite_create("op_table");
    TCase *tc = tcase_create("op_table");
    tcase_add_test(tc, test_every_op_has_a_complete_row);
    tcase_add_test(tc, test_elementwise_rows);
    tcase_add_test(tc, test_attribute_specs);
    tcase_add_test(tc, test_attribute_storage);
    tcase_add_test(tc, test_window_1d_attributes);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    return ts_run_suite(op_table_suite());
}
