/*
 * main.c — barkeep's entry point. Everything else lives in the subsystems;
 * the command line is src/cli/.
 */
#include <signal.h>

#include "cli/cli.h"

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    return bk_cli_main(argc, argv);
}
