/* The registry contract as data: one row per value imsrelay reads, with its type, default,
 * bounds and meaning. regio_config_build() decodes by this table, and the same rows feed the
 * README's documentation and `imsrelay check`, so the three cannot drift apart. */
#ifndef IMSRELAY_REGIO_SETTINGS_H
#define IMSRELAY_REGIO_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum regio_setting_kind {
    REGIO_SETTING_DWORD,  /* REG_DWORD -> regio_dword */
    REGIO_SETTING_LIST,   /* REG_MULTI_SZ -> regio_list */
    REGIO_SETTING_STRING, /* REG_SZ or REG_EXPAND_SZ -> const char * and an regio_value_state */
} regio_setting_kind;

/* Checks a decoded string beyond its type; returns NULL when acceptable, else the reason. */
typedef const char *regio_string_check(const char *text);

typedef struct regio_setting {
    const char *name; /* registry value name as documented (matched case-insensitively) */
    regio_setting_kind kind;
    const char *key; /* the key it lives under, for documentation */

    /* REGIO_SETTING_DWORD only. A value outside [min, max], of the wrong type, or unreadable
     * is an error and takes `fallback`: the default for most settings, the fail-safe side
     * where the default would widen who may relay (IPEnableRouter). */
    uint32_t default_value;
    uint32_t min;
    uint32_t max;
    uint32_t fallback;

    /* REGIO_SETTING_STRING only: validation of a present value (NULL: any non-empty text), and
     * the registry type and bounds as documented. */
    regio_string_check *check;
    const char *string_type;
    const char *string_bounds;
    const char *string_default; /* the field's value when absent or unusable (NULL: set by the
                                   machine's defaults, MailRoot and SmtpHostName) */
    bool empty_allowed;         /* an empty string is a value of its own (SmartHost: none) */

    const char *default_text; /* the default as a person reads it */
    const char *meaning;

    size_t offset;       /* of the regio_dword, regio_list or const char * in regio_config */
    size_t state_offset; /* REGIO_SETTING_STRING only: of its regio_value_state */
} regio_setting;

/* How many settings the table has (regio_settings() returns exactly this many). */
#define REGIO_SETTING_COUNT 46

/* Every setting, in documentation order. */
const regio_setting *regio_settings(size_t *count);

/* True for a setting that means the same on every server of a fleet, which Group Policy
 * may therefore set (the ADMX offers it, `policy export` writes it); false for
 * IPEnableRouter (Windows' own switch, in another key) and for the values that name one
 * machine: MailRoot, SmtpHostName, ListenAddresses, TlsCertificate (a thumbprint is one
 * machine's certificate). */
bool regio_setting_fleet_wide(const regio_setting *setting);

/* The setting whose name equals `name` ignoring ASCII case, or NULL. */
const regio_setting *regio_setting_find(const char *name);

/* The setting whose name is nearest to `name` (a typo: one or two letters missing, extra,
 * changed or swapped), or NULL when none is that close. For "did you mean" warnings. */
const regio_setting *regio_setting_near_miss(const char *name);

/* "REG_SZ", "REG_DWORD", ... or "type 42". The buffer form is for unknown types. */
const char *regio_reg_type_name(uint32_t type, char *buf, size_t size);

#endif
