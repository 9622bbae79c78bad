/*
 * quant.h — the quantization math of tessera, in one place (issue 13): affine (linear)
 * quantization of float32 to 8- and 16-bit integers and back, as the ONNX operators define it,
 * and the choice of scale and zero point from a value range.
 *
 * Affine quantization (Jacob et al., "Quantization and Training of Neural Networks for Efficient
 * Integer-Arithmetic-Only Inference", CVPR 2018, eq. 1): a real value r is represented by an
 * integer q with r = S (q - Z), S > 0 the scale (float32), Z the zero point (an integer of q's
 * type, so that r = 0 is exact).
 *
 * ONNX QuantizeLinear (opsets 10, 13, 19, 21;
 * https://onnx.ai/onnx/operators/onnx__QuantizeLinear.html): y = saturate(round(x / y_scale) +
 * y_zero_point) with x / y_scale computed in float32, round = round half to even (rintf under the
 * default FE_TONEAREST mode: 2.5 -> 2, -2.5 -> -2, 3.5 -> 4), saturate = clamp to the range of y's
 * type
 * ([0, 255] uint8, [-128, 127] int8, [0, 65535] uint16, [-32768, 32767] int16).
 * ONNX DequantizeLinear (https://onnx.ai/onnx/operators/onnx__DequantizeLinear.html):
 *     y = (x - x_zero_point) * x_scale     (float32: (float)(x - zp) * scale)
 * Per-tensor: scale and zero point are scalars (or 1 element). Per-axis (opset >= 13): they are
 * 1-D of x.dims[axis] elements (axis default 1, negative counts from the end) and element i of x
 * uses the pair of its index along axis. Blocked quantization (opset 21 block_size) is not
 * supported (refused by the op table).
 *
 * Range to parameters (min-max calibration), for a range [lo, hi] of the real values:
 *   asymmetric (ONNX DynamicQuantizeLinear's definition, generalised to [qmin, qmax]):
 *       lo' = min(lo, 0), hi' = max(hi, 0) (0 must be exact)
 *       S = (hi' - lo') / (qmax - qmin)                      (float32)
 *       Z = round(clamp(qmin - lo' / S, qmin, qmax))         (float32, half to even)
 *   symmetric (ONNX Runtime's quantize_dynamic / quantize_static with symmetric=True):
 *       A = max(|lo|, |hi|), S = 2 A / (qmax - qmin), Z = (qmin + qmax + 1) / 2 rounded down
 *       (0 for int8 [-128, 127], 128 for uint8)
 *   A zero range (S = 0) gives S = 1, Z as above (every value quantizes to Z and back to 0);
 *   ONNX leaves that case undefined.
 *
 * Requantization of an int32 accumulator (ONNX QLinearMatMul / QLinearConv, as ONNX Runtime
 * computes them): y = saturate(round(acc * M) + y_zero_point), M = a_scale * b_scale / y_scale in
 * float32, the product acc * M in double (exact for |acc| < 2^29), round half to even.
 *
 * Everything here is a pure function: thread-safe.
 */
#ifndef TSR_RUNTIME_QUANT_H
#define TSR_RUNTIME_QUANT_H

#include "tessera.h"

#include <stdint.h>

/* The integer range of a quantized dtype: uint8, int8, uint16, int16, int32 (int32: the full
 * range). Returns 1 and sets *qmin, *qmax, or 0 for another dtype. */
int tsr_quant_range(tsr_dtype dtype, int32_t *qmin, int32_t *qmax);

/* saturate(round_half_even(v) + zp) to [qmin, qmax]; NaN gives zp clamped. */
int32_t tsr_quant_round_sat(double v, int32_t zp, int32_t qmin, int32_t qmax);

/* QuantizeLinear of one value: saturate(round(x / scale) + zp), x / scale in float32. */
static inline int32_t tsr_quantize_one(float x, float scale, int32_t zp, int32_t qmin,
                                       int32_t qmax) {
    return tsr_quant_round_sat((double)(x / scale), zp, qmin, qmax);
}

/* DequantizeLinear of one value: (float)(q - zp) * scale. */
static inline float tsr_dequantize_one(int32_t q, float scale, int32_t zp) {
    return (float)((int64_t)q - zp) * scale;
}

/* Scale and zero point of range [lo, hi] (lo <= hi, finite) for [qmin, qmax] by min-max,
 * symmetric (1) or asymmetric (0), by the formulas above. */
void tsr_quant_params_minmax(float lo, float hi, int32_t qmin, int32_t qmax, int symmetric,
                             float *scale, int32_t *zp);

/* The requantization multiplier a_scale * b_scale / y_scale (float32 arithmetic, ONNX order). */
static inline float tsr_requant_multiplier(float a_scale, float b_scale, float y_scale) {
    return a_scale * b_scale / y_scale;
}

/* A tensor viewed for per-axis quantization: [outer, axis_len, inner] (per-tensor: axis_len 1
 * is not implied; per_axis 0 means one scale / zero point for every element). */
struct tsr_quant_layout {
    int64_t outer, axis_len, inner;
    int per_axis;
};

/* QuantizeLinear of n = outer * axis_len * inner float32 values x into y of dtype ydt (uint8,
 * int8, uint16, int16): scale[c], zp[c] (zp of dtype ydt, NULL: 0) for c the index along the
 * axis (per_axis) or c = 0. */
void tsr_quantize_linear(const struct tsr_quant_layout *l, const float *x, const float *scale,
                         const void *zp, tsr_dtype ydt, void *y);
/* DequantizeLinear of x of dtype xdt (uint8, int8, uint16, int16, int32) into float32 y. */
void tsr_dequantize_linear(const struct tsr_quant_layout *l, const void *x, tsr_dtype xdt,
                           const float *scale, const void *zp, float *y);

/* Integer value i of a uint8 / int8 / uint16 / int16 / int32 buffer. */
int32_t tsr_quant_get(tsr_dtype dt, const void *p, int64_t i);

/* ONNX DynamicQuantizeLinear of n float32 values: uint8 y, scale and zero point by the
 * asymmetric min-max rule over [min(x), max(x)] (with 0 included). y may be NULL (only the
 * parameters). */
void tsr_dynamic_quantize_linear(int64_t n, const float *x, uint8_t *y, float *scale, uint8_t *zp);

#endif

/* ---- geometry of the quantization ops (runtime/quant_ops.c), shared by the shape rules, the
 * reference and lowering ---- */
struct tsr_tensor_desc;

/* Layout of QuantizeLinear / DequantizeLinear x against its scale (desc s): a scalar or
 * 1-element scale is per-tensor; a 1-D scale of x.dims[axis] elements per-axis (axis:
 * attrs.axis, TSR_AXIS_DEFAULT = 1, negative from the end). Returns 1, or 0 when they do not
 * fit (the caller reports). */
int tsr_quant_layout_of(const struct tsr_tensor_desc *x, const struct tsr_tensor_desc *s,
                        int64_t axis, struct tsr_quant_layout *out);

/* Where MatMulInteger's zero points are among a node's n_in inputs (attrs.q_inputs: bit i, ONNX
 * input i present; 0: the first n_in): *a_zp, *b_zp an input index or -1. Returns 1, or 0 for
 * an inconsistent mask. */
int tsr_quant_mmi_inputs(int q_inputs, int n_in, int *a_zp, int *b_zp);

/* Integer matmul geometry of a, b (numpy matmul; 1-D a is [1, K], 1-D b [K, 1]) with batch
 * broadcasting limited to: equal batch dims, or one operand without batch dims. Returns 1, or 0
 * (another broadcast: the shape rule refuses it). */
int tsr_quant_mm_geometry(const struct tsr_tensor_desc *a, const struct tsr_tensor_desc *b,
                          int64_t *batch, int64_t *M, int64_t *K, int64_t *N, int64_t *a_stride,
                          int64_t *b_stride);
