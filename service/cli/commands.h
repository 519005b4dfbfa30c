/* The commands of imsrelay.exe. One line per command: X(function suffix, name, usage line).
 * Adding a command is adding its line here and writing `int cmd_<suffix>(int argc,
 * wchar_t **argv)` (argv[0] is the command name; returns the process exit code). Without a
 * command, imsrelay.exe is the service and expects to be started by the SCM. */
#ifndef IMSRELAY_COMMANDS_H
#define IMSRELAY_COMMANDS_H

#include <wchar.h>

#define IMSRELAY_COMMANDS(X)                                                                       \
    X(run, L"run", L"run the server in the foreground, events on the console; Ctrl+C stops")       \
    X(install, L"install", L"install (or repair) the service and its event source; idempotent")    \
    X(uninstall, L"uninstall", L"remove the service and event source; Parameters saved as .reg")   \
    X(reload, L"reload", L"make the running service reload its configuration (PARAMCHANGE)")       \
    X(check, L"check", L"read the configuration and print it, its errors and warnings")            \
    X(explain, L"explain",                                                                         \
      L"CLIENT_IP [--local IP] [--auth ACCOUNT] [RECIPIENT]: decision, route")                     \
    X(user, L"user", L"add, remove or list the accounts SMTP AUTH accepts")                        \
    X(policy, L"policy", L"show | export FILE.pol: the Group Policy key; this server as a .pol")   \
    X(queue, L"queue", L"[show ID | retry ID|--all | delete ID]: the delivery queue")              \
    X(smarthost, L"smarthost",                                                                     \
      L"show | password [--password-stdin|--clear]: the smart host login")                         \
    X(version, L"version", L"print the version of imsrelay.exe")

#define IMSRELAY_DECLARE_COMMAND(suffix, name, usage) int cmd_##suffix(int argc, wchar_t **argv);
IMSRELAY_COMMANDS(IMSRELAY_DECLARE_COMMAND)
#undef IMSRELAY_DECLARE_COMMAND

#endif
