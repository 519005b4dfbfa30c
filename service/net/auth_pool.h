/* Password checks off the I/O workers. A check of an imsrelay account costs a
 * 100,000-round PBKDF2 (about 0.1 s, also for unknown accounts); run on the IOCP workers,
 * an AUTH flood made every other session wait for hashes. Here a small pool of threads
 * (AUTH_POOL_THREADS) takes checks from a bounded queue (AUTH_POOL_QUEUE): a session that
 * finds no room gets 454 4.7.0 at once, and no other session ever waits for a hash.
 *
 * A job is owned by its session (session_host): reserved by the AUTH callback, submitted by
 * the transport once the session has nothing else in flight, and finished by a pool thread,
 * which fills in the verdict, wipes the password and calls `done` (the transport posts the
 * session to its completion port). Thread-safe. */
#ifndef IMSRELAY_AUTH_POOL_H
#define IMSRELAY_AUTH_POOL_H

#include <stdbool.h>

#include "smtp_session.h"

#define AUTH_POOL_THREADS 2
#define AUTH_POOL_QUEUE   32 /* jobs reserved, queued or running, at most */

typedef enum auth_job_state {
    AUTH_JOB_NONE = 0,
    AUTH_JOB_READY, /* credentials in, a place in the pool reserved, not yet submitted */
    AUTH_JOB_QUEUED,
    AUTH_JOB_DONE, /* verdict in, to give the engine */
} auth_job_state;

typedef struct auth_job {
    auth_job_state state;
    char user[SMTP_CREDENTIAL_MAX + 1];
    char password[SMTP_CREDENTIAL_MAX + 1];
    bool windows_accounts; /* Windows accounts may be tried too */
    smtp_auth_verdict verdict;
    void (*done)(void *ctx);
    void *ctx;
    struct auth_job *next;
} auth_job;

typedef struct auth_pool auth_pool;

/* NULL when the threads cannot be made. */
auth_pool *auth_pool_create(void);
/* Stops the threads; jobs still queued finish with SMTP_AUTH_TEMPFAIL (their done runs). */
void auth_pool_destroy(auth_pool *pool);

/* Takes a place for one job; false when AUTH_POOL_QUEUE are taken (answer 454). */
bool auth_pool_reserve(auth_pool *pool);
/* Gives back a place that no job will use (the session ended before submitting). */
void auth_pool_unreserve(auth_pool *pool);
/* Queues a job that holds a place; done(ctx) runs on a pool thread once the verdict is in. */
void auth_pool_submit(auth_pool *pool, auth_job *job, void (*done)(void *ctx), void *ctx);

/* The check itself, as the pool runs it (also for hosts without a pool). */
smtp_auth_verdict auth_pool_verify(const char *user, const char *password, bool windows_accounts);

#endif
