/*
 * cpu_backend.h — the native CPU backend's context-level state: detected ISA and its cap, the
 * elementwise kernel table of the ISA in use, and the thread pool.
 * The backend itself is tsr_cpu_backend_ops (runtime/backend.h): the host backend (host
 * memory, one device "cpu", the fallback target).
 */
#ifndef TSR_CPU_BACKEND_H
#define TSR_CPU_BACKEND_H

#include "runtime/backend.h"

struct tsr_cpu_backend; /* cpu_backend.c */

/* The CPU backend's vtable (cpu_backend.c), listed by runtime/backend_registry.c. */
extern const struct tsr_backend_ops tsr_cpu_backend_ops;

/* Instruction-set tiers, ordered. */
typedef enum { TSR_ISA_SCALAR = 0, TSR_ISA_AVX2 = 1, TSR_ISA_AVX512 = 2 } tsr_cpu_isa;

const char *tsr_cpu_isa_name(tsr_cpu_isa isa); /* "scalar", "avx2", "avx512" */
/* Best tier the CPU and OS support (CPUID + XGETBV). Cached after the first call; thread-safe. */
tsr_cpu_isa tsr_cpu_detect_isa(void);
/* 1 when the CPU has AVX512_VNNI and AVX512BW on top of the AVX-512 tier (vpdpbusd, the integer
 * GEMM's tile, igemm.h) and TSR_CPU_VNNI is not "0" (the switch for side-by-side runs; read
 * once). Used only where the tier in use is AVX-512, so TSR_CPU_ISA=avx2 caps it too. Cached;
 * thread-safe. */
int tsr_cpu_has_avx512_vnni(void);

/* Creates the backend: ISA = min(detected, TSR_CPU_ISA cap if set) — an unknown cap value is
 * logged and ignored; a thread pool of `threads` workers (0 = one per physical core), each
 * pinned to a core through topo (best effort). Returns TSR_OK, TSR_E_NOMEM. */
tsr_status tsr_cpu_backend_create(tsr_context *ctx, int threads, struct tsr_cpu_backend **out);
void tsr_cpu_backend_destroy(struct tsr_cpu_backend *cpu);

/* The CPU backend's state in ctx (what tsr_cpu_backend_create made for it), or NULL when ctx is
 * NULL. Thread-safe. */
struct tsr_cpu_backend *tsr_cpu_backend_of(const tsr_context *ctx);

/* ISA in use and number of worker threads; for a NULL cpu the detected ISA and 1. */
tsr_cpu_isa tsr_cpu_backend_isa(const struct tsr_cpu_backend *cpu);
int tsr_cpu_backend_threads(const struct tsr_cpu_backend *cpu);

/* Forces the ISA tier of an existing backend (tests run every tier in one process). Returns
 * TSR_OK, or TSR_E_UNSUPPORTED when the machine lacks it. Not thread-safe with running plans;
 * affects plans prepared afterwards. */
tsr_status tsr_cpu_backend_set_isa(struct tsr_cpu_backend *cpu, tsr_cpu_isa isa);

#endif
