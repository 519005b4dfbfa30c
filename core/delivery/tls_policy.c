#include "tls_policy.h"

#include <stdio.h>

#include "smtp_client.h"

tls_policy_mode tls_policy_for_smart_host(uint32_t smart_host_tls)
{
    switch (smart_host_tls) {
    case 0:
        return TLS_POLICY_NEVER;
    case 1:
        return TLS_POLICY_OPPORTUNISTIC;
    case 3:
        return TLS_POLICY_IMPLICIT;
    default:
        return TLS_POLICY_REQUIRED;
    }
}

tls_policy_mode tls_policy_for_mx(uint32_t mx_tls)
{
    switch (mx_tls) {
    case 0:
        return TLS_POLICY_NEVER;
    case 1:
        return TLS_POLICY_OPPORTUNISTIC;
    default:
        return TLS_POLICY_REQUIRED;
    }
}

void tls_policy_smart_host_ports(tls_policy_mode mode, route_smarthost *smart_host)
{
    if (mode != TLS_POLICY_IMPLICIT) {
        return;
    }
    for (size_t i = 0; i < smart_host->count; i++) {
        if (!smart_host->hosts[i].port_given) {
            smart_host->hosts[i].port = TLS_POLICY_IMPLICIT_PORT;
        }
    }
}

bool tls_policy_verifies(tls_policy_mode mode)
{
    return mode == TLS_POLICY_REQUIRED || mode == TLS_POLICY_IMPLICIT;
}

bool tls_policy_required(tls_policy_mode mode)
{
    return tls_policy_verifies(mode);
}

tls_policy_step tls_policy_after_ehlo(tls_policy_mode mode, bool tls_active, bool starttls_offered,
                                      char *reason, size_t reason_size)
{
    snprintf(reason, reason_size, "%s", "");
    if (tls_active) {
        return TLS_STEP_PROCEED;
    }
    switch (mode) {
    case TLS_POLICY_NEVER:
        return TLS_STEP_CLEAR;
    case TLS_POLICY_OPPORTUNISTIC:
        return starttls_offered ? TLS_STEP_STARTTLS : TLS_STEP_CLEAR;
    case TLS_POLICY_REQUIRED:
        if (starttls_offered) {
            return TLS_STEP_STARTTLS;
        }
        snprintf(reason, reason_size,
                 "TLS is required but the server does not offer STARTTLS; nothing was sent "
                 "in clear");
        return TLS_STEP_DEFER;
    case TLS_POLICY_IMPLICIT:
    default:
        /* Implicit TLS is up before the greeting: a session in clear here is a bug. */
        snprintf(reason, reason_size, "implicit TLS is required but the session is not encrypted");
        return TLS_STEP_DEFER;
    }
}

tls_policy_step tls_policy_after_starttls_refused(tls_policy_mode mode, const char *reply,
                                                  char *reason, size_t reason_size)
{
    if (tls_policy_required(mode)) {
        snprintf(reason, reason_size,
                 "TLS is required but the server refused STARTTLS (%s); nothing was sent in "
                 "clear",
                 reply);
        return TLS_STEP_DEFER;
    }
    snprintf(reason, reason_size, "%s", "");
    return TLS_STEP_CLEAR;
}

tls_policy_step tls_policy_after_handshake_failure(tls_policy_mode mode, bool retried_in_clear,
                                                   const char *error, char *reason,
                                                   size_t reason_size)
{
    if (mode == TLS_POLICY_OPPORTUNISTIC && !retried_in_clear) {
        snprintf(reason, reason_size, "TLS handshake failed (%s); trying again in clear text",
                 error);
        return TLS_STEP_RETRY_CLEAR;
    }
    snprintf(reason, reason_size, "TLS handshake failed: %s%s", error,
             tls_policy_required(mode) ? "; TLS is required, nothing was sent in clear" : "");
    return TLS_STEP_DEFER;
}

tls_policy_auth_step tls_policy_auth(bool account_set, bool password_stored, bool tls_active,
                                     unsigned offered, unsigned *mechanism, char *reason,
                                     size_t reason_size)
{
    *mechanism = 0;
    snprintf(reason, reason_size, "%s", "");
    if (!account_set) {
        return TLS_AUTH_NONE;
    }
    if (!password_stored) {
        snprintf(reason, reason_size,
                 "SmartHostAccount is set but no usable password is stored (imsrelay.exe "
                 "smarthost show, smarthost password)");
        return TLS_AUTH_DEFER;
    }
    if (!tls_active) {
        snprintf(reason, reason_size,
                 "the smart host login is sent only inside TLS, and this session is not "
                 "encrypted (see SmartHostTls)");
        return TLS_AUTH_DEFER;
    }
    if (offered & SMTP_CLIENT_AUTH_PLAIN) {
        *mechanism = SMTP_CLIENT_AUTH_PLAIN;
        return TLS_AUTH_SEND;
    }
    if (offered & SMTP_CLIENT_AUTH_LOGIN) {
        *mechanism = SMTP_CLIENT_AUTH_LOGIN;
        return TLS_AUTH_SEND;
    }
    snprintf(reason, reason_size,
             "SmartHostAccount is set but the smart host offers neither AUTH PLAIN nor LOGIN");
    return TLS_AUTH_DEFER;
}

void tls_policy_describe(bool tls_used, const char *protocol, const char *cipher, bool verified,
                         char *out, size_t out_size)
{
    if (!tls_used) {
        snprintf(out, out_size, "none");
        return;
    }
    snprintf(out, out_size, "%s %s %s", protocol && *protocol ? protocol : "TLS",
             cipher && *cipher ? cipher : "unknown-cipher", verified ? "verified" : "not-verified");
}
