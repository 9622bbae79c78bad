/*
 * cli.h — the `tessera` command-line program: shared helpers of its subcommands.
 * Exit status: 0 success, 1 internal failure, 2 bad input or unusable device (one line on
 * stderr saying why).
 */
#ifndef TSR_CLI_H
#define TSR_CLI_H

#include "tessera.h"
#include "tessera/cpu.h"
#include "tessera/sched.h"

#include <getopt.h>
#include <stdio.h>
#include <json-c/json.h>

enum { TSR_EXIT_OK = 0, TSR_EXIT_FAIL = 1, TSR_EXIT_USAGE = 2 };

/* Prints "tessera: error: <what>: <last error message>" to stderr; returns the exit status that
 * fits the status (2 for caller errors and unusable devices, 1 for internal ones). */
int cli_fail(tsr_context *ctx, tsr_status st, const char *what);
/* Prints "tessera: error: ..." to stderr and returns 2. */
int cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* getopt_long for a subcommand's argv (argv[0] = the subcommand's name): --opt=value,
 * --opt value, -- (the rest are operands), options and operands in any order (operands end up
 * at argv[optind..argc-1]). Returns the option's value (the short letter or longopts' val), -1
 * at the end, or CLI_GETOPT_ERROR after printing one line ("tessera: error: run: unknown
 * option '--x'", "... --device needs a value"). *opt: the option as "--name" (for messages). */
#define CLI_GETOPT_ERROR (-2)
int cli_getopt(int argc, char **argv, const char *shortopts, const struct option *longopts,
               const char **opt);

/* The resource limits of struct tsr_context_options as options (tools/cli/limits.c; one table:
 * --max-model-bytes, --max-nodes, --max-values, --max-tensor-bytes, --max-tensor-rank,
 * --max-depth, each overriding its environment variable, and --max-arena-bytes, which sets
 * TSR_MAX_ARENA_BYTES for the process; docs/RELIABILITY.md, "Configurable limits"). Limit k has
 * the getopt value CLI_LIMIT_VAL + k. */
#define CLI_LIMIT_VAL 4096
int cli_limit_count(void);
/* Copies `base` (terminated by a NULL name) into out and appends the limits' entries and the
 * terminator; returns the number of entries, or -1 when cap (entries of out) is too small. */
int cli_limit_longopts(const struct option *base, struct option *out, int cap);
/* Writes the limits' usage lines (two per option, as the subcommands' usage texts). */
void cli_limit_usage(FILE *f);
/* Applies limit option c (CLI_LIMIT_VAL + k) with value v to o. Returns 0, or 2 after one line
 * ("tessera: error: run: --max-nodes expects a positive integer, got 'x'"). cmd: for messages. */
int cli_limit_parse(const char *cmd, int c, const char *v, struct tsr_context_options *o);

/* Directory of the bundled models: env TSR_MODELS_DIR, else <prefix>/share/tessera/models next to
 * an installed binary, else the source tree's models/. */
const char *cli_models_dir(void);

/* Prints obj as pretty JSON on stdout followed by a newline. */
void cli_print_json(json_object *obj);

int cmd_info(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_bench(int argc, char **argv);
/* `tessera serve` (cmd_serve.c; without libmicrohttpd at configure time it says so, exit 1). */
int cmd_serve(int argc, char **argv);

#endif
