/*
 * quant.c — affine quantization math (quant.h: formulas and sources).
 */
#include "runtime/quant.h"

#include <math.h>

int tsr_quant_range(tsr_dtype dtype, int32_t *qmin, int32_t *qmax) {
    switch (dtype) {
    case TSR_U8:
        *qmin = 0, *qmax = 255;
        return 1;
    case TSR_I8:
        *qmin = -128, *qmax = 127;
        return 1;
    case TSR_U16:
        *qmin = 0, *qmax = 65535;
        return 1;
    case TSR_I16:
        *qmin = -32768, *qmax = 32767;
        return 1;
    case TSR_I32:
        *qmin = INT32_MIN, *qmax = INT32_MAX;
        return 1;
    default:
        return 0;
    }
}

int32_t tsr_quant_round_sat(double v, int32_t zp, int32_t qmin, int32_t qmax) {
    /* rint: round half to even under the default rounding mode (C11 7.12.9.4; tessera never
     * changes it). Clamped in double before the conversion: no overflow, inf saturates. */
    double r = isnan(v) ? 0.0 : rint(v);
    r += (double)zp;
    if (r < (double)qmin) return qmin;
    if (r > (double)qmax) return qmax;
    return (int32_t)r;
}

void tsr_quant_params_minmax(float lo, float hi, int32_t qmin, int32_t qmax, int symmetric,
                             float *scale, int32_t *zp) {
    const float levels = (float)((double)qmax - (double)qmin);
    if (symmetric) {
        float a = fmaxf(fabsf(lo), fabsf(hi));
        float s = 2.0f * a / levels;
        *scale = s > 0.0f ? s : 1.0f;
        *zp = (int32_t)floor(((double)qmin + (double)qmax + 1.0) / 2.0);
        return;
    }
    lo = fminf(lo, 0.0f);
    hi = fmaxf(hi, 0.0f);
    float s = (hi - lo) / levels;
    if (!(s > 0.0f)) {
        *scale = 1.0f;
        *zp = qmin > 0 ? qmin : (qmax < 0 ? qmax : 0);
        return;
    }
    float z = (float)qmin - lo / s;
    z = fminf(fmaxf(z, (float)qmin), (float)qmax);
    *scale = s;
    *zp = (int32_t)rintf(z);
}

int32_t tsr_quant_get(tsr_dtype dt, const void *p, int64_t i) {
    switch (dt) {
    case TSR_U8:
        return ((const uint8_t *)p)[i];
    case TSR_I8:
        return ((const int8_t *)p)[i];
    case TSR_U16:
        return ((const uint16_t *)p)[i];
    case TSR_I16:
        return ((const int16_t *)p)[i];
    case TSR_I32:
        return ((const int32_t *)p)[i];
    default:
        return 0;
    }
}

static void quant_put(tsr_dtype dt, void *p, int64_t i, int32_t v) {
    switch (dt) {
    case TSR_U8:
        ((uint8_t *)p)[i] = (uint8_t)v;
        break;
    case TSR_I8:
        ((int8_t *)p)[i] = (int8_t)v;
        break;
    case TSR_U16:
        ((uint16_t *)p)[i] = (uint16_t)v;
        break;
    case TSR_I16:
        ((int16_t *)p)[i] = (int16_t)v;
        break;
    default:
        break;
    }
}

void tsr_quantize_linear(const struct tsr_quant_layout *l, const float *x, const float *scale,
                         const void *zp, tsr_dtype ydt, void *y) {
    int32_t qmin = 0, qmax = 0;
    if (!tsr_quant_range(ydt, &qmin, &qmax)) return;
    for (int64_t o = 0; o < l->outer; o++)
        for (int64_t c = 0; c < l->axis_len; c++) {
            const int64_t pc = l->per_axis ? c : 0;
            const float s = scale[pc];
            const int32_t z = zp ? tsr_quant_get(ydt, zp, pc) : 0;
            const int64_t base = (o * l->axis_len + c) * l->inner;
            for (int64_t i = 0; i < l->inner; i++)
                quant_put(ydt, y, base + i, tsr_quantize_one(x[base + i], s, z, qmin, qmax));
        }
}

void tsr_dequantize_linear(const struct tsr_quant_layout *l, const void *x, tsr_dtype xdt,
                           const float *scale, const void *zp, float *y) {
    for (int64_t o = 0; o < l->outer; o++)
        for (int64_t c = 0; c < l->axis_len; c++) {
            const int64_t pc = l->per_axis ? c : 0;
            const float s = scale[pc];
            const int32_t z = zp ? tsr_quant_get(xdt, zp, pc) : 0;
            const int64_t base = (o * l->axis_len + c) * l->inner;
            for (int64_t i = 0; i < l->inner; i++)
                y[base + i] = tsr_dequantize_one(tsr_quant_get(xdt, x, base + i), s, z);
        }
}

void tsr_dynamic_quantize_linear(int64_t n, const float *x, uint8_t *y, float *scale, uint8_t *zp) {
    float lo = 0.0f, hi = 0.0f; /* ONNX: the range is adjusted to include 0 */
    for (int64_t i = 0; i < n; i++) {
        lo = fminf(lo, x[i]);
        hi = fmaxf(hi, x[i]);
    }
    float s;
    int32_t z;
    tsr_quant_params_minmax(lo, hi, 0, 255, 0, &s, &z);
    *scale = s;
    *zp = (uint8_t)z;
    if (y)
        for (int64_t i = 0; i < n; i++)
            y[i] = (uint8_t)tsr_quantize_one(x[i], s, z, 0, 255);
}
