/* The subcommands of the graceful-run binary besides the wrapper itself. */
#ifndef GRACEFUL_RUN_COMMANDS_H
#define GRACEFUL_RUN_COMMANDS_H

int notify_command(int argc, char *argv[]);

#endif
