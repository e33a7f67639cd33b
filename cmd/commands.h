/* The subcommands of the graceful-run binary besides the wrapper itself. */
#ifndef GRACEFUL_RUN_COMMANDS_H
#define GRACEFUL_RUN_COMMANDS_H

#include <stddef.h>

int notify_command(int argc, char *argv[]);
void cmd_option_text(char *out, size_t len, char *argv[], int start);

#endif
