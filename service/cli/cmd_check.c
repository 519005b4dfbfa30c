/* imsrelay.exe check: reads the configuration from the registry, as the service would, and
 * prints what an administrator wants to read before restarting or reloading: the effective
 * rules in words, each list with its lines and their problems, every setting with its
 * value, and advice. One fact a line, stable enough to grep.
 * Exit 0: valid (warnings allowed); 1: errors; 2: usage. */
#include <windows.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "identity.h"
#include "cli/commands.h"
#include "config.h"
#include "cli/check_volumes.h"
#include "diag.h"
#include "config/live_config.h"
#include "relay_lint.h"
#include "relay_policy.h"
#include "settings.h"

static void print_diag(const regio_diag *d)
{
    if (d->line) {
        printf("%s line %u: %s: %s\n", d->value, d->line, regio_severity_name(d->severity),
               d->message);
    } else if (d->value[0]) {
        printf("%s: %s: %s\n", d->value, regio_severity_name(d->severity), d->message);
    } else {
        printf("%s: %s\n", regio_severity_name(d->severity), d->message);
    }
}

/* Prints the diagnostics about value (and line, when line > 0) not printed yet. */
static void print_diags_for(const regio_diag_list *diags, bool *printed, const char *value,
                            uint32_t line)
{
    for (size_t i = 0; i < diags->count; i++) {
        const regio_diag *d = &diags->items[i];
        if (!printed[i] && d->line == line && !_stricmp(d->value, value)) {
            print_diag(d);
            printed[i] = true;
        }
    }
}

static const char *state_words(regio_value_state state)
{
    switch (state) {
    case REGIO_VALUE_ABSENT:
        return " (absent: default)";
    case REGIO_VALUE_COERCED:
        return " (not of its documented type: read anyway, see the warning)";
    case REGIO_VALUE_UNREADABLE:
        return " (unreadable: see the error)";
    case REGIO_VALUE_OK:
        break;
    }
    return "";
}

static void print_list(const regio_list *list, const regio_diag_list *diags, bool *printed,
                       const char *absent_meaning)
{
    size_t rules = 0;
    for (size_t i = 0; i < list->count; i++) {
        const char *t = list->lines[i] + strspn(list->lines[i], " \t");
        rules += *t && *t != '#';
    }
    if (list->state == REGIO_VALUE_ABSENT || list->count == 0) {
        printf("%s: %s%s\n", list->name, absent_meaning, state_words(list->state));
    } else {
        printf("%s: %zu line%s, %zu not blank or comment%s\n", list->name, list->count,
               list->count == 1 ? "" : "s", rules, state_words(list->state));
    }
    print_diags_for(diags, printed, list->name, 0);
    for (size_t i = 0; i < list->count; i++) {
        const char *t = list->lines[i] + strspn(list->lines[i], " \t");
        if (*t) {
            printf("%s line %zu: %s\n", list->name, i + 1, list->lines[i]);
        }
        print_diags_for(diags, printed, list->name, (uint32_t)(i + 1));
    }
}

static void print_flags(const regio_config *config, const relay_policy *policy,
                        const regio_diag_list *diags, bool *printed)
{
    const regio_dword *f = &config->relay_flags;
    char words[512];
    relay_policy_describe(policy, words, sizeof(words));
    if (f->state == REGIO_VALUE_ABSENT) {
        printf("RelayFlags: absent\n");
    } else {
        printf("RelayFlags: %u%s\n", f->value, state_words(f->state));
    }
    print_diags_for(diags, printed, "RelayFlags", 0);
    printf("effective rules: %s\n", words);
    printf("IPEnableRouter: %u (IP forwarding %s)%s\n", config->ip_enable_router.value,
           config->ip_enable_router.value == 1 ? "on" : "off",
           state_words(config->ip_enable_router.state));
    print_diags_for(diags, printed, "IPEnableRouter", 0);
}

static void print_setting(const regio_config *config, const regio_setting *s,
                          const regio_diag_list *diags, bool *printed)
{
    const char *base = (const char *)config;
    switch (s->kind) {
    case REGIO_SETTING_DWORD: {
        const regio_dword *d = (const regio_dword *)(base + s->offset);
        printf("%s: %u%s\n", s->name, d->value, state_words(d->state));
        print_diags_for(diags, printed, s->name, 0);
        break;
    }
    case REGIO_SETTING_STRING: {
        const char *text = *(const char *const *)(base + s->offset);
        regio_value_state state = *(const regio_value_state *)(base + s->state_offset);
        printf("%s: %s%s\n", s->name, text && *text ? text : "(none)", state_words(state));
        print_diags_for(diags, printed, s->name, 0);
        break;
    }
    case REGIO_SETTING_LIST:
        print_list((const regio_list *)(base + s->offset), diags, printed, s->default_text);
        break;
    }
}

static bool is_relay_setting(const char *name)
{
    return !_stricmp(name, "RelayFlags") || !_stricmp(name, "IPEnableRouter") ||
           !_stricmp(name, "RelayDenyList") || !_stricmp(name, "RelayAllowList") ||
           !_stricmp(name, "RelayLocalIPList");
}

int cmd_check(int argc, wchar_t **argv)
{
    (void)argv;
    if (argc != 1) {
        fputs("usage: imsrelay.exe check\n", stderr);
        return 2;
    }
    SetConsoleOutputCP(CP_UTF8);
    live_config live;
    if (!live_config_read(&live)) {
        fputs("imsrelay: out of memory reading the configuration\n", stderr);
        return 2;
    }
    const regio_config *config = live.config;
    const relay_policy *policy = live.policy;
    relay_policy_lint(policy, &live.diags);
    const regio_diag_list *diags = &live.diags;
    bool *printed = calloc(diags->count + 1, sizeof(bool));
    if (!printed) {
        fputs("imsrelay: out of memory\n", stderr);
        live_config_free(&live);
        return 2;
    }

    printf("key: HKLM\\%s\n", IDENTITY_PARAMETERS_KEY);
    print_flags(config, policy, diags, printed);
    print_list(&config->relay_deny_list, diags, printed, "empty");
    print_list(&config->relay_allow_list, diags, printed, "empty");
    print_list(&config->relay_local_ip_list, diags, printed, "empty");
    size_t count = 0;
    const regio_setting *settings = regio_settings(&count);
    for (size_t i = 0; i < count; i++) {
        if (!is_relay_setting(settings[i].name)) {
            print_setting(config, &settings[i], diags, printed);
        }
    }
    /* Whatever was about no known value (unknown names, the key as a whole). */
    for (size_t i = 0; i < diags->count; i++) {
        if (!printed[i]) {
            print_diag(&diags->items[i]);
        }
    }
    size_t volume_warnings = check_volumes_warn(config->mail_root);
    size_t errors = regio_diag_count(diags, REGIO_SEV_ERROR);
    size_t warnings = regio_diag_count(diags, REGIO_SEV_WARNING) - errors + volume_warnings;
    printf("result: %s, %zu error%s, %zu warning%s\n", errors ? "invalid" : "valid", errors,
           errors == 1 ? "" : "s", warnings, warnings == 1 ? "" : "s");
    free(printed);
    live_config_free(&live);
    return errors ? 1 : 0;
}
