/* public_api.c — an external program: it includes only <tessera.h> and links only the installed
 * library (libtessera.so or libtessera.a), to show the public boundary is enough to use tessera.
 * Builds y = relu(a + b) on the CPU, runs it and checks the result; with an argument, imports
 * that ONNX file too (the protobuf-c code is inside the library, hidden).
 * Exit status 0 on success, 1 with a message on stderr otherwise. */
#include <tessera.h>

#include <stdio.h>
#include <string.h>

static int fail(const char *what, tsr_status st, const tsr_context *ctx) {
    fprintf(stderr, "public_api: %s: %s (%s)\n", what, tsr_status_name(st),
            tsr_last_error(ctx)->message);
    return 1;
}

int main(int argc, char **argv) {
    tsr_context *ctx = NULL;
    tsr_status st = tsr_context_create(NULL, &ctx);
    if (st != TSR_OK) return fail("tsr_context_create", st, NULL);
    if (strcmp(tsr_status_name(TSR_OK), "TSR_OK") != 0 || tsr_device_count(ctx) < 1) {
        fprintf(stderr, "public_api: unexpected status name or device count\n");
        return 1;
    }

    struct tsr_tensor_desc d = {.dtype = TSR_F32, .rank = 1, .dims = {4}};
    tsr_graph *g = NULL;
    tsr_value a, b, sum, y;
    if ((st = tsr_graph_create(ctx, &g)) != TSR_OK) return fail("tsr_graph_create", st, ctx);
    if ((st = tsr_graph_input(g, "a", &d, &a)) != TSR_OK ||
        (st = tsr_graph_input(g, "b", &d, &b)) != TSR_OK ||
        (st = tsr_graph_op(g, TSR_OP_ADD, (tsr_value[]){a, b}, 2, NULL, NULL, &sum)) != TSR_OK ||
        (st = tsr_graph_op(g, TSR_OP_RELU, &sum, 1, NULL, NULL, &y)) != TSR_OK ||
        (st = tsr_graph_output(g, "y", y)) != TSR_OK)
        return fail("building the graph", st, ctx);

    struct tsr_compile_options opts = tsr_compile_options_default();
    opts.device = "cpu";
    tsr_plan *plan = NULL;
    if ((st = tsr_compile(ctx, g, &opts, &plan)) != TSR_OK) return fail("tsr_compile", st, ctx);
    float av[4] = {1, -2, 3, -4}, bv[4] = {0.5f, 1, -5, 2}, yv[4] = {0};
    const float want[4] = {1.5f, 0, 0, 0};
    struct tsr_tensor in[2] = {{d, av}, {d, bv}}, out[1] = {{d, yv}};
    if ((st = tsr_plan_run(plan, in, 2, out, 1)) != TSR_OK) return fail("tsr_plan_run", st, ctx);
    if (memcmp(yv, want, sizeof want) != 0) {
        fprintf(stderr, "public_api: relu(a + b) = [%g %g %g %g], want [1.5 0 0 0]\n", yv[0], yv[1],
                yv[2], yv[3]);
        return 1;
    }
    tsr_plan_destroy(plan);
    tsr_graph_destroy(g);

    if (argc > 1) {
        tsr_graph *m = NULL;
        if ((st = tsr_onnx_import_file(ctx, argv[1], NULL, 0, &m)) != TSR_OK)
            return fail(argv[1], st, ctx);
        if (tsr_graph_node_count(m) < 1) {
            fprintf(stderr, "public_api: %s imported without nodes\n", argv[1]);
            return 1;
        }
        tsr_graph_destroy(m);
    }
    tsr_context_destroy(ctx);
    printf("public_api: ok\n");
    return 0;
}
