/*
 * check_quant.c — quantization (issue 13, the import milestone):
 *   - the math of runtime/quant.h against values worked out by hand from the ONNX operator
 *     pages (round half to even at x.5 ties, saturation, per-axis, min-max parameters);
 *   - each operator (QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear, MatMulInteger,
 *     QLinearMatMul) on every CPU ISA tier against the scalar reference, bit for bit (kernel
 *     harness), plus one hand-computed case per op that does not go through the reference;
 *   - OpenCL has no quantized kernel: a plan on it is refused with a status (never run with
 *     wrong results), and device "auto" runs the graph on the CPU with correct results.
 */
#include "backends/cpu/cpu_backend.h"
#include "kernel_harness.h"
#include "runtime/quant.h"
#include "test_support.h"

#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

START_TEST(test_math) {
    /* round half to even, then + zero point, then saturate (QuantizeLinear) */
    ck_assert_int_eq(tsr_quantize_one(2.5f, 1.0f, 0, 0, 255), 2);
    ck_assert_int_eq(tsr_quantize_one(3.5f, 1.0f, 0, 0, 255), 4);
    ck_assert_int_eq(tsr_quantize_one(0.5f, 1.0f, 0, 0, 255), 0);
    ck_assert_int_eq(tsr_quantize_one(1.5f, 1.0f, 0, 0, 255), 2);
    ck_assert_int_eq(tsr_quantize_one(-2.5f, 1.0f, 0, -128, 127), -2);
    ck_assert_int_eq(tsr_quantize_one(-3.5f, 1.0f, 0, -128, 127), -4);
    ck_assert_int_eq(tsr_quantize_one(5.0f, 2.0f, 10, 0, 255), 12); /* 2.5 -> 2, + 10 */
    ck_assert_int_eq(tsr_quantize_one(7.0f, 2.0f, 10, 0, 255), 14); /* 3.5 -> 4, + 10 */
    ck_assert_int_eq(tsr_quantize_one(300.0f, 1.0f, 0, 0, 255), 255);
    ck_assert_int_eq(tsr_quantize_one(-1.0f, 1.0f, 0, 0, 255), 0);
    ck_assert_int_eq(tsr_quantize_one(-200.0f, 1.0f, 0, -128, 127), -128);
    ck_assert_int_eq(tsr_quantize_one(100.0f, 1.0f, 100, -128, 127), 127);
    ck_assert_int_eq(tsr_quantize_one(INFINITY, 1.0f, 0, -128, 127), 127);
    ck_assert_int_eq(tsr_quantize_one(40000.0f, 1.0f, 0, -32768, 32767), 32767);
    /* DequantizeLinear */
    ck_assert(tsr_dequantize_one(200, 0.5f, 128) == 36.0f);
    ck_assert(tsr_dequantize_one(-128, 0.25f, 0) == -32.0f);
    /* min-max: asymmetric [-1, 3] uint8: S = 4 / 255, Z = round(0 - (-1) / S) = round(63.75) */
    float s;
    int32_t z;
    tsr_quant_params_minmax(-1.0f, 3.0f, 0, 255, 0, &s, &z);
    ck_assert(s == 4.0f / 255.0f);
    ck_assert_int_eq(z, 64);
    /* a positive range still includes 0: [2, 5] -> [0, 5], Z = 0 */
    tsr_quant_params_minmax(2.0f, 5.0f, 0, 255, 0, &s, &z);
    ck_assert(s == 5.0f / 255.0f);
    ck_assert_int_eq(z, 0);
    /* int8 asymmetric [-1, 3]: Z = round(-128 + 63.75) = -64 */
    tsr_quant_params_minmax(-1.0f, 3.0f, -128, 127, 0, &s, &z);
    ck_assert_int_eq(z, -64);
    /* symmetric: S = 2 max|x| / (qmax - qmin); Z 0 (int8), 128 (uint8) */
    tsr_quant_params_minmax(-1.0f, 3.0f, -128, 127, 1, &s, &z);
    ck_assert(s == 6.0f / 255.0f);
    ck_assert_int_eq(z, 0);
    tsr_quant_params_minmax(-1.0f, 3.0f, 0, 255, 1, &s, &z);
    ck_assert_int_eq(z, 128);
    /* a zero range: scale 1 */
    tsr_quant_params_minmax(0.0f, 0.0f, 0, 255, 0, &s, &z);
    ck_assert(s == 1.0f);
    ck_assert_int_eq(z, 0);
    /* per-axis layout: x [2, 3, 4], scale [3] along axis 1 (the default) and -2 */
    struct tsr_tensor_desc x = {TSR_F32, 3, {2, 3, 4}}, sc = {TSR_F32, 1, {3}};
    struct tsr_quant_layout l;
    ck_assert(tsr_quant_layout_of(&x, &sc, TSR_AXIS_DEFAULT, &l));
    ck_assert(l.per_axis && l.outer == 2 && l.axis_len == 3 && l.inner == 4);
    ck_assert(tsr_quant_layout_of(&x, &sc, -2, &l) && l.per_axis);
    ck_assert(!tsr_quant_layout_of(&x, &sc, 2, &l)); /* 3 scales along an axis of 4 */
}
END_TEST

/* ---- graph cases ---- */

struct qcase {
    tsr_graph *g;
    int n_in;
    struct tsr_tensor in[KH_MAX_IO];
};

/* Graph input "x<i>" of dtype dt, shape dims, data copied from `data` (n elements of dt). */
static tsr_value q_input(struct qcase *c, tsr_dtype dt, int rank, const int64_t *dims,
                         const void *data) {
    struct tsr_tensor_desc d = {dt, rank, {0}};
    for (int i = 0; i < rank; i++)
        d.dims[i] = dims[i];
    char name[16];
    snprintf(name, sizeof name, "x%d", c->n_in);
    tsr_value v;
    ck_assert_int_eq(tsr_graph_input(c->g, name, &d, &v), TSR_OK);
    ck_assert_int_eq(tsr_tensor_alloc(&d, &c->in[c->n_in]), TSR_OK);
    memcpy(c->in[c->n_in].data, data, (size_t)tsr_desc_elements(&d) * tsr_dtype_size(dt));
    c->n_in++;
    return v;
}

static void q_begin(tsr_context *ctx, struct qcase *c) {
    memset(c, 0, sizeof *c);
    ck_assert_int_eq(tsr_graph_create(ctx, &c->g), TSR_OK);
}

static tsr_value q_op(struct qcase *c, tsr_op op, const struct tsr_op_attrs *at, int n,
                      const tsr_value *in) {
    tsr_value v;
    tsr_status st = tsr_graph_op(c->g, op, in, n, at, NULL, &v);
    ck_assert_msg(st == TSR_OK, "%s: %s", tsr_op_name(op), tsr_last_error(NULL)->message);
    return v;
}

/* Runs c's graph (outputs marked) on the CPU at every ISA tier the machine has and compares
 * every output byte for byte with the scalar reference; returns the reference outputs in
 * ref[0 .. outputs-1] (the caller frees them) for hand checks. */
static void q_check(tsr_context *ctx, struct qcase *c, const char *label, struct tsr_tensor *ref) {
    kh_reference(c->g, c->in, ref);
    struct tsr_cpu_backend *cpu = tsr_cpu_backend_of(ctx);
    ck_assert_ptr_nonnull(cpu);
    const tsr_cpu_isa saved = tsr_cpu_backend_isa(cpu);
    for (int t = 0; t <= (int)tsr_cpu_detect_isa(); t++) {
        ck_assert_int_eq(tsr_cpu_backend_set_isa(cpu, (tsr_cpu_isa)t), TSR_OK);
        struct tsr_compile_options o = tsr_compile_options_default();
        o.device = "cpu";
        tsr_plan *plan = NULL;
        tsr_status st = tsr_compile(ctx, c->g, &o, &plan);
        ck_assert_msg(st == TSR_OK, "%s: compile: %s", label, tsr_last_error(ctx)->message);
        const int n_out = tsr_plan_output_count(plan);
        struct tsr_tensor out[KH_MAX_IO];
        for (int i = 0; i < n_out; i++) {
            ck_assert_int_eq(tsr_tensor_alloc(&ref[i].desc, &out[i]), TSR_OK);
            memset(out[i].data, 0xa5,
                   (size_t)tsr_desc_elements(&ref[i].desc) * tsr_dtype_size(ref[i].desc.dtype));
        }
        st = tsr_plan_run(plan, c->in, (size_t)c->n_in, out, (size_t)n_out);
        ck_assert_msg(st == TSR_OK, "%s: run: %s", label, tsr_last_error(ctx)->message);
        for (int i = 0; i < n_out; i++) {
            const size_t bytes =
                (size_t)tsr_desc_elements(&ref[i].desc) * tsr_dtype_size(ref[i].desc.dtype);
            ck_assert_int_eq(out[i].desc.dtype, ref[i].desc.dtype);
            ck_assert_msg(memcmp(out[i].data, ref[i].data, bytes) == 0,
                          "%s: cpu/%s: output %d differs from the reference", label,
                          tsr_cpu_isa_name((tsr_cpu_isa)t), i);
            tsr_tensor_free(&out[i]);
        }
        tsr_plan_destroy(plan);
    }
    ck_assert_int_eq(tsr_cpu_backend_set_isa(cpu, saved), TSR_OK);
}

static void q_end(struct qcase *c, struct tsr_tensor *ref, int n_out) {
    for (int i = 0; i < c->n_in; i++)
        tsr_tensor_free(&c->in[i]);
    for (int i = 0; i < n_out; i++)
        tsr_tensor_free(&ref[i]);
    tsr_graph_destroy(c->g);
}

static tsr_context *cpu_context(void) {
    struct tsr_context_options o;
    memset(&o, 0, sizeof o);
    o.disable_opencl = 1;
    tsr_context *ctx = NULL;
    ck_assert_int_eq(tsr_context_create(&o, &ctx), TSR_OK);
    return ctx;
}

/* x.5 ties in units of the scale (k + 0.5) * s for k = -8 .. 7, and values that saturate. */
static void tie_data(float *x, int n, float s) {
    for (int i = 0; i < n; i++)
        x[i] = i < n - 4 ? ((float)(i - n / 2) + 0.5f) * s : (i % 2 ? 1e5f : -1e5f);
}

START_TEST(test_quantize_linear) {
    tsr_context *ctx = cpu_context();
    for (int dt = 0; dt < 4; dt++) {
        const tsr_dtype ydt = (tsr_dtype[]){TSR_U8, TSR_I8, TSR_U16, TSR_I16}[dt];
        for (int per_axis = 0; per_axis < 2; per_axis++) {
            struct qcase c;
            q_begin(ctx, &c);
            const int64_t xd[3] = {2, 3, 20};
            float x[120];
            for (int r = 0; r < 6; r++)
                tie_data(x + 20 * r, 20, 0.25f);
            const float sc[3] = {0.25f, 0.5f, 0.125f};
            int16_t zp16[3] = {3, -7, 0};
            uint16_t zpu[3] = {3, 128, 0};
            unsigned char zp[6];
            for (int i = 0; i < 3; i++) {
                if (ydt == TSR_U8) zp[i] = (unsigned char)zpu[i];
                if (ydt == TSR_I8) ((int8_t *)zp)[i] = (int8_t)zp16[i];
                if (ydt == TSR_U16) ((uint16_t *)zp)[i] = zpu[i];
                if (ydt == TSR_I16) ((int16_t *)zp)[i] = zp16[i];
            }
            const int64_t sd[1] = {3};
            tsr_value in[3] = {q_input(&c, TSR_F32, 3, xd, x),
                               q_input(&c, TSR_F32, per_axis, sd, sc),
                               q_input(&c, ydt, per_axis, sd, zp)};
            tsr_value y = q_op(&c, TSR_OP_QUANTIZELINEAR, NULL, 3, in);
            ck_assert_int_eq(tsr_graph_output(c.g, "y", y), TSR_OK);
            struct tsr_tensor ref[1];
            char label[64];
            snprintf(label, sizeof label, "QuantizeLinear %s per_axis %d", tsr_dtype_name(ydt),
                     per_axis);
            q_check(ctx, &c, label, ref);
            /* hand checks (channel 0: scale 0.25, zero point 3): x[1] = -8.5 * 0.25 rounds to
             * -8 (even), + 3 = -5 (0 unsigned); x[12] = 2.5 * 0.25 rounds to 2, + 3 = 5;
             * x[13] = 3.5 * 0.25 to 4, + 3 = 7; x[17] = 1e5 saturates */
            const int uns = ydt == TSR_U8 || ydt == TSR_U16;
            ck_assert_int_eq(tsr_quant_get(ydt, ref[0].data, 1), uns ? 0 : -5);
            ck_assert_int_eq(tsr_quant_get(ydt, ref[0].data, 12), 5);
            ck_assert_int_eq(tsr_quant_get(ydt, ref[0].data, 13), 7);
            int32_t qmin, qmax;
            tsr_quant_range(ydt, &qmin, &qmax);
            ck_assert_int_eq(tsr_quant_get(ydt, ref[0].data, 17), qmax);
            ck_assert_int_eq(tsr_quant_get(ydt, ref[0].data, 16), qmin);
            q_end(&c, ref, 1);
        }
    }
    tsr_context_destroy(ctx);
}
END_TEST

/* QuantizeLinear then DequantizeLinear of uint8 / int8 on [3, 5, 37] (vectors of 8 and tails
 * in each run), per tensor and per channel (axis 1: runs of 37), at every tier byte for byte
 * against the reference: ties of the quotient, NaN (to the zero point), +-inf and values that
 * saturate, a channel of scale 0 (the scalar fallback) and zero points at the type's ends. */
START_TEST(test_quantize_dequantize_vectors) {
    tsr_context *ctx = cpu_context();
    enum { C = 5, W = 37, N = 3 * C * W };
    static float x[N];
    for (int i = 0; i < N; i++)
        x[i] = ((float)((i * 37) % 201) - 100.0f) * 0.0625f + ((i % 7) == 3 ? 0.03125f : 0.0f);
    x[5] = NAN, x[44] = INFINITY, x[90] = -INFINITY, x[200] = 1e9f, x[301] = -1e9f;
    for (int v = 0; v < 4; v++) {
        const tsr_dtype qt = v % 2 ? TSR_I8 : TSR_U8;
        const int per_axis = v >= 2;
        float sc[C] = {0.0625f, 0.125f, per_axis ? 0.0f : 0.25f, 0.03f, 1.5f};
        unsigned char zp[C];
        for (int c = 0; c < C; c++)
            zp[c] = qt == TSR_U8 ? (unsigned char)(c == 0   ? 0
                                                   : c == 1 ? 255
                                                            : 17 * c)
                                 : (unsigned char)(int8_t)(c == 0   ? -128
                                                           : c == 1 ? 127
                                                                    : -9 * c);
        struct qcase c;
        q_begin(ctx, &c);
        const int64_t xd[3] = {3, C, W}, sd[1] = {C};
        tsr_value in[3] = {q_input(&c, TSR_F32, 3, xd, x), q_input(&c, TSR_F32, per_axis, sd, sc),
                           q_input(&c, qt, per_axis, sd, zp)};
        tsr_value q = q_op(&c, TSR_OP_QUANTIZELINEAR, NULL, 3, in);
        tsr_value din[3] = {q, in[1], in[2]};
        tsr_value y = q_op(&c, TSR_OP_DEQUANTIZELINEAR, NULL, 3, din);
        ck_assert_int_eq(tsr_graph_output(c.g, "q", q), TSR_OK);
        ck_assert_int_eq(tsr_graph_output(c.g, "y", y), TSR_OK);
        struct tsr_tensor ref[2];
        char label[64];
        snprintf(label, sizeof label, "Quantize/DequantizeLinear %s per_axis %d",
                 tsr_dtype_name(qt), per_axis);
        q_check(ctx, &c, label, ref);
        /* NaN quantizes to the zero point; +inf saturates */
        ck_assert_int_eq(tsr_quant_get(qt, ref[0].data, 5), tsr_quant_get(qt, zp, 0));
        ck_assert_int_eq(tsr_quant_get(qt, ref[0].data, 44), qt == TSR_U8 ? 255 : 127);
        q_end(&c, ref, 2);
    }
    tsr_context_destroy(ctx);
}
END_TEST

START_TEST(test_dequantize_linear) {
    tsr_context *ctx = cpu_context();
    const tsr_dtype dts[3] = {TSR_U8, TSR_I8, TSR_I32};
    for (int t = 0; t < 3; t++)
        for (int axis = -1; axis < 2; axis++) {
            struct qcase c;
            q_begin(ctx, &c);
            const int64_t xd[2] = {4, 4};
            int32_t x32[16], zp32[4] = {1, -2, 100, 0};
            unsigned char xb[64], zpb[16];
            for (int i = 0; i < 16; i++)
                x32[i] = (i * 37) % 256 - (dts[t] == TSR_U8 ? 0 : 128);
            for (int i = 0; i < 16; i++) {
                if (dts[t] == TSR_I32)
                    ((int32_t *)xb)[i] = x32[i] * 1000;
                else if (dts[t] == TSR_U8)
                    xb[i] = (unsigned char)x32[i];
                else
                    ((int8_t *)xb)[i] = (int8_t)x32[i];
            }
            for (int i = 0; i < 4; i++) {
                const int32_t z = dts[t] == TSR_U8 ? zp32[i] + 2 : zp32[i];
                if (dts[t] == TSR_I32)
                    ((int32_t *)zpb)[i] = z;
                else if (dts[t] == TSR_U8)
                    zpb[i] = (unsigned char)z;
                else
                    ((int8_t *)zpb)[i] = (int8_t)z;
            }
            const float sc[4] = {0.5f, 0.1f, 3.0f, 1e-3f};
            const int64_t sd[1] = {4};
            struct tsr_op_attrs at = tsr_op_attrs_default();
            at.axis = axis; /* -1 and 1 are the same axis; 0 per row */
            tsr_value in[3] = {q_input(&c, dts[t], 2, xd, xb), q_input(&c, TSR_F32, 1, sd, sc),
                               q_input(&c, dts[t], 1, sd, zpb)};
            tsr_value y = q_op(&c, TSR_OP_DEQUANTIZELINEAR, &at, 3, in);
            ck_assert_int_eq(tsr_graph_output(c.g, "y", y), TSR_OK);
            struct tsr_tensor ref[1];
            char label[64];
            snprintf(label, sizeof label, "DequantizeLinear %s axis %d", tsr_dtype_name(dts[t]),
                     axis);
            q_check(ctx, &c, label, ref);
            /* hand check: element [1][2] uses channel 2 (axis 1 / -1) or 1 (axis 0) */
            const int ch = axis == 0 ? 1 : 2;
            const float want =
                (float)((int64_t)tsr_quant_get(dts[t], xb, 6) - tsr_quant_get(dts[t], zpb, ch)) *
                sc[ch];
            ck_assert(((float *)ref[0].data)[6] == want);
            q_end(&c, ref, 1);
        }
    tsr_context_destroy(ctx);
}
END_TEST

START_TEST(test_dynamic_quantize_linear) {
    tsr_context *ctx = cpu_context();
    struct qcase c;
    q_begin(ctx, &c);
    const int64_t xd[2] = {3, 4};
    /* ONNX's example: [0, 2, -3, -2.5, 1.34, 0.5] → scale 5 / 255, zero point 153 */
    const float x[12] = {0, 2, -3, -2.5f, 1.34f, 0.5f, 0.25f, -0.75f, 1.9f, -1.1f, 0.01f, 2};
    tsr_value xv = q_input(&c, TSR_F32, 2, xd, x);
    for (int k = 0; k < 3; k++) {
        struct tsr_op_attrs at = tsr_op_attrs_default();
        at.q_output = k;
        tsr_value y = q_op(&c, TSR_OP_DYNAMICQUANTIZELINEAR, &at, 1, &xv);
        ck_assert_int_eq(tsr_graph_output(c.g, k == 0 ? "y" : k == 1 ? "scale" : "zp", y), TSR_OK);
    }
    struct tsr_tensor ref[3];
    q_check(ctx, &c, "DynamicQuantizeLinear", ref);
    ck_assert(*(float *)ref[1].data == 5.0f / 255.0f);
    ck_assert_int_eq(*(uint8_t *)ref[2].data, 153);     /* round(3 / (5/255)) = round(153.0) */
    ck_assert_int_eq(((uint8_t *)ref[0].data)[1], 255); /* round(2 * 51) + 153 saturates */
    ck_assert_int_eq(((uint8_t *)ref[0].data)[2], 0);
    q_end(&c, ref, 3);
    tsr_context_destroy(ctx);
}
END_TEST

/* DynamicQuantizeLinear on 1003 values (125 vectors + a 3-value tail) and on 300,007 values
 * (five 64 Ki-element tasks on the pool, the range's extremes and NaNs in the last ones) at
 * every tier, byte for byte against the reference: mixed signs with NaNs (ignored by the range,
 * quantized to the zero point) and values on exact rounding ties of the quotient; only positive
 * values (range from 0); all zeros (scale 0: the scalar fallback). */
START_TEST(test_dynamic_quantize_linear_vectors) {
    tsr_context *ctx = cpu_context();
    enum { NMAX = 300007 };
    static float x[NMAX];
    for (int variant = 0; variant < 6; variant++) {
        const int N = variant < 3 ? 1003 : NMAX;
        for (int i = 0; i < N; i++) {
            const float u = (float)(((int64_t)i * 7919) % 1000) / 1000.0f; /* [0, 1) */
            x[i] = variant % 3 == 0 ? -3.0f + 5.1f * u : variant % 3 == 1 ? 0.25f + u : 0.0f;
        }
        if (variant == 3) { /* the extremes in the fourth and fifth tasks */
            x[270001] = -3.5f;
            x[299999] = 2.75f;
            x[262150] = x[300006] = NAN;
        }
        if (variant % 3 == 0) {
            x[17] = x[500] = x[1001] = NAN;
            /* range [-3, 2.1]: scale 5.1 / 255 = 0.02; k.5 steps of it tie (or nearly) */
            for (int i = 40; i < 60; i++)
                x[i] = (float)(i - 50) * 0.02f + 0.01f;
        }
        struct qcase c;
        q_begin(ctx, &c);
        const int64_t xd[1] = {N};
        tsr_value xv = q_input(&c, TSR_F32, 1, xd, x);
        for (int k = 0; k < 3; k++) {
            struct tsr_op_attrs at = tsr_op_attrs_default();
            at.q_output = k;
            tsr_value y = q_op(&c, TSR_OP_DYNAMICQUANTIZELINEAR, &at, 1, &xv);
            ck_assert_int_eq(tsr_graph_output(c.g,
                                              k == 0   ? "y"
                                              : k == 1 ? "scale"
                                                       : "zp",
                                              y),
                             TSR_OK);
        }
        struct tsr_tensor ref[3];
        char label[64];
        snprintf(label, sizeof label, "DynamicQuantizeLinear x %d, variant %d", N, variant);
        q_check(ctx, &c, label, ref);
        if (variant % 3 == 0) /* a NaN quantizes to the zero point */
            ck_assert_int_eq(((uint8_t *)ref[0].data)[17], *(uint8_t *)ref[2].data);
        q_end(&c, ref, 3);
    }
    tsr_context_destroy(ctx);
}
END_TEST

/* Fills n bytes of an 8-bit dtype with a deterministic pattern covering its range. */
static void fill8(unsigned char *p, int n, int seed) {
    uint32_t s = 2463534242u + (uint32_t)seed * 7919u;
    for (int i = 0; i < n; i++) {
        s ^= s << 13, s ^= s >> 17, s ^= s << 5;
        p[i] = (unsigned char)(s >> 11);
    }
}

START_TEST(test_matmul_integer) {
    tsr_context *ctx = cpu_context();
    /* variants: a/b dtypes, zero points (none, per tensor, b per column, only b's), batch */
    for (int v = 0; v < 6; v++) {
        const tsr_dtype at = v % 2 ? TSR_I8 : TSR_U8, bt = v >= 2 ? TSR_I8 : TSR_U8;
        const int batch = v >= 4;
        const int64_t M = 5, K = 37, N = 19;
        struct qcase c;
        q_begin(ctx, &c);
        unsigned char a[2 * 5 * 37], b[2 * 37 * 19], za[1] = {v == 1 ? 0xfe : 7}, zb[19];
        fill8(a, (int)sizeof a, v);
        fill8(b, (int)sizeof b, v + 10);
        fill8(zb, 19, v + 20);
        const int64_t ad[3] = {2, M, K}, bd[3] = {2, K, N}, zd[1] = {N};
        tsr_value in[4];
        in[0] = q_input(&c, at, batch ? 3 : 2, batch ? ad : ad + 1, a);
        in[1] = q_input(&c, bt, batch ? 3 : 2, batch ? bd : bd + 1, b);
        int n = 2;
        struct tsr_op_attrs attrs = tsr_op_attrs_default();
        if (v == 3) { /* only b's zero point: ONNX inputs 0, 1, 3 present */
            attrs.q_inputs = 1 | 2 | 8;
            in[n++] = q_input(&c, bt, 1, zd, zb);
        } else if (v > 0) {
            in[n++] = q_input(&c, at, 0, NULL, za);
            in[n++] = q_input(&c, bt, v == 2 ? 0 : 1, zd, zb);
        }
        tsr_value y = q_op(&c, TSR_OP_MATMULINTEGER, &attrs, n, in);
        ck_assert_int_eq(tsr_graph_output(c.g, "y", y), TSR_OK);
        struct tsr_tensor ref[1];
        char label[64];
        snprintf(label, sizeof label, "MatMulInteger variant %d", v);
        q_check(ctx, &c, label, ref);
        /* hand check of Y[0][2][3] */
        int64_t want = 0;
        for (int64_t k = 0; k < K; k++) {
            const int64_t av =
                tsr_quant_get(at, a, 2 * K + k) - (v == 0 || v == 3 ? 0 : tsr_quant_get(at, za, 0));
            const int64_t bz = v == 0 ? 0 : tsr_quant_get(bt, zb, v == 2 ? 0 : 3);
            want += av * (tsr_quant_get(bt, b, k * N + 3) - bz);
        }
        ck_assert_int_eq(((int32_t *)ref[0].data)[2 * N + 3], want);
        q_end(&c, ref, 1);
    }
    tsr_context_destroy(ctx);
}
END_TEST

START_TEST(test_qlinear_matmul) {
    tsr_context *ctx = cpu_context();
    for (int v = 0; v < 4; v++) {
        const tsr_dtype dt = v % 2 ? TSR_I8 : TSR_U8;
        const int per_col = v >= 2;
        const int64_t M = 6, K = 33, N = 17;
        struct qcase c;
        q_begin(ctx, &c);
        unsigned char a[6 * 33], b[33 * 17], za[1] = {dt == TSR_U8 ? 120 : 3}, zb[17],
                                             zy[1] = {dt == TSR_U8 ? 128 : 0};
        fill8(a, (int)sizeof a, v);
        fill8(b, (int)sizeof b, v + 5);
        fill8(zb, 17, v + 9);
        float sa[1] = {0.02f}, sb[17], sy[1] = {0.02f}; /* small y_scale: many saturate */
        for (int j = 0; j < 17; j++)
            sb[j] = 0.01f + 0.003f * (float)j;
        const int64_t ad[2] = {M, K}, bd[2] = {K, N}, nd[1] = {N};
        tsr_value in[8] = {q_input(&c, dt, 2, ad, a),
                           q_input(&c, TSR_F32, 0, NULL, sa),
                           q_input(&c, dt, 0, NULL, za),
                           q_input(&c, dt, 2, bd, b),
                           q_input(&c, TSR_F32, per_col, nd, sb),
                           q_input(&c, dt, per_col, nd, zb),
                           q_input(&c, TSR_F32, 0, NULL, sy),
                           q_input(&c, dt, 0, NULL, zy)};
        tsr_value y = q_op(&c, TSR_OP_QLINEARMATMUL, NULL, 8, in);
        ck_assert_int_eq(tsr_graph_output(c.g, "y", y), TSR_OK);
        struct tsr_tensor ref[1];
        char label[64];
        snprintf(label, sizeof label, "QLinearMatMul variant %d", v);
        q_check(ctx, &c, label, ref);
        /* hand check: every element by the ONNX formula in double, saturated */
        int saturated = 0;
        for (int64_t m = 0; m < M; m++)
            for (int64_t j = 0; j < N; j++) {
                int64_t acc = 0;
                const int64_t bz = tsr_quant_get(dt, zb, per_col ? j : 0);
                for (int64_t k = 0; k < K; k++)
                    acc += (tsr_quant_get(dt, a, m * K + k) - tsr_quant_get(dt, za, 0)) *
                           (tsr_quant_get(dt, b, k * N + j) - bz);
                const float mult = sa[0] * sb[per_col ? j : 0] / sy[0];
                double r = rint((double)acc * mult) + tsr_quant_get(dt, zy, 0);
                const double lo = dt == TSR_U8 ? 0 : -128, hi = dt == TSR_U8 ? 255 : 127;
                if (r < lo || r > hi) saturated++;
                r = r < lo ? lo : r > hi ? hi : r;
                ck_assert_int_eq(tsr_quant_get(dt, ref[0].data, m * N + j), (int64_t)r);
            }
        ck_assert_int_gt(saturated, 0); /* the case exercises saturation */
        q_end(&c, ref, 1);
    }
    tsr_context_destroy(ctx);
}
END_TEST

/* Graph constant of dtype dt (the packed-at-prepare path of the integer GEMM, igemm.h). */
static tsr_value q_const(struct qcase *c, tsr_dtype dt, int rank, const int64_t *dims,
                         const void *data) {
    struct tsr_tensor_desc d = {dt, rank, {0}};
    for (int i = 0; i < rank; i++)
        d.dims[i] = dims[i];
    tsr_value v;
    ck_assert_int_eq(tsr_graph_constant(c->g, NULL, &d, data, &v), TSR_OK);
    return v;
}

/* The integer GEMM (igemm.h) on many shapes: odd M / N / K, K not a multiple of the k-pair or
 * of the register tile (k-pair and k-quad), N past one or two 64-column VNNI panels, M = 1,
 * K = 4096, uint8 / int8 mixes, per-column zero points and scales,
 * B constant (packed at prepare) and B a graph input (packed per run), 1 and 2 threads; every
 * ISA tier bit for bit against the scalar reference. */
START_TEST(test_igemm_shapes) {
    static const int64_t shapes[][3] = {{1, 1, 1},   {1, 4096, 17}, {7, 5, 33},    {13, 63, 16},
                                        {6, 2, 48},  {64, 129, 47}, {97, 300, 31}, {50, 4096, 40},
                                        {49, 17, 1}, {3, 0, 5},     {20, 77, 130}, {13, 1000, 64},
                                        {7, 4, 65},  {61, 3, 129}};
    for (int threads = 1; threads <= 2; threads++) {
        struct tsr_context_options o;
        memset(&o, 0, sizeof o);
        o.disable_opencl = 1;
        o.cpu_threads = threads;
        tsr_context *ctx = NULL;
        ck_assert_int_eq(tsr_context_create(&o, &ctx), TSR_OK);
        for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++)
            for (int v = 0; v < 4; v++) {
                const int64_t M = shapes[si][0], K = shapes[si][1], N = shapes[si][2];
                const tsr_dtype at = v & 1 ? TSR_I8 : TSR_U8, bt = v & 2 ? TSR_I8 : TSR_U8;
                const int qlin = v == 3 && at == bt, const_b = (int)(si + (size_t)v) % 3 != 0;
                unsigned char *a = malloc((size_t)(M * K + 1)), *b = malloc((size_t)(K * N + 1));
                unsigned char za[1] = {at == TSR_U8 ? 131 : 0xf9}, zb[160], zy[1] = {7};
                ck_assert(a && b);
                fill8(a, (int)(M * K), (int)si * 4 + v);
                fill8(b, (int)(K * N), (int)si * 4 + v + 100);
                fill8(zb, 160, v);
                float sa[1] = {0.05f}, sb[160], sy[1] = {0.3f};
                for (int j = 0; j < 160; j++)
                    sb[j] = 0.002f + 0.0007f * (float)j;
                struct qcase c;
                q_begin(ctx, &c);
                const int64_t ad[2] = {M, K}, bd[2] = {K, N}, nd[1] = {N};
                tsr_value y;
                if (qlin) {
                    tsr_value in[8] = {
                        q_input(&c, at, 2, ad, a),
                        q_input(&c, TSR_F32, 0, NULL, sa),
                        q_input(&c, at, 0, NULL, za),
                        const_b ? q_const(&c, bt, 2, bd, b) : q_input(&c, bt, 2, bd, b),
                        q_const(&c, TSR_F32, 1, nd, sb),
                        q_const(&c, bt, 1, nd, zb),
                        q_input(&c, TSR_F32, 0, NULL, sy),
                        q_input(&c, at, 0, NULL, zy)};
                    y = q_op(&c, TSR_OP_QLINEARMATMUL, NULL, 8, in);
                } else {
                    tsr_value in[4] = {
                        q_input(&c, at, 2, ad, a),
                        const_b ? q_const(&c, bt, 2, bd, b) : q_input(&c, bt, 2, bd, b),
                        q_input(&c, at, 0, NULL, za),
                        v == 2 ? q_input(&c, bt, 0, NULL, zb) : q_const(&c, bt, 1, nd, zb)};
                    y = q_op(&c, TSR_OP_MATMULINTEGER, NULL, 4, in);
                }
                ck_assert_int_eq(tsr_graph_output(c.g, "y", y), TSR_OK);
                struct tsr_tensor ref[1];
                char label[96];
                snprintf(label, sizeof label, "igemm M %lld K %lld N %lld v %d threads %d",
                         (long long)M, (long long)K, (long long)N, v, threads);
                q_check(ctx, &c, label, ref);
                if (!qlin && M * N > 0) { /* hand check of the last element */
                    int64_t want = 0;
                    const int64_t m = M - 1, j = N - 1;
                    for (int64_t k = 0; k < K; k++)
                        want += (tsr_quant_get(at, a, m * K + k) - tsr_quant_get(at, za, 0)) *
                                (tsr_quant_get(bt, b, k * N + j) -
                                 tsr_quant_get(bt, zb, v == 2 ? 0 : j));
                    ck_assert_int_eq(((int32_t *)ref[0].data)[m * N + j], want);
                }
                q_end(&c, ref, 1);
                free(a);
                free(b);
            }
        tsr_context_destroy(ctx);
    }
}
END_TEST

/* The dequantize epilogue (program.h deq): MatMulInteger -> Cast(float32) [-> Mul(scale)
 * [-> Add(bias)]] as onnxruntime.quantization's dynamic models have it fuses into one kernel
 * (asserted by name and node count) whose output equals the unfused nodes' scalar reference bit
 * for bit on every tier; variants: Cast only, a scalar runtime scale, per-column constant
 * scale and bias (scale on the left of the Mul), batched A, a Relu after the bias (the
 * activation epilogue); N past one 64-column panel. The Mul
 * after a Cast with a second reader (a Relu) stays unfused; the Cast itself fuses. */
START_TEST(test_matmul_integer_dequant) {
    tsr_context *ctx = cpu_context();
    for (int v = 0; v < 6; v++) {
        const int64_t M = 23, K = 45, N = 70;
        struct qcase c;
        q_begin(ctx, &c);
        unsigned char a[2 * 23 * 45], b[45 * 70], za[1] = {129}, zb[1] = {3};
        fill8(a, (int)sizeof a, v + 40);
        fill8(b, (int)sizeof b, v + 50);
        float sc[70], bias[70], s1[1] = {0.0173f};
        for (int j = 0; j < 70; j++) {
            sc[j] = 0.001f + 0.00037f * (float)j;
            bias[j] = (float)(j % 9) * 0.31f - 1.2f;
        }
        const int64_t ad[3] = {2, M, K}, bd[2] = {K, N}, nd[1] = {N};
        const int batched = v == 3;
        tsr_value in[4] = {q_input(&c, TSR_U8, batched ? 3 : 2, batched ? ad : ad + 1, a),
                           q_const(&c, TSR_I8, 2, bd, b), q_input(&c, TSR_U8, 0, NULL, za),
                           q_const(&c, TSR_I8, 0, NULL, zb)};
        tsr_value y = q_op(&c, TSR_OP_MATMULINTEGER, NULL, 4, in);
        struct tsr_op_attrs ca = tsr_op_attrs_default();
        ca.cast_to = TSR_F32;
        y = q_op(&c, TSR_OP_CAST, &ca, 1, &y);
        tsr_value side = -1;
        if (v == 4) side = q_op(&c, TSR_OP_RELU, NULL, 1, &y); /* a second reader of the Cast */
        if (v == 1 || v == 3 || v == 4 || v == 5) {
            tsr_value mi[2] = {y, q_input(&c, TSR_F32, 0, NULL, s1)};
            y = q_op(&c, TSR_OP_MUL, NULL, 2, mi);
        } else if (v == 2) {
            tsr_value mi[2] = {q_const(&c, TSR_F32, 1, nd, sc), y};
            y = q_op(&c, TSR_OP_MUL, NULL, 2, mi);
        }
        if (v == 2 || v == 3 || v == 5) {
            tsr_value ai[2] = {y, q_const(&c, TSR_F32, 1, nd, bias)};
            y = q_op(&c, TSR_OP_ADD, NULL, 2, ai);
        }
        if (v == 5) y = q_op(&c, TSR_OP_RELU, NULL, 1, &y); /* the activation epilogue */
        ck_assert_int_eq(tsr_graph_output(c.g, "y", y), TSR_OK);
        if (side >= 0) ck_assert_int_eq(tsr_graph_output(c.g, "side", side), TSR_OK);
        struct tsr_compile_options o = tsr_compile_options_default();
        o.device = "cpu";
        tsr_plan *plan = NULL;
        ck_assert_int_eq(tsr_compile(ctx, c.g, &o, &plan), TSR_OK);
        struct tsr_kernel_info ki;
        ck_assert_int_eq(tsr_plan_kernel_info(plan, 0, &ki), TSR_OK);
        static const char *const want[6] = {"matmul_integer_deq",
                                            "matmul_integer_deq_scale",
                                            "matmul_integer_deq_scale_bias",
                                            "matmul_integer_deq_scale_bias",
                                            "matmul_integer_deq",
                                            "matmul_integer_deq_scale_bias_act"};
        const int want_nodes = v == 4 ? 2 : v == 5 ? 5 : 2 + (v >= 1) + (v >= 2);
        ck_assert_msg(ki.n_nodes == want_nodes && strcmp(ki.name, want[v]) == 0,
                      "variant %d: kernel 0 is '%s' of %d nodes", v, ki.name, ki.n_nodes);
        tsr_plan_destroy(plan);
        struct tsr_tensor ref[2];
        char label[64];
        snprintf(label, sizeof label, "MatMulInteger dequantize variant %d", v);
        q_check(ctx, &c, label, ref);
        q_end(&c, ref, v == 4 ? 2 : 1);
    }
    tsr_context_destroy(ctx);
}
END_TEST

START_TEST(test_opencl_refuses) {
    tsr_context *ctx = ts_context();
    if (!ts_have_opencl(ctx)) {
        tsr_context_destroy(ctx);
        return;
    }
    struct qcase c;
    q_begin(ctx, &c);
    const int64_t xd[1] = {8};
    const float x[8] = {-1, -0.5f, 0, 0.5f, 1, 1.5f, 2.5f, 300};
    const float s[1] = {0.5f};
    tsr_value in[2] = {q_input(&c, TSR_F32, 1, xd, x), q_input(&c, TSR_F32, 0, NULL, s)};
    tsr_value y = q_op(&c, TSR_OP_QUANTIZELINEAR, NULL, 2, in);
    ck_assert_int_eq(tsr_graph_output(c.g, "y", y), TSR_OK);
    struct tsr_compile_options o = tsr_compile_options_default();
    o.device = "opencl:0";
    o.placement = "single";
    o.allow_fallback = 0;
    tsr_plan *plan = NULL;
    tsr_status st = tsr_compile(ctx, c.g, &o, &plan);
    ck_assert_msg(st == TSR_E_DTYPE || st == TSR_E_UNSUPPORTED, "opencl compile: %s",
                  tsr_status_name(st));
    ck_assert_ptr_null(plan);
    o.device = "auto";
    o.placement = NULL;
    o.allow_fallback = 1;
    ck_assert_int_eq(tsr_compile(ctx, c.g, &o, &plan), TSR_OK);
    struct tsr_tensor_desc yd = {TSR_U8, 1, {8}};
    struct tsr_tensor out;
    ck_assert_int_eq(tsr_tensor_alloc(&yd, &out), TSR_OK);
    ck_assert_int_eq(tsr_plan_run(plan, c.in, 2, &out, 1), TSR_OK);
    const uint8_t want[8] = {0, 0, 0, 1, 2, 3, 5, 255}; /* -2, -1 saturate; 3 -> 3, 5 -> 5 */
    ck_assert_mem_eq(out.data, want, 8);
    tsr_tensor_free(&out);
    tsr_plan_destroy(plan);
    q_end(&c, NULL, 0);
    tsr_context_destroy(ctx);
}
END_TEST

int main(void) {
    Suite *s = suite_create("quant");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_math);
    tcase_add_test(tc, test_quantize_linear);
    tcase_add_test(tc, test_dequantize_linear);
    tcase_add_test(tc, test_dynamic_quantize_linear);
    tcase_add_test(tc, test_dynamic_quantize_linear_vectors);
    tcase_add_test(tc, test_matmul_integer);
    tcase_add_test(tc, test_qlinear_matmul);
    tcase_add_test(tc, test_igemm_shapes);
    tcase_add_test(tc, test_quantize_dequantize_vectors);
    tcase_add_test(tc, test_matmul_integer_dequant);
    tcase_add_test(tc, test_opencl_refuses);
    suite_add_tcase(s, tc);
    return ts_run_suite(s);
}
