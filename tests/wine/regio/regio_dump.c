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

#include "reg_reader_win32.h"
#include "settings.h"

static const char *state_name(ims_value_state state)
{
    switch (state) {
    case IMS_VALUE_ABSENT:
        return "absent";
    case IMS_VALUE_OK:
        return "ok";
    case IMS_VALUE_COERCED:
        return "coerced";
    case IMS_VALUE_UNREADABLE:
        return "unreadable";
    }
    return "?";
}

static void print_config(const ims_config *config)
{
    size_t count;
    const ims_setting *settings = ims_settings(&count);
    const char *base = (const char *)config;
    for (size_t i = 0; i < count; i++) {
        const ims_setting *s = &settings[i];
        switch (s->kind) {
        case IMS_SETTING_DWORD: {
            const ims_dword *d = (const ims_dword *)(base + s->offset);
            printf("%s %s %lu\n", s->name, state_name(d->state), (unsigned long)d->value);
            break;
        }
        case IMS_SETTING_LIST: {
            const ims_list *l = (const ims_list *)(base + s->offset);
            printf("%s %s %zu\n", s->name, state_name(l->state), l->count);
            for (size_t n = 0; n < l->count; n++) {
                printf("%s[%zu] %s\n", s->name, n + 1, l->lines[n]);
            }
            break;
        }
        case IMS_SETTING_STRING: {
            const char *text = *(const char *const *)(base + s->offset);
            const ims_value_state *state = (const ims_value_state *)(base + s->state_offset);
            printf("%s %s %s\n", s->name, state_name(*state), text);
            break;
        }
        }
    }
}

int wmain(int argc, wchar_t **argv);

int wmain(int argc, wchar_t **argv)
{
    ims_diag_list diags;
    ims_diag_list_init(&diags);
    ims_config *config =
            argc >= 3 ? ims_registry_read_config_from(HKEY_LOCAL_MACHINE, argv[1], argv[2], &diags)
                      : ims_registry_read_config(&diags);
    if (!config) {
        fprintf(stderr, "regio_dump: out of memory\n");
        return 2;
    }
    print_config(config);
    for (size_t i = 0; i < diags.count; i++) {
        const ims_diag *d = &diags.items[i];
        printf("diag %s %s %lu: %s\n", ims_severity_name(d->severity), d->value[0] ? d->value : "-",
               (unsigned long)d->line, d->message);
    }
    ims_config_free(config);
    ims_diag_list_free(&diags);
    return 0;
}
