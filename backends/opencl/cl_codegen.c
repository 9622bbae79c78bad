/*
 * cl_codegen.c — OpenCL C generation for fused elementwise regions (struct tsr_k_ew, also used
 * for Transpose as a one-input COPY region with the permuted strides) and for Concat, and
 * assembly of embedded kernel sources (common.clh + file).
 *
 * Generated kernel (one per region; dims, strides and the instruction chain are constants in the
 * source so the compiler folds the index arithmetic):
 *
 *   __kernel void tsr_ew(__global float *y, ulong y_off, __global const float *in0, ulong off0,…)
 *     for gid in grid-stride loop over N = prod(dims):
 *       decompose gid into idx[d] (innermost first, d = rank-1 .. 0);
 *       i_k = sum_d idx[d] * strides[k][d] for each input k used (stride 0 = broadcast);
 *       x_k = in_k[off_k + i_k];
 *       each instruction: { float a = A; float b = B; const float p0 = P0, p1 = P1;
 *                           r_dst = <tsr_ew_cl_expr(op)>; }   (immediates as exact hex floats;
 *                           POW: see instr_expr)
 *       y[y_off + gid] = r_last;
 *
 * The index type is uint when every index fits in 31 bits (cheaper on GPUs), ulong otherwise.
 * Group "dtcompute": a region of another dtype than float32 takes its buffers as bytes, computes
 * in double (float64), float (float16, vload_half / vstore_half_rte) or long (integers, the
 * expressions of TSR_EW_INT_OP_LIST, each result wrapped through the storage type).
 */
#include "backends/opencl/cl_internal.h"

#include "backends/opencl/cl_embedded.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Growable string; on allocation failure `failed` is set and further appends are ignored. */
struct sbuf {
    char *s;
    size_t len, cap;
    int failed;
};

static void sb_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(struct sbuf *b, const char *fmt, ...) {
    if (b->failed) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        size_t room = b->cap - b->len;
        int n = vsnprintf(b->s ? b->s + b->len : NULL, room, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->failed = 1;
            return;
        }
        if ((size_t)n < room) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = b->cap ? b->cap * 2 : 4096;
        while (cap < b->len + (size_t)n + 1)
            cap *= 2;
        char *s = realloc(b->s, cap);
        if (!s) {
            b->failed = 1;
            return;
        }
        b->s = s;
        b->cap = cap;
    }
}

/* Prints v as an exact OpenCL C float literal: C99 hex float ("0x1.8p+1f"), or INFINITY /
 * -INFINITY / NAN, which have no literal form. */
static void float_literal(struct sbuf *b, float v) {
    if (isnan(v))
        sb_printf(b, "NAN");
    else if (isinf(v))
        sb_printf(b, "%sINFINITY", v < 0 ? "-" : "");
    else
        sb_printf(b, "%af", (double)v);
}

/* OpenCL C expression of instruction op. POW replaces tsr_ew_cl_expr's pow(a, b): an integral
 * exponent goes through pown(), so a negative base gives the real result ONNX Pow expects
 * ((-3)^2 = 9, (-2)^3 = -8) without depending on how a driver's pow() treats negative bases
 * (OpenCL C 1.2 s7.5.1 makes pow NaN only for a non-integral exponent, but pown is exact in
 * intent and cheaper). |b| < 2^24 keeps the int conversion exact and in range; larger floats are
 * all even integers, for which pow(a, b) = pow(|a|, b) is correct. */
static const char *instr_expr(tsr_ew_op op) {
    if (op == TSR_EW_POW)
        return "((b == rint(b) && fabs(b) < 16777216.0f) ? pown(a, (int)b) : pow(a, b))";
    return tsr_ew_cl_expr(op);
}

/* Appends OpenCL C expression e with the 'f' suffix of its float literals dropped ("0.0f" ->
 * "0.0", "0x1.8p-3f" -> "0x1.8p-3"): a float64 region's literals are double, so that overloads
 * such as fmax(double, double) are not ambiguous (group "dtcompute"). A literal is a token that
 * starts with a digit (after no identifier character). */
static void double_expr(struct sbuf *b, const char *e) {
    int in_num = 0;
    for (const char *c = e; *c; c++) {
        const int ident = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || *c == '_' ||
                          (*c >= '0' && *c <= '9');
        if (!in_num && *c >= '0' && *c <= '9' &&
            (c == e || !(((c[-1] | 32) >= 'a' && (c[-1] | 32) <= 'z') || c[-1] == '_' ||
                         (c[-1] >= '0' && c[-1] <= '9'))))
            in_num = 1;
        else if (in_num && !ident && *c != '.' &&
                 !((*c == '-' || *c == '+') && (c[-1] == 'p' || c[-1] == 'e')))
            in_num = 0;
        const int last_of_num = in_num && *c == 'f' &&
                                !((c[1] | 32) >= 'a' && (c[1] | 32) <= 'z') &&
                                !(c[1] >= '0' && c[1] <= '9') && c[1] != '_';
        if (last_of_num) continue;
        sb_printf(b, "%c", *c);
    }
}

/* Prints operand `o` of an instruction: register r<o> or loaded input x<-o-1>. */
static void operand(struct sbuf *b, int o) {
    if (o >= 0)
        sb_printf(b, "r%d", o);
    else
        sb_printf(b, "x%d", -o - 1);
}

tsr_status tsr_cl_codegen_ew(tsr_context *ctx, const struct tsr_kernel *k, char **out) {
    const struct tsr_k_ew *ew = &k->u.ew;
    if (ew->rank < 1 || ew->rank > TSR_MAX_RANK)
        return TSR_ERR(ctx, TSR_E_INVALID_ARG, "kernel '%s': elementwise rank %d not in 1..%d",
                       k->name, ew->rank, TSR_MAX_RANK);
    if (ew->n_instrs < 1 || ew->n_instrs > TSR_EW_MAX_INSTRS || ew->n_regs < 1 ||
        ew->n_regs > TSR_EW_MAX_REGS || k->n_inputs < 1 || k->n_inputs > TSR_EW_MAX_INPUTS)
        return TSR_ERR(ctx, TSR_E_INVALID_ARG,
                       "kernel '%s': elementwise region with %d instructions, %d registers, %d "
                       "inputs (limits %d, %d, %d)",
                       k->name, ew->n_instrs, ew->n_regs, k->n_inputs, TSR_EW_MAX_INSTRS,
                       TSR_EW_MAX_REGS, TSR_EW_MAX_INPUTS);
    /* group "dtcompute": typed regions (program.h: TSR_EW_INT_OP_LIST and the note above it).
     * ct: the type instructions compute in; st: the storage type of the buffers. */
    const int typed = k->dtype != TSR_F32;
    const int is_int = typed && !tsr_dtype_is_float(k->dtype);
    const char *ct = "float", *st = "float";
    switch (k->dtype) {
    case TSR_F32:
        break;
    case TSR_F16:
        st = "half";
        break;
    case TSR_F64:
        ct = st = "double";
        break;
    case TSR_I64:
        ct = st = "long";
        break;
    case TSR_I32:
        ct = "long", st = "int";
        break;
    case TSR_I8:
        ct = "long", st = "char";
        break;
    case TSR_U8:
        ct = "long", st = "uchar";
        break;
    case TSR_I16:
        ct = "long", st = "short";
        break;
    case TSR_U16:
        ct = "long", st = "ushort";
        break;
    case TSR_U32:
        ct = "long", st = "uint";
        break;
    default:
        return TSR_ERR(ctx, TSR_E_DTYPE,
                       "kernel '%s' (nodes %s): the opencl backend has no elementwise kernel for "
                       "dtype %s",
                       k->name, k->nodes ? k->nodes : "", tsr_dtype_name(k->dtype));
    }
    int used[TSR_EW_MAX_INPUTS] = {0};
    for (int i = 0; i < ew->n_instrs; i++) {
        if (!is_int && ew->instrs[i].op < TSR_EW_COUNT &&
            !tsr_ew_has_float((tsr_ew_op)ew->instrs[i].op))
            return TSR_ERR(ctx, TSR_E_DTYPE,
                           "kernel '%s' (nodes %s): instruction %d (%s) is integer only (dtype %s)",
                           k->name, k->nodes ? k->nodes : "", i,
                           tsr_ew_name((tsr_ew_op)ew->instrs[i].op), tsr_dtype_name(k->dtype));
        if (is_int && ew->instrs[i].op < TSR_EW_COUNT &&
            !tsr_ew_int_cl_expr((tsr_ew_op)ew->instrs[i].op))
            return TSR_ERR(ctx, TSR_E_DTYPE,
                           "kernel '%s' (nodes %s): instruction %d (%s) has no integer form "
                           "(dtype %s; ONNX defines it for floats)",
                           k->name, k->nodes ? k->nodes : "", i,
                           tsr_ew_name((tsr_ew_op)ew->instrs[i].op), tsr_dtype_name(k->dtype));
        const struct tsr_ew_instr *in = &ew->instrs[i];
        if (in->op >= TSR_EW_COUNT || in->dst >= ew->n_regs)
            return TSR_ERR(ctx, TSR_E_INVALID_ARG,
                           "kernel '%s': instruction %d has op %d / dst r%d out of range", k->name,
                           i, in->op, in->dst);
        int ops[2] = {in->a, in->b};
        for (int j = 0; j < tsr_ew_arity((tsr_ew_op)in->op); j++) {
            int o = ops[j];
            if ((o >= 0 && o >= ew->n_regs) || (o < 0 && -o - 1 >= k->n_inputs))
                return TSR_ERR(ctx, TSR_E_INVALID_ARG,
                               "kernel '%s': instruction %d operand %d (%d) out of range (%d "
                               "registers, %d inputs)",
                               k->name, i, j, o, ew->n_regs, k->n_inputs);
            if (o < 0) used[-o - 1] = 1;
        }
    }
    /* Total elements and the largest index any input reaches decide the index type. */
    int64_t total = 1, max_index = 0;
    for (int d = 0; d < ew->rank; d++) {
        if (ew->dims[d] < 0)
            return TSR_ERR(ctx, TSR_E_INVALID_ARG, "kernel '%s': negative dim %lld", k->name,
                           (long long)ew->dims[d]);
        total *= ew->dims[d];
    }
    for (int i = 0; i < k->n_inputs; i++) {
        int64_t m = 0;
        for (int d = 0; d < ew->rank; d++)
            if (ew->dims[d] > 0) m += (ew->dims[d] - 1) * ew->strides[i][d];
        if (m > max_index) max_index = m;
    }
    const char *idx =
        (total < ((int64_t)1 << 31) && max_index < ((int64_t)1 << 31)) ? "uint" : "ulong";
    const char *sfx = idx[0] == 'u' && idx[1] == 'i' ? "u" : "ul";
    struct sbuf b = {0};
    sb_printf(&b, "/* tessera fused elementwise region '%s' (%s), dims [", k->name,
              k->nodes ? k->nodes : "");
    for (int d = 0; d < ew->rank; d++)
        sb_printf(&b, "%s%lld", d ? ", " : "", (long long)ew->dims[d]);
    sb_printf(&b, "] */\n");
    if (!typed) {
        sb_printf(&b, "__kernel void tsr_ew(__global float *y, ulong y_off");
        for (int i = 0; i < k->n_inputs; i++)
            sb_printf(&b, ", __global const float *in%d, ulong off%d", i, i);
        sb_printf(&b, ") {\n");
    } else {
        /* group "dtcompute": buffers as bytes, offsets in 4-byte units (the backend's refs) */
        if (k->dtype == TSR_F64) sb_printf(&b, "#pragma OPENCL EXTENSION cl_khr_fp64 : enable\n");
        if (is_int)
            sb_printf(&b, "long tsr_ipow(long a, long b) {\n    if (b < 0) return a == 1 ? 1L : (a "
                          "== -1 ? ((b & 1) ? -1L : 1L) : 0L);\n    ulong r = 1, x = as_ulong(a), "
                          "e = as_ulong(b);\n    while (e) {\n        if (e & 1) r *= x;\n        "
                          "x *= x;\n        e >>= 1;\n    }\n    return as_long(r);\n}\n");
        sb_printf(&b, "__kernel void tsr_ew(__global uchar *yb, ulong y_off");
        for (int i = 0; i < k->n_inputs; i++)
            sb_printf(&b, ", __global const uchar *in%db, ulong off%d", i, i);
        sb_printf(&b, ") {\n    __global %s *y = (__global %s *)(yb + y_off * 4);\n", st, st);
        for (int i = 0; i < k->n_inputs; i++)
            sb_printf(&b,
                      "    __global const %s *in%d = (__global const %s *)(in%db + off%d * 4);\n",
                      st, i, st, i, i);
    }
    sb_printf(&b,
              "    for (%s gid = get_global_id(0); gid < %lld%s; gid += get_global_size(0)) {\n",
              idx, (long long)total, sfx);
    sb_printf(&b, "        %s q = gid, c;\n", idx);
    for (int i = 0; i < k->n_inputs; i++)
        if (used[i]) sb_printf(&b, "        %s i%d = 0;\n", idx, i);
    for (int d = ew->rank - 1; d >= 0; d--) {
        if (d > 0)
            sb_printf(&b, "        c = q %% %lld%s; q /= %lld%s;\n", (long long)ew->dims[d], sfx,
                      (long long)ew->dims[d], sfx);
        else
            sb_printf(&b, "        c = q;\n");
        for (int i = 0; i < k->n_inputs; i++) {
            if (!used[i] || ew->strides[i][d] == 0) continue;
            if (ew->strides[i][d] == 1)
                sb_printf(&b, "        i%d += c;\n", i);
            else
                sb_printf(&b, "        i%d += c * %lld%s;\n", i, (long long)ew->strides[i][d], sfx);
        }
    }
    for (int i = 0; i < k->n_inputs; i++) {
        if (!used[i]) continue;
        if (!typed)
            sb_printf(&b, "        float x%d = in%d[off%d + i%d];\n", i, i, i, i);
        else if (k->dtype == TSR_F16)
            sb_printf(&b, "        float x%d = vload_half(i%d, in%d);\n", i, i, i);
        else
            sb_printf(&b, "        %s x%d = (%s)in%d[i%d];\n", ct, i, ct, i, i);
    }
    sb_printf(&b, "        %s r0 = 0", ct);
    for (int r = 1; r < ew->n_regs; r++)
        sb_printf(&b, ", r%d = 0", r);
    sb_printf(&b, ";\n        (void)c;\n");
    for (int i = 0; i < ew->n_instrs; i++) {
        const struct tsr_ew_instr *in = &ew->instrs[i];
        sb_printf(&b, "        { %s a = ", ct);
        operand(&b, in->a);
        if (tsr_ew_arity((tsr_ew_op)in->op) == 2) {
            sb_printf(&b, "; %s b = ", ct);
            operand(&b, in->b);
        }
        if (is_int) {
            /* integer immediates as int64 (tsr_ew_imm_i64); INT64_MIN has no literal */
            const int64_t q[2] = {tsr_ew_imm_i64(in->p0), tsr_ew_imm_i64(in->p1)};
            for (int j = 0; j < 2; j++) {
                sb_printf(&b, j ? ", p1 = " : "; const long p0 = ");
                if (q[j] == INT64_MIN)
                    sb_printf(&b, "(-9223372036854775807L - 1L)");
                else
                    sb_printf(&b, "%lldL", (long long)q[j]);
            }
            /* each instruction's result wrapped to the dtype's width */
            sb_printf(&b, "; r%d = (long)(%s)(%s); } /* %s */\n", in->dst, st,
                      tsr_ew_int_cl_expr((tsr_ew_op)in->op), tsr_ew_name((tsr_ew_op)in->op));
            continue;
        }
        sb_printf(&b, "; const %s p0 = ", ct);
        float_literal(&b, in->p0);
        sb_printf(&b, ", p1 = ");
        float_literal(&b, in->p1);
        if (k->dtype == TSR_F64) {
            sb_printf(&b, "; r%d = ", in->dst);
            double_expr(&b, instr_expr((tsr_ew_op)in->op));
            sb_printf(&b, "; } /* %s */\n", tsr_ew_name((tsr_ew_op)in->op));
            continue;
        }
        sb_printf(&b, "; r%d = %s; } /* %s */\n", in->dst, instr_expr((tsr_ew_op)in->op),
                  tsr_ew_name((tsr_ew_op)in->op));
    }
    const int last = ew->instrs[ew->n_instrs - 1].dst;
    if (!typed)
        sb_printf(&b, "        y[y_off + gid] = r%d;\n    }\n}\n", last);
    else if (k->dtype == TSR_F16)
        sb_printf(&b, "        vstore_half_rte(r%d, gid, y);\n    }\n}\n", last);
    else
        sb_printf(&b, "        y[gid] = (%s)r%d;\n    }\n}\n", st, last);
    if (b.failed) {
        free(b.s);
        return TSR_ERR(ctx, TSR_E_NOMEM, "kernel '%s': out of memory generating OpenCL C", k->name);
    }
    *out = b.s;
    return TSR_OK;
}

tsr_status tsr_cl_codegen_concat(tsr_context *ctx, const struct tsr_kernel *k, char **out) {
    const struct tsr_k_concat *cc = &k->u.concat;
    if (cc->n < 1 || cc->n > TSR_EW_MAX_INPUTS || cc->n != k->n_inputs || cc->outer < 0)
        return TSR_ERR(ctx, TSR_E_INVALID_ARG,
                       "kernel '%s': concat of %d parts with %d inputs (1..%d), outer %lld",
                       k->name, cc->n, k->n_inputs, TSR_EW_MAX_INPUTS, (long long)cc->outer);
    int64_t width = 0;
    for (int i = 0; i < cc->n; i++) {
        if (cc->inner[i] < 0)
            return TSR_ERR(ctx, TSR_E_INVALID_ARG, "kernel '%s': concat part %d has width %lld",
                           k->name, i, (long long)cc->inner[i]);
        width += cc->inner[i];
    }
    int64_t total = cc->outer * width;
    struct sbuf b = {0};
    sb_printf(&b, "/* tessera concat '%s' (%s): [%lld, %lld] from %d parts */\n", k->name,
              k->nodes ? k->nodes : "", (long long)cc->outer, (long long)width, cc->n);
    sb_printf(&b, "__kernel void tsr_concat(__global float *y, ulong y_off");
    for (int i = 0; i < cc->n; i++)
        sb_printf(&b, ", __global const float *in%d, ulong off%d", i, i);
    sb_printf(&b, ") {\n");
    if (total > 0) {
        sb_printf(
            &b,
            "    for (ulong gid = get_global_id(0); gid < %lldul; gid += get_global_size(0)) "
            "{\n        ulong row = gid / %lldul, col = gid - row * %lldul;\n        float v;\n",
            (long long)total, (long long)width, (long long)width);
        int64_t start = 0;
        int emitted = 0;
        for (int i = 0; i < cc->n; i++) {
            if (cc->inner[i] == 0) continue;
            int64_t end = start + cc->inner[i];
            int last = end == width;
            sb_printf(&b, "        %s", emitted ? "else " : "");
            if (!last) sb_printf(&b, "if (col < %lldul) ", (long long)end);
            sb_printf(&b, "v = in%d[off%d + row * %lldul + (col - %lldul)];\n", i, i,
                      (long long)cc->inner[i], (long long)start);
            emitted = 1;
            start = end;
        }
        sb_printf(&b, "        y[y_off + gid] = v;\n    }\n");
    }
    sb_printf(&b, "}\n");
    if (b.failed) {
        free(b.s);
        return TSR_ERR(ctx, TSR_E_NOMEM, "kernel '%s': out of memory generating OpenCL C", k->name);
    }
    *out = b.s;
    return TSR_OK;
}

char *tsr_cl_embedded_source(tsr_context *ctx, const char *file) {
    const struct tsr_cl_embedded_file *common = tsr_cl_embedded_find("common.clh");
    const struct tsr_cl_embedded_file *f = tsr_cl_embedded_find(file);
    if (!common || !f) {
        TSR_ERR(ctx, TSR_E_INTERNAL, "OpenCL kernel source '%s' is not embedded in the library",
                common ? file : "common.clh");
        return NULL;
    }
    char *s = malloc(common->size + f->size + 2);
    if (!s) {
        TSR_ERR(ctx, TSR_E_NOMEM, "out of memory for OpenCL source '%s'", file);
        return NULL;
    }
    memcpy(s, common->data, common->size);
    s[common->size] = '\n';
    memcpy(s + common->size + 1, f->data, f->size);
    s[common->size + 1 + f->size] = '\0';
    return s;
}
