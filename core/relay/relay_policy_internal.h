/* The policy's representation, shared by relay_policy.c (building, deciding) and
 * relay_describe.c (putting both into words). Not for other components. */
#ifndef IMSRELAY_RELAY_RELAY_POLICY_INTERNAL_H
#define IMSRELAY_RELAY_RELAY_POLICY_INTERNAL_H

#include "relay_policy.h"

#define RELAY_REASON_MAX 256

struct relay_policy {
    uint32_t flags; /* RelayFlags as read; 0 when absent or unreadable */
    bool flags_absent;
    bool ip_forwarding;           /* IPEnableRouter is 1 (or could not be read) */
    bool local_ip_list_in_effect; /* bit 3 set and no IP forwarding */
    bool fail_closed;
    char fail_reason[RELAY_REASON_MAX];
    relay_list *lists[3]; /* by relay_list_id */
};

#endif
