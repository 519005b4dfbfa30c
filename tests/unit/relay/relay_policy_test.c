/* The decision logic of the article (docs/design.md "Decision logic") and the fail-closed rules
 * (docs/design.md "Bad configuration never opens the relay"), as an administrator would observe
 * them: who may relay, which rule decided, and what the diagnostics say. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "relay_fixture.h"

typedef struct built {
    relay_policy *policy;
    regio_diag_list diags;
} built;

static built build(const regio_config *cfg)
{
    built b;
    regio_diag_list_init(&b.diags);
    b.policy = relay_policy_build(cfg, &b.diags);
    assert_non_null(b.policy);
    return b;
}

static void release(built *b)
{
    relay_policy_free(b->policy);
    regio_diag_list_free(&b->diags);
}

static relay_verdict decide(const built *b, const char *client, const char *local,
                            bool authenticated)
{
    relay_verdict v;
    relay_addr c = addr(client);
    relay_addr l = local ? addr(local) : c;
    relay_decide(b->policy, &c, local ? &l : NULL, authenticated, &v);
    return v;
}

static void assert_says(const relay_verdict *v, const char *sentence)
{
    char text[512];
    size_t n = relay_verdict_describe(v, text, sizeof(text));
    assert_string_equal(text, sentence);
    assert_int_equal(n, strlen(sentence));
}

static void assert_policy_says(const built *b, const char *sentence)
{
    char text[512];
    relay_policy_describe(b->policy, text, sizeof(text));
    assert_string_equal(text, sentence);
}

/* The diagnostic whose message contains needle (there must be exactly one). */
static const regio_diag *find_diag(const built *b, const char *needle)
{
    const regio_diag *found = NULL;
    for (size_t i = 0; i < b->diags.count; i++) {
        if (strstr(b->diags.items[i].message, needle)) {
            assert_null(found);
            found = &b->diags.items[i];
        }
    }
    if (!found) {
        fail_msg("no diagnostic says \"%s\"", needle);
    }
    return found;
}

/* ---- the article's Examples -------------------------------------------------------- */

/* "All clients not explicitly denied can relay." */
static void example_not_denied_can_relay(void **state)
{
    (void)state;
    regio_config cfg = fixture_config(1);
    set_list(&cfg.relay_deny_list, "192.168.17.0;255.255.255.0");
    built b = build(&cfg);
    assert_int_equal(b.diags.count, 0);

    relay_verdict v = decide(&b, "192.168.17.9", "10.0.0.1", false);
    assert_false(v.allowed);
    assert_int_equal(v.step, RELAY_STEP_DENY_LIST);
    assert_string_equal(v.value, "RelayDenyList");
    assert_int_equal(v.line, 1);
    assert_string_equal(v.text, "192.168.17.0;255.255.255.0");
    assert_says(&v, "denied: RelayDenyList line 1 (192.168.17.0;255.255.255.0) matches "
                    "192.168.17.9 and bit 1 of RelayFlags is set");

    v = decide(&b, "192.168.18.9", "10.0.0.1", false);
    assert_true(v.allowed);
    assert_int_equal(v.step, RELAY_STEP_ONLY_BIT1);
    assert_says(&v, "allowed: RelayDenyList does not match 192.168.18.9 and RelayFlags is 1 "
                    "(only bit 1), which lets every client not denied relay");
    assert_policy_says(&b, "deny list; every client not denied may relay");

    /* An IPv4 client arriving on an IPv6 socket is the same client. */
    v = decide(&b, "::ffff:192.168.17.200", "::ffff:10.0.0.1", false);
    assert_false(v.allowed);
    assert_int_equal(v.step, RELAY_STEP_DENY_LIST);
    assert_says(&v, "denied: RelayDenyList line 1 (192.168.17.0;255.255.255.0) matches "
                    "192.168.17.200 and bit 1 of RelayFlags is set");
    release(&b);
}

/* "All clients not explicitly allowed are denied." */
static void example_not_allowed_are_denied(void **state)
{
    (void)state;
    regio_config cfg = fixture_config(2);
    set_list(&cfg.relay_allow_list, "192.168.1.0;255.255.255.0");
    built b = build(&cfg);
    assert_int_equal(b.diags.count, 0);

    relay_verdict v = decide(&b, "192.168.1.20", "10.0.0.1", false);
    assert_true(v.allowed);
    assert_int_equal(v.step, RELAY_STEP_ALLOW_LIST);
    assert_says(&v, "allowed: RelayAllowList line 1 (192.168.1.0;255.255.255.0) matches "
                    "192.168.1.20 and bit 2 of RelayFlags is set");
    v = decide(&b, "192.168.2.20", "10.0.0.1", true);
    assert_false(v.allowed);
    assert_int_equal(v.step, RELAY_STEP_DEFAULT_DENY);
    assert_says(&v, "denied: no rule allows 192.168.2.20 to relay (RelayFlags 2: "
                    "RelayAllowList does not match)");
    assert_policy_says(&b, "allow list");
    release(&b);
}

/* "Allow all hosts on a subnet except for a subset." */
static void example_subnet_except_subset(void **state)
{
    (void)state;
    regio_config cfg = fixture_config(3);
    set_list(&cfg.relay_allow_list, "192.168.1.0;255.255.255.0");
    set_list(&cfg.relay_deny_list, "192.168.1.0;255.255.255.248");
    built b = build(&cfg);
    for (int host = 0; host < 256; host++) {
        char client[32];
        snprintf(client, sizeof(client), "192.168.1.%d", host);
        relay_verdict v = decide(&b, client, "10.0.0.1", false);
        /* 192.168.1.1 through .7 (and the network address .0) are denied. */
        assert_int_equal(v.allowed, host >= 8);
        assert_int_equal(v.step, host < 8 ? RELAY_STEP_DENY_LIST : RELAY_STEP_ALLOW_LIST);
    }
    relay_verdict v = decide(&b, "192.168.2.1", "10.0.0.1", false);
    assert_false(v.allowed);
    assert_int_equal(v.step, RELAY_STEP_DEFAULT_DENY);
    assert_says(&v, "denied: no rule allows 192.168.2.1 to relay (RelayFlags 3: RelayDenyList "
                    "does not match, RelayAllowList does not match)");
    release(&b);

    /* "Listing each address explicitly in RelayDenyList also works." */
    set_list(&cfg.relay_deny_list, "192.168.1.1", "192.168.1.2", "192.168.1.3", "192.168.1.4",
             "192.168.1.5", "192.168.1.6", "192.168.1.7");
    b = build(&cfg);
    for (int host = 1; host < 256; host++) {
        char client[32];
        snprintf(client, sizeof(client), "192.168.1.%d", host);
        relay_verdict each = decide(&b, client, "10.0.0.1", false);
        assert_int_equal(each.allowed, host >= 8);
        if (host < 8) {
            assert_int_equal(each.line, host);
        }
    }
    release(&b);
}

/* "Allow clients connecting to the selected network interfaces to relay." */
static void example_selected_interfaces(void **state)
{
    (void)state;
    regio_config cfg = fixture_config(4);
    set_list(&cfg.relay_local_ip_list, "10.0.0.1", "10.0.0.2");
    cfg.ip_enable_router.state = REGIO_VALUE_OK;
    cfg.ip_enable_router.value = 0;
    built b = build(&cfg);
    assert_int_equal(b.diags.count, 0);
    relay_verdict v = decide(&b, "203.0.113.5", "10.0.0.2", false);
    assert_true(v.allowed);
    assert_int_equal(v.step, RELAY_STEP_LOCAL_IP_LIST);
    assert_says(&v, "allowed: 203.0.113.5 connected to 10.0.0.2, which RelayLocalIPList line 2 "
                    "(10.0.0.2) matches, and bit 3 of RelayFlags is set with IP forwarding off");
    v = decide(&b, "10.0.0.1", "192.0.2.1", false); /* the client's own address is irrelevant */
    assert_false(v.allowed);
    assert_says(&v, "denied: no rule allows 10.0.0.1 to relay (RelayFlags 4: RelayLocalIPList "
                    "does not match the local address 192.0.2.1)");
    v = decide(&b, "203.0.113.5", NULL, false);
    assert_false(v.allowed);
    assert_policy_says(&b, "local-IP list");
    release(&b);

    /* "Enabling IP-forwarding disables this feature." */
    cfg.ip_enable_router.value = 1;
    b = build(&cfg);
    const regio_diag *d = find_diag(&b, "IP forwarding is on");
    assert_int_equal(d->severity, REGIO_SEV_WARNING);
    assert_string_equal(d->message, "bit 3 of RelayFlags is set but IP forwarding is on "
                                    "(IPEnableRouter is 1): RelayLocalIPList is not in effect");
    v = decide(&b, "203.0.113.5", "10.0.0.2", false);
    assert_false(v.allowed);
    assert_int_equal(v.step, RELAY_STEP_DEFAULT_DENY);
    assert_says(&v, "denied: no rule allows 203.0.113.5 to relay (RelayFlags 4: "
                    "RelayLocalIPList is not in effect because IP forwarding is on)");
    assert_false(relay_policy_local_ip_list_in_effect(b.policy));
    assert_policy_says(&b, "none: every relay is denied; local-IP list ignored: IP forwarding "
                           "is on");
    release(&b);

    /* Forwarding that cannot be read counts as on: that only narrows who may relay. */
    cfg.ip_enable_router.state = REGIO_VALUE_UNREADABLE;
    b = build(&cfg);
    find_diag(&b, "IPEnableRouter cannot be read");
    assert_false(decide(&b, "203.0.113.5", "10.0.0.2", false).allowed);
    release(&b);

    /* With bits 1, 2 and 3 and forwarding on: the other rules still work. */
    cfg = fixture_config(7);
    cfg.ip_enable_router.state = REGIO_VALUE_OK;
    cfg.ip_enable_router.value = 1;
    set_list(&cfg.relay_local_ip_list, "10.0.0.1");
    set_list(&cfg.relay_allow_list, "192.168.0.0/16");
    set_list(&cfg.relay_deny_list, "192.168.66.0/24");
    b = build(&cfg);
    assert_policy_says(&b, "deny list, allow list; local-IP list ignored: IP forwarding is on");
    assert_true(decide(&b, "192.168.1.1", "192.0.2.1", false).allowed);
    assert_false(decide(&b, "192.168.66.1", "10.0.0.1", false).allowed);
    assert_false(decide(&b, "203.0.113.5", "10.0.0.1", false).allowed);
    release(&b);
}

/* Multi-homed over IPv6 too: the local address a client reached, in either family. */
static void local_ip_list_in_both_families(void **state)
{
    (void)state;
    regio_config cfg = fixture_config(4);
    set_list(&cfg.relay_local_ip_list, "2001:db8:1::25", "192.0.2.25");
    built b = build(&cfg);
    relay_verdict v = decide(&b, "2001:db8:9::1", "2001:db8:1::25", false);
    assert_true(v.allowed);
    assert_int_equal(v.line, 1);
    v = decide(&b, "203.0.113.5", "::ffff:192.0.2.25", false); /* dual-stack socket */
    assert_true(v.allowed);
    assert_int_equal(v.line, 2);
    assert_says(&v, "allowed: 203.0.113.5 connected to 192.0.2.25, which RelayLocalIPList line "
                    "2 (192.0.2.25) matches, and bit 3 of RelayFlags is set with IP forwarding "
                    "off");
    assert_false(decide(&b, "203.0.113.5", "2001:db8:1::26", false).allowed);
    release(&b);
}

/* "Allow authenticated clients to relay." */
static void example_authenticated(void **state)
{
    (void)state;
    regio_config cfg = fixture_config(8);
    built b = build(&cfg);
    relay_verdict v = decide(&b, "203.0.113.5", "10.0.0.1", true);
    assert_true(v.allowed);
    assert_int_equal(v.step, RELAY_STEP_AUTHENTICATED);
    assert_says(&v, "allowed: 203.0.113.5 authenticated and bit 4 of RelayFlags is set");
    v = decide(&b, "203.0.113.5", "10.0.0.1", false);
    assert_false(v.allowed);
    assert_says(&v, "denied: no rule allows 203.0.113.5 to relay (RelayFlags 8: the session "
                    "has not authenticated)");
    assert_policy_says(&b, "authenticated clients");
    release(&b);

    /* Bit 1 is checked first: a denied host may not relay even after AUTH. */
    cfg = fixture_config(9);
    set_list(&cfg.relay_deny_list, "203.0.113.0/24");
    b = build(&cfg);
    assert_false(decide(&b, "203.0.113.5", "10.0.0.1", true).allowed);
    assert_true(decide(&b, "198.51.100.1", "10.0.0.1", true).allowed);
    assert_false(decide(&b, "198.51.100.1", "10.0.0.1", false).allowed); /* 9 is not "only 1" */
    release(&b);
}

/* ---- each rule of the logic ----------------------------------------------------------- */

static void only_bit1_means_the_four_low_bits(void **state)
{
    (void)state;
    /* Bits other than 1, 2, 4, 8 are ignored, with a warning: 0x11 is "only bit 1". */
    regio_config cfg = fixture_config(0x11);
    built b = build(&cfg);
    const regio_diag *d = find_diag(&b, "have no meaning");
    assert_int_equal(d->severity, REGIO_SEV_WARNING);
    assert_string_equal(d->value, "RelayFlags");
    assert_string_equal(d->message, "RelayFlags is 0x11: bits 0x10 have no meaning and are "
                                    "ignored (only 1, 2, 4 and 8 do)");
    relay_verdict v = decide(&b, "203.0.113.5", "10.0.0.1", false);
    assert_true(v.allowed);
    assert_int_equal(v.step, RELAY_STEP_ONLY_BIT1);
    assert_policy_says(&b, "deny list; every client not denied may relay; bits 0x10 ignored");
    release(&b);

    /* Any other known bit with bit 1 turns "only bit 1" off. */
    const uint32_t not_only[] = {3, 5, 9, 15};
    for (size_t i = 0; i < sizeof(not_only) / sizeof(not_only[0]); i++) {
        cfg = fixture_config(not_only[i]);
        b = build(&cfg);
        v = decide(&b, "203.0.113.5", "10.0.0.1", false);
        assert_false(v.allowed);
        assert_int_equal(v.step, RELAY_STEP_DEFAULT_DENY);
        release(&b);
    }
}

static void deny_list_checked_before_every_allow(void **state)
{
    (void)state;
    regio_config cfg = fixture_config(15);
    set_list(&cfg.relay_deny_list, "10.9.0.0/16");
    set_list(&cfg.relay_allow_list, "10.0.0.0/8");
    set_list(&cfg.relay_local_ip_list, "192.0.2.1");
    built b = build(&cfg);
    relay_verdict v = decide(&b, "10.9.1.1", "192.0.2.1", true);
    assert_false(v.allowed);
    assert_int_equal(v.step, RELAY_STEP_DENY_LIST);
    v = decide(&b, "10.8.1.1", "192.0.2.1", true);
    assert_int_equal(v.step, RELAY_STEP_ALLOW_LIST); /* step 2 before steps 3 and 4 */
    v = decide(&b, "203.0.113.1", "192.0.2.1", true);
    assert_int_equal(v.step, RELAY_STEP_LOCAL_IP_LIST); /* step 3 before step 4 */
    v = decide(&b, "203.0.113.1", "192.0.2.2", true);
    assert_int_equal(v.step, RELAY_STEP_AUTHENTICATED);
    assert_true(v.allowed);
    release(&b);

    /* Lists whose bit is clear are not consulted. */
    cfg.relay_flags.value = 2;
    b = build(&cfg);
    v = decide(&b, "10.9.1.1", "192.0.2.1", true);
    assert_true(v.allowed);
    assert_int_equal(v.step, RELAY_STEP_ALLOW_LIST);
    v = decide(&b, "203.0.113.1", "192.0.2.1", true);
    assert_false(v.allowed);
    release(&b);
}

static void absent_or_zero_flags_deny_everything(void **state)
{
    (void)state;
    regio_config cfg = fixture_config(0);
    cfg.relay_flags.state = REGIO_VALUE_ABSENT;
    set_list(&cfg.relay_allow_list, "0.0.0.0/0");
    built b = build(&cfg);
    const regio_diag *d = find_diag(&b, "every relay is denied");
    assert_int_equal(d->severity, REGIO_SEV_WARNING);
    assert_string_equal(d->message, "RelayFlags is absent: every relay is denied (set it, e.g. "
                                    "to 2 with RelayAllowList, to allow relaying)");
    relay_verdict v = decide(&b, "192.168.1.1", "10.0.0.1", true);
    assert_false(v.allowed);
    assert_int_equal(v.step, RELAY_STEP_DEFAULT_DENY);
    assert_says(&v, "denied: RelayFlags is absent, so every relay is denied");
    assert_policy_says(&b, "none: every relay is denied (RelayFlags is absent)");
    release(&b);

    cfg.relay_flags.state = REGIO_VALUE_OK;
    b = build(&cfg);
    d = find_diag(&b, "every relay is denied");
    assert_int_equal(d->severity, REGIO_SEV_WARNING);
    v = decide(&b, "192.168.1.1", "10.0.0.1", true);
    assert_false(v.allowed);
    assert_says(&v, "denied: RelayFlags is 0, so every relay is denied");
    assert_policy_says(&b, "none: every relay is denied (RelayFlags is 0)");
    release(&b);

    cfg.relay_flags.value = 0x100; /* only meaningless bits */
    b = build(&cfg);
    find_diag(&b, "have no meaning");
    find_diag(&b, "sets none of bits 1, 2, 4, 8: every relay is denied");
    assert_false(decide(&b, "192.168.1.1", "10.0.0.1", true).allowed);
    assert_policy_says(&b, "none: every relay is denied (RelayFlags is without bits 1, 2, 4, "
                           "8); bits 0x100 ignored");
    release(&b);
}

static void families_never_mix(void **state)
{
    (void)state;
    regio_config cfg = fixture_config(2);
    set_list(&cfg.relay_allow_list, "0.0.0.0/0");
    built b = build(&cfg);
    assert_true(decide(&b, "198.51.100.7", "10.0.0.1", false).allowed);
    assert_true(decide(&b, "::ffff:198.51.100.7", "10.0.0.1", false).allowed);
    assert_false(decide(&b, "2001:db8::7", "10.0.0.1", false).allowed);
    assert_false(decide(&b, "::c633:6407", "10.0.0.1", false).allowed); /* not mapped */
    release(&b);

    set_list(&cfg.relay_allow_list, "::/0");
    b = build(&cfg);
    assert_true(decide(&b, "2001:db8::7", "10.0.0.1", false).allowed);
    assert_false(decide(&b, "198.51.100.7", "10.0.0.1", false).allowed);
    assert_false(decide(&b, "::ffff:198.51.100.7", "10.0.0.1", false).allowed);
    release(&b);

    set_list(&cfg.relay_allow_list, "2001:db8::;ffff:ffff::", "2001:db8:1::/48");
    b = build(&cfg);
    relay_verdict v = decide(&b, "2001:db8:1::25", "::1", false);
    assert_true(v.allowed);
    assert_int_equal(v.line, 1); /* both match: the first line is reported */
    assert_says(&v, "allowed: RelayAllowList line 1 (2001:db8::;ffff:ffff::) matches "
                    "2001:db8:1::25 and bit 2 of RelayFlags is set");
    assert_false(decide(&b, "2001:db9::1", "::1", false).allowed);
    release(&b);
}

static void lowest_matching_line_is_reported(void **state)
{
    (void)state;
    regio_config cfg = fixture_config(2);
    set_list(&cfg.relay_allow_list, "# offices", "10.1.2.3", "10.0.0.0/8", "", "10.1.0.0/16",
             "10.1.0.3;255.255.0.255");
    built b = build(&cfg);
    assert_int_equal(b.diags.count, 0);
    relay_verdict v = decide(&b, "10.1.2.3", "10.0.0.1", false);
    assert_int_equal(v.line, 2);
    v = decide(&b, "10.1.9.3", "10.0.0.1", false);
    assert_int_equal(v.line, 3);
    assert_string_equal(v.text, "10.0.0.0/8");
    release(&b);

    /* A non-contiguous rule between two blocks that contain the same addresses. */
    set_list(&cfg.relay_allow_list, "10.1.0.0/16", "10.0.0.3;255.0.0.255", "10.0.0.0/8");
    b = build(&cfg);
    assert_int_equal(b.diags.count, 0);
    assert_int_equal(decide(&b, "10.1.9.3", "10.0.0.1", false).line, 1);
    assert_int_equal(decide(&b, "10.2.9.3", "10.0.0.1", false).line, 2);
    assert_int_equal(decide(&b, "10.2.9.4", "10.0.0.1", false).line, 3);
    assert_false(decide(&b, "11.2.9.3", "10.0.0.1", false).allowed);
    release(&b);
}

/* ---- bad configuration never opens the relay ----------------------------------------- */

static void bad_allow_and_local_lines_are_skipped(void **state)
{
    (void)state;
    regio_config cfg = fixture_config(6);
    set_list(&cfg.relay_allow_list, "192.168.1.0;255.255.255.0", "192.168.010.0;255.255.255.0",
             "10.0.0.0/8");
    set_list(&cfg.relay_local_ip_list, "172.16.0.1 # inside", "172.16.0.2");
    built b = build(&cfg);
    assert_false(relay_policy_fail_closed(b.policy));
    assert_int_equal(regio_diag_count(&b.diags, REGIO_SEV_ERROR), 2);
    const regio_diag *d = find_diag(&b, "leading zero");
    assert_int_equal(d->severity, REGIO_SEV_ERROR);
    assert_string_equal(d->value, "RelayAllowList");
    assert_int_equal(d->line, 2);
    assert_string_equal(d->text, "192.168.010.0;255.255.255.0");
    assert_string_equal(d->message, "octet 3 has a leading zero (Windows would read it as "
                                    "octal): 192.168.010.0");
    d = find_diag(&b, "unexpected text");
    assert_string_equal(d->value, "RelayLocalIPList");
    assert_int_equal(d->line, 1);
    assert_string_equal(d->text, "172.16.0.1 # inside");

    /* The other lines still work; the bad ones allow nobody. */
    assert_true(decide(&b, "192.168.1.5", "192.0.2.1", false).allowed);
    assert_true(decide(&b, "10.7.7.7", "192.0.2.1", false).allowed);
    assert_false(decide(&b, "192.168.8.1", "192.0.2.1", false).allowed);
    assert_false(decide(&b, "192.168.10.1", "192.0.2.1", false).allowed);
    assert_false(decide(&b, "203.0.113.1", "172.16.0.1", false).allowed);
    assert_true(decide(&b, "203.0.113.1", "172.16.0.2", false).allowed);
    release(&b);
}

static void bad_deny_line_with_bit1_closes_the_relay(void **state)
{
    (void)state;
    regio_config cfg = fixture_config(11);
    set_list(&cfg.relay_deny_list, "192.168.17.0;255.255.255.0", "192.168.017.0/24");
    set_list(&cfg.relay_allow_list, "0.0.0.0/0");
    built b = build(&cfg);
    assert_true(relay_policy_fail_closed(b.policy));
    const regio_diag *line = find_diag(&b, "leading zero");
    assert_int_equal(line->severity, REGIO_SEV_ERROR);
    assert_string_equal(line->value, "RelayDenyList");
    assert_int_equal(line->line, 2);
    assert_string_equal(line->text, "192.168.017.0/24");
    const regio_diag *summary = find_diag(&b, "every relay is denied until it is fixed");
    assert_int_equal(summary->severity, REGIO_SEV_ERROR);
    assert_string_equal(summary->message, "RelayDenyList has 1 invalid line while bit 1 of "
                                          "RelayFlags is set: every relay is denied until it "
                                          "is fixed");
    relay_verdict v = decide(&b, "10.1.1.1", "10.0.0.1", true); /* allowed twice over */
    assert_false(v.allowed);
    assert_int_equal(v.step, RELAY_STEP_FAIL_CLOSED);
    assert_says(&v, "denied: every relay is denied until the configuration is fixed: "
                    "RelayDenyList has 1 invalid line and bit 1 of RelayFlags is set");
    assert_policy_says(&b, "fail closed: every relay is denied (RelayDenyList has 1 invalid "
                           "line and bit 1 of RelayFlags is set)");
    release(&b);

    /* Bit 1 clear: the deny list is not in effect; its bad line is reported, nothing more. */
    cfg.relay_flags.value = 10;
    b = build(&cfg);
    assert_false(relay_policy_fail_closed(b.policy));
    line = find_diag(&b, "leading zero");
    assert_int_equal(line->line, 2);
    assert_int_equal(regio_diag_count(&b.diags, REGIO_SEV_ERROR), 1);
    assert_true(decide(&b, "10.1.1.1", "10.0.0.1", false).allowed);
    assert_true(decide(&b, "192.168.17.1", "10.0.0.1", false).allowed);
    release(&b);
}

static void unreadable_values_close_the_relay(void **state)
{
    (void)state;
    /* RelayFlags of the wrong type. */
    regio_config cfg = fixture_config(0);
    cfg.relay_flags.state = REGIO_VALUE_UNREADABLE;
    set_list(&cfg.relay_allow_list, "0.0.0.0/0");
    built b = build(&cfg);
    assert_true(relay_policy_fail_closed(b.policy));
    assert_int_equal(find_diag(&b, "RelayFlags cannot be read")->severity, REGIO_SEV_ERROR);
    relay_verdict v = decide(&b, "10.1.1.1", "10.0.0.1", true);
    assert_false(v.allowed);
    assert_says(&v, "denied: every relay is denied until the configuration is fixed: "
                    "RelayFlags cannot be read as a REG_DWORD");
    release(&b);

    /* An unreadable deny list while bit 1 is set. */
    cfg = fixture_config(3);
    cfg.relay_deny_list.state = REGIO_VALUE_UNREADABLE;
    set_list(&cfg.relay_allow_list, "0.0.0.0/0");
    b = build(&cfg);
    assert_true(relay_policy_fail_closed(b.policy));
    assert_int_equal(find_diag(&b, "RelayDenyList cannot be read")->severity, REGIO_SEV_ERROR);
    v = decide(&b, "10.1.1.1", "10.0.0.1", false);
    assert_false(v.allowed);
    assert_int_equal(v.step, RELAY_STEP_FAIL_CLOSED);
    release(&b);

    /* ... and with bit 1 clear it is not in effect. */
    cfg.relay_flags.value = 2;
    b = build(&cfg);
    assert_false(relay_policy_fail_closed(b.policy));
    assert_true(decide(&b, "10.1.1.1", "10.0.0.1", false).allowed);
    release(&b);

    /* An unreadable allow list allows nobody, with an error. */
    cfg = fixture_config(2);
    cfg.relay_allow_list.state = REGIO_VALUE_UNREADABLE;
    b = build(&cfg);
    assert_int_equal(find_diag(&b, "RelayAllowList cannot be read")->severity, REGIO_SEV_ERROR);
    assert_false(decide(&b, "10.1.1.1", "10.0.0.1", false).allowed);
    release(&b);
}

static void coerced_lists_are_used(void **state)
{
    (void)state;
    /* REG_SZ where REG_MULTI_SZ is expected: a one-line list, already warned about. */
    regio_config cfg = fixture_config(2);
    set_list(&cfg.relay_allow_list, "10.0.0.0/8");
    cfg.relay_allow_list.state = REGIO_VALUE_COERCED;
    built b = build(&cfg);
    assert_true(decide(&b, "10.1.1.1", "10.0.0.1", false).allowed);
    release(&b);
}

static void never_matching_and_empty_lists_warn(void **state)
{
    (void)state;
    regio_config cfg = fixture_config(3);
    set_list(&cfg.relay_allow_list, "192.168.1.5;255.255.255.0");
    set_list(&cfg.relay_deny_list, "# nobody yet");
    built b = build(&cfg);
    assert_false(relay_policy_fail_closed(b.policy)); /* a warning, not an invalid line */
    const regio_diag *d = find_diag(&b, "never matches");
    assert_int_equal(d->severity, REGIO_SEV_WARNING);
    assert_string_equal(d->value, "RelayAllowList");
    assert_int_equal(d->line, 1);
    d = find_diag(&b, "RelayDenyList has no rules");
    assert_int_equal(d->severity, REGIO_SEV_WARNING);
    assert_false(decide(&b, "192.168.1.5", "10.0.0.1", false).allowed);
    release(&b);
}

static void diagnostics_are_bounded(void **state)
{
    (void)state;
    enum { N = 5000 };
    static const char *lines[N];
    for (size_t i = 0; i < N; i++) {
        lines[i] = i == N - 1 ? "10.0.0.0/8" : "10.0.0.01";
    }
    regio_config cfg = fixture_config(2);
    set_list_lines(&cfg.relay_allow_list, lines, N);
    built b = build(&cfg);
    assert_int_equal(b.diags.count, RELAY_LIST_DIAG_LINES + 1);
    const regio_diag *d = find_diag(&b, "more lines with problems");
    assert_string_equal(d->message, "4899 more lines with problems (4899 invalid) are not "
                                    "listed one by one");
    relay_verdict v = decide(&b, "10.0.0.1", "10.0.0.1", false);
    assert_true(v.allowed);
    assert_int_equal(v.line, N);
    release(&b);
}

static void policy_owns_its_text(void **state)
{
    (void)state;
    char line[32] = "192.168.17.0/24";
    const char *lines[] = {line};
    regio_config cfg = fixture_config(1);
    set_list_lines(&cfg.relay_deny_list, lines, 1);
    built b = build(&cfg);
    memset(line, 'x', sizeof(line) - 1); /* the registry buffer is gone */
    relay_verdict v = decide(&b, "192.168.17.1", "10.0.0.1", false);
    assert_string_equal(v.text, "192.168.17.0/24");
    const relay_list *deny = relay_policy_list(b.policy, RELAY_DENY_LIST);
    assert_int_equal(relay_list_count(deny), 1);
    assert_int_equal(relay_list_entry(deny, 0)->line, 1);
    assert_null(relay_list_entry(deny, 1));
    release(&b);
}

static void describe_truncates_safely(void **state)
{
    (void)state;
    regio_config cfg = fixture_config(1);
    set_list(&cfg.relay_deny_list, "192.168.17.0;255.255.255.0");
    built b = build(&cfg);
    relay_verdict v = decide(&b, "192.168.17.9", "10.0.0.1", false);
    char full[512], small[16];
    size_t n = relay_verdict_describe(&v, full, sizeof(full));
    assert_int_equal(relay_verdict_describe(&v, small, sizeof(small)), n);
    assert_int_equal(strlen(small), sizeof(small) - 1);
    assert_memory_equal(small, full, sizeof(small) - 1);
    assert_int_equal(relay_policy_describe(b.policy, small, sizeof(small)),
                     strlen("deny list; every client not denied may relay"));
    assert_string_equal(relay_step_name(RELAY_STEP_FAIL_CLOSED), "fail closed");
    release(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(example_not_denied_can_relay),
            cmocka_unit_test(example_not_allowed_are_denied),
            cmocka_unit_test(example_subnet_except_subset),
            cmocka_unit_test(example_selected_interfaces),
            cmocka_unit_test(local_ip_list_in_both_families),
            cmocka_unit_test(example_authenticated),
            cmocka_unit_test(only_bit1_means_the_four_low_bits),
            cmocka_unit_test(deny_list_checked_before_every_allow),
            cmocka_unit_test(absent_or_zero_flags_deny_everything),
            cmocka_unit_test(families_never_mix),
            cmocka_unit_test(lowest_matching_line_is_reported),
            cmocka_unit_test(bad_allow_and_local_lines_are_skipped),
            cmocka_unit_test(bad_deny_line_with_bit1_closes_the_relay),
            cmocka_unit_test(unreadable_values_close_the_relay),
            cmocka_unit_test(coerced_lists_are_used),
            cmocka_unit_test(never_matching_and_empty_lists_warn),
            cmocka_unit_test(diagnostics_are_bounded),
            cmocka_unit_test(policy_owns_its_text),
            cmocka_unit_test(describe_truncates_safely),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
