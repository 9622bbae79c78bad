/*
 * cpu_features.c — ISA tier detection: CPUID for what the CPU implements and XGETBV for what the
 * OS saves on context switch (Intel SDM vol. 1, 13.3 "Enabling the XSAVE feature set";
 * Intel SDM vol. 2, CPUID leaf 1 ECX / leaf 7 EBX bit assignments). Compiled without ISA flags.
 */
#include "backends/cpu/cpu_backend.h"

#include "runtime/internal.h"

#include <stdatomic.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

/* XCR0 via XGETBV (ECX = 0); inline asm so this file needs no -mxsave. Only call when
 * CPUID.1:ECX.OSXSAVE[bit 27] = 1. */
static uint64_t tsr_xgetbv0(void) {
    uint32_t eax, edx;
    __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
    return ((uint64_t)edx << 32) | eax;
}

static tsr_cpu_isa tsr_detect_uncached(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return TSR_ISA_SCALAR;
    const int osxsave = (c >> 27) & 1, avx = (c >> 28) & 1, fma = (c >> 12) & 1;
    if (!osxsave || !avx || !fma) return TSR_ISA_SCALAR;
    const uint64_t xcr0 = tsr_xgetbv0();
    /* XCR0 bit 1 = SSE (XMM) state, bit 2 = AVX (upper YMM) state. */
    if ((xcr0 & 0x6) != 0x6) return TSR_ISA_SCALAR;
    if (__get_cpuid_max(0, NULL) < 7) return TSR_ISA_SCALAR;
    __cpuid_count(7, 0, a, b, c, d);
    const int avx2 = (b >> 5) & 1;
    if (!avx2) return TSR_ISA_SCALAR;
    const int avx512f = (b >> 16) & 1, avx512dq = (b >> 17) & 1, avx512vl = (b >> 31) & 1;
    /* XCR0 bits 5..7 = opmask, upper halves of ZMM0-15, ZMM16-31. */
    if (avx512f && avx512dq && avx512vl && (xcr0 & 0xE0) == 0xE0) return TSR_ISA_AVX512;
    return TSR_ISA_AVX2;
}

/* AVX512_VNNI = CPUID.(EAX=7,ECX=0):ECX[bit 11], AVX512BW = EBX[bit 30] (Intel SDM vol. 2,
 * CPUID, table "Structured Extended Feature Flags"); only asked once the AVX-512 tier (and so
 * the OS's ZMM state) is established. */
static int tsr_detect_vnni_uncached(void) {
    if (tsr_detect_uncached() < TSR_ISA_AVX512) return 0;
    unsigned a, b, c, d;
    __cpuid_count(7, 0, a, b, c, d);
    return ((c >> 11) & 1) && ((b >> 30) & 1);
}
#else
static tsr_cpu_isa tsr_detect_uncached(void) {
    return TSR_ISA_SCALAR;
}
static int tsr_detect_vnni_uncached(void) {
    return 0;
}
#endif

int tsr_cpu_has_avx512_vnni(void) {
    /* -1 = not yet detected; racing first calls compute the same value: benign. */
    static atomic_int cached = -1;
    int v = atomic_load_explicit(&cached, memory_order_acquire);
    if (v < 0) {
        const char *off = tsr_getenv("TSR_CPU_VNNI");
        v = tsr_detect_vnni_uncached() && !(off && strcmp(off, "0") == 0);
        atomic_store_explicit(&cached, v, memory_order_release);
    }
    return v;
}

tsr_cpu_isa tsr_cpu_detect_isa(void) {
    /* -1 = not yet detected. Racing first calls compute the same value: benign. */
    static atomic_int cached = -1;
    int v = atomic_load_explicit(&cached, memory_order_acquire);
    if (v < 0) {
        v = (int)tsr_detect_uncached();
        atomic_store_explicit(&cached, v, memory_order_release);
    }
    return (tsr_cpu_isa)v;
}

const char *tsr_cpu_isa_name(tsr_cpu_isa isa) {
    switch (isa) {
    case TSR_ISA_SCALAR:
        return "scalar";
    case TSR_ISA_AVX2:
        return "avx2";
    case TSR_ISA_AVX512:
        return "avx512";
    }
    return "unknown";
}
