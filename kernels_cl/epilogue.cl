/*
 * epilogue.cl — GEMM epilogue run after CLBlast wrote y = alpha * A' * B' (runtime/program.h,
 * struct tsr_k_gemm): y[b,m,n] = act(y[b,m,n] + beta * C[b*csb + m*csm + n*csn]), C broadcast by
 * zero strides; has_c = 0 skips the C term. Grid-stride loop over batch*M*N elements.
 */
__kernel void tsr_gemm_epilogue(__global float *y, ulong y_off, __global const float *c,
                                ulong c_off, ulong batch, ulong M, ulong N, ulong csb, ulong csm,
                                ulong csn, float beta, int has_c, int act) {
    ulong total = batch * M * N;
    for (ulong i = get_global_id(0); i < total; i += get_global_size(0)) {
        float v = y[y_off + i];
        if (has_c) {
            ulong n = i % N, r = i / N;
            ulong m = r % M, b = r / M;
            v += beta * c[c_off + b * csb + m * csm + n * csn];
        }
        y[y_off + i] = tsr_act(v, act);
    }
}
