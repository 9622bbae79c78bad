/*
 * conv.cl — 2-D convolution, NCHW (runtime/program.h, struct tsr_k_conv; ONNX Conv).
 *
 * tsr_im2col: lays out one image n (= get_global_id(1), chosen by the host through the global
 *   work offset so the arguments stay fixed) as col[C*KH*KW, OH*OW]:
 *     col[(c*KH + kh)*KW + kw, oh*OW + ow] = X[n, c, oh*sh - pt + kh*dh, ow*sw - pl + kw*dw]
 *   (0 outside the input). Rows of group g are [g*Cg*KH*KW, (g+1)*Cg*KH*KW), so the host then
 *   runs Y[n, g*Mg:(g+1)*Mg, :] = W_g[Mg, Cg*KH*KW] · col_g with CLBlast, and the bias/residual/
 *   activation in epilogue.cl. Grid-stride over C*KH*KW*OH*OW.
 *
 * tsr_conv_direct: one work-item per output element (grid-stride over N*M*OH*OW), the sum over
 *   the group's Cg input channels and the window computed in place, then + bias[m] + R and the
 *   activation. Used for depthwise-like convolutions (Cg == 1 or Mg == 1), where a GEMM would
 *   have K = KH*KW or M = 1 and im2col would only add memory traffic.
 */
__kernel void tsr_im2col(__global const float *x, ulong x_off, __global float *col, ulong col_off,
                         ulong C, long H, long W, ulong OH, ulong OW, ulong KH, ulong KW, long sh,
                         long sw, long pt, long pl, long dh, long dw) {
    ulong n = get_global_id(1);
    ulong P = OH * OW, total = C * KH * KW * P;
    __global const float *xn = x + x_off + n * C * (ulong)(H * W);
    for (ulong i = get_global_id(0); i < total; i += get_global_size(0)) {
        ulong p = i % P, r = i / P;
        long ow = (long)(p % OW), oh = (long)(p / OW);
        long kw = (long)(r % KW);
        r /= KW;
        long kh = (long)(r % KH);
        ulong c = r / KH;
        long ih = oh * sh - pt + kh * dh, iw = ow * sw - pl + kw * dw;
        float v = 0.0f;
        if (ih >= 0 && ih < H && iw >= 0 && iw < W)
            v = xn[(c * (ulong)H + (ulong)ih) * (ulong)W + (ulong)iw];
        col[col_off + i] = v;
    }
}

__kernel void tsr_conv_direct(__global const float *x, ulong x_off, __global const float *w,
                              ulong w_off, __global const float *bias, ulong b_off,
                              __global const float *res, ulong r_off, __global float *y,
                              ulong y_off, ulong N, ulong C, long H, long W, ulong M, ulong OH,
                              ulong OW, long KH, long KW, long sh, long sw, long pt, long pl,
                              long dh, long dw, ulong group, int has_bias, int has_res, int act,
                              float p0, float p1) {
    ulong Cg = C / group, Mg = M / group, total = N * M * OH * OW;
    for (ulong i = get_global_id(0); i < total; i += get_global_size(0)) {
        long ow = (long)(i % OW);
        ulong q = i / OW;
        long oh = (long)(q % OH);
        q /= OH;
        ulong m = q % M, n = q / M, g = m / Mg;
        float s = 0.0f;
        for (ulong c = 0; c < Cg; c++) {
            __global const float *xc = x + x_off + (n * C + g * Cg + c) * (ulong)(H * W);
            __global const float *wc = w + w_off + (m * Cg + c) * (ulong)(KH * KW);
            for (long kh = 0; kh < KH; kh++) {
                long ih = oh * sh - pt + kh * dh;
                if (ih < 0 || ih >= H) continue;
                for (long kw = 0; kw < KW; kw++) {
                    long iw = ow * sw - pl + kw * dw;
                    if (iw < 0 || iw >= W) continue;
                    s += xc[ih * W + iw] * wc[kh * KW + kw];
                }
            }
        }
        if (has_bias) s += bias[b_off + m];
        if (has_res) s += res[r_off + i];
        y[y_off + i] = tsr_act(s, act, p0, p1);
    }
}
