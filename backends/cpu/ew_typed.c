/*
 * ew_typed.c — group "dtcompute": executor of fused elementwise regions whose dtype is not
 * float32 (runtime/program.h, TSR_EW_INT_OP_LIST and the note above it).
 *
 * A scalar interpreter, element by element: every input element is loaded in the kernel's dtype
 * (tsr_elem_get_*), the instructions run on registers of double (float64, float16: every float
 * instruction, the formulas of the ONNX operator pages in double, rounded to the dtype only on
 * store) or int64 (integer dtypes: the instructions of TSR_EW_INT_OP_LIST, each result wrapped to
 * the dtype's width, exact: no double in between), and the result is stored in the dtype. Rows
 * of the output (all dims but the innermost) are split over the thread pool when the region is
 * large. Not vectorised: the float32 regions keep the ISA tiers of ew_exec.c.
 */
#include "backends/cpu/cpu_exec.h"

#include <math.h>
#include <stdint.h>

/* x mod 2^width, sign- or zero-extended back to int64 as the dtype says. */
static int64_t ty_wrap(tsr_dtype dt, int64_t v) {
    switch (dt) {
    case TSR_I8:
        return (int8_t)(uint8_t)(uint64_t)v;
    case TSR_U8:
        return (uint8_t)(uint64_t)v;
    case TSR_I32:
        return (int32_t)(uint32_t)(uint64_t)v;
    case TSR_I16:
        return (int16_t)(uint16_t)(uint64_t)v;
    case TSR_U16:
        return (uint16_t)(uint64_t)v;
    case TSR_U32:
        return (uint32_t)(uint64_t)v;
    default:
        return v;
    }
}

/* a^b with wrapping repeated squaring; b < 0: 1 / a^|b| truncated (1 for a = 1, +-1 for a = -1,
 * else 0; 0^negative = 0 as integer division by zero gives here). */
static int64_t ty_ipow(int64_t a, int64_t b) {
    if (b < 0) return a == 1 ? 1 : (a == -1 ? ((b & 1) ? -1 : 1) : 0);
    uint64_t r = 1, x = (uint64_t)a, e = (uint64_t)b;
    while (e) {
        if (e & 1) r *= x;
        x *= x;
        e >>= 1;
    }
    return (int64_t)r;
}

/* One integer instruction (TSR_EW_INT_OP_LIST; the same semantics as its OpenCL expressions). */
static int64_t ty_int_op(tsr_ew_op op, int64_t a, int64_t b, int64_t p0, int64_t p1) {
    switch (op) {
    case TSR_EW_ADD:
        return (int64_t)((uint64_t)a + (uint64_t)b);
    case TSR_EW_SUB:
        return (int64_t)((uint64_t)a - (uint64_t)b);
    case TSR_EW_MUL:
        return (int64_t)((uint64_t)a * (uint64_t)b);
    case TSR_EW_DIV:
        return b == 0 ? 0 : (b == -1 ? (int64_t)(0u - (uint64_t)a) : a / b);
    case TSR_EW_MOD:
        return (b == 0 || b == -1) ? 0 : a % b;
    case TSR_EW_MOD_INT: {
        if (b == 0 || b == -1) return 0;
        const int64_t r = a % b;
        return (r != 0 && ((r < 0) != (b < 0))) ? r + b : r;
    }
    case TSR_EW_POW:
        return ty_ipow(a, b);
    case TSR_EW_NEG:
        return (int64_t)(0u - (uint64_t)a);
    case TSR_EW_ABS:
        return a < 0 ? (int64_t)(0u - (uint64_t)a) : a;
    case TSR_EW_SIGN:
        return (a > 0) - (a < 0);
    case TSR_EW_RELU:
        return a > 0 ? a : 0;
    case TSR_EW_MIN:
        return a <= b ? a : b;
    case TSR_EW_MAX:
        return a >= b ? a : b;
    case TSR_EW_CLIP:
        return a < p0 ? p0 : (a > p1 ? p1 : a);
    case TSR_EW_BIT_AND:
        return a & b;
    case TSR_EW_BIT_OR:
        return a | b;
    case TSR_EW_BIT_XOR:
        return a ^ b;
    case TSR_EW_BIT_NOT:
        return ~a;
    case TSR_EW_SHL:
        return (b < 0 || b > 63) ? 0 : (int64_t)((uint64_t)a << b);
    case TSR_EW_SHR:
        return (b < 0 || b > 63) ? 0 : (int64_t)((uint64_t)a >> b);
    case TSR_EW_COPY:
    default:
        return a;
    }
}

static double ty_softplus(double d) {
    return isnan(d) ? d : fmax(d, 0.0) + log1p(exp(-fabs(d)));
}
static double ty_clamp01(double t) { /* NaN propagates */
    return t < 0.0 ? 0.0 : (t > 1.0 ? 1.0 : t);
}

/* One float instruction in double (ONNX operator pages; NaN handling as runtime/reference.c). */
static double ty_float_op(tsr_ew_op op, double a, double b, double p0, double p1) {
    switch (op) {
    case TSR_EW_ADD:
        return a + b;
    case TSR_EW_SUB:
        return a - b;
    case TSR_EW_MUL:
        return a * b;
    case TSR_EW_DIV:
        return a / b;
    case TSR_EW_RELU:
        return a > 0.0 ? a : (isnan(a) ? a : 0.0);
    case TSR_EW_SIGMOID:
        return 1.0 / (1.0 + exp(-a));
    case TSR_EW_TANH:
        return tanh(a);
    case TSR_EW_COPY:
        return a;
    case TSR_EW_EXP:
        return exp(a);
    case TSR_EW_LOG:
        return log(a);
    case TSR_EW_SQRT:
        return sqrt(a);
    case TSR_EW_ERF:
        return erf(a);
    case TSR_EW_GELU:
        return 0.5 * a * (1.0 + erf(a / sqrt(2.0)));
    case TSR_EW_GELU_TANH:
        return 0.5 * a * (1.0 + tanh(sqrt(2.0 / M_PI) * (a + 0.044715 * a * a * a)));
    case TSR_EW_SILU:
        return a / (1.0 + exp(-a));
    case TSR_EW_LEAKY_RELU:
        return a >= 0.0 ? a : p0 * a;
    case TSR_EW_CLIP:
        return a < p0 ? p0 : (a > p1 ? p1 : a);
    case TSR_EW_POW:
        return pow(a, b);
    case TSR_EW_NEG:
        return -a;
    case TSR_EW_ABS:
        return fabs(a);
    case TSR_EW_SIGN:
        return a > 0.0 ? 1.0 : (a < 0.0 ? -1.0 : a);
    case TSR_EW_RECIPROCAL:
        return 1.0 / a;
    case TSR_EW_FLOOR:
        return floor(a);
    case TSR_EW_CEIL:
        return ceil(a);
    case TSR_EW_ROUND:
        return nearbyint(a);
    case TSR_EW_SOFTPLUS:
        return ty_softplus(a);
    case TSR_EW_SOFTSIGN:
        return a / (1.0 + fabs(a));
    case TSR_EW_HARD_SIGMOID:
        return ty_clamp01(p0 * a + p1);
    case TSR_EW_HARD_SWISH:
        return a * ty_clamp01(a / 6.0 + 0.5);
    case TSR_EW_ELU:
        return a < 0.0 ? p0 * expm1(a) : a;
    case TSR_EW_SELU:
        return a > 0.0 ? p1 * a : p1 * p0 * expm1(a);
    case TSR_EW_CELU:
        return isnan(a) ? a : fmax(0.0, a) + fmin(0.0, p0 * expm1(a / p0));
    case TSR_EW_THRESHOLDED_RELU:
        return a > p0 ? a : 0.0;
    case TSR_EW_THRESHOLD_BINARY: /* NaN gives 0 */
        return a > p0 ? p1 : 0.0;
    case TSR_EW_SHRINK:
        return a < -p1 ? a + p0 : (a > p1 ? a - p0 : 0.0);
    case TSR_EW_MISH:
        return a * tanh(ty_softplus(a));
    case TSR_EW_SIN:
        return sin(a);
    case TSR_EW_COS:
        return cos(a);
    case TSR_EW_TAN:
        return tan(a);
    case TSR_EW_ASIN:
        return asin(a);
    case TSR_EW_ACOS:
        return acos(a);
    case TSR_EW_ATAN:
        return atan(a);
    case TSR_EW_SINH:
        return sinh(a);
    case TSR_EW_COSH:
        return cosh(a);
    case TSR_EW_ASINH:
        return asinh(a);
    case TSR_EW_ACOSH:
        return acosh(a);
    case TSR_EW_ATANH:
        return atanh(a);
    case TSR_EW_MIN:
        return (a <= b || isnan(a)) ? a : b;
    case TSR_EW_MAX:
        return (a >= b || isnan(a)) ? a : b;
    case TSR_EW_DIV_IMM:
        return a / p0;
    case TSR_EW_PRELU:
        return a >= 0.0 ? a : a * b;
    case TSR_EW_MOD:
        return fmod(a, b);
    case TSR_EW_MOD_INT: {
        const double r = fmod(a, b);
        return (r != 0.0 && ((r < 0.0) != (b < 0.0))) ? r + b : r;
    }
    case TSR_EW_BIT_AND: /* integer only: refused by tsr_cpu_ew_float_check */
    case TSR_EW_BIT_OR:
    case TSR_EW_BIT_XOR:
    case TSR_EW_BIT_NOT:
    case TSR_EW_SHL:
    case TSR_EW_SHR:
    case TSR_EW_COUNT:
        break;
    }
    return a;
}

tsr_status tsr_cpu_ew_float_check(tsr_context *ctx, const char *name, const struct tsr_k_ew *k,
                                  tsr_dtype dtype) {
    for (int i = 0; i < k->n_instrs; i++)
        if (!tsr_ew_has_float((tsr_ew_op)k->instrs[i].op))
            return TSR_ERR(ctx, TSR_E_DTYPE,
                           "elementwise kernel '%s': instruction %d (%s) is integer only (dtype "
                           "%s)",
                           name, i, tsr_ew_name((tsr_ew_op)k->instrs[i].op), tsr_dtype_name(dtype));
    return TSR_OK;
}

int tsr_cpu_ew_typed_dtype(tsr_dtype dtype) {
    switch (dtype) {
    case TSR_F64:
    case TSR_F16:
    case TSR_I64:
    case TSR_I32:
    case TSR_I8:
    case TSR_U8:
    case TSR_I16:
    case TSR_U16:
    case TSR_U32:
        return 1;
    default:
        return 0;
    }
}

tsr_status tsr_cpu_ew_typed_check(tsr_context *ctx, const char *name, const struct tsr_k_ew *k,
                                  tsr_dtype dtype) {
    if (!tsr_cpu_ew_typed_dtype(dtype))
        return TSR_ERR(ctx, TSR_E_DTYPE,
                       "elementwise kernel '%s': the cpu backend has no elementwise kernel for "
                       "dtype %s",
                       name, tsr_dtype_name(dtype));
    if (tsr_dtype_is_float(dtype)) return tsr_cpu_ew_float_check(ctx, name, k, dtype);
    for (int i = 0; i < k->n_instrs; i++)
        if (!tsr_ew_int_cl_expr((tsr_ew_op)k->instrs[i].op))
            return TSR_ERR(ctx, TSR_E_DTYPE,
                           "elementwise kernel '%s': instruction %d (%s) has no integer form "
                           "(dtype %s; ONNX defines it for floats)",
                           name, i, tsr_ew_name((tsr_ew_op)k->instrs[i].op), tsr_dtype_name(dtype));
    return TSR_OK;
}

struct ty_job {
    const struct tsr_k_ew *k;
    tsr_dtype dt;
    const void *const *inputs;
    void *y;
    int64_t inner, rows, rows_per_task;
};

static void ty_rows(const struct ty_job *job, int64_t r0, int64_t r1) {
    const struct tsr_k_ew *k = job->k;
    const int inner_d = k->rank - 1;
    const int flt = tsr_dtype_is_float(job->dt);
    double rd[TSR_EW_MAX_REGS] = {0};
    int64_t ri[TSR_EW_MAX_REGS] = {0};
    for (int64_t row = r0; row < r1; row++) {
        int64_t off[TSR_EW_MAX_INPUTS] = {0}, q = row;
        for (int d = inner_d - 1; d >= 0; d--) {
            const int64_t idx = q % k->dims[d];
            q /= k->dims[d];
            for (int i = 0; i < TSR_EW_MAX_INPUTS; i++)
                off[i] += idx * k->strides[i][d];
        }
        for (int64_t j = 0; j < job->inner; j++) {
            int last = 0;
            for (int ii = 0; ii < k->n_instrs; ii++) {
                const struct tsr_ew_instr *in = &k->instrs[ii];
                const int16_t src[2] = {in->a, in->b};
                const int arity = tsr_ew_arity((tsr_ew_op)in->op);
                double vd[2] = {0, 0};
                int64_t vi[2] = {0, 0};
                for (int s = 0; s < arity; s++) {
                    if (src[s] >= 0) {
                        vd[s] = rd[src[s]];
                        vi[s] = ri[src[s]];
                        continue;
                    }
                    const int x = -src[s] - 1;
                    const int64_t e = off[x] + j * k->strides[x][inner_d];
                    if (flt)
                        vd[s] = tsr_elem_get_f64(job->dt, job->inputs[x], e);
                    else
                        vi[s] = tsr_elem_get_i64(job->dt, job->inputs[x], e);
                }
                if (flt)
                    rd[in->dst] = ty_float_op((tsr_ew_op)in->op, vd[0], vd[1], in->p0, in->p1);
                else
                    ri[in->dst] =
                        ty_wrap(job->dt, ty_int_op((tsr_ew_op)in->op, vi[0], vi[1],
                                                   tsr_ew_imm_i64(in->p0), tsr_ew_imm_i64(in->p1)));
                last = in->dst;
            }
            const int64_t o = row * job->inner + j;
            if (flt)
                tsr_elem_set_f64(job->dt, job->y, o, rd[last]);
            else
                tsr_elem_set_i64(job->dt, job->y, o, ri[last]);
        }
    }
}

static void ty_task(void *arg, size_t task, int thread_id) {
    (void)thread_id;
    const struct ty_job *job = arg;
    const int64_t r0 = (int64_t)task * job->rows_per_task;
    const int64_t r1 = r0 + job->rows_per_task < job->rows ? r0 + job->rows_per_task : job->rows;
    ty_rows(job, r0, r1);
}

void tsr_cpu_ew_typed_run(const struct tsr_cpu_env *env, const struct tsr_k_ew *k, tsr_dtype dtype,
                          const void *const *inputs, void *y) {
    int64_t total = 1;
    for (int d = 0; d < k->rank; d++)
        total *= k->dims[d];
    if (total == 0) return;
    struct ty_job job = {.k = k, .dt = dtype, .inputs = inputs, .y = y};
    job.inner = k->dims[k->rank - 1];
    job.rows = total / job.inner;
    int64_t per = TSR_CPU_EW_TASK_ELEMS / job.inner;
    job.rows_per_task = per < 1 ? 1 : per;
    const int64_t n_tasks = (job.rows + job.rows_per_task - 1) / job.rows_per_task;
    if (total > TSR_CPU_EW_PARALLEL_MIN && env->n_threads > 1 && env->pool && n_tasks > 1)
        tsr_cpu_pool_parallel_for(env->pool, (size_t)n_tasks, ty_task, &job);
    else
        ty_rows(&job, 0, job.rows);
}
