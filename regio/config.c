#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "settings.h"
#include "value_decode.h"

#define PORTABLE_MAIL_ROOT "%ProgramData%\\imsrelay"
#define FALLBACK_HOST_NAME "localhost"

/* Heap blocks a configuration owns: two per list, one per string (each setting is applied
 * once at most), and the two default strings. */
#define OWNED_MAX (2 * IMS_SETTING_COUNT + 2)

/* The configuration and what it owns, in one allocation; `config` comes first so that
 * ims_config_free() finds the storage from the pointer it is given. */
typedef struct config_storage {
    ims_config config;
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

static ims_dword *dword_field(ims_config *config, const ims_setting *setting)
{
    return (ims_dword *)((char *)config + setting->offset);
}

static ims_list *list_field(ims_config *config, const ims_setting *setting)
{
    return (ims_list *)((char *)config + setting->offset);
}

static const char **string_field(ims_config *config, const ims_setting *setting)
{
    return (const char **)((char *)config + setting->offset);
}

static ims_value_state *string_state(ims_config *config, const ims_setting *setting)
{
    return (ims_value_state *)((char *)config + setting->state_offset);
}

static void apply_dword(ims_config *config, const ims_setting *setting, const ims_raw_value *raw,
                        ims_diag_list *diags)
{
    ims_dword *field = dword_field(config, setting);
    uint32_t value = 0;
    field->state = ims_decode_dword(raw, setting->name, &value, diags);
    if (field->state != IMS_VALUE_OK) {
        field->value = setting->fallback;
        if (setting->fallback != setting->default_value) {
            /* The error is already reported; this says what the service does about it. */
            ims_diag_add(diags, IMS_SEV_INFO, setting->name, 0, NULL, "taken as %lu, the safe side",
                         (unsigned long)setting->fallback);
        }
        return;
    }
    if (value < setting->min || value > setting->max) {
        ims_diag_add(diags, IMS_SEV_ERROR, setting->name, 0, NULL,
                     "is %lu, outside %lu..%lu: %lu is used instead", (unsigned long)value,
                     (unsigned long)setting->min, (unsigned long)setting->max,
                     (unsigned long)setting->fallback);
        field->state = IMS_VALUE_UNREADABLE;
        field->value = setting->fallback;
        return;
    }
    field->value = value;
}

static bool apply_list(config_storage *storage, const ims_setting *setting,
                       const ims_raw_value *raw, ims_diag_list *diags)
{
    ims_list *field = list_field(&storage->config, setting);
    ims_decoded_list decoded;
    ims_value_state state;
    if (!ims_decode_list(raw, setting->name, &decoded, &state, diags)) {
        return false;
    }
    own(storage, decoded.text);
    own(storage, (void *)decoded.lines);
    field->state = state;
    if (decoded.count > 0) {
        field->lines = decoded.lines;
        field->count = decoded.count;
    }
    return true;
}

static bool apply_string(config_storage *storage, const ims_setting *setting,
                         const ims_raw_value *raw, ims_diag_list *diags)
{
    char *text = NULL;
    ims_value_state state;
    if (!ims_decode_string(raw, setting->name, &text, &state, diags)) {
        return false;
    }
    own(storage, text);
    if (state == IMS_VALUE_OK && setting->check) {
        const char *reason = setting->check(text);
        if (reason) {
            ims_diag_add(diags, IMS_SEV_ERROR, setting->name, 0, text, "%s: not used", reason);
            state = IMS_VALUE_UNREADABLE;
        }
    }
    *string_state(&storage->config, setting) = state;
    if (state == IMS_VALUE_OK) {
        *string_field(&storage->config, setting) = text;
    } else {
        const char *current = *string_field(&storage->config, setting);
        ims_diag_add(diags, IMS_SEV_INFO, setting->name, 0, NULL, "the default is used: %s",
                     current[0] ? current : setting->default_text);
    }
    return true;
}

/* Unknown values are reported one by one up to this many, then counted: a key stuffed with
 * thousands of stray values must not flood the event log. */
#define UNKNOWN_REPORTS_MAX 32

static void report_unknown(const ims_raw_value *raw, size_t *unknown, ims_diag_list *diags)
{
    if (++*unknown > UNKNOWN_REPORTS_MAX) {
        return;
    }
    const char *name = raw->name ? raw->name : "";
    const ims_setting *near = ims_setting_near_miss(name);
    if (near) {
        ims_diag_add(diags, IMS_SEV_WARNING, name, 0, NULL,
                     "is not a value imsrelay reads (did you mean %s?): ignored", near->name);
    } else {
        ims_diag_add(diags, IMS_SEV_INFO, name, 0, NULL, "is not a value imsrelay reads: ignored");
    }
}

/* Every field at its documented default, as if the key were empty. */
static bool set_defaults(config_storage *storage, const ims_host_defaults *defaults,
                         ims_diag_list *diags)
{
    ims_config *config = &storage->config;
    size_t count;
    const ims_setting *settings = ims_settings(&count);
    for (size_t i = 0; i < count; i++) {
        const ims_setting *s = &settings[i];
        switch (s->kind) {
        case IMS_SETTING_DWORD:
            *dword_field(config, s) = (ims_dword){
                    .name = s->name, .state = IMS_VALUE_ABSENT, .value = s->default_value};
            break;
        case IMS_SETTING_LIST:
            *list_field(config, s) = (ims_list){
                    .name = s->name, .state = IMS_VALUE_ABSENT, .lines = no_lines, .count = 0};
            break;
        case IMS_SETTING_STRING:
            *string_state(config, s) = IMS_VALUE_ABSENT;
            break;
        }
    }

    const char *mail_root =
            defaults && defaults->mail_root ? defaults->mail_root : PORTABLE_MAIL_ROOT;
    const char *host_name = defaults && defaults->host_name ? defaults->host_name : "";
    const ims_setting *host_setting = ims_setting_find("SmtpHostName");
    if (host_name[0] != '\0' && host_setting->check(host_name)) {
        ims_diag_add(diags, IMS_SEV_WARNING, "SmtpHostName", 0, host_name,
                     "this computer's name %s: the default is %s instead",
                     host_setting->check(host_name), FALLBACK_HOST_NAME);
        host_name = FALLBACK_HOST_NAME;
    }
    config->mail_root = own_copy(storage, mail_root);
    config->host_name = own_copy(storage, host_name);
    return config->mail_root && config->host_name;
}

ims_config *ims_config_build_with_defaults(const ims_raw_value *values, size_t count,
                                           bool key_missing, const ims_host_defaults *defaults,
                                           ims_diag_list *diags)
{
    config_storage *storage = calloc(1, sizeof(*storage));
    if (!storage) {
        return NULL;
    }
    ims_config *config = &storage->config;
    if (!set_defaults(storage, defaults, diags)) {
        ims_config_free(config);
        return NULL;
    }
    if (key_missing) {
        ims_diag_add(diags, IMS_SEV_INFO, "", 0, NULL,
                     "the key HKLM\\" IMS_PARAMETERS_KEY
                     " does not exist: every value takes its default");
    }

    size_t setting_count;
    const ims_setting *settings = ims_settings(&setting_count);
    bool seen[IMS_SETTING_COUNT] = {false};
    size_t unknown = 0;
    for (size_t i = 0; i < count; i++) {
        const ims_raw_value *raw = &values[i];
        const ims_setting *setting = raw->name ? ims_setting_find(raw->name) : NULL;
        if (!setting) {
            report_unknown(raw, &unknown, diags);
            continue;
        }
        size_t index = (size_t)(setting - settings);
        if (seen[index]) {
            ims_diag_add(diags, IMS_SEV_ERROR, setting->name, 0, NULL,
                         "is given more than once: only the first is used");
            continue;
        }
        seen[index] = true;
        bool ok = true;
        switch (setting->kind) {
        case IMS_SETTING_DWORD:
            apply_dword(config, setting, raw, diags);
            break;
        case IMS_SETTING_LIST:
            ok = apply_list(storage, setting, raw, diags);
            break;
        case IMS_SETTING_STRING:
            ok = apply_string(storage, setting, raw, diags);
            break;
        }
        if (!ok) {
            ims_config_free(config);
            return NULL;
        }
    }

    if (unknown > UNKNOWN_REPORTS_MAX) {
        ims_diag_add(diags, IMS_SEV_INFO, "", 0, NULL,
                     "%zu more values that imsrelay does not read are ignored",
                     unknown - UNKNOWN_REPORTS_MAX);
    }
    if (config->relay_flags.state == IMS_VALUE_ABSENT) {
        /* A note only: the relay engine gives the policy-level warning for RelayFlags 0. */
        ims_diag_add(diags, IMS_SEV_INFO, "RelayFlags", 0, NULL,
                     "is absent, which means 0: no client may relay");
    }
    return config;
}

ims_config *ims_config_build(const ims_raw_value *values, size_t count, bool key_missing,
                             ims_diag_list *diags)
{
    return ims_config_build_with_defaults(values, count, key_missing, NULL, diags);
}

void ims_config_free(ims_config *config)
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
