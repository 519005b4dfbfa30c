/* Text for the Win32 layer, the one place that converts: the portable cores speak UTF-8,
 * Windows speaks UTF-16. */
#ifndef IMSRELAY_WIN_TEXT_H
#define IMSRELAY_WIN_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <wchar.h>

/* Malloc'ed and NUL-terminated; invalid input is replaced, never rejected, because these
 * strings are only shown to people. NULL only when out of memory. */
wchar_t *win_text_wide_from_utf8(const char *utf8);
char *win_text_utf8_from_wide(const wchar_t *wide);

/* Into a caller's buffer, for names that matter (paths, accounts, arguments): false when
 * the input is not valid UTF-8 / UTF-16 or does not fit, never a truncated or altered name. */
bool win_text_wide_into(const char *utf8, wchar_t *out, size_t out_chars);
bool win_text_utf8_into(const wchar_t *wide, char *out, size_t out_size);

/* A malloc'ed copy; NULL only when out of memory. */
char *win_text_copy(const char *text);

/* Message text of a Win32 error code, UTF-8, without the trailing line break and period;
 * "Windows error N" when the system has none. */
void win_text_error(unsigned long code, char *out, size_t out_size);

#endif
