/*
 * quant.h — the CPU kernels of TSR_K_QUANT (issue 13; runtime/program.h describes the kinds,
 * runtime/quant.h the math): QuantizeLinear / DequantizeLinear / DynamicQuantizeLinear, and the
 * integer matmuls with int32 accumulation (MatMulInteger; QLinearMatMul with its requantization
 * epilogue). tsr_cpu_quant_run is the reference (scalar loops; its AVX2 tier a vpmaddwd dot per
 * output element), serial; the executor runs the matmuls at the AVX2 tier and up on the packed
 * integer GEMM instead (tsr_cpu_quant_mm_run, igemm.h: B of constant weights packed at prepare,
 * tasks on the pool), bit for bit equal. Thread-safe for distinct outputs.
 */
#ifndef TSR_CPU_QUANT_H
#define TSR_CPU_QUANT_H

#include "backends/cpu/cpu_backend.h"
#include "runtime/program.h"

/* Checks kernel kn (kind TSR_K_QUANT) against prog's buffers: input count and dtypes of its op,
 * sizes in bytes, geometry. Returns TSR_OK or TSR_E_INVALID_ARG / TSR_E_SHAPE / TSR_E_DTYPE
 * naming the kernel (recorded on ctx). */
tsr_status tsr_cpu_quant_check(tsr_context *ctx, const struct tsr_program *prog,
                               const struct tsr_kernel *kn);

struct tsr_cpu_env;
/* Runs kn: in[i] the data of its inputs (dtypes dts[i]), y its output (kn->dtype). env: the
 * run's environment; its ISA tier picks the loops (TSR_ISA_SCALAR: the scalar ones) and its
 * elementwise kernels apply a dequantize epilogue's activation. Returns TSR_OK, or TSR_E_NOMEM
 * (the matmuls allocate their int16 operand copies per run). */
tsr_status tsr_cpu_quant_run(tsr_context *ctx, const struct tsr_cpu_env *env,
                             const struct tsr_kernel *kn, const tsr_dtype *dts,
                             const void *const *in, void *y);

/* QuantizeLinear to int8 at the AVX2 tier (quant_avx2.c), bit for bit tsr_quantize_one:
 * y[i] = saturate(round_half_even(x[i] / scale) + zp) to [-128, 127], NaN giving zp, for
 * -128 <= zp <= 127 and a finite scale > 0 (the caller checks). */
void tsr_cpu_quantize_s8_avx2(int64_t n, const float *x, float scale, int32_t zp, int8_t *y);
/* DequantizeLinear of n uint8 (is_signed 0) or int8 values at the AVX2 tier, bit for bit
 * tsr_dequantize_one: y[i] = (float)(x[i] - zp) * scale. */
void tsr_cpu_dequantize_8_avx2(int64_t n, const void *x, int is_signed, float scale, int32_t zp,
                               float *y);

struct tsr_cpu_pool;
/* DynamicQuantizeLinear kernel kn (one of its outputs, q.dyn_output) of x = in[0] (q.outer
 * float32) into y, at tier isa (with q.dyn_given, in[1] / in[2] hold y_scale / y_zero_point and
 * only the quantize pass runs); at AVX2 and up the range and quantize passes run in chunks of 64 Ki
 * elements or more as tasks on pool (NULL: inline), bit for bit the scalar
 * tsr_dynamic_quantize_linear (min / max combine exactly, quantizing is per element). Thread-safe
 * for distinct y. */
void tsr_cpu_quant_dynamic_run(struct tsr_cpu_pool *pool, tsr_cpu_isa isa,
                               const struct tsr_kernel *kn, const void *const *in, void *y);

/* sum_{k < K} a[k] * b[k] of int16 vectors (|a|, |b| <= 255 so that pairs fit int32), AVX2
 * (quant_avx2.c). */
int32_t tsr_cpu_dot_i16_avx2(const int16_t *a, const int16_t *b, int64_t K);

/* DynamicQuantizeLinear at the AVX2 tier (quant_avx2.c), bit for bit the scalar
 * tsr_dynamic_quantize_linear (runtime/quant.h): *lo = min(0, x[0..n)), *hi = max(0, ...), NaN
 * ignored (fminf / fmaxf); and y[i] = saturate(round_half_even(x[i] / scale) + zp) to [0, 255],
 * NaN giving zp, for 0 <= zp <= 255 and a finite scale > 0 (the caller checks). */
void tsr_cpu_minmax0_avx2(int64_t n, const float *x, float *lo, float *hi);
void tsr_cpu_quantize_u8_avx2(int64_t n, const float *x, float scale, int32_t zp, uint8_t *y);

struct tsr_cpu_igemm_b;
struct tsr_cpu_pool;
/* 1 when kn is MatMulInteger / QLinearMatMul whose B (and B zero point, if any) are constants of
 * prog shared by every batch: its B can be packed once (tsr_cpu_quant_pack_b). */
int tsr_cpu_quant_b_constant(const struct tsr_program *prog, const struct tsr_kernel *kn);
/* Packs kn's constant B into *out (igemm.h) in the format vnni picks (tsr_cpu_igemm_use_vnni).
 * Returns TSR_OK or TSR_E_NOMEM (recorded on ctx). */
tsr_status tsr_cpu_quant_pack_b(tsr_context *ctx, int vnni, const struct tsr_program *prog,
                                const struct tsr_kernel *kn, struct tsr_cpu_igemm_b *out);
/* MatMulInteger / QLinearMatMul of kn on the integer GEMM (igemm.h: AVX2 k-pair or AVX-512 VNNI
 * tile), tasks on env->pool (NULL: inline): in / dts / y as tsr_cpu_quant_run; pre: B packed at
 * prepare (its format wins), or NULL (B packed per run in the format vnni picks).
 * QLinearMatMul's requantization runs on each int32 tile. Output equals tsr_cpu_quant_run's bit
 * for bit. Returns TSR_OK or TSR_E_NOMEM (packed A, and B when pre is NULL, allocated per run). */
tsr_status tsr_cpu_quant_mm_run(tsr_context *ctx, const struct tsr_cpu_env *env,
                                const struct tsr_kernel *kn, const tsr_dtype *dts,
                                const void *const *in, void *y, const struct tsr_cpu_igemm_b *pre,
                                int vnni);

#endif
