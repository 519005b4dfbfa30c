/* A compiled relay list: the rules of one REG_MULTI_SZ value, answering "which line matches
 * this address?" in time that does not grow with the list.
 *
 * When several lines match, the answer is the one with the lowest line number (the first
 * an administrator reading the list from the top would find); relay_list_match and the
 * plain linear definition relay_list_match_linear always agree.
 *
 * How: rules with contiguous masks are aligned address blocks, so any two are nested or
 * disjoint; they are flattened into sorted boundaries, each carrying the lowest-numbered
 * line covering the addresses up to the next boundary, and binary-searched. Rules with
 * non-contiguous masks are grouped by mask, each group a hash table of nets; a lookup costs
 * one probe per distinct non-contiguous mask (groups whose lines all come after the best
 * match so far are skipped).
 *
 * Immutable after relay_list_build: any number of threads may look up at once. */
#ifndef IMSRELAY_RELAY_RELAY_LIST_H
#define IMSRELAY_RELAY_RELAY_LIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "diag.h"
#include "relay_line.h"

/* At most this many diagnostics per list name single lines; the rest are counted in one. */
#define RELAY_LIST_DIAG_LINES 100

/* Lines beyond this many are not read and count as invalid lines (an error). */
#define RELAY_LIST_LINES_MAX 10000000u

#define RELAY_NO_MATCH SIZE_MAX

typedef struct relay_entry {
    uint32_t line;    /* 1-based, as regedit shows it */
    const char *text; /* the line as written (owned by the list) */
    relay_rule rule;
} relay_entry;

typedef struct relay_list relay_list;

/* Compiles source->lines. Invalid lines are skipped and reported as errors naming value,
 * line number, text and reason; lines that can never match are kept and reported as
 * warnings. A source in state REGIO_VALUE_ABSENT or REGIO_VALUE_UNREADABLE compiles to an empty
 * list (the caller decides what an unreadable list means). Returns NULL only when out of
 * memory. */
relay_list *relay_list_build(const regio_list *source, regio_diag_list *diags);
void relay_list_free(relay_list *list);

const char *relay_list_name(const relay_list *list);
regio_value_state relay_list_state(const relay_list *list);
size_t relay_list_invalid_lines(const relay_list *list); /* lines rejected */

/* The rules in line order (blank, comment and invalid lines are not entries). */
size_t relay_list_count(const relay_list *list);
const relay_entry *relay_list_entry(const relay_list *list, size_t index);

/* The lowest-numbered line matching address: its number and its text (owned by the list).
 * False when no line matches. address is normalized first (an IPv4-mapped IPv6 address is
 * looked up as IPv4). This is what relay_decide uses: it touches no per-entry data. */
bool relay_list_lookup(const relay_list *list, const relay_addr *address, uint32_t *line,
                       const char **text);

/* Index of the entry with the lowest line number matching address, or RELAY_NO_MATCH.
 * address is normalized first (an IPv4-mapped IPv6 address is looked up as IPv4). */
size_t relay_list_match(const relay_list *list, const relay_addr *address);

/* The same answer by trying every entry in order: the definition the compiled lookup is
 * tested and benchmarked against. */
size_t relay_list_match_linear(const relay_list *list, const relay_addr *address);

#endif
