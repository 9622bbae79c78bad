/*
 * epilogue.cl — GEMM / Conv epilogue run after the product was written to y (runtime/program.h,
 * struct tsr_k_gemm, struct tsr_k_conv):
 *   y[b,m,n] = act(y[b,m,n] + beta * C[b*csb + m*csm + n*csn] + R[b,m,n], p0, p1)
 * C broadcast by zero strides (has_c = 0 skips it; Conv passes its bias as C with strides
 * (0, 1, 0) and beta = 1); R contiguous like y (has_r = 0 skips it). Grid-stride loop over
 * batch*M*N elements.
 */
__kernel void tsr_gemm_epilogue(__global float *y, ulong y_off, __global const float *c,
                                ulong c_off, ulong batch, ulong M, ulong N, ulong csb, ulong csm,
                                ulong csn, float beta, int has_c, __global const float *r,
                                ulong r_off, int has_r, int act, float p0, float p1) {
    ulong total = batch * M * N;
    for (ulong i = get_global_id(0); i < total; i += get_global_size(0)) {
        float v = y[y_off + i];
        if (has_c) {
            ulong n = i % N, q = i / N;
            ulong m = q % M, b = q / M;
            v += beta * c[c_off + b * csb + m * csm + n * csn];
        }
        if (has_r) v += r[r_off + i];
        y[y_off + i] = tsr_act(v, act, p0, p1);
    }
}
