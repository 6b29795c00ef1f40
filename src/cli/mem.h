/* cli/mem.h: the `crest mem` command (cli/mem.c). */
#ifndef CREST_CLI_MEM_H
#define CREST_CLI_MEM_H

/* Runs `crest mem` with the arguments after "mem". Returns the exit status: 0; 1 when the server
 * cannot be reached or refuses; 2 on bad arguments. */
int cli_mem_main(int argc, char **argv);

#endif
