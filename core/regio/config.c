#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "identity.h"
#include "settings.h"
#include "value_decode.h"

#define FALLBACK_HOST_NAME "localhost"

/* Heap blocks a configuration owns: two per list, one per string (each setting is applied
 * once at most), and the two default strings. */
#define OWNED_MAX (2 * REGIO_SETTING_COUNT + 2)

/* The configuration and what it owns, in one allocation; `config` comes first so that
 * regio_config_free() finds the storage from the pointer it is given. */
typedef struct config_storage {
    regio_config config;
    void *owned[OWNED_MAX];
    size_t owned_count;
} config_storage;

static const char *const no_lines[1] = {NULL};

static void *own(config_storage *storage, void *block)
{
    if (block && storage->owned_count < OWNED_MAX) {
        storage->owned[storage->owned_count++] = block;
    }
    return block;
}

static char *own_copy(config_storage *storage, const char *text)
{
    size_t len = strlen(text);
    char *copy = malloc(len + 1);
    if (copy) {
        memcpy(copy, text, len + 1);
    }
    return own(storage, copy);
}

static regio_dword *dword_field(regio_config *config, const regio_setting *setting)
{
    return (regio_dword *)((char *)config + setting->offset);
}

static regio_list *list_field(regio_config *config, const regio_setting *setting)
{
    return (regio_list *)((char *)config + setting->offset);
}

static const char **string_field(regio_config *config, const regio_setting *setting)
{
    return (const char **)((char *)config + setting->offset);
}

static regio_value_state *string_state(regio_config *config, const regio_setting *setting)
{
    return (regio_value_state *)((char *)config + setting->state_offset);
}

static void apply_dword(regio_config *config, const regio_setting *setting,
                        const regio_raw_value *raw, regio_diag_list *diags)
{
    regio_dword *field = dword_field(config, setting);
    uint32_t value = 0;
    field->state = regio_decode_dword(raw, setting->name, &value, diags);
    if (field->state != REGIO_VALUE_OK) {
        field->value = setting->fallback;
        if (setting->fallback != setting->default_value) {
            /* The error is already reported; this says what the service does about it. */
            regio_diag_add(diags, REGIO_SEV_INFO, setting->name, 0, NULL,
                           "taken as %lu, the safe side", (unsigned long)setting->fallback);
        }
        return;
    }
    if (value < setting->min || value > setting->max) {
        regio_diag_add(diags, REGIO_SEV_ERROR, setting->name, 0, NULL,
                       "is %lu, outside %lu..%lu: %lu is used instead", (unsigned long)value,
                       (unsigned long)setting->min, (unsigned long)setting->max,
                       (unsigned long)setting->fallback);
        field->state = REGIO_VALUE_UNREADABLE;
        field->value = setting->fallback;
        return;
    }
    field->value = value;
}

/* A line that says something: not blank, not a comment. */
static bool has_rule(const regio_decoded_list *decoded)
{
    for (size_t i = 0; i < decoded->count; i++) {
        const char *p = decoded->lines[i];
        while (*p == ' ' || *p == '\t') {
            p++;
        }
        if (*p != '\0' && *p != '#') {
            return true;
        }
    }
    return false;
}

/* A list that has bytes but not one rule is almost never meant: 16 MiB of NUL bytes read as
 * an empty list, and an empty RelayDenyList under RelayFlags 1 lets every client relay. An
 * empty list is at most two UTF-16 NULs (4 bytes). */
static void warn_if_no_rules(const regio_setting *setting, const regio_raw_value *raw,
                             const regio_decoded_list *decoded, regio_diag_list *diags)
{
    if (raw->size <= 4 || has_rule(decoded)) {
        return;
    }
    bool deny = strcmp(setting->name, "RelayDenyList") == 0;
    regio_diag_add(diags, REGIO_SEV_WARNING, setting->name, 0, NULL,
                   "has %zu bytes but not one rule (only blank lines, comments or NUL bytes): "
                   "it is read as empty%s",
                   raw->size,
                   deny ? ", so it denies no client; under RelayFlags 1 every client may relay"
                        : "");
}

static bool apply_list(config_storage *storage, const regio_setting *setting,
                       const regio_raw_value *raw, regio_diag_list *diags)
{
    regio_list *field = list_field(&storage->config, setting);
    regio_decoded_list decoded;
    regio_value_state state;
    if (!regio_decode_list(raw, setting->name, &decoded, &state, diags)) {
        return false;
    }
    own(storage, decoded.text);
    own(storage, (void *)decoded.lines);
    warn_if_no_rules(setting, raw, &decoded, diags);
    field->state = state;
    if (decoded.count > 0) {
        field->lines = decoded.lines;
        field->count = decoded.count;
    }
    /* Lines that fail the setting's check are reported; their users skip them. */
    for (size_t i = 0; setting->check && i < field->count; i++) {
        const char *line = field->lines[i] + strspn(field->lines[i], " \t");
        if (*line == '\0' || *line == '#') {
            continue;
        }
        const char *reason = setting->check(field->lines[i]);
        if (reason) {
            regio_diag_add(diags, REGIO_SEV_ERROR, setting->name, (uint32_t)(i + 1),
                           field->lines[i], "%s: line skipped", reason);
        }
    }
    return true;
}

static bool apply_string(config_storage *storage, const regio_setting *setting,
                         const regio_raw_value *raw, regio_diag_list *diags)
{
    char *text = NULL;
    regio_value_state state;
    if (setting->empty_allowed && raw->type == REGIO_REG_SZ && !raw->unreadable &&
        (raw->size < 2 ||
         (raw->size == 2 && raw->data && raw->data[0] == 0 && raw->data[1] == 0))) {
        /* An empty REG_SZ (or one holding only its terminator) is the value "none". */
        *string_state(&storage->config, setting) = REGIO_VALUE_OK;
        *string_field(&storage->config, setting) = "";
        return true;
    }
    if (!regio_decode_string(raw, setting->name, &text, &state, diags)) {
        return false;
    }
    own(storage, text);
    if (state == REGIO_VALUE_OK && setting->check) {
        const char *reason = setting->check(text);
        if (reason) {
            regio_diag_add(diags, REGIO_SEV_ERROR, setting->name, 0, text, "%s: not used", reason);
            state = REGIO_VALUE_UNREADABLE;
        }
    }
    *string_state(&storage->config, setting) = state;
    if (state == REGIO_VALUE_OK) {
        *string_field(&storage->config, setting) = text;
    } else {
        const char *current = *string_field(&storage->config, setting);
        regio_diag_add(diags, REGIO_SEV_INFO, setting->name, 0, NULL, "the default is used: %s",
                       current[0] ? current : setting->default_text);
    }
    return true;
}

/* Unknown values are reported one by one up to this many, then counted: a key stuffed with
 * thousands of stray values must not flood the event log. */
#define UNKNOWN_REPORTS_MAX 32

static void report_unknown(const regio_raw_value *raw, size_t *unknown, regio_diag_list *diags)
{
    if (++*unknown > UNKNOWN_REPORTS_MAX) {
        return;
    }
    const char *name = raw->name ? raw->name : "";
    const regio_setting *near = regio_setting_near_miss(name);
    if (near) {
        regio_diag_add(diags, REGIO_SEV_WARNING, name, 0, NULL,
                       "is not a value imsrelay reads (did you mean %s?): ignored", near->name);
    } else {
        regio_diag_add(diags, REGIO_SEV_INFO, name, 0, NULL,
                       "is not a value imsrelay reads: ignored");
    }
}

/* Every field at its documented default, as if the key were empty. */
static bool set_defaults(config_storage *storage, const regio_host_defaults *defaults,
                         regio_diag_list *diags)
{
    regio_config *config = &storage->config;
    size_t count;
    const regio_setting *settings = regio_settings(&count);
    for (size_t i = 0; i < count; i++) {
        const regio_setting *s = &settings[i];
        switch (s->kind) {
        case REGIO_SETTING_DWORD:
            *dword_field(config, s) = (regio_dword){
                    .name = s->name, .state = REGIO_VALUE_ABSENT, .value = s->default_value};
            break;
        case REGIO_SETTING_LIST:
            *list_field(config, s) = (regio_list){
                    .name = s->name, .state = REGIO_VALUE_ABSENT, .lines = no_lines, .count = 0};
            break;
        case REGIO_SETTING_STRING:
            *string_state(config, s) = REGIO_VALUE_ABSENT;
            if (s->string_default) {
                *string_field(config, s) = s->string_default;
            }
            break;
        }
    }

    const char *mail_root =
            defaults && defaults->mail_root ? defaults->mail_root : IDENTITY_DEFAULT_MAIL_ROOT;
    const char *host_name = defaults && defaults->host_name ? defaults->host_name : "";
    const regio_setting *host_setting = regio_setting_find("SmtpHostName");
    if (host_name[0] != '\0' && host_setting->check(host_name)) {
        regio_diag_add(diags, REGIO_SEV_WARNING, "SmtpHostName", 0, host_name,
                       "this computer's name %s: the default is %s instead",
                       host_setting->check(host_name), FALLBACK_HOST_NAME);
        host_name = FALLBACK_HOST_NAME;
    }
    config->mail_root = own_copy(storage, mail_root);
    config->host_name = own_copy(storage, host_name);
    return config->mail_root && config->host_name;
}

regio_config *regio_config_build_with_defaults(const regio_raw_value *values, size_t count,
                                               bool key_missing,
                                               const regio_host_defaults *defaults,
                                               regio_diag_list *diags)
{
    config_storage *storage = calloc(1, sizeof(*storage));
    if (!storage) {
        return NULL;
    }
    regio_config *config = &storage->config;
    if (!set_defaults(storage, defaults, diags)) {
        regio_config_free(config);
        return NULL;
    }
    if (key_missing) {
        regio_diag_add(diags, REGIO_SEV_INFO, "", 0, NULL,
                       "the key HKLM\\" IDENTITY_PARAMETERS_KEY
                       " does not exist: every value takes its default");
    }

    size_t setting_count;
    const regio_setting *settings = regio_settings(&setting_count);
    /* The value each setting takes: the first from the policy key, else the first from
     * Parameters. */
    size_t winner[REGIO_SETTING_COUNT];
    bool has_policy[REGIO_SETTING_COUNT] = {false}, has_parameters[REGIO_SETTING_COUNT] = {false};
    size_t unknown = 0;
    for (size_t i = 0; i < count; i++) {
        const regio_raw_value *raw = &values[i];
        const regio_setting *setting = raw->name ? regio_setting_find(raw->name) : NULL;
        if (!setting) {
            report_unknown(raw, &unknown, diags);
            continue;
        }
        size_t index = (size_t)(setting - settings);
        bool *has = raw->from_policy ? has_policy : has_parameters;
        if (has[index]) {
            regio_diag_add(diags, REGIO_SEV_ERROR, setting->name, 0, NULL,
                           "is given more than once%s: only the first is used",
                           raw->from_policy ? " in the policy key" : "");
            continue;
        }
        has[index] = true;
        if (raw->from_policy || !has_policy[index]) {
            winner[index] = i;
        }
    }
    for (size_t index = 0; index < setting_count; index++) {
        if (!has_policy[index] && !has_parameters[index]) {
            continue;
        }
        const regio_setting *setting = &settings[index];
        if (has_policy[index] && has_parameters[index]) {
            regio_diag_add_code(
                    diags, REGIO_DIAG_SHADOWED_BY_POLICY, REGIO_SEV_WARNING, setting->name, 0, NULL,
                    "is set in Parameters and in the policy key HKLM\\" IDENTITY_POLICY_KEY
                    ": the policy's value is used, the Parameters value is not");
        }
        const regio_raw_value *raw = &values[winner[index]];
        config->sources[index] = raw->from_policy ? REGIO_SOURCE_POLICY : REGIO_SOURCE_PARAMETERS;
        bool ok = true;
        switch (setting->kind) {
        case REGIO_SETTING_DWORD:
            apply_dword(config, setting, raw, diags);
            break;
        case REGIO_SETTING_LIST:
            ok = apply_list(storage, setting, raw, diags);
            break;
        case REGIO_SETTING_STRING:
            ok = apply_string(storage, setting, raw, diags);
            break;
        }
        if (!ok) {
            regio_config_free(config);
            return NULL;
        }
    }

    if (unknown > UNKNOWN_REPORTS_MAX) {
        regio_diag_add(diags, REGIO_SEV_INFO, "", 0, NULL,
                       "%zu more values that imsrelay does not read are ignored",
                       unknown - UNKNOWN_REPORTS_MAX);
    }
    if (config->auth_without_tls.value == 1) {
        regio_diag_add(diags, REGIO_SEV_WARNING, "AuthWithoutTls", 0, NULL,
                       "is 1: AUTH is accepted outside TLS, so passwords may cross the network "
                       "in clear; set it to 0 once every client uses STARTTLS");
    }
    if (config->relay_flags.state == REGIO_VALUE_ABSENT) {
        /* A note only: the relay engine gives the policy-level warning for RelayFlags 0. */
        regio_diag_add(diags, REGIO_SEV_INFO, "RelayFlags", 0, NULL,
                       "is absent, which means 0: no client may relay");
    }
    if (config->smart_host_account[0] != '\0' && config->smart_host_tls.value == 0) {
        /* The password is never sent in clear: this combination keeps smart-host mail queued. */
        regio_diag_add(diags, REGIO_SEV_WARNING, "SmartHostAccount", 0, NULL,
                       "is set while SmartHostTls is 0: the password is sent only inside TLS, "
                       "so mail for the smart host stays queued");
    }
    return config;
}

regio_config *regio_config_build(const regio_raw_value *values, size_t count, bool key_missing,
                                 regio_diag_list *diags)
{
    return regio_config_build_with_defaults(values, count, key_missing, NULL, diags);
}

void regio_config_note_sources(const regio_config *config, regio_diag_list *diags, size_t from)
{
    for (size_t i = from; i < diags->count; i++) {
        regio_diag *d = &diags->items[i];
        if (d->code != REGIO_DIAG_SHADOWED_BY_POLICY && d->value[0] &&
            regio_config_source(config, d->value) == REGIO_SOURCE_POLICY) {
            size_t len = strlen(d->message);
            snprintf(d->message + len, sizeof(d->message) - len,
                     " (the value is the policy key's, HKLM\\" IDENTITY_POLICY_KEY ")");
        }
    }
}

regio_source regio_config_source(const regio_config *config, const char *name)
{
    size_t count;
    const regio_setting *settings = regio_settings(&count);
    const regio_setting *setting = regio_setting_find(name);
    return setting ? config->sources[setting - settings] : REGIO_SOURCE_DEFAULT;
}

const char *regio_source_name(regio_source source)
{
    switch (source) {
    case REGIO_SOURCE_POLICY:
        return "policy";
    case REGIO_SOURCE_PARAMETERS:
        return "Parameters";
    case REGIO_SOURCE_DEFAULT:
        break;
    }
    return "default";
}

void regio_config_free(regio_config *config)
{
    if (!config) {
        return;
    }
    config_storage *storage = (config_storage *)config;
    for (size_t i = 0; i < storage->owned_count; i++) {
        free(storage->owned[i]);
    }
    free(storage);
}
