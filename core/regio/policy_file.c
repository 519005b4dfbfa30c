#include "policy_file.h"

#include <stdlib.h>
#include <string.h>

#include "identity.h"
#include "settings.h"

typedef struct buffer {
    uint8_t *bytes;
    size_t len, cap;
    bool failed;
} buffer;

static void put_bytes(buffer *b, const void *data, size_t size)
{
    if (b->failed) {
        return;
    }
    if (b->len + size > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + size) {
            cap *= 2;
        }
        uint8_t *grown = realloc(b->bytes, cap);
        if (!grown) {
            b->failed = true;
            return;
        }
        b->bytes = grown;
        b->cap = cap;
    }
    memcpy(b->bytes + b->len, data, size);
    b->len += size;
}

static void put_u16(buffer *b, uint32_t unit)
{
    uint8_t le[2] = {(uint8_t)unit, (uint8_t)(unit >> 8)};
    put_bytes(b, le, 2);
}

static void put_u32(buffer *b, uint32_t v)
{
    uint8_t le[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    put_bytes(b, le, 4);
}

/* UTF-8 (as the decoder produced it) to UTF-16LE, without a terminator; a malformed byte
 * becomes U+FFFD. */
static void put_utf16(buffer *b, const char *utf8)
{
    const uint8_t *s = (const uint8_t *)utf8;
    while (*s) {
        uint32_t cp = 0xFFFD;
        size_t n = 1;
        if (s[0] < 0x80) {
            cp = s[0];
        } else if ((s[0] & 0xE0) == 0xC0 && (s[1] & 0xC0) == 0x80) {
            cp = ((uint32_t)(s[0] & 0x1F) << 6) | (s[1] & 0x3F);
            n = 2;
        } else if ((s[0] & 0xF0) == 0xE0 && (s[1] & 0xC0) == 0x80 && (s[2] & 0xC0) == 0x80) {
            cp = ((uint32_t)(s[0] & 0x0F) << 12) | ((uint32_t)(s[1] & 0x3F) << 6) | (s[2] & 0x3F);
            n = 3;
        } else if ((s[0] & 0xF8) == 0xF0 && (s[1] & 0xC0) == 0x80 && (s[2] & 0xC0) == 0x80 &&
                   (s[3] & 0xC0) == 0x80) {
            cp = ((uint32_t)(s[0] & 0x07) << 18) | ((uint32_t)(s[1] & 0x3F) << 12) |
                 ((uint32_t)(s[2] & 0x3F) << 6) | (s[3] & 0x3F);
            n = 4;
        }
        if (cp >= 0x10000) {
            cp -= 0x10000;
            put_u16(b, 0xD800 | (cp >> 10));
            put_u16(b, 0xDC00 | (cp & 0x3FF));
        } else {
            put_u16(b, cp);
        }
        s += n;
    }
}

static void put_record(buffer *b, const char *name, uint32_t type, const buffer *data)
{
    put_u16(b, '[');
    put_utf16(b, IDENTITY_POLICY_KEY);
    put_u16(b, 0);
    put_u16(b, ';');
    put_utf16(b, name);
    put_u16(b, 0);
    put_u16(b, ';');
    put_u32(b, type);
    put_u16(b, ';');
    put_u32(b, (uint32_t)data->len);
    put_u16(b, ';');
    put_bytes(b, data->bytes, data->len);
    put_u16(b, ']');
}

/* The registry data of one setting, or false when it is not to be exported. */
static bool setting_data(const regio_config *config, const regio_setting *s, buffer *data,
                         uint32_t *type, bool *unusable)
{
    const char *base = (const char *)config;
    regio_value_state state = REGIO_VALUE_ABSENT;
    switch (s->kind) {
    case REGIO_SETTING_DWORD: {
        const regio_dword *d = (const regio_dword *)(base + s->offset);
        state = d->state;
        put_u32(data, d->value);
        *type = REGIO_REG_DWORD;
        break;
    }
    case REGIO_SETTING_LIST: {
        const regio_list *l = (const regio_list *)(base + s->offset);
        state = l->state;
        for (size_t i = 0; i < l->count; i++) {
            put_utf16(data, l->lines[i]);
            put_u16(data, 0);
        }
        put_u16(data, 0);
        *type = REGIO_REG_MULTI_SZ;
        break;
    }
    case REGIO_SETTING_STRING: {
        state = *(const regio_value_state *)(base + s->state_offset);
        const char *text = *(const char *const *)(base + s->offset);
        put_utf16(data, text ? text : "");
        put_u16(data, 0);
        *type = REGIO_REG_SZ;
        break;
    }
    }
    *unusable = state == REGIO_VALUE_UNREADABLE;
    return state == REGIO_VALUE_OK || state == REGIO_VALUE_COERCED;
}

bool policy_file_from_config(const regio_config *config, uint8_t **out, size_t *len,
                             size_t *skipped)
{
    buffer b = {0};
    put_u32(&b, POLICY_FILE_SIGNATURE);
    put_u32(&b, POLICY_FILE_VERSION);
    *skipped = 0;
    size_t count;
    const regio_setting *settings = regio_settings(&count);
    for (size_t i = 0; i < count; i++) {
        const regio_setting *s = &settings[i];
        if (!regio_setting_fleet_wide(s) || config->sources[i] == REGIO_SOURCE_DEFAULT) {
            continue;
        }
        buffer data = {0};
        uint32_t type = 0;
        bool unusable = false;
        if (setting_data(config, s, &data, &type, &unusable) && !data.failed) {
            put_record(&b, s->name, type, &data);
        } else if (unusable) {
            ++*skipped;
        }
        b.failed |= data.failed;
        free(data.bytes);
    }
    if (b.failed) {
        free(b.bytes);
        return false;
    }
    *out = b.bytes;
    *len = b.len;
    return true;
}
