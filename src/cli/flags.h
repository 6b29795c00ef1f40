/* cli/flags.h: the crest command line: flags, environment variables, their checks. */
#ifndef CREST_CLI_FLAGS_H
#define CREST_CLI_FLAGS_H

#include "crest.h"

#include <stdio.h>

enum cli_command {
    CLI_SERVE,
    CLI_HELP,
    CLI_VERSION,
    CLI_MEM, /* crest mem URL ...: the arguments are cli/mem.c's to parse */
};

/* Parses argv (and HOST, PORT, CREST_WORKERS, CREST_MEMORY_LIMIT, CREST_DEBUG_TOKEN; flags win)
 * into cfg. On a bad flag or value, writes one line naming it into err and returns -EINVAL (the
 * caller exits 2). */
int cli_parse(int argc, char **argv, struct crest_config *cfg, enum cli_command *cmd, char *err);

void cli_usage(FILE *out);

#endif
