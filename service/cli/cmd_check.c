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
#include "tls/tls_credentials.h"
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

/* The diagnostics in the order they are printed: grouped by the setting they are about,
 * then by line (a summary of a list's line warnings after its last line), in their own order
 * within a line. Each setting's group is walked once, in step with the lines printed, so
 * printing is linear in the diagnostics (a scan of them all per line was quadratic: 40,000
 * allow-list lines that each warn took seconds). */
typedef struct diag_index {
    const regio_diag_list *diags;
    bool *printed;
    size_t *order;                         /* indices into diags->items */
    size_t start[REGIO_SETTING_COUNT + 2]; /* group g is order[start[g]..start[g + 1]) */
    size_t cursor[REGIO_SETTING_COUNT + 1];
} diag_index;

#define AFTER_THE_LINES UINT64_MAX

/* The setting a diagnostic is about, or REGIO_SETTING_COUNT for none (unknown names). */
static size_t group_of(const char *value)
{
    size_t count;
    const regio_setting *settings = regio_settings(&count);
    const regio_setting *s = regio_setting_find(value);
    return s ? (size_t)(s - settings) : REGIO_SETTING_COUNT;
}

static uint64_t position_of(const regio_diag *d)
{
    return d->code == REGIO_DIAG_SUMMARY ? AFTER_THE_LINES : d->line;
}

static const diag_index *sorting; /* qsort has no context argument; the CLI has one thread */

static int by_position(const void *a, const void *b)
{
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    const regio_diag *x = &sorting->diags->items[i], *y = &sorting->diags->items[j];
    uint64_t px = position_of(x), py = position_of(y);
    if (px != py) {
        return px < py ? -1 : 1;
    }
    return i < j ? -1 : i > j; /* stable: their own order within a line */
}

static bool diag_index_build(diag_index *ix, const regio_diag_list *diags)
{
    memset(ix, 0, sizeof(*ix));
    ix->diags = diags;
    ix->printed = calloc(diags->count + 1, sizeof(bool));
    ix->order = calloc(diags->count + 1, sizeof(size_t));
    size_t *groups = calloc(diags->count + 1, sizeof(size_t));
    if (!ix->printed || !ix->order || !groups) {
        free(groups);
        return false;
    }
    /* Counting sort by group, then each group by position. */
    size_t sizes[REGIO_SETTING_COUNT + 1] = {0};
    for (size_t i = 0; i < diags->count; i++) {
        groups[i] = group_of(diags->items[i].value);
        sizes[groups[i]]++;
    }
    for (size_t g = 0; g <= REGIO_SETTING_COUNT; g++) {
        ix->start[g + 1] = ix->start[g] + sizes[g];
        ix->cursor[g] = ix->start[g];
    }
    size_t fill[REGIO_SETTING_COUNT + 1];
    memcpy(fill, ix->start, sizeof(fill));
    for (size_t i = 0; i < diags->count; i++) {
        ix->order[fill[groups[i]]++] = i;
    }
    free(groups);
    sorting = ix;
    for (size_t g = 0; g <= REGIO_SETTING_COUNT; g++) {
        qsort(ix->order + ix->start[g], sizes[g], sizeof(size_t), by_position);
    }
    sorting = NULL;
    return true;
}

static void diag_index_free(diag_index *ix)
{
    free(ix->printed);
    free(ix->order);
}

/* Prints the diagnostics about value at this position (a line, 0 for the value as a whole,
 * AFTER_THE_LINES for summaries). Positions must be asked for in increasing order per value;
 * whatever is skipped is printed at the end with the diagnostics about no known value. */
static void print_diags_for(diag_index *ix, const char *value, uint64_t position)
{
    size_t g = group_of(value);
    if (g == REGIO_SETTING_COUNT) {
        return;
    }
    size_t *c = &ix->cursor[g];
    while (*c < ix->start[g + 1] && position_of(&ix->diags->items[ix->order[*c]]) < position) {
        (*c)++;
    }
    while (*c < ix->start[g + 1] && position_of(&ix->diags->items[ix->order[*c]]) == position) {
        print_diag(&ix->diags->items[ix->order[*c]]);
        ix->printed[ix->order[*c]] = true;
        (*c)++;
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

/* Values come from Parameters unless the policy key has them (docs/design.md, "Group
 * Policy"); an absent value says "(absent: default)". */
static const regio_config *printed_config;

static const char *source_words(const char *name)
{
    return regio_config_source(printed_config, name) == REGIO_SOURCE_POLICY
                   ? " (from the policy key)"
                   : "";
}

static void print_list(const regio_list *list, diag_index *ix, const char *absent_meaning)
{
    size_t rules = 0;
    for (size_t i = 0; i < list->count; i++) {
        const char *t = list->lines[i] + strspn(list->lines[i], " \t");
        rules += *t && *t != '#';
    }
    if (list->state == REGIO_VALUE_ABSENT || list->count == 0) {
        printf("%s: %s%s%s\n", list->name, absent_meaning, state_words(list->state),
               source_words(list->name));
    } else {
        printf("%s: %zu line%s, %zu not blank or comment%s%s\n", list->name, list->count,
               list->count == 1 ? "" : "s", rules, state_words(list->state),
               source_words(list->name));
    }
    print_diags_for(ix, list->name, 0);
    for (size_t i = 0; i < list->count; i++) {
        const char *t = list->lines[i] + strspn(list->lines[i], " \t");
        if (*t) {
            printf("%s line %zu: %s\n", list->name, i + 1, list->lines[i]);
        }
        print_diags_for(ix, list->name, (uint64_t)i + 1);
    }
    print_diags_for(ix, list->name, AFTER_THE_LINES);
}

static void print_flags(const regio_config *config, const relay_policy *policy, diag_index *ix)
{
    const regio_dword *f = &config->relay_flags;
    char words[512];
    relay_policy_describe(policy, words, sizeof(words));
    if (f->state == REGIO_VALUE_ABSENT) {
        printf("RelayFlags: absent\n");
    } else {
        printf("RelayFlags: %u%s%s\n", f->value, state_words(f->state), source_words("RelayFlags"));
    }
    print_diags_for(ix, "RelayFlags", 0);
    printf("effective rules: %s\n", words);
    printf("IPEnableRouter: %u (IP forwarding %s)%s\n", config->ip_enable_router.value,
           config->ip_enable_router.value == 1 ? "on" : "off",
           state_words(config->ip_enable_router.state));
    print_diags_for(ix, "IPEnableRouter", 0);
}

static void print_setting(const regio_config *config, const regio_setting *s, diag_index *ix)
{
    const char *base = (const char *)config;
    switch (s->kind) {
    case REGIO_SETTING_DWORD: {
        const regio_dword *d = (const regio_dword *)(base + s->offset);
        printf("%s: %u%s%s\n", s->name, d->value, state_words(d->state), source_words(s->name));
        print_diags_for(ix, s->name, 0);
        break;
    }
    case REGIO_SETTING_STRING: {
        const char *text = *(const char *const *)(base + s->offset);
        regio_value_state state = *(const regio_value_state *)(base + s->state_offset);
        printf("%s: %s%s%s\n", s->name, text && *text ? text : "(none)", state_words(state),
               source_words(s->name));
        print_diags_for(ix, s->name, 0);
        break;
    }
    case REGIO_SETTING_LIST:
        print_list((const regio_list *)(base + s->offset), ix, s->default_text);
        break;
    }
}

static bool is_relay_setting(const char *name)
{
    return !_stricmp(name, "RelayFlags") || !_stricmp(name, "IPEnableRouter") ||
           !_stricmp(name, "RelayDenyList") || !_stricmp(name, "RelayAllowList") ||
           !_stricmp(name, "RelayLocalIPList");
}

/* Whether the service would offer STARTTLS, with the certificate it would serve: the same
 * lookup the service makes at start and reload. Without one, a warning when RelayFlags lets
 * authenticated clients relay and AUTH is allowed only inside TLS (no client could then
 * authenticate); otherwise a note. Returns the warnings printed (0 or 1). */
static size_t check_tls(const regio_config *config)
{
    char why[256] = "TlsCertificate is not valid";
    struct tls_credentials *credentials = NULL;
    if (config->tls_certificate_state != REGIO_VALUE_UNREADABLE) {
        const char *selector =
                config->tls_certificate[0] ? config->tls_certificate : config->host_name;
        credentials = tls_credentials_from_store(selector, why, sizeof(why));
    }
    if (!credentials) {
        bool auth_lost = (config->relay_flags.value & 8) && config->auth_without_tls.value == 0;
        printf("STARTTLS: %snot offered: %s (`imsrelay.exe install` makes a self-signed "
               "certificate for SmtpHostName)%s\n",
               auth_lost ? "warning: " : "", why,
               auth_lost ? "; RelayFlags bit 4 lets authenticated clients relay, but AUTH is "
                           "accepted only inside TLS"
                         : "");
        return auth_lost ? 1 : 0;
    }
    printf("STARTTLS: offered with %s\n", tls_credentials_describe(credentials));
    tls_credentials_free(credentials);
    return 0;
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
    /* Thousands of warnings of one kind print as the first hundred and a count. */
    regio_diag_list shown;
    regio_diag_list_init(&shown);
    regio_diag_list_summarize(&live.diags, REGIO_DIAG_SUMMARY_KEEP, &shown);
    diag_index ix;
    if (!diag_index_build(&ix, &shown)) {
        fputs("imsrelay: out of memory\n", stderr);
        diag_index_free(&ix);
        regio_diag_list_free(&shown);
        live_config_free(&live);
        return 2;
    }
    const regio_diag_list *diags = &live.diags;

    printed_config = config;
    printf("key: HKLM\\%s\n", IDENTITY_PARAMETERS_KEY);
    size_t from_policy = 0;
    size_t count = 0;
    const regio_setting *settings = regio_settings(&count);
    for (size_t i = 0; i < count; i++) {
        from_policy += config->sources[i] == REGIO_SOURCE_POLICY;
    }
    printf("policy key: HKLM\\%s: %zu value%s in force%s\n", IDENTITY_POLICY_KEY, from_policy,
           from_policy == 1 ? "" : "s",
           from_policy ? " (marked \"from the policy key\"; they win over Parameters, whose "
                         "values are unmarked)"
                       : "");
    print_flags(config, policy, &ix);
    print_list(&config->relay_deny_list, &ix, "empty");
    print_list(&config->relay_allow_list, &ix, "empty");
    print_list(&config->relay_local_ip_list, &ix, "empty");
    for (size_t i = 0; i < count; i++) {
        if (!is_relay_setting(settings[i].name)) {
            print_setting(config, &settings[i], &ix);
        }
    }
    /* Whatever was about no known value (unknown names, the key as a whole). */
    for (size_t i = 0; i < shown.count; i++) {
        if (!ix.printed[i]) {
            print_diag(&shown.items[i]);
        }
    }
    size_t volume_warnings = check_volumes_warn(config->mail_root) + check_tls(config);
    size_t errors = regio_diag_count(diags, REGIO_SEV_ERROR);
    size_t warnings = regio_diag_count(diags, REGIO_SEV_WARNING) - errors + volume_warnings;
    printf("result: %s, %zu error%s, %zu warning%s\n", errors ? "invalid" : "valid", errors,
           errors == 1 ? "" : "s", warnings, warnings == 1 ? "" : "s");
    diag_index_free(&ix);
    regio_diag_list_free(&shown);
    live_config_free(&live);
    return errors ? 1 : 0;
}
