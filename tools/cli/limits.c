/*
 * limits.c — the resource limits of struct tsr_context_options (docs/RELIABILITY.md,
 * "Configurable limits") as options of a subcommand: one table, from which the getopt entries,
 * the usage lines and the parsing all come.
 */
#include "cli.h"

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cli_limit {
    const char *name; /* the option without "--" */
    const char *var;  /* the environment variable the option overrides */
    ptrdiff_t field;  /* offset in struct tsr_context_options; -1: no field (the variable is set) */
    const char *help; /* the usage line after the option's name */
};

static const struct cli_limit cli_limits[] = {
    {"max-model-bytes", "TSR_MAX_MODEL_BYTES",
     offsetof(struct tsr_context_options, max_model_bytes),
     "bytes of the model file (default 2 GiB)"},
    {"max-nodes", "TSR_MAX_NODES", offsetof(struct tsr_context_options, max_nodes),
     "graph nodes, subgraphs included (default 10000000)"},
    {"max-values", "TSR_MAX_VALUES", offsetof(struct tsr_context_options, max_values),
     "initializers + graph inputs (default 10000000)"},
    {"max-tensor-bytes", "TSR_MAX_TENSOR_SIZE",
     offsetof(struct tsr_context_options, max_tensor_bytes),
     "bytes of one initializer or declared input (default 16 GiB)"},
    {"max-tensor-rank", "TSR_MAX_TENSOR_RANK",
     offsetof(struct tsr_context_options, max_tensor_rank), "dims of one tensor (default 64)"},
    {"max-depth", "TSR_MAX_DEPTH", offsetof(struct tsr_context_options, max_depth),
     "protobuf message nesting (default 64)"},
    {"max-arena-bytes", "TSR_MAX_ARENA_BYTES", -1,
     "bytes of a plan's arena of intermediates (default 256 GiB)"},
};

#define CLI_N_LIMITS ((int)(sizeof cli_limits / sizeof cli_limits[0]))

int cli_limit_count(void) {
    return CLI_N_LIMITS;
}

int cli_limit_longopts(const struct option *base, struct option *out, int cap) {
    int n = 0;
    while (base[n].name) {
        if (n >= cap - 1) return -1;
        out[n] = base[n];
        n++;
    }
    if (n + CLI_N_LIMITS >= cap) return -1;
    for (int k = 0; k < CLI_N_LIMITS; k++)
        out[n++] = (struct option){cli_limits[k].name, required_argument, NULL, CLI_LIMIT_VAL + k};
    out[n] = (struct option){NULL, 0, NULL, 0};
    return n;
}

void cli_limit_usage(FILE *f) {
    for (int k = 0; k < CLI_N_LIMITS; k++) {
        char opt[64];
        snprintf(opt, sizeof opt, "--%s N", cli_limits[k].name);
        fprintf(f, "  %-22s %s;\n  %-22s overrides %s\n", opt, cli_limits[k].help, "",
                cli_limits[k].var);
    }
}

int cli_limit_parse(const char *cmd, int c, const char *v, struct tsr_context_options *o) {
    const int k = c - CLI_LIMIT_VAL;
    if (k < 0 || k >= CLI_N_LIMITS)
        return cli_usage_error("%s: option %d is not a limit", cmd, c); /* a caller's bug */
    char *end = NULL;
    errno = 0;
    const long long n = v ? strtoll(v, &end, 10) : 0;
    if (!v || !*v || errno || !end || *end || n <= 0)
        return cli_usage_error("%s: --%s expects a positive integer, got '%s'", cmd,
                               cli_limits[k].name, v ? v : "");
    if (cli_limits[k].field >= 0) {
        *(int64_t *)((char *)o + cli_limits[k].field) = (int64_t)n;
        return 0;
    }
    /* no option field: the library reads the variable (runtime/plan.c), so set it for this
     * process, where nothing else reads it concurrently yet (options are parsed first) */
    char buf[32];
    snprintf(buf, sizeof buf, "%lld", n);
    if (setenv(cli_limits[k].var, buf, 1))
        return cli_usage_error("%s: --%s: cannot set %s", cmd, cli_limits[k].name,
                               cli_limits[k].var);
    return 0;
}
