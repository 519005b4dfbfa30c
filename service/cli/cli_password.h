/* Reading a password from an administrator: twice without echo on a console, or one line
 * from standard input (--password-stdin, or input that is not a console). Shared by
 * `user add` and `smarthost password`. */
#ifndef IMSRELAY_CLI_PASSWORD_H
#define IMSRELAY_CLI_PASSWORD_H

#include <stdbool.h>
#include <stddef.h>

#define CLI_PASSWORD_MAX 256 /* bytes of UTF-8 the prompt takes */

/* false when nothing usable was read (end of input, longer than max bytes, the two
 * console entries differ: then it says so). out holds max + 1 bytes at least. */
bool cli_password_ask(bool from_stdin, size_t max, char *out, size_t size);

#endif
