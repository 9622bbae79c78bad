/*
 * profiler.h — internal side of the one profiler (public query API in tessera.h).
 * Backends call tsr_prof_add for every kernel, transfer, compile and pool growth; the scheduler
 * for every calibration it measures.
 */
#ifndef TSR_RUNTIME_PROFILER_H
#define TSR_RUNTIME_PROFILER_H

#include "runtime/internal.h"

/* Creates a profiler (disabled unless `enabled`) keeping at most `capacity` records (a ring;
 * 1 .. TSR_PROFILE_CAPACITY_MAX). Returns TSR_OK, TSR_E_INVALID_ARG or TSR_E_NOMEM. */
tsr_status tsr_profiler_create(int enabled, size_t capacity, struct tsr_profiler **out);
void tsr_profiler_destroy(struct tsr_profiler *prof);

/* The capacity a context uses: options.profile_capacity when non-zero (> TSR_PROFILE_CAPACITY_MAX
 * is TSR_E_INVALID_ARG), else TSR_PROFILE_CAPACITY (1 .. TSR_PROFILE_CAPACITY_MAX; another value
 * is warned about through ctx's log, naming it), else TSR_PROFILE_CAPACITY_DEFAULT. */
tsr_status tsr_profiler_capacity_of(const tsr_context *ctx, size_t option, size_t *out);

/* Cheap check for hot paths: is recording on? ctx may be NULL (→ 0); 0 on a thread that measures
 * a calibration (runtime/calibration.h: probe runs are not recorded); on a thread inside a run
 * of a plan with its own switch (tsr_plan_set_profiling), that switch; else the context's flag.
 * Thread-safe. */
int tsr_prof_enabled(const tsr_context *ctx);

/* The per-run switch of the calling thread: tsr_plan_run calls begin(plan's tsr_plan_profiling)
 * before it executes and end(what begin returned) after. TSR_PLAN_PROFILE_CONTEXT leaves an
 * outer run's switch in force (a re-plan's specialised plan runs inside its parent's run). */
int tsr_prof_run_begin(int mode);
void tsr_prof_run_end(int saved);

/* Appends one record (strings are copied/interned). start/end on the host clock (tsr_now_ns).
 * No-op when disabled. When the ring is full the oldest record is replaced (and counted as
 * dropped). Thread-safe. Allocation failure drops the record (counted as dropped). */
void tsr_prof_add(tsr_context *ctx, tsr_event_kind kind, const char *name, const char *nodes,
                  const char *device, int queue, uint64_t start_ns, uint64_t end_ns, uint64_t bytes,
                  uint64_t flops);

#endif
