/*
 * pool.cl — 2-D max / average pooling, NCHW (runtime/program.h, struct tsr_k_pool; ONNX MaxPool,
 * AveragePool, GlobalAveragePool). One work-item per output element (grid-stride loop over
 * N*C*OH*OW). Window position (oh*sh - pt + kh*dh, ow*sw - pl + kw*dw); positions outside the
 * input are skipped by max, and by average unless count_include_pad, when the divisor is the
 * number of window positions inside the padded input [-pt, H + pb) x [-pl, W + pr) (padding
 * counts as zeros; ceil_mode windows that run past the padding are clipped, as ONNX/PyTorch). kind:
 * 0 = max (a NaN in the window gives NaN, np.max), 1 = average (tsr_pool_kind). A window with no
 * position inside the input gives -inf for
 * max and 0 for an average without count_include_pad (as the scalar reference,
 * runtime/reference.c). kind 2 (group "multiout", TSR_POOL_MAX_INDEX): MaxPool's Indices,
 * int64 (y_off counts floats: y_off / 2 longs), the flat index into x of the window's first
 * maximum (strictly greater wins), row-major or, with storage_order, h + w * H per plane; -1 for
 * a window with no position inside the input.
 */
__kernel void tsr_pool(__global const float *x, ulong x_off, __global float *y, ulong y_off,
                       ulong NC, long H, long W, ulong OH, ulong OW, long KH, long KW, long sh,
                       long sw, long pt, long pl, long dh, long dw, int kind, int count_include_pad,
                       long pb, long pr, int storage_order) {
    ulong total = NC * OH * OW;
    for (ulong i = get_global_id(0); i < total; i += get_global_size(0)) {
        long ow = (long)(i % OW);
        ulong q = i / OW;
        long oh = (long)(q % OH);
        ulong nc = q / OH;
        __global const float *xp = x + x_off + nc * (ulong)(H * W);
        float m = -INFINITY, s = 0.0f, bv = 0.0f;
        long cnt = 0, padded = 0, best = -1;
        for (long kh = 0; kh < KH; kh++) {
            long ih = oh * sh - pt + kh * dh;
            for (long kw = 0; kw < KW; kw++) {
                long iw = ow * sw - pl + kw * dw;
                padded += ih >= -pt && ih < H + pb && iw >= -pl && iw < W + pr;
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                float v = xp[ih * W + iw];
                if (best < 0 || v > bv) {
                    bv = v;
                    best = storage_order ? ih + iw * H : ih * W + iw;
                }
                m = tsr_max_nan(m, v); /* a NaN in the window gives NaN (np.max) */
                s += v;
                cnt++;
            }
        }
        if (kind == 2)
            ((__global long *)(y + y_off))[i] = best < 0 ? -1 : (long)(nc * (ulong)(H * W)) + best;
        else if (kind == 0)
            y[y_off + i] = m;
        else
            y[y_off + i] = count_include_pad ? (padded ? s / (float)padded : 0.0f)
                                             : (cnt ? s / (float)cnt : 0.0f);
    }
}
