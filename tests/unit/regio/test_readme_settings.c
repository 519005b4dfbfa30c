/* README.md documents every registry value exactly as the settings table defines it: each
 * row this program generates from the table must appear in README.md verbatim, so the
 * documentation cannot drift from the code. `regio_readme_settings --print` prints the rows
 * to paste into README.md after changing the table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "settings.h"
#include "value_decode.h"

static const char *readme_path;

static void markdown_row(const regio_setting *s, char *buf, size_t size)
{
    char bounds[64];
    const char *type = "REG_DWORD";
    switch (s->kind) {
    case REGIO_SETTING_DWORD:
        if (s->min == 0 && s->max == UINT32_MAX) {
            snprintf(bounds, sizeof(bounds), "any");
        } else {
            snprintf(bounds, sizeof(bounds), "%lu..%lu", (unsigned long)s->min,
                     (unsigned long)s->max);
        }
        break;
    case REGIO_SETTING_LIST:
        type = "REG_MULTI_SZ";
        snprintf(bounds, sizeof(bounds), "%zu MiB", REGIO_LIST_MAX_BYTES / (1024 * 1024));
        break;
    case REGIO_SETTING_STRING:
        type = s->string_type;
        snprintf(bounds, sizeof(bounds), "%s", s->string_bounds);
        break;
    }
    snprintf(buf, size, "| `%s` | %s | %s | %s | %s |", s->name, type, s->default_text, bounds,
             s->meaning);
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        return NULL;
    }
    size_t cap = 1 << 16, len = 0;
    char *text = malloc(cap + 1);
    size_t n;
    while (text && (n = fread(text + len, 1, cap - len, f)) > 0) {
        len += n;
        if (len == cap) {
            cap *= 2;
            char *bigger = realloc(text, cap + 1);
            if (!bigger) {
                free(text);
                text = NULL;
            }
            text = bigger;
        }
    }
    fclose(f);
    if (text) {
        text[len] = '\0';
    }
    return text;
}

static void readme_documents_every_setting_as_the_table_says(void **state)
{
    (void)state;
    char *readme = read_file(readme_path);
    assert_non_null(readme);
    size_t count;
    const regio_setting *settings = regio_settings(&count);
    for (size_t i = 0; i < count; i++) {
        char row[1024];
        markdown_row(&settings[i], row, sizeof(row));
        if (!strstr(readme, row)) {
            fail_msg("README.md lacks the row (run regio_readme_settings --print):\n%s", row);
        }
    }
    free(readme);
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--print") == 0) {
        size_t count;
        const regio_setting *settings = regio_settings(&count);
        puts("| value | type | default | bounds | meaning |");
        puts("| --- | --- | --- | --- | --- |");
        for (size_t i = 0; i < count; i++) {
            char row[1024];
            markdown_row(&settings[i], row, sizeof(row));
            puts(row);
        }
        return 0;
    }
    if (argc != 2) {
        fprintf(stderr, "usage: %s README.md | --print\n", argv[0]);
        return 2;
    }
    readme_path = argv[1];
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(readme_documents_every_setting_as_the_table_says),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
