/* Prints the configuration the Win32 reader builds from this machine's registry, one fact a
 * line, so a script can set values with `reg add` or `regedit /s` and compare:
 *   <Value> <state> <number>          a DWORD setting
 *   <Value> <state> <count>           a list, then "<Value>[<n>] <line>" for each line
 *   <Value> <state> <text>            MailRoot, SmtpHostName
 *   diag <severity> <Value> <line>: <message>
 * Arguments (optional): the Parameters key and the Tcpip\Parameters key, under HKLM. */
#include <windows.h>
#include <stdio.h>
#include <stdlib.h>

#include "config/reg_reader.h"
#include "settings.h"

static const char *state_name(regio_value_state state)
{
    switch (state) {
    case REGIO_VALUE_ABSENT:
        return "absent";
    case REGIO_VALUE_OK:
        return "ok";
    case REGIO_VALUE_COERCED:
        return "coerced";
    case REGIO_VALUE_UNREADABLE:
        return "unreadable";
    }
    return "?";
}

static void print_config(const regio_config *config)
{
    size_t count;
    const regio_setting *settings = regio_settings(&count);
    const char *base = (const char *)config;
    for (size_t i = 0; i < count; i++) {
        const regio_setting *s = &settings[i];
        switch (s->kind) {
        case REGIO_SETTING_DWORD: {
            const regio_dword *d = (const regio_dword *)(base + s->offset);
            printf("%s %s %lu\n", s->name, state_name(d->state), (unsigned long)d->value);
            break;
        }
        case REGIO_SETTING_LIST: {
            const regio_list *l = (const regio_list *)(base + s->offset);
            printf("%s %s %zu\n", s->name, state_name(l->state), l->count);
            for (size_t n = 0; n < l->count; n++) {
                printf("%s[%zu] %s\n", s->name, n + 1, l->lines[n]);
            }
            break;
        }
        case REGIO_SETTING_STRING: {
            const char *text = *(const char *const *)(base + s->offset);
            const regio_value_state *state = (const regio_value_state *)(base + s->state_offset);
            printf("%s %s %s\n", s->name, state_name(*state), text);
            break;
        }
        }
    }
}

int wmain(int argc, wchar_t **argv);

int wmain(int argc, wchar_t **argv)
{
    regio_diag_list diags;
    regio_diag_list_init(&diags);
    regio_config *config = argc >= 3 ? reg_reader_read_config_from(HKEY_LOCAL_MACHINE, argv[1],
                                                                   NULL, argv[2], &diags)
                                     : reg_reader_read_config(&diags);
    if (!config) {
        fprintf(stderr, "regio_dump: out of memory\n");
        return 2;
    }
    print_config(config);
    for (size_t i = 0; i < diags.count; i++) {
        const regio_diag *d = &diags.items[i];
        printf("diag %s %s %lu: %s\n", regio_severity_name(d->severity),
               d->value[0] ? d->value : "-", (unsigned long)d->line, d->message);
    }
    regio_config_free(config);
    regio_diag_list_free(&diags);
    return 0;
}
