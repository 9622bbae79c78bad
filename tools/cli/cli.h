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

#include <json-c/json.h>

enum { TSR_EXIT_OK = 0, TSR_EXIT_FAIL = 1, TSR_EXIT_USAGE = 2 };

/* Prints "tessera: error: <what>: <last error message>" to stderr; returns the exit status that
 * fits the status (2 for caller errors and unusable devices, 1 for internal ones). */
int cli_fail(tsr_context *ctx, tsr_status st, const char *what);
/* Prints "tessera: error: ..." to stderr and returns 2. */
int cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Directory of the bundled models: env TSR_MODELS_DIR, else <prefix>/share/tessera/models next to
 * an installed binary, else the source tree's models/. */
const char *cli_models_dir(void);

/* Prints obj as pretty JSON on stdout followed by a newline. */
void cli_print_json(json_object *obj);

int cmd_info(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_bench(int argc, char **argv);

#endif
