/* imsrelay.exe: the service MSExchangeIMC when the SCM starts it, a command otherwise. */
#include <windows.h>
#include <stdio.h>
#include <wchar.h>

#include "cli/commands.h"
#include "host/svc_host.h"

typedef struct command {
    const wchar_t *name;
    const wchar_t *usage;
    int (*run)(int argc, wchar_t **argv);
} command;

#define IMSRELAY_COMMAND_ENTRY(suffix, name, usage) {name, usage, cmd_##suffix},
static const command commands[] = {IMSRELAY_COMMANDS(IMSRELAY_COMMAND_ENTRY)};
#undef IMSRELAY_COMMAND_ENTRY

static int usage(FILE *to)
{
    fwprintf(to, L"usage: imsrelay.exe <command> [arguments]\n\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        fwprintf(to, L"  %-10ls %ls\n", commands[i].name, commands[i].usage);
    }
    fwprintf(to,
             L"\nWithout a command, imsrelay.exe runs as the Windows service %ls and must "
             L"be started by the Service Control Manager (net start %ls).\n",
             SVC_NAME_W, SVC_NAME_W);
    return to == stderr ? 2 : 0;
}

int wmain(int argc, wchar_t **argv); /* the entry point (-municode) */

int wmain(int argc, wchar_t **argv)
{
    if (argc < 2) {
        return svc_host_dispatch();
    }
    if (!wcscmp(argv[1], L"help") || !wcscmp(argv[1], L"/?") || !wcscmp(argv[1], L"--help") ||
        !wcscmp(argv[1], L"-h")) {
        return usage(stdout);
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (!_wcsicmp(argv[1], commands[i].name)) {
            return commands[i].run(argc - 1, argv + 1);
        }
    }
    fwprintf(stderr, L"imsrelay: unknown command \"%ls\"\n\n", argv[1]);
    return usage(stderr);
}
