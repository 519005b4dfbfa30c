/* A self-signed server certificate for a host name, made the way Exchange setup makes one:
 * an RSA 2048 key generated inside the machine's key store (not exportable; it never exists
 * outside it), a SHA-256 certificate for CN=host with the host as its DNS name, valid for
 * five years, in LocalMachine\My. For `imsrelay.exe install` when TlsCertificate is unset, and
 * for the tests. */
#ifndef IMSRELAY_TLS_SELFSIGNED_H
#define IMSRELAY_TLS_SELFSIGNED_H

#include <stdbool.h>
#include <stddef.h>

#define TLS_SELFSIGNED_THUMBPRINT_TEXT 41

/* Makes and stores the certificate; its thumbprint (40 hexadecimal digits) goes into
 * thumbprint. False with the reason in why (nothing is left behind then). Needs the right
 * to write LocalMachine\My and the machine key store (an administrator). */
bool tls_selfsigned_create(const char *host_name, char thumbprint[TLS_SELFSIGNED_THUMBPRINT_TEXT],
                           char *why, size_t why_size);

/* Removes a certificate made by tls_selfsigned_create, and its key, from the machine. False
 * with the reason when there is no such certificate or it cannot be removed. */
bool tls_selfsigned_delete(const char *thumbprint, char *why, size_t why_size);

#endif
