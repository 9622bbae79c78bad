/*
 * data.cl — kernels of any dtype (issue 9, group "tkern"; runtime/program.h): GATHER, SLICE,
 * CAST, MIXED (comparisons, logic, Where) and PAD. Specialised per dtype by #define lines the
 * backend puts in front of this file (cl_data.c):
 *   T                    the element moved (uchar, ushort, uint, ulong by size): GATHER, SLICE,
 *                        PAD, WHERE
 *   TSR_SRC, TSR_DST     CAST: source and destination dtype (ONNX numbers)
 *   TSR_MIXED_EXPR       MIXED: the op's expression (tsr_mixed_cl_expr) over a, b (and c);
 *   TSR_A, TSR_WHERE     MIXED: the compared inputs' dtype; Where
 * Buffers are (pointer, offset in 4-byte units) pairs as everywhere (offsets are multiples of 64
 * bytes); geometry of rank <= 8 comes as long8 (dims, strides) and is indexed through a private
 * array. Grid-stride loops over the output.
 */
#ifndef T
#define T uint
#endif

#define TSR_DT_F32  1
#define TSR_DT_U8   2
#define TSR_DT_I8   3
#define TSR_DT_I32  6
#define TSR_DT_I64  7
#define TSR_DT_BOOL 9
#define TSR_DT_F16  10
#define TSR_DT_F64  11
#define TSR_DT_I16  5
#define TSR_DT_U16  4
#define TSR_DT_U32  12

#if (defined(TSR_SRC) && TSR_SRC == TSR_DT_F64) || (defined(TSR_DST) && TSR_DST == TSR_DT_F64) ||  \
    (defined(TSR_A) && TSR_A == TSR_DT_F64)
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
#endif

#define PTR(type, base, off) ((__global type *)((__global uchar *)(base) + 4 * (off)))

/* Y[o, j, :] = X[o, idx[j], :]; an index out of range writes 0 and sets *flag. */
__kernel void tsr_gather(__global const uchar *xb, ulong x_off, __global const uchar *ib,
                         ulong i_off, __global uchar *yb, ulong y_off, ulong outer, long axis_len,
                         ulong n_idx, ulong inner, int idx64, __global int *fb, ulong f_off) {
    const __global T *x = PTR(const T, xb, x_off);
    __global T *y = PTR(T, yb, y_off);
    const ulong total = outer * n_idx * inner;
    for (ulong g = get_global_id(0); g < total; g += get_global_size(0)) {
        ulong e = g % inner, r = g / inner, j = r % n_idx, o = r / n_idx;
        long v = idx64 ? PTR(const long, ib, i_off)[j] : (long)PTR(const int, ib, i_off)[j];
        if (v < -axis_len || v >= axis_len) {
            y[g] = (T)0;
            PTR(int, fb, f_off)[0] = 1;
            continue;
        }
        if (v < 0) v += axis_len;
        y[g] = x[(o * (ulong)axis_len + (ulong)v) * inner + e];
    }
}

/* Y (contiguous over dims) = X[offset + sum_d i_d * strides[d]]. */
__kernel void tsr_slice(__global const uchar *xb, ulong x_off, __global uchar *yb, ulong y_off,
                        int rank, long8 dims8, long8 strides8, long offset, ulong total) {
    const __global T *x = PTR(const T, xb, x_off);
    __global T *y = PTR(T, yb, y_off);
    long dims[8], strides[8];
    vstore8(dims8, 0, dims);
    vstore8(strides8, 0, strides);
    for (ulong g = get_global_id(0); g < total; g += get_global_size(0)) {
        long q = (long)g, off = offset;
        for (int d = rank - 1; d >= 0; d--) {
            off += (q % dims[d]) * strides[d];
            q /= dims[d];
        }
        y[g] = x[off];
    }
}

/* Pad: mode 0 constant (value), 1 reflect, 2 edge. */
__kernel void tsr_pad(__global const uchar *xb, ulong x_off, __global uchar *yb, ulong y_off,
                      int rank, long8 in8, long8 out8, long8 begin8, int mode, ulong value,
                      ulong total) {
    const __global T *x = PTR(const T, xb, x_off);
    __global T *y = PTR(T, yb, y_off);
    long ind[8], outd[8], beg[8];
    vstore8(in8, 0, ind);
    vstore8(out8, 0, outd);
    vstore8(begin8, 0, beg);
    for (ulong g = get_global_id(0); g < total; g += get_global_size(0)) {
        long q = (long)g, off = 0, stride = 1;
        int outside = 0;
        for (int d = rank - 1; d >= 0; d--) {
            long dim = ind[d], s = q % outd[d] - beg[d];
            q /= outd[d];
            if (s < 0 || s >= dim) {
                if (mode == 2)
                    s = s < 0 ? 0 : dim - 1;
                else if (mode == 1)
                    s = s < 0 ? -s : 2 * (dim - 1) - s;
                else
                    outside = 1;
            }
            off += s * stride;
            stride *= dim;
        }
        y[g] = outside ? (T)value : x[off];
    }
}

/* ---- CAST ----------------------------------------------------------------------------------- */
#ifdef TSR_SRC
#if TSR_SRC == TSR_DT_F32
#define SRC_FLOAT 1
#define LOAD(i)   (PTR(const float, xb, x_off)[i])
#elif TSR_SRC == TSR_DT_F16
#define SRC_FLOAT 1
#define LOAD(i)   vload_half((i), PTR(const half, xb, x_off))
#elif TSR_SRC == TSR_DT_F64
#define SRC_FLOAT 1
#define LOAD(i)   (PTR(const double, xb, x_off)[i])
#elif TSR_SRC == TSR_DT_I64
#define LOAD(i) (PTR(const long, xb, x_off)[i])
#elif TSR_SRC == TSR_DT_I32
#define LOAD(i) ((long)PTR(const int, xb, x_off)[i])
#elif TSR_SRC == TSR_DT_I8
#define LOAD(i) ((long)PTR(const char, xb, x_off)[i])
#elif TSR_SRC == TSR_DT_U8
#define LOAD(i) ((long)PTR(const uchar, xb, x_off)[i])
#elif TSR_SRC == TSR_DT_I16
#define LOAD(i) ((long)PTR(const short, xb, x_off)[i])
#elif TSR_SRC == TSR_DT_U16
#define LOAD(i) ((long)PTR(const ushort, xb, x_off)[i])
#elif TSR_SRC == TSR_DT_U32
#define LOAD(i) ((long)PTR(const uint, xb, x_off)[i])
#else /* bool */
#define LOAD(i) ((long)(PTR(const uchar, xb, x_off)[i] != 0))
#endif

/* Integer of a float value: truncation toward zero, NaN 0, saturated to int64 (the reference's
 * rule), then wrapped to the width by the store. */
#ifdef SRC_FLOAT
#define TO_LONG(v)    convert_long_sat_rtz(v)
#define IS_NONZERO(v) ((v) != 0)
#else
#define TO_LONG(v)    (v)
#define IS_NONZERO(v) ((v) != 0)
#endif
/* Float of an integer: through double where the device has it (as the reference). */
#if defined(SRC_FLOAT)
#define TO_FLOAT(v) ((float)(v))
#elif defined(cl_khr_fp64) && TSR_DST == TSR_DT_F32
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
#define TO_FLOAT(v) ((float)(double)(v))
#else
#define TO_FLOAT(v) ((float)(v))
#endif

__kernel void tsr_cast(__global const uchar *xb, ulong x_off, __global uchar *yb, ulong y_off,
                       ulong n) {
    for (ulong i = get_global_id(0); i < n; i += get_global_size(0)) {
#if TSR_SRC == TSR_DT_F32 || TSR_SRC == TSR_DT_F16
        float v = LOAD(i);
#elif TSR_SRC == TSR_DT_F64
        double v = LOAD(i);
#else
        long v = LOAD(i);
#endif
#if TSR_DST == TSR_DT_F32
        PTR(float, yb, y_off)[i] = TO_FLOAT(v);
#elif TSR_DST == TSR_DT_F16
        vstore_half_rte(TO_FLOAT(v), i, PTR(half, yb, y_off));
#elif TSR_DST == TSR_DT_F64
        PTR(double, yb, y_off)[i] = (double)v;
#elif TSR_DST == TSR_DT_I64
        PTR(long, yb, y_off)[i] = TO_LONG(v);
#elif TSR_DST == TSR_DT_I32
        PTR(int, yb, y_off)[i] = (int)(TO_LONG(v));
#elif TSR_DST == TSR_DT_I8
        PTR(char, yb, y_off)[i] = (char)(TO_LONG(v));
#elif TSR_DST == TSR_DT_U8
        PTR(uchar, yb, y_off)[i] = (uchar)(TO_LONG(v));
#elif TSR_DST == TSR_DT_I16
        PTR(short, yb, y_off)[i] = (short)(TO_LONG(v));
#elif TSR_DST == TSR_DT_U16
        PTR(ushort, yb, y_off)[i] = (ushort)(TO_LONG(v));
#elif TSR_DST == TSR_DT_U32
        PTR(uint, yb, y_off)[i] = (uint)(TO_LONG(v));
#else /* bool */
        PTR(uchar, yb, y_off)[i] = IS_NONZERO(v) ? 1 : 0;
#endif
    }
}
#endif

/* ---- MIXED ---------------------------------------------------------------------------------- */
#ifdef TSR_MIXED_EXPR
#ifndef TSR_A
#define TSR_A TSR_DT_BOOL
#endif
/* comparison operands: floats as float (float16, float32: exact) or double, others as long */
#if TSR_A == TSR_DT_F32
#define AT          float
#define LD(p, o, i) (PTR(const float, p, o)[i])
#elif TSR_A == TSR_DT_F16
#define AT          float
#define LD(p, o, i) vload_half((i), PTR(const half, p, o))
#elif TSR_A == TSR_DT_F64
#define AT          double
#define LD(p, o, i) (PTR(const double, p, o)[i])
#elif TSR_A == TSR_DT_I64
#define AT          long
#define LD(p, o, i) (PTR(const long, p, o)[i])
#elif TSR_A == TSR_DT_I32
#define AT          long
#define LD(p, o, i) ((long)PTR(const int, p, o)[i])
#elif TSR_A == TSR_DT_I8
#define AT          long
#define LD(p, o, i) ((long)PTR(const char, p, o)[i])
#elif TSR_A == TSR_DT_I16
#define AT          long
#define LD(p, o, i) ((long)PTR(const short, p, o)[i])
#elif TSR_A == TSR_DT_U16
#define AT          long
#define LD(p, o, i) ((long)PTR(const ushort, p, o)[i])
#elif TSR_A == TSR_DT_U32
#define AT          long
#define LD(p, o, i) ((long)PTR(const uint, p, o)[i])
#else /* uint8, bool */
#define AT          long
#define LD(p, o, i) ((long)PTR(const uchar, p, o)[i])
#endif

/* inputs 0 .. 2 (unused ones repeat input 0); out_es == sizeof(T) for Where, 1 otherwise. */
__kernel void tsr_mixed(__global const uchar *ab, ulong a_off, __global const uchar *bb,
                        ulong b_off, __global const uchar *cb, ulong c_off, __global uchar *yb,
                        ulong y_off, int rank, long8 dims8, long8 sa8, long8 sb8, long8 sc8,
                        ulong total) {
    long dims[8], sa[8], sb[8], sc[8];
    vstore8(dims8, 0, dims);
    vstore8(sa8, 0, sa);
    vstore8(sb8, 0, sb);
    vstore8(sc8, 0, sc);
    for (ulong g = get_global_id(0); g < total; g += get_global_size(0)) {
        long q = (long)g, ia = 0, ib = 0, ic = 0;
        for (int d = rank - 1; d >= 0; d--) {
            long k = q % dims[d];
            q /= dims[d];
            ia += k * sa[d];
            ib += k * sb[d];
            ic += k * sc[d];
        }
#ifdef TSR_WHERE
        uchar c = PTR(const uchar, ab, a_off)[ia];
        T a = PTR(const T, bb, b_off)[ib];
        T b = PTR(const T, cb, c_off)[ic];
        PTR(T, yb, y_off)[g] = TSR_MIXED_EXPR;
#else
        AT a = LD(ab, a_off, ia);
        AT b = LD(bb, b_off, ib);
        (void)ic;
        PTR(uchar, yb, y_off)[g] = (TSR_MIXED_EXPR) ? 1 : 0;
#endif
    }
}
#endif

/* ---- issue 9, group "index": GatherElements / ScatterElements / GatherND / ScatterND -------
 * (TSR_K_INDEX, program.h). Defines from cl_data.c: T (moved element), E (the element as
 * computed: T, or float / double / int / long for a reduction), UT (E's unsigned twin for
 * integer wrap-around, E for floats), TSR_RED (tsr_scatter_reduction), TSR_IDX_F64 (double).
 * An index out of range sets *flag and is skipped (a gather writes 0). Scatters run in one work
 * item so that duplicate indices apply in order. */
#ifdef TSR_IDX_F64
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
#endif
#ifndef E
#define E T
#endif
#ifndef UT
#define UT E
#endif
#ifndef TSR_RED
#define TSR_RED 0
#endif

inline long tsr_idx_get(__global const uchar *ib, ulong i_off, int idx64, ulong j) {
    return idx64 ? PTR(const long, ib, i_off)[j] : (long)PTR(const int, ib, i_off)[j];
}

inline void tsr_idx_store(__global E *y, ulong o, E u) {
#if TSR_RED == 0
    y[o] = u;
#elif TSR_RED == 1
    y[o] = (E)((UT)y[o] + (UT)u);
#elif TSR_RED == 2
    y[o] = (E)((UT)y[o] * (UT)u);
#elif TSR_RED == 3
    y[o] = u > y[o] ? u : y[o];
#else
    y[o] = u < y[o] ? u : y[o];
#endif
}

/* Offset in X (dims xd) of the element of multi-index g over dims id, with the axis coordinate
 * dropped; *axs receives the axis stride. */
inline long tsr_elem_offset(ulong g, int rank, int axis, const long *xd, const long *id,
                            long *axs) {
    long q = (long)g, off = 0, xs = 1;
    for (int d = rank - 1; d >= 0; d--) {
        long c = q % id[d];
        q /= id[d];
        if (d != axis)
            off += c * xs;
        else
            *axs = xs;
        xs *= xd[d];
    }
    return off;
}

__kernel void tsr_gather_elements(__global const uchar *xb, ulong x_off, __global const uchar *ib,
                                  ulong i_off, __global uchar *yb, ulong y_off, int rank, int axis,
                                  long8 xdims8, long8 idims8, int idx64, ulong total,
                                  __global int *fb, ulong f_off) {
    const __global E *x = PTR(const E, xb, x_off);
    __global E *y = PTR(E, yb, y_off);
    long xd[8], id[8];
    vstore8(xdims8, 0, xd);
    vstore8(idims8, 0, id);
    for (ulong g = get_global_id(0); g < total; g += get_global_size(0)) {
        long axs = 1, off = tsr_elem_offset(g, rank, axis, xd, id, &axs);
        long v = tsr_idx_get(ib, i_off, idx64, g), n = xd[axis];
        if (v < -n || v >= n) {
            y[g] = (E)0;
            PTR(int, fb, f_off)[0] = 1;
            continue;
        }
        if (v < 0) v += n;
        y[g] = x[off + v * axs];
    }
}

__kernel void tsr_scatter_elements(__global const uchar *xb, ulong x_off, __global const uchar *ib,
                                   ulong i_off, __global const uchar *ub, ulong u_off,
                                   __global uchar *yb, ulong y_off, int rank, int axis,
                                   long8 xdims8, long8 idims8, int idx64, ulong n_x, ulong n_idx,
                                   __global int *fb, ulong f_off) {
    if (get_global_id(0) != 0) return;
    const __global E *x = PTR(const E, xb, x_off), *u = PTR(const E, ub, u_off);
    __global E *y = PTR(E, yb, y_off);
    long xd[8], id[8];
    vstore8(xdims8, 0, xd);
    vstore8(idims8, 0, id);
    for (ulong i = 0; i < n_x; i++)
        y[i] = x[i];
    for (ulong g = 0; g < n_idx; g++) {
        long axs = 1, off = tsr_elem_offset(g, rank, axis, xd, id, &axs);
        long v = tsr_idx_get(ib, i_off, idx64, g), n = xd[axis];
        if (v < -n || v >= n) {
            PTR(int, fb, f_off)[0] = 1;
            continue;
        }
        if (v < 0) v += n;
        tsr_idx_store(y, (ulong)(off + v * axs), u[g]);
    }
}

/* Offset (in units of inner) within one batch of X of index tuple tt; -1 when out of range. */
inline long tsr_nd_offset(__global const uchar *ib, ulong i_off, int idx64, ulong tt, int q,
                          const long *nd) {
    long off = 0;
    for (int k = 0; k < q; k++) {
        long v = tsr_idx_get(ib, i_off, idx64, tt * (ulong)q + (ulong)k), n = nd[k];
        if (v < -n || v >= n) return -1;
        if (v < 0) v += n;
        off = off * n + v;
    }
    return off;
}

__kernel void tsr_gather_nd(__global const uchar *xb, ulong x_off, __global const uchar *ib,
                            ulong i_off, __global uchar *yb, ulong y_off, int q, long8 nd8,
                            ulong batch, ulong n_tuples, ulong inner, int idx64, __global int *fb,
                            ulong f_off) {
    const __global E *x = PTR(const E, xb, x_off);
    __global E *y = PTR(E, yb, y_off);
    long nd[8];
    vstore8(nd8, 0, nd);
    long ndp = 1;
    for (int k = 0; k < q; k++)
        ndp *= nd[k];
    const ulong total = batch * n_tuples * inner;
    for (ulong g = get_global_id(0); g < total; g += get_global_size(0)) {
        ulong e = g % inner, tt = g / inner, b = tt / n_tuples;
        long off = tsr_nd_offset(ib, i_off, idx64, tt, q, nd);
        if (off < 0) {
            y[g] = (E)0;
            PTR(int, fb, f_off)[0] = 1;
            continue;
        }
        y[g] = x[((long)b * ndp + off) * (long)inner + (long)e];
    }
}

__kernel void tsr_scatter_nd(__global const uchar *xb, ulong x_off, __global const uchar *ib,
                             ulong i_off, __global const uchar *ub, ulong u_off, __global uchar *yb,
                             ulong y_off, int q, long8 nd8, ulong n_tuples, ulong inner, int idx64,
                             ulong n_x, __global int *fb, ulong f_off) {
    if (get_global_id(0) != 0) return;
    const __global E *x = PTR(const E, xb, x_off), *u = PTR(const E, ub, u_off);
    __global E *y = PTR(E, yb, y_off);
    long nd[8];
    vstore8(nd8, 0, nd);
    for (ulong i = 0; i < n_x; i++)
        y[i] = x[i];
    for (ulong tt = 0; tt < n_tuples; tt++) {
        long off = tsr_nd_offset(ib, i_off, idx64, tt, q, nd);
        if (off < 0) {
            PTR(int, fb, f_off)[0] = 1;
            continue;
        }
        for (ulong e = 0; e < inner; e++)
            tsr_idx_store(y, (ulong)off * inner + e, u[tt * inner + e]);
    }
}

/* Y[b, t, :] = X[b, t < len[b] ? len[b] - 1 - t : t, :] over X [d0, d1, inner], time axis
 * time_axis (0 or 1); a length outside [0, time] writes 0 and sets *flag. */
__kernel void tsr_reverse_sequence(__global const uchar *xb, ulong x_off, __global const uchar *ib,
                                   ulong i_off, __global uchar *yb, ulong y_off, long d0, long d1,
                                   ulong inner, int time_axis, int idx64, __global int *fb,
                                   ulong f_off) {
    const __global E *x = PTR(const E, xb, x_off);
    __global E *y = PTR(E, yb, y_off);
    const ulong total = (ulong)(d0 * d1) * inner;
    const long steps = time_axis ? d1 : d0;
    for (ulong g = get_global_id(0); g < total; g += get_global_size(0)) {
        long e = (long)(g % inner), r = (long)(g / inner), i0 = r / d1, i1 = r % d1;
        long b = time_axis ? i0 : i1, t = time_axis ? i1 : i0;
        long len = tsr_idx_get(ib, i_off, idx64, (ulong)b);
        if (len < 0 || len > steps) {
            y[g] = (E)0;
            PTR(int, fb, f_off)[0] = 1;
            continue;
        }
        long ts = t < len ? len - 1 - t : t;
        long src = time_axis ? i0 * d1 + ts : ts * d1 + i1;
        y[g] = x[src * (long)inner + e];
    }
}

/* Y[o, d, i] = values[idx[o, i] (+ depth when negative) == d] (values = [off, on]); an index
 * outside [-depth, depth) gives all off. */
__kernel void tsr_one_hot(__global const uchar *vb, ulong v_off, __global const uchar *ib,
                          ulong i_off, __global uchar *yb, ulong y_off, ulong outer, long depth,
                          ulong inner, int idx64, __global int *fb, ulong f_off) {
    const __global E *vals = PTR(const E, vb, v_off);
    __global E *y = PTR(E, yb, y_off);
    const ulong total = outer * (ulong)depth * inner;
    for (ulong g = get_global_id(0); g < total; g += get_global_size(0)) {
        ulong i = g % inner, r = g / inner, d = r % (ulong)depth, o = r / (ulong)depth;
        long v = tsr_idx_get(ib, i_off, idx64, o * inner + i);
        if (v < 0) v += depth;
        y[g] = vals[v == (long)d ? 1 : 0];
    }
}
