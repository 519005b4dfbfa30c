#include "value_decode.h"

#include <stdlib.h>
#include <string.h>

#include "settings.h"
#include "utf16.h"

static uint32_t unit_at(const uint8_t *data, size_t i)
{
    return (uint32_t)data[2 * i] | (uint32_t)data[2 * i + 1] << 8;
}

/* Whether the bytes can be looked at at all; reports why not. */
static bool readable(const regio_raw_value *value, const char *name, size_t limit,
                     regio_diag_list *diags)
{
    if (value->size > limit) {
        regio_diag_add(diags, REGIO_SEV_ERROR, name, 0, NULL,
                       "is %zu bytes, more than the limit of %zu bytes: not read", value->size,
                       limit);
        return false;
    }
    if (value->unreadable || (value->size > 0 && !value->data)) {
        regio_diag_add(diags, REGIO_SEV_ERROR, name, 0, NULL, "is present but could not be read");
        return false;
    }
    return true;
}

static void wrong_type(const regio_raw_value *value, const char *name, const char *expected,
                       regio_diag_list *diags)
{
    char buf[32];
    regio_diag_add(diags, REGIO_SEV_ERROR, name, 0, NULL, "is %s, expected %s: not used",
                   regio_reg_type_name(value->type, buf, sizeof(buf)), expected);
}

/* UTF-16 units of a string value, without the trailing NULs that terminate it. */
static size_t text_units(const regio_raw_value *value, const char *name, regio_diag_list *diags)
{
    if (value->size % 2) {
        regio_diag_add(diags, REGIO_SEV_WARNING, name, 0, NULL,
                       "has an odd number of bytes (%zu), which UTF-16 text cannot have: the last "
                       "byte is ignored",
                       value->size);
    }
    size_t units = value->size / 2;
    while (units > 0 && unit_at(value->data, units - 1) == 0) {
        units--;
    }
    return units;
}

static bool has_nul(const uint8_t *data, size_t units)
{
    for (size_t i = 0; i < units; i++) {
        if (unit_at(data, i) == 0) {
            return true;
        }
    }
    return false;
}

bool regio_decode_list(const regio_raw_value *value, const char *name, regio_decoded_list *out,
                       regio_value_state *state, regio_diag_list *diags)
{
    memset(out, 0, sizeof(*out));
    *state = REGIO_VALUE_UNREADABLE;
    if (!readable(value, name, REGIO_LIST_MAX_BYTES, diags)) {
        return true;
    }
    bool one_line = value->type == REGIO_REG_SZ || value->type == REGIO_REG_EXPAND_SZ;
    if (value->type != REGIO_REG_MULTI_SZ && !one_line) {
        wrong_type(value, name, "REG_MULTI_SZ", diags);
        return true;
    }
    size_t units = text_units(value, name, diags);
    if (one_line) {
        /* Splitting a REG_SZ at NULs would guess at what the writer meant; ignoring the tail
         * could drop deny entries. Neither is safe, so such a value is not used. */
        if (has_nul(value->data, units)) {
            regio_diag_add(diags, REGIO_SEV_ERROR, name, 0, NULL,
                           "is a string with text after its terminating NUL; a list must be "
                           "REG_MULTI_SZ: not used");
            return true;
        }
        regio_diag_add(diags, REGIO_SEV_WARNING, name, 0, NULL,
                       "is %s, expected REG_MULTI_SZ: read as a list of one line",
                       value->type == REGIO_REG_SZ ? "REG_SZ" : "REG_EXPAND_SZ");
    }

    /* Every NUL inside separates two lines, empty strings included: line n stays the n-th
     * string, and nothing after an embedded empty string is lost (it may be a deny entry). */
    size_t count = 0;
    if (units > 0) {
        count = 1;
        for (size_t i = 0; i < units; i++) {
            count += unit_at(value->data, i) == 0;
        }
    }
    if (count > 0) {
        out->text = malloc(REGIO_UTF8_MAX_PER_UNIT * units + 1);
        out->lines = malloc(count * sizeof(*out->lines));
        if (!out->text || !out->lines) {
            free(out->text);
            free(out->lines);
            memset(out, 0, sizeof(*out));
            return false;
        }
    }

    size_t pos = 0, start = 0, line = 0;
    size_t bad_lines = 0, empty_lines = 0, first_empty = 0;
    while (line < count) {
        size_t end = start;
        while (end < units && unit_at(value->data, end) != 0) {
            end++;
        }
        size_t replaced = 0, first_bad = 0;
        char *text = out->text + pos;
        size_t len = regio_utf16le_to_utf8(value->data + 2 * start, end - start, text, &replaced,
                                           &first_bad);
        text[len] = '\0';
        out->lines[line] = text;
        pos += len + 1;
        line++;
        if (replaced > 0 && bad_lines++ < REGIO_LINE_DIAGS_MAX) {
            regio_diag_add(diags, REGIO_SEV_ERROR, name, (uint32_t)line, text,
                           "invalid UTF-16 (unpaired surrogate at character %zu): replaced by "
                           "U+FFFD, so this line can never match",
                           first_bad + 1);
        }
        if (end == start && end < units) {
            if (empty_lines++ == 0) {
                first_empty = line;
            }
        }
        start = end + 1;
    }
    out->count = count;
    if (bad_lines > REGIO_LINE_DIAGS_MAX) {
        regio_diag_add(diags, REGIO_SEV_ERROR, name, 0, NULL,
                       "%zu more lines hold invalid UTF-16 (unpaired surrogates) and can never "
                       "match",
                       bad_lines - REGIO_LINE_DIAGS_MAX);
    }
    if (empty_lines > 0) {
        regio_diag_add(diags, REGIO_SEV_INFO, name, (uint32_t)first_empty, "",
                       "holds %zu empty string(s) inside the list, the first at line %zu: read as "
                       "blank lines, and the lines after them are read too",
                       empty_lines, first_empty);
    }
    *state = one_line ? REGIO_VALUE_COERCED : REGIO_VALUE_OK;
    return true;
}

bool regio_decode_string(const regio_raw_value *value, const char *name, char **out,
                         regio_value_state *state, regio_diag_list *diags)
{
    *out = NULL;
    *state = REGIO_VALUE_UNREADABLE;
    if (!readable(value, name, 2 * (REGIO_STRING_MAX_UNITS + 1), diags)) {
        return true;
    }
    if (value->type != REGIO_REG_SZ && value->type != REGIO_REG_EXPAND_SZ) {
        wrong_type(value, name, "REG_SZ or REG_EXPAND_SZ", diags);
        return true;
    }
    size_t units = text_units(value, name, diags);
    if (units == 0) {
        regio_diag_add(diags, REGIO_SEV_ERROR, name, 0, NULL, "is empty: not used");
        return true;
    }
    if (units > REGIO_STRING_MAX_UNITS) {
        regio_diag_add(diags, REGIO_SEV_ERROR, name, 0, NULL,
                       "is longer than %d characters: not used", REGIO_STRING_MAX_UNITS);
        return true;
    }
    if (has_nul(value->data, units)) {
        regio_diag_add(diags, REGIO_SEV_ERROR, name, 0, NULL,
                       "holds text after its terminating NUL: not used");
        return true;
    }
    char *text = malloc(REGIO_UTF8_MAX_PER_UNIT * units + 1);
    if (!text) {
        return false;
    }
    size_t replaced = 0, first_bad = 0;
    size_t len = regio_utf16le_to_utf8(value->data, units, text, &replaced, &first_bad);
    text[len] = '\0';
    if (replaced > 0) {
        regio_diag_add(diags, REGIO_SEV_ERROR, name, 0, text,
                       "invalid UTF-16 (unpaired surrogate at character %zu): not used",
                       first_bad + 1);
        free(text);
        return true;
    }
    *out = text;
    *state = REGIO_VALUE_OK;
    return true;
}

regio_value_state regio_decode_dword(const regio_raw_value *value, const char *name, uint32_t *out,
                                     regio_diag_list *diags)
{
    /* The type first: "is REG_QWORD" says more than "is 8 bytes". */
    if (!readable(value, name, SIZE_MAX, diags)) {
        return REGIO_VALUE_UNREADABLE;
    }
    if (value->type != REGIO_REG_DWORD) {
        wrong_type(value, name, "REG_DWORD", diags);
        return REGIO_VALUE_UNREADABLE;
    }
    if (value->size != 4) {
        regio_diag_add(diags, REGIO_SEV_ERROR, name, 0, NULL,
                       "is a REG_DWORD of %zu bytes, expected 4: not used", value->size);
        return REGIO_VALUE_UNREADABLE;
    }
    *out = (uint32_t)value->data[0] | (uint32_t)value->data[1] << 8 |
           (uint32_t)value->data[2] << 16 | (uint32_t)value->data[3] << 24;
    return REGIO_VALUE_OK;
}
