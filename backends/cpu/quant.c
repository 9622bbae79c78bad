/*
 * quant.c — CPU kernels of TSR_K_QUANT (backends/cpu/quant.h).
 *
 * Integer matmul: per batch, B - b_zp is widened to int16 and transposed ([N, K]), each row of
 * A - a_zp widened to int16; Y[m, n] is their int32 dot product (scalar loop or AVX2 vpmaddwd).
 * |a - a_zp|, |b - b_zp| <= 255, so each product fits 17 bits and a pair sum int32; K up to
 * 33025 keeps the int32 accumulator exact (lowering does not check: ONNX's own int32 output
 * wraps the same way).
 */
#include "backends/cpu/quant.h"

#include "backends/cpu/cpu_exec.h"
#include "backends/cpu/igemm.h"
#include "backends/cpu/threadpool.h"

#include "runtime/internal.h"
#include "runtime/quant.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static size_t buf_bytes(const struct tsr_program *prog, int id) {
    return id >= 0 && id < prog->n_buffers ? prog->buffers[id].bytes : 0;
}
static tsr_dtype buf_dtype(const struct tsr_program *prog, int id) {
    return prog->buffers[id].desc.dtype;
}

#define QCHK(cond, ...)                                                                            \
    do {                                                                                           \
        if (!(cond)) return TSR_ERR(ctx, TSR_E_INVALID_ARG, __VA_ARGS__);                          \
    } while (0)

/* Input i holds n elements of a dtype of set `dts`. */
static int in_ok(const struct tsr_program *prog, const struct tsr_kernel *kn, int i, int64_t n,
                 tsr_dtype_set dts) {
    if (i < 0 || i >= kn->n_inputs) return 0;
    const int id = kn->inputs[i];
    if (id < 0 || id >= prog->n_buffers) return 0;
    const tsr_dtype dt = buf_dtype(prog, id);
    return (dts & TSR_DTYPE_BIT(dt)) && n >= 0 &&
           buf_bytes(prog, id) >= (size_t)n * tsr_dtype_size(dt);
}

#define DT(x) TSR_DTYPE_BIT(TSR_##x)
#define Q8    (DT(U8) | DT(I8))
#define QINT  (Q8 | DT(U16) | DT(I16))

tsr_status tsr_cpu_quant_check(tsr_context *ctx, const struct tsr_program *prog,
                               const struct tsr_kernel *kn) {
    const struct tsr_k_quant *q = &kn->u.quant;
    const char *name = kn->name;
    int64_t n_out = 0;
    switch (q->op) {
    case TSR_QK_QUANTIZE:
    case TSR_QK_DEQUANTIZE:
    case TSR_QK_DYNAMIC: {
        QCHK(q->outer >= 0 && q->axis_len >= 0 && q->inner >= 0, "quant kernel '%s': bad layout",
             name);
        const int64_t n = q->outer * q->axis_len * q->inner, np = q->per_axis ? q->axis_len : 1;
        if (q->op == TSR_QK_DYNAMIC) {
            QCHK(kn->n_inputs == (q->dyn_given ? 3 : 1) && in_ok(prog, kn, 0, n, DT(F32)) &&
                     (!q->dyn_given || (q->dyn_output == 0 && in_ok(prog, kn, 1, 1, DT(F32)) &&
                                        in_ok(prog, kn, 2, 1, DT(U8)))) &&
                     q->dyn_output >= 0 && q->dyn_output <= 2 &&
                     kn->dtype == (q->dyn_output == 1 ? TSR_F32 : TSR_U8),
                 "quant kernel '%s': DynamicQuantizeLinear inputs / output", name);
            n_out = q->dyn_output ? 1 : n;
        } else if (q->op == TSR_QK_QUANTIZE) {
            QCHK(kn->n_inputs == 2 + !!q->has_zp && in_ok(prog, kn, 0, n, DT(F32)) &&
                     in_ok(prog, kn, 1, np, DT(F32)) && (TSR_DTYPE_BIT(kn->dtype) & QINT) &&
                     (!q->has_zp || in_ok(prog, kn, 2, np, TSR_DTYPE_BIT(kn->dtype))),
                 "quant kernel '%s': QuantizeLinear inputs / output dtypes or sizes", name);
            n_out = n;
        } else {
            const tsr_dtype xt = kn->n_inputs > 0 ? buf_dtype(prog, kn->inputs[0]) : TSR_F32;
            QCHK(kn->n_inputs == 2 + !!q->has_zp && in_ok(prog, kn, 0, n, QINT | DT(I32)) &&
                     in_ok(prog, kn, 1, np, DT(F32)) && kn->dtype == TSR_F32 &&
                     (!q->has_zp || in_ok(prog, kn, 2, np, TSR_DTYPE_BIT(xt))),
                 "quant kernel '%s': DequantizeLinear inputs / output dtypes or sizes", name);
            n_out = n;
        }
        break;
    }
    case TSR_QK_MATMUL_INTEGER:
    case TSR_QK_QLINEAR_MATMUL: {
        QCHK(q->batch >= 0 && q->M >= 0 && q->K >= 0 && q->N >= 0 && q->a_stride >= 0 &&
                 q->b_stride >= 0 && (q->a_zp_len == 1 || q->a_zp_len == q->M) &&
                 (q->b_zp_len == 1 || q->b_zp_len == q->N),
             "quant kernel '%s': bad matmul geometry", name);
        const int64_t na = q->a_stride ? q->batch * q->a_stride : q->M * q->K;
        const int64_t nb = q->b_stride ? q->batch * q->b_stride : q->K * q->N;
        const int bi = q->op == TSR_QK_MATMUL_INTEGER ? 1 : 3;
        QCHK(in_ok(prog, kn, 0, na, Q8) && in_ok(prog, kn, bi, nb, Q8),
             "quant kernel '%s': operands", name);
        const tsr_dtype at = buf_dtype(prog, kn->inputs[0]), bt = buf_dtype(prog, kn->inputs[bi]);
        if (q->op == TSR_QK_MATMUL_INTEGER) {
            int expect = 2 + (q->a_zp >= 0) + (q->b_zp >= 0);
            QCHK(q->deq_scale < 0 || (q->deq && q->deq_scale == expect++ &&
                                      (q->deq_scale_len == 1 || q->deq_scale_len == q->N) &&
                                      in_ok(prog, kn, q->deq_scale, q->deq_scale_len, DT(F32))),
                 "quant kernel '%s': dequantize scale", name);
            QCHK(q->deq_bias < 0 || (q->deq && q->deq_bias == expect++ &&
                                     (q->deq_bias_len == 1 || q->deq_bias_len == q->N) &&
                                     in_ok(prog, kn, q->deq_bias, q->deq_bias_len, DT(F32))),
                 "quant kernel '%s': dequantize bias", name);
            QCHK(kn->n_inputs == expect && kn->dtype == (q->deq ? TSR_F32 : TSR_I32) &&
                     (q->a_zp < 0 ||
                      (q->a_zp >= 2 && in_ok(prog, kn, q->a_zp, q->a_zp_len, TSR_DTYPE_BIT(at)))) &&
                     (q->b_zp < 0 ||
                      (q->b_zp >= 2 && in_ok(prog, kn, q->b_zp, q->b_zp_len, TSR_DTYPE_BIT(bt)))),
                 "quant kernel '%s': MatMulInteger inputs", name);
        } else {
            QCHK(kn->n_inputs == 8 && q->a_zp == 2 && q->b_zp == 5 &&
                     (q->a_scale_len == 1 || q->a_scale_len == q->M) &&
                     (q->b_scale_len == 1 || q->b_scale_len == q->N) &&
                     in_ok(prog, kn, 1, q->a_scale_len, DT(F32)) &&
                     in_ok(prog, kn, 2, q->a_zp_len, TSR_DTYPE_BIT(at)) &&
                     in_ok(prog, kn, 4, q->b_scale_len, DT(F32)) &&
                     in_ok(prog, kn, 5, q->b_zp_len, TSR_DTYPE_BIT(bt)) &&
                     in_ok(prog, kn, 6, 1, DT(F32)) && in_ok(prog, kn, 7, 1, Q8) &&
                     buf_dtype(prog, kn->inputs[7]) == kn->dtype,
                 "quant kernel '%s': QLinearMatMul inputs", name);
        }
        n_out = q->batch * q->M * q->N;
        break;
    }
    default:
        return TSR_ERR(ctx, TSR_E_INVALID_ARG, "quant kernel '%s': op %d", name, (int)q->op);
    }
    if (buf_bytes(prog, kn->output) < (size_t)n_out * tsr_dtype_size(kn->dtype))
        return TSR_ERR(ctx, TSR_E_SHAPE, "quant kernel '%s': output buffer too small", name);
    return TSR_OK;
}

/* The dequantize epilogue of MatMulInteger (program.h, deq): y = (float)acc [* scale] [+ bias],
 * each step rounded to float as the unfused Cast, Mul and Add (no contraction: this file has no
 * FMA flags). */
struct deq_epi {
    const struct tsr_k_quant *q;
    const float *scale, *bias;     /* NULL: absent */
    float *y;                      /* this batch's output, [M][N] */
    const struct tsr_cpu_env *env; /* its tier picks the tile epilogue; the activation's kernels */
};

static struct deq_epi deq_epi_of(const struct tsr_cpu_env *env, const struct tsr_k_quant *q,
                                 const void *const *in, void *y) {
    struct deq_epi e = {q, q->deq_scale >= 0 ? in[q->deq_scale] : NULL,
                        q->deq_bias >= 0 ? in[q->deq_bias] : NULL, y, env};
    return e;
}

/* Columns n0 .. n0 + cols - 1 of one row: acc -> y. */
static void deq_row(const struct deq_epi *e, const int32_t *acc, float *y, int64_t n0,
                    int64_t cols) {
    const int ps = e->q->deq_scale_len > 1, pb = e->q->deq_bias_len > 1;
    for (int64_t j = 0; j < cols; j++) {
        float v = (float)acc[j];
        if (e->scale) {
            v = v * e->scale[ps ? n0 + j : 0];
        }
        if (e->bias) {
            v = v + e->bias[pb ? n0 + j : 0];
        }
        y[j] = v;
    }
    if (e->q->deq_act != TSR_ACT_NONE)
        tsr_cpu_act_apply(e->env, e->q->deq_act, e->q->deq_act_p0, e->q->deq_act_p1, (size_t)cols,
                          y);
}

/* The integer matmul of kn into acc (batch * M * N int32). */
static tsr_status qmm(tsr_context *ctx, tsr_cpu_isa isa, const struct tsr_kernel *kn,
                      const tsr_dtype *dts, const void *const *in, int32_t *acc) {
    const struct tsr_k_quant *q = &kn->u.quant;
    const int bi = q->op == TSR_QK_MATMUL_INTEGER ? 1 : 3;
    const tsr_dtype at = dts[0], bt = dts[bi];
    const void *A = in[0], *B = in[bi];
    const void *za = q->a_zp >= 0 ? in[q->a_zp] : NULL, *zb = q->b_zp >= 0 ? in[q->b_zp] : NULL;
    const int64_t M = q->M, K = q->K, N = q->N;
    int16_t *bt16 = malloc((size_t)(N * K > 0 ? N * K : 1) * sizeof *bt16);
    int16_t *a16 = malloc((size_t)(K > 0 ? K : 1) * sizeof *a16);
    if (!bt16 || !a16) {
        free(bt16);
        free(a16);
        return TSR_ERR(ctx, TSR_E_NOMEM, "kernel '%s': out of memory", kn->name);
    }
    const int avx2 = isa >= TSR_ISA_AVX2;
    for (int64_t p = 0; p < q->batch; p++) {
        if (p == 0 || q->b_stride) /* B - b_zp transposed, [N, K] */
            for (int64_t k = 0; k < K; k++)
                for (int64_t j = 0; j < N; j++) {
                    const int32_t z = zb ? tsr_quant_get(bt, zb, q->b_zp_len > 1 ? j : 0) : 0;
                    bt16[j * K + k] =
                        (int16_t)(tsr_quant_get(bt, B, p * q->b_stride + k * N + j) - z);
                }
        for (int64_t m = 0; m < M; m++) {
            const int32_t z = za ? tsr_quant_get(at, za, q->a_zp_len > 1 ? m : 0) : 0;
            for (int64_t k = 0; k < K; k++)
                a16[k] = (int16_t)(tsr_quant_get(at, A, p * q->a_stride + m * K + k) - z);
            int32_t *row = acc + (p * M + m) * N;
            for (int64_t j = 0; j < N; j++) {
                const int16_t *b = bt16 + j * K;
                if (avx2) {
                    row[j] = tsr_cpu_dot_i16_avx2(a16, b, K);
                } else {
                    int32_t s = 0;
                    for (int64_t k = 0; k < K; k++)
                        s += (int32_t)a16[k] * b[k];
                    row[j] = s;
                }
            }
        }
    }
    free(bt16);
    free(a16);
    return TSR_OK;
}

/* ---- QuantizeLinear / DequantizeLinear of 8-bit types at the AVX2 tier ---- */

/* Runs of equal scale and zero point: the whole tensor per tensor, else each (outer, channel)
 * row of `inner` values; *n_runs and *run set. */
static void quant_runs(const struct tsr_k_quant *q, int64_t *n_runs, int64_t *run) {
    const int64_t n = q->outer * q->axis_len * q->inner;
    *n_runs = q->per_axis ? q->outer * q->axis_len : (n > 0 ? 1 : 0);
    *run = q->per_axis ? q->inner : n;
}

static void quantize8(const struct tsr_k_quant *q, const float *x, const float *scale,
                      const void *zp, tsr_dtype ydt, void *y) {
    int64_t n_runs, run;
    int32_t qmin = 0, qmax = 0;
    quant_runs(q, &n_runs, &run);
    tsr_quant_range(ydt, &qmin, &qmax);
    for (int64_t r = 0; r < n_runs; r++) {
        const int64_t pc = q->per_axis ? r % q->axis_len : 0;
        const float s = scale[pc];
        const int32_t z = zp ? tsr_quant_get(ydt, zp, pc) : 0;
        const float *xr = x + r * run;
        if (!(isfinite(s) && s > 0.0f)) { /* the vector loops' precondition (quant.h) */
            for (int64_t i = 0; i < run; i++) {
                const int32_t v = tsr_quantize_one(xr[i], s, z, qmin, qmax);
                if (ydt == TSR_U8)
                    ((uint8_t *)y)[r * run + i] = (uint8_t)v;
                else
                    ((int8_t *)y)[r * run + i] = (int8_t)v;
            }
        } else if (ydt == TSR_U8)
            tsr_cpu_quantize_u8_avx2(run, xr, s, z, (uint8_t *)y + r * run);
        else
            tsr_cpu_quantize_s8_avx2(run, xr, s, z, (int8_t *)y + r * run);
    }
}

static void dequantize8(const struct tsr_k_quant *q, const void *x, tsr_dtype xdt,
                        const float *scale, const void *zp, float *y) {
    int64_t n_runs, run;
    quant_runs(q, &n_runs, &run);
    for (int64_t r = 0; r < n_runs; r++) {
        const int64_t pc = q->per_axis ? r % q->axis_len : 0;
        tsr_cpu_dequantize_8_avx2(run, (const uint8_t *)x + r * run, xdt == TSR_I8, scale[pc],
                                  zp ? tsr_quant_get(xdt, zp, pc) : 0, y + r * run);
    }
}

/* ---- DynamicQuantizeLinear over the pool ---- */

#define DYN_MAX_CHUNKS 64
#define DYN_MIN_CHUNK  65536 /* elements per task: below this the loop runs on one thread */

struct dyn_job {
    const float *x;
    uint8_t *y;
    int64_t n, chunk;
    float s;
    int32_t z;
    float lo[DYN_MAX_CHUNKS], hi[DYN_MAX_CHUNKS];
};

static void dyn_range_task(void *arg, size_t task, int thread_id) {
    (void)thread_id;
    struct dyn_job *j = arg;
    const int64_t i0 = (int64_t)task * j->chunk;
    const int64_t n = j->n - i0 < j->chunk ? j->n - i0 : j->chunk;
    tsr_cpu_minmax0_avx2(n, j->x + i0, &j->lo[task], &j->hi[task]);
}

static void dyn_quantize_task(void *arg, size_t task, int thread_id) {
    (void)thread_id;
    struct dyn_job *j = arg;
    const int64_t i0 = (int64_t)task * j->chunk;
    const int64_t n = j->n - i0 < j->chunk ? j->n - i0 : j->chunk;
    tsr_cpu_quantize_u8_avx2(n, j->x + i0, j->s, j->z, j->y + i0);
}

/* Runs fn over the job's chunks: inline for one, else as tasks on pool. */
static void dyn_chunks(struct tsr_cpu_pool *pool, size_t chunks, tsr_cpu_task_fn fn,
                       struct dyn_job *j) {
    if (chunks == 1)
        fn(j, 0, 0);
    else
        tsr_cpu_pool_parallel_for(pool, chunks, fn, j);
}

void tsr_cpu_quant_dynamic_run(struct tsr_cpu_pool *pool, tsr_cpu_isa isa,
                               const struct tsr_kernel *kn, const void *const *in, void *y) {
    const struct tsr_k_quant *q = &kn->u.quant;
    const float *x = in[0];
    const int64_t n = q->outer;
    float s;
    uint8_t z;
    int32_t zi = -1;
    if (isa >= TSR_ISA_AVX2) { /* the scalar function's steps, vectorised, in chunks */
        struct dyn_job j = {x, y, n, DYN_MIN_CHUNK, 0.0f, 0, {0}, {0}};
        if (n > (int64_t)DYN_MAX_CHUNKS * DYN_MIN_CHUNK)
            j.chunk = (n + DYN_MAX_CHUNKS - 1) / DYN_MAX_CHUNKS;
        const size_t chunks = n > 0 ? (size_t)((n + j.chunk - 1) / j.chunk) : 1;
        if (q->dyn_given) { /* the siblings' scale and zero point: equal to the range's */
            s = *(const float *)in[1];
            zi = *(const uint8_t *)in[2];
        } else {
            dyn_chunks(pool, chunks, dyn_range_task, &j);
            float lo = 0.0f, hi = 0.0f; /* min / max commute: the partial ranges combine exactly */
            for (size_t c = 0; c < chunks; c++) {
                lo = fminf(lo, j.lo[c]);
                hi = fmaxf(hi, j.hi[c]);
            }
            tsr_quant_params_minmax(lo, hi, 0, 255, 0, &s, &zi);
            z = (uint8_t)zi;
            if (q->dyn_output != 0) goto done;
        }
        if (zi >= 0 && zi <= 255 && isfinite(s) && s > 0.0f) {
            j.s = s, j.z = zi;
            dyn_chunks(pool, chunks, dyn_quantize_task, &j);
            return;
        }
    }
    /* the scalar tier, and a degenerate range (scale 0, non-finite): the reference's steps */
    tsr_dynamic_quantize_linear(n, x, q->dyn_output == 0 ? y : NULL, &s, &z);
done:
    if (q->dyn_output == 1) *(float *)y = s;
    if (q->dyn_output == 2) *(uint8_t *)y = z;
}

tsr_status tsr_cpu_quant_run(tsr_context *ctx, const struct tsr_cpu_env *env,
                             const struct tsr_kernel *kn, const tsr_dtype *dts,
                             const void *const *in, void *y) {
    const tsr_cpu_isa isa = env->ew->isa;
    const struct tsr_k_quant *q = &kn->u.quant;
    const struct tsr_quant_layout l = {q->outer, q->axis_len, q->inner, q->per_axis};
    switch (q->op) {
    case TSR_QK_QUANTIZE:
        if (isa >= TSR_ISA_AVX2 && (kn->dtype == TSR_U8 || kn->dtype == TSR_I8)) {
            quantize8(q, in[0], in[1], q->has_zp ? in[2] : NULL, kn->dtype, y);
            return TSR_OK;
        }
        tsr_quantize_linear(&l, in[0], in[1], q->has_zp ? in[2] : NULL, kn->dtype, y);
        return TSR_OK;
    case TSR_QK_DEQUANTIZE:
        if (isa >= TSR_ISA_AVX2 && (dts[0] == TSR_U8 || dts[0] == TSR_I8)) {
            dequantize8(q, in[0], dts[0], in[1], q->has_zp ? in[2] : NULL, y);
            return TSR_OK;
        }
        tsr_dequantize_linear(&l, in[0], dts[0], in[1], q->has_zp ? in[2] : NULL, y);
        return TSR_OK;
    case TSR_QK_DYNAMIC:
        tsr_cpu_quant_dynamic_run(NULL, isa, kn, in, y);
        return TSR_OK;
    case TSR_QK_MATMUL_INTEGER: {
        if (!q->deq) return qmm(ctx, isa, kn, dts, in, y);
        const int64_t n = q->batch * q->M * q->N;
        int32_t *acc = malloc((size_t)(n > 0 ? n : 1) * sizeof *acc);
        if (!acc) return TSR_ERR(ctx, TSR_E_NOMEM, "kernel '%s': out of memory", kn->name);
        tsr_status st = qmm(ctx, isa, kn, dts, in, acc);
        if (st == TSR_OK) {
            const struct deq_epi e = deq_epi_of(env, q, in, y);
            for (int64_t r = 0; r < q->batch * q->M; r++)
                deq_row(&e, acc + r * q->N, (float *)y + r * q->N, 0, q->N);
        }
        free(acc);
        return st;
    }
    case TSR_QK_QLINEAR_MATMUL: {
        const int64_t n = q->batch * q->M * q->N;
        int32_t *acc = malloc((size_t)(n > 0 ? n : 1) * sizeof *acc);
        if (!acc) return TSR_ERR(ctx, TSR_E_NOMEM, "kernel '%s': out of memory", kn->name);
        tsr_status st = qmm(ctx, isa, kn, dts, in, acc);
        if (st == TSR_OK) {
            int32_t qmin = 0, qmax = 0;
            tsr_quant_range(kn->dtype, &qmin, &qmax);
            const float *sa = in[1], *sb = in[4], sy = *(const float *)in[6];
            const int32_t yz = tsr_quant_get(dts[7], in[7], 0);
            /* requantization epilogue: saturate(round(acc * sa * sb / sy) + y_zp) */
            for (int64_t p = 0; p < q->batch; p++)
                for (int64_t m = 0; m < q->M; m++) {
                    const int64_t base = (p * q->M + m) * q->N;
                    for (int64_t j = 0; j < q->N; j++) {
                        const float mult = tsr_requant_multiplier(
                            sa[q->a_scale_len > 1 ? m : 0], sb[q->b_scale_len > 1 ? j : 0], sy);
                        const int32_t v =
                            tsr_quant_round_sat((double)acc[base + j] * mult, yz, qmin, qmax);
                        if (kn->dtype == TSR_U8)
                            ((uint8_t *)y)[base + j] = (uint8_t)v;
                        else
                            ((int8_t *)y)[base + j] = (int8_t)v;
                    }
                }
        }
        free(acc);
        return st;
    }
    }
    return TSR_ERR(ctx, TSR_E_INVALID_ARG, "quant kernel '%s': op %d", kn->name, (int)q->op);
}

/* ---- the packed integer GEMM path (igemm.h) ---- */

int tsr_cpu_quant_b_constant(const struct tsr_program *prog, const struct tsr_kernel *kn) {
    const struct tsr_k_quant *q = &kn->u.quant;
    if (kn->kind != TSR_K_QUANT ||
        (q->op != TSR_QK_MATMUL_INTEGER && q->op != TSR_QK_QLINEAR_MATMUL) || q->b_stride)
        return 0;
    const int bi = q->op == TSR_QK_MATMUL_INTEGER ? 1 : 3;
    if (prog->buffers[kn->inputs[bi]].kind != TSR_BUF_CONST) return 0;
    return q->b_zp < 0 || prog->buffers[kn->inputs[q->b_zp]].kind == TSR_BUF_CONST;
}

tsr_status tsr_cpu_quant_pack_b(tsr_context *ctx, int vnni, const struct tsr_program *prog,
                                const struct tsr_kernel *kn, struct tsr_cpu_igemm_b *out) {
    const struct tsr_k_quant *q = &kn->u.quant;
    const int bi = q->op == TSR_QK_MATMUL_INTEGER ? 1 : 3;
    const struct tsr_buffer *b = &prog->buffers[kn->inputs[bi]];
    const void *zb = q->b_zp >= 0 ? prog->buffers[kn->inputs[q->b_zp]].const_data : NULL;
    if (tsr_cpu_igemm_pack_b(vnni, q->K, q->N, b->desc.dtype, b->const_data, q->N, zb, q->b_zp_len,
                             out) != 0)
        return TSR_ERR(ctx, TSR_E_NOMEM, "cpu prepare: cannot pack the weights of '%s'", kn->name);
    return TSR_OK;
}

/* QLinearMatMul's requantization of one tile (the scalar reference's formula per element). */
struct qlin_epi {
    const struct tsr_k_quant *q;
    const float *sa, *sb;
    float sy;
    int32_t yz, qmin, qmax, u8;
    void *y; /* this batch's output */
};

static void qlin_epi_fn(void *arg, int64_t m0, int64_t n0, int rows, int cols, const int32_t *t,
                        int ldt) {
    const struct qlin_epi *e = arg;
    const struct tsr_k_quant *q = e->q;
    for (int i = 0; i < rows; i++) {
        const int64_t m = m0 + i, base = m * q->N + n0;
        const float sa = e->sa[q->a_scale_len > 1 ? m : 0];
        for (int j = 0; j < cols; j++) {
            const float mult =
                tsr_requant_multiplier(sa, e->sb[q->b_scale_len > 1 ? n0 + j : 0], e->sy);
            const int32_t v =
                tsr_quant_round_sat((double)t[i * ldt + j] * mult, e->yz, e->qmin, e->qmax);
            if (e->u8)
                ((uint8_t *)e->y)[base + j] = (uint8_t)v;
            else
                ((int8_t *)e->y)[base + j] = (int8_t)v;
        }
    }
}

static void deq_epi_fn(void *arg, int64_t m0, int64_t n0, int rows, int cols, const int32_t *t,
                       int ldt) {
    const struct deq_epi *e = arg;
    const struct tsr_k_quant *q = e->q;
    if (e->env->ew->isa >= TSR_ISA_AVX512) { /* tsr_cpu_igemm_deq_avx512 (igemm.h) */
        tsr_cpu_igemm_deq_avx512(
            t, ldt, rows, cols, e->scale ? e->scale + (q->deq_scale_len > 1 ? n0 : 0) : NULL,
            q->deq_scale_len, e->bias ? e->bias + (q->deq_bias_len > 1 ? n0 : 0) : NULL,
            q->deq_bias_len, e->y + m0 * q->N + n0, q->N);
        if (q->deq_act != TSR_ACT_NONE)
            for (int i = 0; i < rows; i++)
                tsr_cpu_act_apply(e->env, q->deq_act, q->deq_act_p0, q->deq_act_p1, (size_t)cols,
                                  e->y + (m0 + i) * q->N + n0);
        return;
    }
    for (int i = 0; i < rows; i++)
        deq_row(e, t + (int64_t)i * ldt, e->y + (m0 + i) * e->q->N + n0, n0, cols);
}

tsr_status tsr_cpu_quant_mm_run(tsr_context *ctx, const struct tsr_cpu_env *env,
                                const struct tsr_kernel *kn, const tsr_dtype *dts,
                                const void *const *in, void *y, const struct tsr_cpu_igemm_b *pre,
                                int vnni) {
    const struct tsr_k_quant *q = &kn->u.quant;
    if (pre) vnni = pre->vnni;
    const int qlin = q->op == TSR_QK_QLINEAR_MATMUL, bi = qlin ? 3 : 1;
    const tsr_dtype at = dts[0], bt = dts[bi];
    const void *za = q->a_zp >= 0 ? in[q->a_zp] : NULL, *zb = q->b_zp >= 0 ? in[q->b_zp] : NULL;
    const int64_t M = q->M, K = q->K, N = q->N;
    const size_t na = tsr_cpu_igemm_a_bytes(vnni, M, K);
    void *ap = malloc(na > 0 ? na : 1);
    if (!ap) return TSR_ERR(ctx, TSR_E_NOMEM, "kernel '%s': out of memory", kn->name);
    struct tsr_cpu_igemm_b own = {0};
    struct qlin_epi e = {q, NULL, NULL, 0.0f, 0, 0, 0, 0, NULL};
    if (qlin) {
        tsr_quant_range(kn->dtype, &e.qmin, &e.qmax);
        e.sa = in[1];
        e.sb = in[4];
        e.sy = *(const float *)in[6];
        e.yz = tsr_quant_get(dts[7], in[7], 0);
        e.u8 = kn->dtype == TSR_U8;
    }
    const size_t ysz = qlin ? 1 : sizeof(int32_t);
    for (int64_t p = 0; p < q->batch; p++) {
        const struct tsr_cpu_igemm_b *b = pre;
        if (!pre && (p == 0 || q->b_stride)) {
            tsr_cpu_igemm_b_free(&own);
            if (tsr_cpu_igemm_pack_b(vnni, K, N, bt, (const char *)in[bi] + p * q->b_stride, N, zb,
                                     q->b_zp_len, &own) != 0) {
                free(ap);
                return TSR_ERR(ctx, TSR_E_NOMEM, "kernel '%s': out of memory", kn->name);
            }
        }
        if (!pre) b = &own;
        tsr_cpu_igemm_pack_a(vnni, M, K, at, (const char *)in[0] + p * q->a_stride, za, q->a_zp_len,
                             ap);
        char *yp = (char *)y + (size_t)(p * M * N) * ysz;
        if (qlin) {
            e.y = yp;
            tsr_cpu_igemm_run(env->pool, M, ap, b, NULL, N, qlin_epi_fn, &e);
        } else if (q->deq) {
            struct deq_epi de = deq_epi_of(env, q, in, (float *)y + p * M * N);
            tsr_cpu_igemm_run(env->pool, M, ap, b, NULL, N, deq_epi_fn, &de);
        } else {
            tsr_cpu_igemm_run(env->pool, M, ap, b, (int32_t *)yp, N, NULL, NULL);
        }
    }
    tsr_cpu_igemm_b_free(&own);
    free(ap);
    return TSR_OK;
}
