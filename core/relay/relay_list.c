#include "relay_list.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define NONE UINT32_MAX

/* Addresses as 128-bit numbers so one sweep serves both families (IPv4 in the low bits). */
typedef struct u128 {
    uint64_t hi, lo;
} u128;

static u128 u128_of(const relay_addr *a)
{
    u128 v = {0, 0};
    if (a->family == RELAY_AF_INET4) {
        v.lo = (uint64_t)a->bytes[0] << 24 | (uint64_t)a->bytes[1] << 16 |
               (uint64_t)a->bytes[2] << 8 | a->bytes[3];
        return v;
    }
    for (int i = 0; i < 8; i++) {
        v.hi = v.hi << 8 | a->bytes[i];
        v.lo = v.lo << 8 | a->bytes[8 + i];
    }
    return v;
}

static int u128_cmp(u128 a, u128 b)
{
    if (a.hi != b.hi) {
        return a.hi < b.hi ? -1 : 1;
    }
    return a.lo < b.lo ? -1 : a.lo > b.lo;
}

static bool u128_eq(u128 a, u128 b)
{
    return a.hi == b.hi && a.lo == b.lo;
}

static u128 u128_and(u128 a, u128 b)
{
    u128 r = {a.hi & b.hi, a.lo & b.lo};
    return r;
}

/* Bits [from, from + count) of a, count <= 32. */
static uint32_t u128_bits(u128 a, int from, int count)
{
    uint64_t v;
    if (from >= 64) {
        v = a.hi >> (from - 64);
    } else if (from == 0) {
        v = a.lo;
    } else {
        v = a.lo >> from | a.hi << (64 - from);
    }
    return (uint32_t)(v & ((UINT64_C(1) << count) - 1));
}

static int u128_highest_bit(u128 a) /* -1 for zero */
{
    for (int bit = 127; bit >= 0; bit--) {
        if (bit >= 64 ? (a.hi >> (bit - 64)) & 1 : (a.lo >> bit) & 1) {
            return bit;
        }
    }
    return -1;
}

static u128 u128_inc(u128 a)
{
    u128 r = {a.hi + (a.lo == UINT64_MAX), a.lo + 1};
    return r;
}

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9u;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebu;
    x ^= x >> 31;
    return x;
}

static uint64_t u128_hash(u128 v)
{
    return mix64(v.lo ^ mix64(v.hi));
}

/* What a lookup answers: the line and where its text is, so that a decision needs no
 * further memory access (entries[] of a big list is far away in memory). */
typedef struct answer {
    uint32_t line; /* NONE: no line matches */
    uint32_t text; /* offset in relay_list.texts */
} answer;

/* Contiguous-mask rules as sorted boundaries: from start i up to start i + 1 - 1, the
 * answer is answer i (the lowest-numbered line covering those addresses, or none). Below
 * the first start: none.
 *
 * A radix table narrows the search to a few neighbours: all starts share the bits above the
 * highest bit in which the first and last start differ; the next bucket_bits bits of an
 * address choose a bucket, and buckets[b] is the first boundary whose start falls in bucket
 * b or later. IPv4 uses up to 2^16 buckets (a table small enough to stay in cache); when a
 * big list needs that many, only the 16 bits of each start below its bucket are kept, so
 * one cache line holds a bucket's keys. IPv6 keeps whole starts next to their answers. */
#define BUCKET_BITS_MAX 16

typedef struct boundary6 {
    u128 start;
    answer answer;
} boundary6;

typedef struct boundary_map {
    size_t count;
    uint16_t *low4;   /* IPv4, bucket_shift <= 16: bits [0, bucket_shift) of each start */
    uint32_t *start4; /* IPv4, otherwise (small lists): each start */
    answer *answer4;  /* IPv4: the answer from each start on */
    uint32_t first4, last4;
    boundary6 *v6;
    uint32_t *buckets; /* (1 << bucket_bits) + 1 entries; NULL when count < 2 */
    int bucket_shift;  /* the bucket is bits [bucket_shift, bucket_shift + bucket_bits) */
    int bucket_bits;
} boundary_map;

/* Rules sharing one non-contiguous mask: an open-addressing table of nets, key and value
 * in one slot so that a probe touches one cache line. */
typedef struct slot4 {
    uint32_t key;
    answer answer; /* answer.line NONE: empty slot */
} slot4;

typedef struct slot6 {
    u128 key;
    answer answer;
} slot6;

/* Most probes are misses: a bit per 8 slots' worth of bytes (16 or more bits per net),
 * small enough to stay in cache, turns nearly all of them away before the table is read. */
typedef struct mask_group {
    u128 mask;
    uint32_t min_line; /* lowest line in the group */
    size_t slots;      /* power of two; the low bits of a net's hash pick its slot */
    slot4 *v4;         /* one of the two, by family */
    slot6 *v6;
    uint64_t *filter;   /* filter_bits bits; the high half of a net's hash picks its bit */
    size_t filter_bits; /* power of two */
} mask_group;

static size_t filter_bit(const mask_group *g, uint64_t hash)
{
    return (size_t)(hash >> 32) & (g->filter_bits - 1);
}

typedef struct family_matcher {
    boundary_map map;
    mask_group *groups; /* ordered by min_line */
    size_t group_count;
} family_matcher;

struct relay_list {
    char *name;
    regio_value_state state;
    size_t invalid;
    relay_entry *entries;
    size_t count;
    char *texts;
    family_matcher v4, v6;
    answer *answers; /* while building: entry i's answer, 8 bytes each (see answer_of) */
    /* While building: rules per family (0 IPv4, 1 IPv6) with a contiguous mask and with a
     * scattered one, counted as they are parsed so that a family without rules costs no
     * pass over the entries. */
    size_t contiguous[2], scattered[2];
};

/* ---- building ------------------------------------------------------------------------ */

/* Compilation orders by entry index (which follows line order); the stored answers carry
 * line and text instead. */
static answer answer_of(const relay_list *list, uint32_t index)
{
    /* Sorted spans visit entries in address order, i.e. at random: a compact table instead
     * of the entries themselves keeps those reads in cache for a big list. */
    answer a = {NONE, 0};
    if (index != NONE) {
        a = list->answers[index];
    }
    return a;
}

typedef struct span {
    u128 start, end;
    uint32_t index;
} span;

static int span_order(const void *pa, const void *pb)
{
    const span *a = pa, *b = pb;
    int c = u128_cmp(a->start, b->start);
    if (c) {
        return c;
    }
    c = u128_cmp(b->end, a->end); /* the enclosing block first */
    if (c) {
        return c;
    }
    return a->index < b->index ? -1 : a->index > b->index;
}

typedef struct boundary_builder {
    u128 *starts;
    uint32_t *index;
    size_t count;
} boundary_builder;

static void emit(boundary_builder *b, u128 start, uint32_t index)
{
    if (b->count > 0 && u128_eq(b->starts[b->count - 1], start)) {
        b->index[b->count - 1] = index;
        return;
    }
    b->starts[b->count] = start;
    b->index[b->count] = index;
    b->count++;
}

static bool build_buckets(const u128 *starts, size_t count, boundary_map *map)
{
    u128 first = starts[0], last = starts[count - 1];
    u128 differ = {first.hi ^ last.hi, first.lo ^ last.lo};
    int top = u128_highest_bit(differ);
    int bits = 1;
    while (bits < BUCKET_BITS_MAX && ((size_t)1 << bits) < count) {
        bits++;
    }
    if (bits > top + 1) {
        bits = top + 1;
    }
    map->bucket_bits = bits;
    map->bucket_shift = top + 1 - bits;
    size_t buckets = (size_t)1 << bits;
    map->buckets = malloc((buckets + 1) * sizeof(*map->buckets));
    if (!map->buckets) {
        return false;
    }
    size_t i = 0;
    for (size_t bucket = 0; bucket < buckets; bucket++) {
        while (i < count && u128_bits(starts[i], map->bucket_shift, bits) < bucket) {
            i++;
        }
        map->buckets[bucket] = (uint32_t)i;
    }
    map->buckets[buckets] = (uint32_t)count;
    return true;
}

static span span_of_key4(uint64_t key);

/* The blocks sorted with span_order, aligned (nested or disjoint): spans, or for IPv4
 * keys4 (see sort_v4_keys), which hold the same in 8 bytes instead of 40. */
static bool build_boundaries(const relay_list *list, const span *spans, const uint64_t *keys4,
                             size_t n, bool v4, boundary_map *map)
{
    boundary_builder b = {NULL, NULL, 0};
    if (n == 0) {
        return true;
    }
    b.starts = malloc((2 * n + 1) * sizeof(*b.starts));
    b.index = malloc((2 * n + 1) * sizeof(*b.index));
    if (!b.starts || !b.index) {
        free(b.starts);
        free(b.index);
        return false;
    }
    /* Strictly nested aligned blocks: at most 129 deep (duplicates are skipped). */
    struct {
        u128 end;
        uint32_t best;
    } stack[130];
    size_t depth = 0;
    span last = {{0, 0}, {0, 0}, 0};
    for (size_t i = 0; i < n; i++) {
        span current = keys4 ? span_of_key4(keys4[i]) : spans[i];
        const span *s = &current;
        bool repeated = i > 0 && u128_eq(s->start, last.start) && u128_eq(s->end, last.end);
        last = current;
        if (repeated) {
            continue; /* same block, higher line number: never the answer */
        }
        while (depth > 0 && u128_cmp(stack[depth - 1].end, s->start) < 0) {
            u128 after = u128_inc(stack[depth - 1].end);
            depth--;
            emit(&b, after, depth ? stack[depth - 1].best : NONE);
        }
        uint32_t best = s->index;
        if (depth > 0 && stack[depth - 1].best < best) {
            best = stack[depth - 1].best;
        }
        emit(&b, s->start, best);
        stack[depth].end = s->end;
        stack[depth].best = best;
        depth++;
    }
    while (depth > 0) {
        u128 end = stack[depth - 1].end;
        depth--;
        bool at_top = v4 ? end.lo == UINT32_MAX : (end.hi == UINT64_MAX && end.lo == UINT64_MAX);
        if (!at_top) {
            emit(&b, u128_inc(end), depth ? stack[depth - 1].best : NONE);
        }
    }
    /* Drop boundaries that change nothing. */
    size_t kept = 0;
    uint32_t previous = NONE;
    for (size_t i = 0; i < b.count; i++) {
        if (b.index[i] == previous) {
            continue;
        }
        b.starts[kept] = b.starts[i];
        b.index[kept] = b.index[i];
        previous = b.index[i];
        kept++;
    }
    map->count = kept;
    bool ok = kept < 2 || build_buckets(b.starts, kept, map);
    if (ok && v4) {
        if (map->bucket_shift <= 16) {
            map->low4 = malloc(kept * sizeof(*map->low4));
            ok = map->low4 != NULL;
            uint32_t low_mask = (uint32_t)((UINT64_C(1) << map->bucket_shift) - 1);
            for (size_t i = 0; ok && i < kept; i++) {
                map->low4[i] = (uint16_t)(b.starts[i].lo & low_mask);
            }
        } else {
            map->start4 = malloc(kept * sizeof(*map->start4));
            ok = map->start4 != NULL;
            for (size_t i = 0; ok && i < kept; i++) {
                map->start4[i] = (uint32_t)b.starts[i].lo;
            }
        }
        map->first4 = (uint32_t)b.starts[0].lo;
        map->last4 = (uint32_t)b.starts[kept - 1].lo;
        map->answer4 = malloc(kept * sizeof(*map->answer4));
        ok = ok && map->answer4 != NULL;
        for (size_t i = 0; ok && i < kept; i++) {
            map->answer4[i] = answer_of(list, b.index[i]);
        }
    } else if (ok) {
        map->v6 = malloc((kept ? kept : 1) * sizeof(*map->v6));
        ok = map->v6 != NULL;
        for (size_t i = 0; ok && i < kept; i++) {
            map->v6[i].start = b.starts[i];
            map->v6[i].answer = answer_of(list, b.index[i]);
        }
    }
    free(b.starts);
    free(b.index);
    return ok;
}

static int group_order(const void *pa, const void *pb)
{
    const span *a = pa, *b = pb; /* start: mask, end: net */
    int c = u128_cmp(a->start, b->start);
    if (c) {
        return c;
    }
    c = u128_cmp(a->end, b->end);
    if (c) {
        return c;
    }
    return a->index < b->index ? -1 : a->index > b->index;
}

static int group_min_order(const void *pa, const void *pb)
{
    const mask_group *a = pa, *b = pb;
    return a->min_line < b->min_line ? -1 : a->min_line > b->min_line;
}

static void group_insert(mask_group *g, u128 net, answer a)
{
    uint64_t hash = u128_hash(net);
    size_t bit = filter_bit(g, hash);
    g->filter[bit / 64] |= UINT64_C(1) << (bit % 64);
    size_t at = (size_t)hash & (g->slots - 1);
    if (g->v4) {
        while (g->v4[at].answer.line != NONE) {
            if (g->v4[at].key == (uint32_t)net.lo) {
                return; /* an earlier line has the same net: it is the answer */
            }
            at = (at + 1) & (g->slots - 1);
        }
        g->v4[at].key = (uint32_t)net.lo;
        g->v4[at].answer = a;
        return;
    }
    while (g->v6[at].answer.line != NONE) {
        if (u128_eq(g->v6[at].key, net)) {
            return;
        }
        at = (at + 1) & (g->slots - 1);
    }
    g->v6[at].key = net;
    g->v6[at].answer = a;
}

/* items: (mask, net, index) as (start, end, index), sorted with group_order. */
static bool build_groups(const relay_list *list, span *items, size_t n, bool v4, family_matcher *m)
{
    size_t groups = 0;
    for (size_t i = 0; i < n; i++) {
        if (i == 0 || !u128_eq(items[i].start, items[i - 1].start)) {
            groups++;
        }
    }
    if (groups == 0) {
        return true;
    }
    m->groups = calloc(groups, sizeof(*m->groups));
    if (!m->groups) {
        return false;
    }
    m->group_count = groups;
    size_t g = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        uint32_t min_index = NONE;
        while (j < n && u128_eq(items[j].start, items[i].start)) {
            if (items[j].index < min_index) {
                min_index = items[j].index;
            }
            j++;
        }
        mask_group *grp = &m->groups[g++];
        grp->mask = items[i].start;
        grp->min_line = answer_of(list, min_index).line;
        grp->slots = 4;
        while (grp->slots < 2 * (j - i)) {
            grp->slots *= 2;
        }
        grp->filter_bits = grp->slots * 8 < 64 ? 64 : grp->slots * 8;
        grp->filter = calloc(grp->filter_bits / 64, sizeof(*grp->filter));
        if (!grp->filter) {
            return false;
        }
        if (v4) {
            grp->v4 = malloc(grp->slots * sizeof(*grp->v4));
            if (!grp->v4) {
                return false;
            }
            for (size_t s = 0; s < grp->slots; s++) {
                grp->v4[s].answer.line = NONE;
            }
        } else {
            grp->v6 = malloc(grp->slots * sizeof(*grp->v6));
            if (!grp->v6) {
                return false;
            }
            for (size_t s = 0; s < grp->slots; s++) {
                grp->v6[s].answer.line = NONE;
            }
        }
        /* Sorted by net then index: the first of equal nets is the lowest line. */
        for (size_t k = i; k < j; k++) {
            group_insert(grp, items[k].end, answer_of(list, items[k].index));
        }
        i = j;
    }
    qsort(m->groups, m->group_count, sizeof(*m->groups), group_min_order);
    return true;
}

/* span_order for IPv4 blocks, as a radix sort of 64-bit words (a qsort of a 100,000-line
 * list took most of its compile time): start in the high 32 bits, then the prefix length
 * (ascending: the enclosing block first), then the entry index in the low 24
 * (RELAY_LIST_LINES_MAX < 2^24). Keys come in index order and the sort is stable, so only
 * the 40 bits above the index are sorted: four passes of 10 bits, whose four histograms are
 * counted in one read and stay in cache (16-bit digits cost a 512 KB count table a pass).
 * The word is the whole block: no 40-byte span is ever written for IPv4, which keeps the
 * memory a big list's compilation touches (and, under Wine, the pages zeroed) small.
 * false when out of memory. */
#define RADIX_BITS   10
#define RADIX_PASSES 4
#define INDEX_BITS   24

static uint64_t key4_of(uint32_t start, int prefix, size_t index)
{
    return (uint64_t)start << 32 | (uint64_t)prefix << INDEX_BITS | (uint64_t)index;
}

static span span_of_key4(uint64_t key)
{
    span s;
    uint32_t start = (uint32_t)(key >> 32);
    int prefix = (int)((key >> INDEX_BITS) & 0xff);
    uint32_t host = prefix == 0 ? UINT32_MAX : (uint32_t)((UINT64_C(1) << (32 - prefix)) - 1);
    s.start.hi = s.end.hi = 0;
    s.start.lo = start;
    s.end.lo = start | host;
    s.index = (uint32_t)(key & ((UINT32_C(1) << INDEX_BITS) - 1));
    return s;
}

/* Sorts *keys (n words); may swap it with *spare, a buffer of the same size. */
static bool sort_v4_keys(uint64_t **keys, uint64_t **spare, size_t n)
{
    if (n < 2) {
        return true;
    }
    const size_t digits = (size_t)1 << RADIX_BITS;
    uint32_t *counts = calloc(RADIX_PASSES * digits, sizeof(*counts));
    if (!counts) {
        return false;
    }
    uint64_t *a = *keys, *b = *spare;
    for (size_t i = 0; i < n; i++) {
        for (int pass = 0; pass < RADIX_PASSES; pass++) {
            counts[pass * digits + ((a[i] >> (INDEX_BITS + pass * RADIX_BITS)) & (digits - 1))]++;
        }
    }
    for (int pass = 0; pass < RADIX_PASSES; pass++) {
        int shift = INDEX_BITS + pass * RADIX_BITS;
        uint32_t *count = counts + pass * digits;
        if (count[(a[0] >> shift) & (digits - 1)] == n) {
            continue; /* every key has this digit: the pass would change nothing */
        }
        uint32_t total = 0;
        for (size_t d = 0; d < digits; d++) {
            uint32_t c = count[d];
            count[d] = total;
            total += c;
        }
        for (size_t i = 0; i < n; i++) {
            b[count[(a[i] >> shift) & (digits - 1)]++] = a[i];
        }
        uint64_t *t = a;
        a = b;
        b = t;
    }
    *keys = a;
    *spare = b;
    free(counts);
    return true;
}

static bool build_family(relay_list *list, uint8_t family, family_matcher *m)
{
    size_t contiguous = list->contiguous[family == RELAY_AF_INET6];
    size_t scattered = list->scattered[family == RELAY_AF_INET6];
    if (contiguous + scattered == 0) {
        return true;
    }
    bool v4 = family == RELAY_AF_INET4;
    span *spans = v4 ? NULL : malloc((contiguous ? contiguous : 1) * sizeof(*spans));
    uint64_t *keys = v4 ? malloc((contiguous ? contiguous : 1) * sizeof(*keys)) : NULL;
    uint64_t *spare = v4 ? malloc((contiguous ? contiguous : 1) * sizeof(*spare)) : NULL;
    span *items = malloc((scattered ? scattered : 1) * sizeof(*items));
    bool ok = (v4 ? keys && spare : spans != NULL) && items;
    if (ok) {
        size_t c = 0, s = 0;
        for (size_t i = 0; i < list->count; i++) {
            const relay_rule *r = &list->entries[i].rule;
            if (r->net.family != family || r->never_matches) {
                continue;
            }
            u128 net = u128_of(&r->net);
            if (r->prefix >= 0 && v4) {
                keys[c++] = key4_of((uint32_t)net.lo, r->prefix, i);
            } else if (r->prefix >= 0) {
                u128 mask = u128_of(&r->mask);
                spans[c].start = net;
                spans[c].end.hi = net.hi | ~mask.hi;
                spans[c].end.lo = net.lo | ~mask.lo;
                spans[c].index = (uint32_t)i;
                c++;
            } else {
                items[s].start = u128_of(&r->mask);
                items[s].end = net;
                items[s].index = (uint32_t)i;
                s++;
            }
        }
        if (v4) {
            ok = sort_v4_keys(&keys, &spare, contiguous);
        } else {
            qsort(spans, contiguous, sizeof(*spans), span_order);
        }
        qsort(items, scattered, sizeof(*items), group_order);
        ok = ok && build_boundaries(list, spans, keys, contiguous, v4, &m->map) &&
             build_groups(list, items, scattered, v4, m);
    }
    free(spans);
    free(keys);
    free(spare);
    free(items);
    return ok;
}

static void free_family(family_matcher *m)
{
    free(m->map.low4);
    free(m->map.start4);
    free(m->map.answer4);
    free(m->map.v6);
    free(m->map.buckets);
    for (size_t g = 0; g < m->group_count; g++) {
        free(m->groups[g].v4);
        free(m->groups[g].v6);
        free(m->groups[g].filter);
    }
    free(m->groups);
}

void relay_list_free(relay_list *list)
{
    if (!list) {
        return;
    }
    free_family(&list->v4);
    free_family(&list->v6);
    free(list->entries);
    free(list->texts);
    free(list->name);
    free(list->answers);
    free(list);
}

static char *copy_string(const char *s)
{
    size_t n = strlen(s) + 1;
    char *c = malloc(n);
    if (c) {
        memcpy(c, s, n);
    }
    return c;
}

relay_list *relay_list_build(const regio_list *source, regio_diag_list *diags)
{
    relay_list *list = calloc(1, sizeof(*list));
    if (!list) {
        return NULL;
    }
    const char *name = source->name ? source->name : "";
    list->name = copy_string(name);
    list->state = source->state;
    if (!list->name) {
        relay_list_free(list);
        return NULL;
    }
    bool readable = source->state == REGIO_VALUE_OK || source->state == REGIO_VALUE_COERCED;
    size_t lines = readable && source->lines ? source->count : 0;
    /* Bounded so that line numbers and text offsets fit 32 bits (lines are at most
     * RELAY_LINE_MAX characters). The lines beyond are not read: they count as invalid. */
    size_t beyond = 0;
    if (lines > RELAY_LIST_LINES_MAX) {
        beyond = lines - RELAY_LIST_LINES_MAX;
        lines = RELAY_LIST_LINES_MAX;
        list->invalid = beyond;
        regio_diag_add(diags, REGIO_SEV_ERROR, name, 0, NULL,
                       "%s has %lu lines; only the first %lu are read", name,
                       (unsigned long)(lines + beyond), (unsigned long)RELAY_LIST_LINES_MAX);
    }
    list->entries = malloc((lines ? lines : 1) * sizeof(*list->entries));
    size_t *offsets = malloc((lines ? lines : 1) * sizeof(*offsets));
    if (!list->entries || !offsets) {
        free(offsets);
        relay_list_free(list);
        return NULL;
    }

    size_t text_bytes = 0, reported = 0, unreported = 0, unreported_errors = 0;
    char why[REGIO_DIAG_MESSAGE_MAX];
    for (size_t i = 0; i < lines; i++) {
        const char *text = source->lines[i] ? source->lines[i] : "";
        relay_rule rule;
        relay_line_kind kind = relay_line_parse(text, &rule, why, sizeof(why));
        uint32_t line_no = (uint32_t)(i + 1);
        if (kind == RELAY_LINE_INVALID) {
            list->invalid++;
        }
        if (kind == RELAY_LINE_INVALID || (kind == RELAY_LINE_RULE && rule.never_matches)) {
            regio_severity sev = kind == RELAY_LINE_INVALID ? REGIO_SEV_ERROR : REGIO_SEV_WARNING;
            if (reported < RELAY_LIST_DIAG_LINES) {
                regio_diag_add(diags, sev, name, line_no, text, "%s", why);
                reported++;
            } else {
                unreported++;
                unreported_errors += sev == REGIO_SEV_ERROR;
            }
        }
        if (kind != RELAY_LINE_RULE) {
            continue;
        }
        relay_entry *e = &list->entries[list->count];
        e->line = line_no;
        e->rule = rule;
        if (!rule.never_matches &&
            (rule.net.family == RELAY_AF_INET4 || rule.net.family == RELAY_AF_INET6)) {
            size_t f = rule.net.family == RELAY_AF_INET6;
            if (rule.prefix >= 0) {
                list->contiguous[f]++;
            } else {
                list->scattered[f]++;
            }
        }
        offsets[list->count] = text_bytes;
        text_bytes += strlen(text) + 1; /* at most RELAY_LINE_MAX + 1 */
        list->count++;
    }
    if (unreported) {
        regio_diag_add(diags, unreported_errors ? REGIO_SEV_ERROR : REGIO_SEV_WARNING, name, 0,
                       NULL, "%lu more lines with problems (%lu invalid) are not listed one by one",
                       (unsigned long)unreported, (unsigned long)unreported_errors);
    }

    list->texts = malloc(text_bytes ? text_bytes : 1);
    if (!list->texts) {
        free(offsets);
        relay_list_free(list);
        return NULL;
    }
    for (size_t i = 0, k = 0; i < lines && k < list->count; i++) {
        if (list->entries[k].line != i + 1) {
            continue;
        }
        size_t n = strlen(source->lines[i]) + 1;
        memcpy(list->texts + offsets[k], source->lines[i], n);
        list->entries[k].text = list->texts + offsets[k];
        k++;
    }
    free(offsets);

    list->answers = malloc((list->count ? list->count : 1) * sizeof(*list->answers));
    if (!list->answers) {
        relay_list_free(list);
        return NULL;
    }
    for (size_t k = 0; k < list->count; k++) {
        list->answers[k].line = list->entries[k].line;
        list->answers[k].text = (uint32_t)(list->entries[k].text - list->texts);
    }
    bool built = build_family(list, RELAY_AF_INET4, &list->v4) &&
                 build_family(list, RELAY_AF_INET6, &list->v6);
    free(list->answers);
    list->answers = NULL;
    if (!built) {
        relay_list_free(list);
        return NULL;
    }
    return list;
}

/* ---- lookups ------------------------------------------------------------------------- */

static answer boundary_find(const boundary_map *map, u128 x)
{
    const answer none = {NONE, 0};
    if (map->count == 0) {
        return none;
    }
    size_t last = map->count - 1;
    /* Below the first start: nothing; from the last start on: the last answer; in between,
     * x shares the bits above the bucket with every start. */
    if (map->answer4) {
        uint32_t key = (uint32_t)x.lo;
        if (key < map->first4) {
            return none;
        }
        if (key >= map->last4) {
            return map->answer4[last];
        }
        uint32_t bucket = u128_bits(x, map->bucket_shift, map->bucket_bits);
        size_t lo = map->buckets[bucket], hi = map->buckets[bucket + 1];
        if (map->low4) {
            uint16_t low = (uint16_t)u128_bits(x, 0, map->bucket_shift);
            while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (map->low4[mid] <= low) {
                    lo = mid + 1;
                } else {
                    hi = mid;
                }
            }
        } else {
            while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (map->start4[mid] <= key) {
                    lo = mid + 1;
                } else {
                    hi = mid;
                }
            }
        }
        /* lo is the first start above x; every start before it is at or below x (lo > 0:
         * the first start is). */
        return map->answer4[lo - 1];
    }
    if (u128_cmp(x, map->v6[0].start) < 0) {
        return none;
    }
    if (u128_cmp(x, map->v6[last].start) >= 0) {
        return map->v6[last].answer;
    }
    uint32_t bucket = u128_bits(x, map->bucket_shift, map->bucket_bits);
    size_t lo = map->buckets[bucket], hi = map->buckets[bucket + 1];
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (u128_cmp(map->v6[mid].start, x) <= 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return map->v6[lo - 1].answer;
}

static answer group_find(const mask_group *g, u128 x)
{
    u128 key = u128_and(x, g->mask);
    uint64_t hash = u128_hash(key);
    size_t bit = filter_bit(g, hash);
    if (!(g->filter[bit / 64] >> (bit % 64) & 1)) {
        const answer none = {NONE, 0};
        return none;
    }
    size_t at = (size_t)hash & (g->slots - 1);
    if (g->v4) {
        for (;; at = (at + 1) & (g->slots - 1)) {
            const slot4 *s = &g->v4[at];
            if (s->answer.line == NONE || s->key == (uint32_t)key.lo) {
                return s->answer;
            }
        }
    }
    for (;; at = (at + 1) & (g->slots - 1)) {
        const slot6 *s = &g->v6[at];
        if (s->answer.line == NONE || u128_eq(s->key, key)) {
            return s->answer;
        }
    }
}

static answer find(const relay_list *list, const relay_addr *address)
{
    const answer none = {NONE, 0};
    relay_addr a = relay_addr_normalized(address);
    const family_matcher *m;
    if (a.family == RELAY_AF_INET4) {
        m = &list->v4;
    } else if (a.family == RELAY_AF_INET6) {
        m = &list->v6;
    } else {
        return none;
    }
    u128 x = u128_of(&a);
    answer best = boundary_find(&m->map, x);
    for (size_t g = 0; g < m->group_count && m->groups[g].min_line < best.line; g++) {
        answer found = group_find(&m->groups[g], x);
        if (found.line < best.line) {
            best = found;
        }
    }
    return best;
}

bool relay_list_lookup(const relay_list *list, const relay_addr *address, uint32_t *line,
                       const char **text)
{
    answer a = find(list, address);
    if (a.line == NONE) {
        return false;
    }
    *line = a.line;
    *text = list->texts + a.text;
    return true;
}

size_t relay_list_match(const relay_list *list, const relay_addr *address)
{
    answer a = find(list, address);
    if (a.line == NONE) {
        return RELAY_NO_MATCH;
    }
    /* Entries are in line order. */
    size_t lo = 0, hi = list->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (list->entries[mid].line < a.line) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

size_t relay_list_match_linear(const relay_list *list, const relay_addr *address)
{
    relay_addr a = relay_addr_normalized(address);
    for (size_t i = 0; i < list->count; i++) {
        if (relay_rule_matches(&list->entries[i].rule, &a)) {
            return i;
        }
    }
    return RELAY_NO_MATCH;
}

const char *relay_list_name(const relay_list *list)
{
    return list->name;
}

regio_value_state relay_list_state(const relay_list *list)
{
    return list->state;
}

size_t relay_list_invalid_lines(const relay_list *list)
{
    return list->invalid;
}

size_t relay_list_count(const relay_list *list)
{
    return list->count;
}

const relay_entry *relay_list_entry(const relay_list *list, size_t index)
{
    return index < list->count ? &list->entries[index] : NULL;
}
