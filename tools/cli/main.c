/* main.c — `tessera` subcommand dispatch. */
#include "cli.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage(FILE *f) {
    fprintf(f, "usage: tessera <command> [options]\n"
               "\n"
               "commands:\n"
               "  info [--json]            the machine, its devices, and what `auto` would pick\n"
               "  run [MODEL.onnx] [...]   run an ONNX model on one or every device and compare\n"
               "  bench [--quick] [...]    benchmark every device next to its peers\n"
               "  serve MODEL.onnx [...]   serve a model over HTTP (KServe v2 inference protocol)\n"
               "  version                  print the version\n"
               "\n"
               "`tessera <command> --help` shows a command's options.\n");
}

int cli_fail(tsr_context *ctx, tsr_status st, const char *what) {
    const struct tsr_error_info *e = tsr_last_error(ctx);
    if (!e->message || !*e->message) e = tsr_last_error(NULL);
    fprintf(stderr, "tessera: error: %s: %s (%s)\n", what,
            (e->message && *e->message) ? e->message : tsr_status_str(st), tsr_status_name(st));
    return (st == TSR_E_INTERNAL || st == TSR_E_NOMEM) ? TSR_EXIT_FAIL : TSR_EXIT_USAGE;
}

int cli_usage_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "tessera: error: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    return TSR_EXIT_USAGE;
}

int cli_getopt(int argc, char **argv, const char *shortopts, const struct option *longopts,
               const char **opt) {
    static char **parsing;
    static char name[64];
    char optstring[32];
    if (parsing != argv) { /* a new argument vector: start over (glibc: optind = 0) */
        parsing = argv;
        optind = 0;
    }
    opterr = 0;
    snprintf(optstring, sizeof optstring, ":%s", shortopts); /* ':': report a missing value */
    int idx = -1;
    int c = getopt_long(argc, argv, optstring, longopts, &idx);
    if (c == ':' || c == '?') {
        const char *bad = optind > 0 && optind <= argc ? argv[optind - 1] : "?";
        char shortname[3] = {'-', (char)optopt, 0};
        if (optopt && !strchr(bad, '=') && strncmp(bad, "--", 2)) bad = shortname;
        if (c == ':')
            cli_usage_error("%s: %s needs a value", argv[0], bad);
        else if (strchr(bad, '=') && !strncmp(bad, "--", 2))
            cli_usage_error("%s: '%s': unknown option, or one that takes no value (see tessera %s "
                            "--help)",
                            argv[0], bad, argv[0]);
        else
            cli_usage_error("%s: unknown option '%s' (see tessera %s --help)", argv[0], bad,
                            argv[0]);
        return CLI_GETOPT_ERROR;
    }
    if (opt) {
        if (idx >= 0)
            snprintf(name, sizeof name, "--%s", longopts[idx].name);
        else
            snprintf(name, sizeof name, "-%c", c);
        *opt = name;
    }
    return c;
}

const char *cli_models_dir(void) {
    const char *env = getenv("TSR_MODELS_DIR");
    if (env && *env) return env;
    /* An installed binary: <bindir>/TSR_INSTALL_MODELS_REL (<prefix>/share/tessera/models). */
    static char installed[4096 + 256];
    if (!installed[0]) {
        char exe[4096];
        ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
        char *slash = n > 0 ? (exe[n] = 0, strrchr(exe, '/')) : NULL;
        if (slash) {
            *slash = 0;
            char probe[sizeof installed + 16];
            snprintf(installed, sizeof installed, "%s/%s", exe, TSR_INSTALL_MODELS_REL);
            snprintf(probe, sizeof probe, "%s/digits.onnx", installed);
            if (access(probe, R_OK) != 0) snprintf(installed, sizeof installed, "-");
        } else {
            snprintf(installed, sizeof installed, "-");
        }
    }
    return strcmp(installed, "-") ? installed : TSR_MODELS_DIR;
}

void cli_print_json(json_object *obj) {
    printf("%s\n", json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PRETTY |
                                                           JSON_C_TO_STRING_NOSLASHESCAPE));
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return TSR_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "info")) return cmd_info(argc - 1, argv + 1);
    if (!strcmp(cmd, "run")) return cmd_run(argc - 1, argv + 1);
    if (!strcmp(cmd, "bench")) return cmd_bench(argc - 1, argv + 1);
    if (!strcmp(cmd, "serve")) return cmd_serve(argc - 1, argv + 1);
    if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
        printf("tessera %s\n", tsr_version());
        return TSR_EXIT_OK;
    }
    if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
        usage(stdout);
        return TSR_EXIT_OK;
    }
    fprintf(stderr, "tessera: error: unknown command '%s'\n", cmd);
    usage(stderr);
    return TSR_EXIT_USAGE;
}
