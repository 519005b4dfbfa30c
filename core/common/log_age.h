/* How old a daily log file is, from its name alone (<prefix>-YYYYMMDD.log, the day in UTC):
 * the service deletes the files of its own logs that are older than LogMaxAgeDays, and only
 * those, so a name that does not parse exactly is never old. */
#ifndef IMSRELAY_LOG_AGE_H
#define IMSRELAY_LOG_AGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Days since 1970-01-01 of a proleptic Gregorian date (month 1..12, day 1..31). */
static inline int64_t log_age_day_number(int64_t year, unsigned month, unsigned day)
{
    year -= month <= 2;
    int64_t era = (year >= 0 ? year : year - 399) / 400;
    int64_t year_of_era = year - era * 400;
    int64_t day_of_year = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
    int64_t day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    return era * 146097 + day_of_era - 719468;
}

/* The day number in `name` when it is exactly prefix "-" YYYYMMDD ".log" (ASCII, the case of
 * ".log" and of the prefix as written: the service writes both), with a real calendar date. */
static inline bool log_age_name_day(const char *name, const char *prefix, int64_t *day_number)
{
    size_t p = strlen(prefix);
    if (strlen(name) != p + 1 + 8 + 4 || memcmp(name, prefix, p) != 0 || name[p] != '-' ||
        memcmp(name + p + 9, ".log", 4) != 0) {
        return false;
    }
    unsigned v[8];
    for (size_t i = 0; i < 8; i++) {
        char c = name[p + 1 + i];
        if (c < '0' || c > '9') {
            return false;
        }
        v[i] = (unsigned)(c - '0');
    }
    unsigned year = v[0] * 1000 + v[1] * 100 + v[2] * 10 + v[3];
    unsigned month = v[4] * 10 + v[5], day = v[6] * 10 + v[7];
    static const unsigned char days_in[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (year < 1970 || month < 1 || month > 12 || day < 1 || day > days_in[month - 1]) {
        return false;
    }
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    if (month == 2 && day == 29 && !leap) {
        return false;
    }
    *day_number = log_age_day_number(year, month, day);
    return true;
}

/* A file of this log older than max_days whole days on day `today` (max_days 0: kept for
 * ever; a file dated after today, a clock set back, is kept). */
static inline bool log_age_expired(const char *name, const char *prefix, int64_t today,
                                   uint32_t max_days)
{
    int64_t day;
    return max_days != 0 && log_age_name_day(name, prefix, &day) && today - day > max_days;
}

#endif
