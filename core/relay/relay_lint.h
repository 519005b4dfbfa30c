/* Advice about a relay policy that is valid but probably not what its administrator meant:
 * allow rules so broad that, behind NAT or a proxy, they turn the server into an open relay.
 * (Lines that can never match and meaningless RelayFlags bits are already reported when the
 * policy is built.) Used by `imsrelay check` and at service start. */
#ifndef IMSRELAY_RELAY_RELAY_LINT_H
#define IMSRELAY_RELAY_RELAY_LINT_H

#include "diag.h"
#include "relay_policy.h"

/* Appends one warning per allow rule (RelayAllowList, while bit 2 is set) that covers every
 * address of its family or a whole private or shared address range. Returns how many. */
size_t relay_policy_lint(const relay_policy *policy, regio_diag_list *diags);

#endif
