/* What outbound delivery does about TLS and the smart host login, decided from the
 * settings (SmartHostTls, MxTls, SmartHostAccount) and what the server offered, without
 * I/O: the Win32 connection (service/delivery/outbound.c) asks at each step.
 *
 * The rules, whatever the settings say:
 *   - a TLS that is required (SmartHostTls 2 and 3, MxTls 2) and cannot be had -- STARTTLS
 *     not offered, refused, a handshake that fails, a certificate that is not trusted or
 *     does not name the host -- defers the mail; nothing is ever sent in clear instead;
 *   - opportunistic TLS (SmartHostTls 1, MxTls 1) does not verify the certificate, and a
 *     handshake that fails is retried once in clear text on a new connection (as Postfix's
 *     "may" level does): mail to a server with broken TLS still arrives;
 *   - the password goes only inside TLS: an account without TLS defers the mail. */
#ifndef IMSRELAY_DELIVERY_TLS_POLICY_H
#define IMSRELAY_DELIVERY_TLS_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "route.h"

#define TLS_POLICY_REASON_MAX    300
#define TLS_POLICY_IMPLICIT_PORT 465u /* RFC 8314 submissions: SmartHostTls 3 without a port */

typedef enum tls_policy_mode {
    TLS_POLICY_NEVER = 0,     /* clear text, STARTTLS never asked for */
    TLS_POLICY_OPPORTUNISTIC, /* STARTTLS when offered, certificate not verified */
    TLS_POLICY_REQUIRED,      /* STARTTLS required, certificate verified (chain and name) */
    TLS_POLICY_IMPLICIT,      /* TLS from the first byte, certificate verified */
} tls_policy_mode;

/* From the registry values (their bounds are checked by the settings table; anything else
 * here is taken as the strictest mode the value can mean). */
tls_policy_mode tls_policy_for_smart_host(uint32_t smart_host_tls);
tls_policy_mode tls_policy_for_mx(uint32_t mx_tls);

/* Implicit TLS has its own port (RFC 8314): every smart host without a port written in
 * SmartHost gets 465 in that mode; other modes leave the list as parsed. */
void tls_policy_smart_host_ports(tls_policy_mode mode, route_smarthost *smart_host);

/* The certificate must be verified (chain to a trusted root, valid now, names the host). */
bool tls_policy_verifies(tls_policy_mode mode);
/* TLS is a condition of delivery. */
bool tls_policy_required(tls_policy_mode mode);

typedef enum tls_policy_step {
    TLS_STEP_CLEAR,       /* go on without TLS */
    TLS_STEP_STARTTLS,    /* send STARTTLS now */
    TLS_STEP_PROCEED,     /* TLS is up: go on */
    TLS_STEP_DEFER,       /* give up on this server now: the reason says why */
    TLS_STEP_RETRY_CLEAR, /* close, and connect again without TLS */
} tls_policy_step;

/* After the EHLO (the first, in clear; or the one after the handshake, tls_active). */
tls_policy_step tls_policy_after_ehlo(tls_policy_mode mode, bool tls_active, bool starttls_offered,
                                      char *reason, size_t reason_size);

/* STARTTLS was refused by the server (reply is its text, e.g. "454 4.7.0 TLS not
 * available"): the session is still up, in clear. */
tls_policy_step tls_policy_after_starttls_refused(tls_policy_mode mode, const char *reply,
                                                  char *reason, size_t reason_size);

/* The handshake failed (error is tls_session_error's text): the connection is unusable. */
tls_policy_step tls_policy_after_handshake_failure(tls_policy_mode mode, bool retried_in_clear,
                                                   const char *error, char *reason,
                                                   size_t reason_size);

typedef enum tls_policy_auth_step {
    TLS_AUTH_NONE,  /* no account configured: no AUTH */
    TLS_AUTH_SEND,  /* AUTH with *mechanism */
    TLS_AUTH_DEFER, /* cannot log in safely or at all: the reason says why */
} tls_policy_auth_step;

/* Whether and how to log in at a smart host, once the session is READY (after the EHLO
 * that followed the handshake, if any). password_stored: one is stored and decrypts here.
 * offered: SMTP_CLIENT_AUTH_* bits from the EHLO. PLAIN is preferred (one round trip);
 * LOGIN when only it is offered. */
tls_policy_auth_step tls_policy_auth(bool account_set, bool password_stored, bool tls_active,
                                     unsigned offered, unsigned *mechanism, char *reason,
                                     size_t reason_size);

/* One line for the delivery log and the journal: "none", or "TLSv1.2
 * TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 verified" / "... not-verified". */
void tls_policy_describe(bool tls_used, const char *protocol, const char *cipher, bool verified,
                         char *out, size_t out_size);

#endif
