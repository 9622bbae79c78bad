/*
 * act_avx512.h — activations applied in registers by the AVX-512 conv / GEMM tiles
 * (conv_avx512.c, gemm_avx512.c; include only from files compiled with -mavx512f).
 */
#ifndef TSR_CPU_ACT_AVX512_H
#define TSR_CPU_ACT_AVX512_H

#include "backends/cpu/cpu_exec.h"

#include <immintrin.h>

/* ONNX HardSwish y * max(0, min(1, y / 6 + 1/2)) (onnx.ai/onnx/operators/onnx__HardSwish),
 * rounded as ew_vmath.h's v_u_hard_swish (one multiply, one add, so results equal the
 * elementwise kernel's); NaN propagates (max / min return their second operand for NaN). */
static inline __m512 tsr_avx512_hswish(__m512 y) {
    const __m512 t =
        _mm512_add_ps(_mm512_mul_ps(_mm512_set1_ps(1.0f / 6.0f), y), _mm512_set1_ps(0.5f));
    return _mm512_mul_ps(
        y, _mm512_min_ps(_mm512_set1_ps(1.0f), _mm512_max_ps(_mm512_setzero_ps(), t)));
}

#endif
