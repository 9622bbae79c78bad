/*
 * layernorm.cl — layer normalisation over the last `len` elements of x[outer, len]
 * (runtime/program.h, struct tsr_k_layernorm; ONNX LayerNormalization):
 *   y = (x - mean) / sqrt(var + epsilon) * scale + bias,   var the biased variance.
 * One work-group per row (group-stride loop over rows; local size a power of two). Two passes
 * over the row for the statistics (mean, then the sum of squared deviations) rather than
 * E[x^2] - E[x]^2, which cancels catastrophically when |mean| >> stddev; a third pass writes.
 * channels > 0 (group "reduce"): ONNX Instance / GroupNormalization (program.h: per-segment
 * scale / bias).
 */
__kernel void tsr_layernorm(__global const float *x, ulong x_off, __global float *y, ulong y_off,
                            __global const float *scale, ulong s_off, __global const float *bias,
                            ulong b_off, ulong outer, ulong len, float epsilon, int has_bias,
                            ulong channels, ulong per_row, ulong spatial, __local float *scratch) {
    size_t l = get_local_id(0), ls = get_local_size(0);
    for (ulong r = get_group_id(0); r < outer; r += get_num_groups(0)) {
        __global const float *xr = x + x_off + r * len;
        __global float *yr = y + y_off + r * len;
        float s = 0.0f;
        for (ulong j = l; j < len; j += ls)
            s += xr[j];
        float mean = tsr_wg_sum(s, scratch) / (float)len;
        float q = 0.0f;
        for (ulong j = l; j < len; j += ls) {
            float d = xr[j] - mean;
            q += d * d;
        }
        float var = tsr_wg_sum(q, scratch) / (float)len;
        float inv = 1.0f / sqrt(var + epsilon);
        if (channels) { /* Instance / GroupNorm: idx = (r % channels) * per_row + j / spatial */
            for (ulong j = l; j < len; j += ls) {
                ulong idx = (r % channels) * per_row + j / spatial;
                yr[j] = (xr[j] - mean) * inv * scale[s_off + idx] + bias[b_off + idx];
            }
            continue;
        }
        for (ulong j = l; j < len; j += ls) {
            float v = (xr[j] - mean) * inv * scale[s_off + j];
            yr[j] = has_bias ? v + bias[b_off + j] : v;
        }
    }
}
