/* UTF-8 <-> UTF-16 for the Win32 layer: the portable cores speak UTF-8, Windows speaks
 * UTF-16. Results are malloc'ed and NUL-terminated; invalid input is replaced, never
 * rejected, because these strings are only shown to people. NULL only when out of memory. */
#ifndef IMSRELAY_SVC_TEXT_H
#define IMSRELAY_SVC_TEXT_H

#include <stddef.h>
#include <wchar.h>

wchar_t *win_text_wide_from_utf8(const char *utf8);
char *win_text_utf8_from_wide(const wchar_t *wide);

/* Message text of a Win32 error code, UTF-8, without the trailing line break. */
void win_text_error(unsigned long code, char *out, size_t out_size);

#endif
