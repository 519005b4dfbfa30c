/* imsrelay.exe version: what is installed, for bug reports and inventories. */
#include <stdio.h>
#include <wchar.h>

#include "cli/commands.h"

int cmd_version(int argc, wchar_t **argv)
{
    (void)argv;
    if (argc != 1) {
        fputs("usage: imsrelay.exe version\n", stderr);
        return 2;
    }
    printf("imsrelay %s (%s, built %s)\n", IMSRELAY_VERSION, sizeof(void *) == 8 ? "x64" : "x86",
           __DATE__);
    return 0;
}
