/*
 * profiler.h — internal side of the one profiler (public query API in tessera.h).
 * Backends call tsr_prof_add for every kernel, transfer, compile and pool growth.
 */
#ifndef TSR_RUNTIME_PROFILER_H
#define TSR_RUNTIME_PROFILER_H

#include "runtime/internal.h"

/* Creates a profiler (disabled unless `enabled`). Returns TSR_OK or TSR_E_NOMEM. */
tsr_status tsr_profiler_create(int enabled, struct tsr_profiler **out);
void tsr_profiler_destroy(struct tsr_profiler *prof);

/* Cheap check for hot paths: is recording on? ctx may be NULL (→ 0); 0 on a thread that measures
 * a calibration (runtime/calibration.h: probe runs are not recorded). Thread-safe. */
int tsr_prof_enabled(const tsr_context *ctx);

/* Appends one record (strings are copied/interned). start/end on the host clock (tsr_now_ns).
 * No-op when disabled. Thread-safe. Allocation failure drops the record silently. */
void tsr_prof_add(tsr_context *ctx, tsr_event_kind kind, const char *name, const char *nodes,
                  const char *device, int queue, uint64_t start_ns, uint64_t end_ns, uint64_t bytes,
                  uint64_t flops);

#endif
