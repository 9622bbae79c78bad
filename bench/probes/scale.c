/*
 * scale.c — build/bin/tsr-scale-probe: import and compile time by stage for large graphs
 * (issue 12, "import and compile linear in the node count").
 *
 * Usage: tsr-scale-probe MODEL.onnx...   (bench/scale/run.sh makes the models and runs it)
 * For each model: the import (tsr_onnx_import_file), then, on a clone, each stage of tsr_compile
 * in its order (clone, the passes, lowering with the memory plan), then a whole tsr_compile for
 * the CPU (the remainder, "sched+prepare", is device selection, placement and the backend's
 * prepare), then one run on zero inputs. Prints one line per model: nodes and ms per stage.
 * Not a test: timings depend on the machine and on what else runs.
 */
#include "runtime/graph.h"
#include "runtime/lower.h"
#include "runtime/passes/passes.h"
#include "runtime/program.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static double ms_since(uint64_t t0) {
    return (double)(tsr_now_ns() - t0) / 1e6;
}

#define STAGE(name, call)                                                                          \
    do {                                                                                           \
        uint64_t t0_ = tsr_now_ns();                                                               \
        tsr_status st_ = (call);                                                                   \
        double ms_ = ms_since(t0_);                                                                \
        if (st_ != TSR_OK) {                                                                       \
            fprintf(stderr, "%s: %s: %s\n", path, name, tsr_last_error(NULL)->message);            \
            goto done;                                                                             \
        }                                                                                          \
        printf(" %s %.1f", name, ms_);                                                             \
    } while (0)

static int probe(tsr_context *ctx, const char *path) {
    int rc = 1, n = 0;
    tsr_graph *g = NULL, *c = NULL;
    tsr_plan *plan = NULL;
    struct tsr_program prog;
    memset(&prog, 0, sizeof prog);
    struct tsr_tensor in = {0}, out = {0};
    printf("%s:", path);
    STAGE("import", tsr_onnx_import_file(ctx, path, NULL, 0, &g));
    printf(" nodes %d values %d |", g->n_nodes, g->n_values);
    STAGE("clone", tsr_graph_clone(g, &c));
    STAGE("decompose", tsr_pass_decompose(c, &n));
    STAGE("fold", tsr_pass_fold(c, &n));
    STAGE("bn", tsr_pass_bn(c, 1, &n));
    STAGE("fold2", tsr_pass_fold(c, &n));
    STAGE("simplify", tsr_pass_simplify(c, &n));
    STAGE("cse", tsr_pass_cse(c, &n));
    STAGE("layernorm", tsr_pass_layernorm(c, &n));
    STAGE("gelu", tsr_pass_gelu(c, &n));
    STAGE("dce", tsr_pass_dce(c, &n));
    STAGE("lower", tsr_lower(c, 0, &prog, NULL));
    printf(" (kernels %d) |", prog.n_kernels);
    struct tsr_compile_options o = tsr_compile_options_default();
    o.device = "cpu";
    o.placement = "single";
    STAGE("compile", tsr_compile(ctx, g, &o, &plan));
    const char *name;
    if (tsr_plan_input_desc(plan, 0, &name, &in.desc) != TSR_OK ||
        tsr_tensor_alloc(&in.desc, &in) != TSR_OK)
        goto done;
    memset(in.data, 0, tsr_desc_bytes(&in.desc));
    if (tsr_plan_output_desc(plan, 0, &name, &out.desc) != TSR_OK ||
        tsr_tensor_alloc(&out.desc, &out) != TSR_OK)
        goto done;
    STAGE("run", tsr_plan_run(plan, &in, 1, &out, 1));
    rc = 0;
done:
    printf("\n");
    tsr_tensor_free(&in);
    tsr_tensor_free(&out);
    tsr_plan_destroy(plan);
    tsr_program_free(&prog);
    tsr_graph_destroy(c);
    tsr_graph_destroy(g);
    return rc;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: tsr-scale-probe MODEL.onnx...\n");
        return 2;
    }
    struct tsr_context_options co = {0};
    co.disable_opencl = 1;
    co.calibration = TSR_CALIBRATE_SKIP;
    tsr_context *ctx = NULL;
    if (tsr_context_create(&co, &ctx) != TSR_OK) {
        fprintf(stderr, "context: %s\n", tsr_last_error(NULL)->message);
        return 1;
    }
    int rc = 0;
    for (int i = 1; i < argc; i++)
        rc |= probe(ctx, argv[i]);
    tsr_context_destroy(ctx);
    return rc;
}
