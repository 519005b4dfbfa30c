#include "config.h"
#include "fnv1a.h"
#include "settings.h"

uint64_t regio_config_fingerprint(const regio_config *c, const regio_diag_list *diags)
{
    uint64_t h = FNV1A_INIT;
    size_t count;
    const regio_setting *settings = regio_settings(&count);
    for (size_t i = 0; i < count; i++) {
        const char *field = (const char *)c + settings[i].offset;
        switch (settings[i].kind) {
        case REGIO_SETTING_DWORD: {
            const regio_dword *d = (const regio_dword *)(const void *)field;
            h = fnv1a_bytes(h, &d->state, sizeof(d->state));
            h = fnv1a_bytes(h, &d->value, sizeof(d->value));
            break;
        }
        case REGIO_SETTING_LIST: {
            const regio_list *l = (const regio_list *)(const void *)field;
            h = fnv1a_bytes(h, &l->state, sizeof(l->state));
            h = fnv1a_bytes(h, &l->count, sizeof(l->count));
            for (size_t n = 0; n < l->count; n++) {
                h = fnv1a_string(h, l->lines[n]);
            }
            break;
        }
        case REGIO_SETTING_STRING: {
            const char *text = *(const char *const *)(const void *)field;
            const regio_value_state *state =
                    (const regio_value_state *)(const void *)((const char *)c +
                                                              settings[i].state_offset);
            h = fnv1a_bytes(h, state, sizeof(*state));
            h = fnv1a_string(h, text);
            break;
        }
        }
    }
    /* Field by field, strings by their length: a diagnostic's character arrays hold
     * whatever the heap held after their terminator, and two readings that say the same must
     * fingerprint alike (an unchanged configuration reloads nothing). */
    h = fnv1a_bytes(h, &diags->count, sizeof(diags->count));
    for (size_t i = 0; i < diags->count; i++) {
        const regio_diag *d = &diags->items[i];
        h = fnv1a_bytes(h, &d->severity, sizeof(d->severity));
        h = fnv1a_bytes(h, &d->code, sizeof(d->code));
        h = fnv1a_string(h, d->value);
        h = fnv1a_bytes(h, &d->line, sizeof(d->line));
        h = fnv1a_string(h, d->text);
        h = fnv1a_string(h, d->message);
    }
    h = fnv1a_bytes(h, &diags->truncated, sizeof(diags->truncated));
    return h;
}
