/* The subcommands of the graceful-run binary besides the wrapper itself. */
#ifndef GRACEFUL_RUN_COMMANDS_H
#define GRACEFUL_RUN_COMMANDS_H

#include <stdbool.h>
#include <stddef.h>

int notify_command(int argc, char *argv[]);
int client_command(int argc, char *argv[]);
bool client_is_verb(const char *);
void cmd_option_text(char *out, size_t len, char *argv[], int start);

#endif
