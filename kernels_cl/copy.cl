/*
 * copy.cl — y[i] = x[i] for i < n (struct tsr_k_copy), grid-stride loop. A kernel rather than
 * clEnqueueCopyBuffer so that source and destination may live in the same cl_mem (the arena).
 */
__kernel void tsr_copy(__global const float *x, ulong x_off, __global float *y, ulong y_off,
                       ulong n) {
    for (ulong i = get_global_id(0); i < n; i += get_global_size(0))
        y[y_off + i] = x[x_off + i];
}

/* Byte copy for any dtype (struct tsr_k_copy of a non-float32 kernel): n bytes; x_off / y_off are
 * in 4-byte units, as for every kernel argument (buffer offsets are multiples of 64 bytes). */
__kernel void tsr_copy_bytes(__global const uchar *x, ulong x_off, __global uchar *y, ulong y_off,
                             ulong n) {
    for (ulong i = get_global_id(0); i < n; i += get_global_size(0))
        y[4 * y_off + i] = x[4 * x_off + i];
}
