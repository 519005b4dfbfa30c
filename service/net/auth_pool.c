#include "net/auth_pool.h"

#include <windows.h>

#include <stdlib.h>

#include "store/user_store.h"
#include "store/windows_accounts.h"

struct auth_pool {
    CRITICAL_SECTION lock;
    CONDITION_VARIABLE wake;
    auth_job *head, *tail;
    unsigned taken; /* places reserved: queued, running, or about to be submitted */
    bool stopping;
    HANDLE threads[AUTH_POOL_THREADS];
    size_t thread_count;
};

smtp_auth_verdict auth_pool_verify(const char *user, const char *password, bool windows_accounts)
{
    if (user_store_verify(USER_STORE_KEY, user, password)) {
        return SMTP_AUTH_OK;
    }
    if (windows_accounts && windows_accounts_verify(user, password)) {
        return SMTP_AUTH_OK;
    }
    return SMTP_AUTH_FAIL;
}

static void finish(auth_pool *pool, auth_job *job, smtp_auth_verdict verdict)
{
    job->verdict = verdict;
    SecureZeroMemory(job->password, sizeof(job->password));
    job->state = AUTH_JOB_DONE;
    EnterCriticalSection(&pool->lock);
    pool->taken--;
    LeaveCriticalSection(&pool->lock);
    /* Last: after done() the session may be running on a worker, or gone. */
    job->done(job->ctx);
}

static DWORD WINAPI pool_main(void *param)
{
    auth_pool *pool = param;
    for (;;) {
        EnterCriticalSection(&pool->lock);
        while (!pool->head && !pool->stopping) {
            SleepConditionVariableCS(&pool->wake, &pool->lock, INFINITE);
        }
        auth_job *job = pool->head;
        if (!job) {
            LeaveCriticalSection(&pool->lock);
            return 0;
        }
        pool->head = job->next;
        if (!pool->head) {
            pool->tail = NULL;
        }
        bool stopping = pool->stopping;
        LeaveCriticalSection(&pool->lock);
        finish(pool, job,
               stopping ? SMTP_AUTH_TEMPFAIL
                        : auth_pool_verify(job->user, job->password, job->windows_accounts));
    }
}

auth_pool *auth_pool_create(void)
{
    auth_pool *pool = calloc(1, sizeof(*pool));
    if (!pool) {
        return NULL;
    }
    InitializeCriticalSection(&pool->lock);
    InitializeConditionVariable(&pool->wake);
    for (size_t i = 0; i < AUTH_POOL_THREADS; i++) {
        pool->threads[i] = CreateThread(NULL, 0, pool_main, pool, 0, NULL);
        if (!pool->threads[i]) {
            auth_pool_destroy(pool);
            return NULL;
        }
        pool->thread_count++;
    }
    return pool;
}

void auth_pool_destroy(auth_pool *pool)
{
    if (!pool) {
        return;
    }
    EnterCriticalSection(&pool->lock);
    pool->stopping = true;
    WakeAllConditionVariable(&pool->wake);
    LeaveCriticalSection(&pool->lock);
    for (size_t i = 0; i < pool->thread_count; i++) {
        WaitForSingleObject(pool->threads[i], INFINITE);
        CloseHandle(pool->threads[i]);
    }
    DeleteCriticalSection(&pool->lock);
    free(pool);
}

bool auth_pool_reserve(auth_pool *pool)
{
    EnterCriticalSection(&pool->lock);
    bool ok = !pool->stopping && pool->taken < AUTH_POOL_QUEUE;
    if (ok) {
        pool->taken++;
    }
    LeaveCriticalSection(&pool->lock);
    return ok;
}

void auth_pool_unreserve(auth_pool *pool)
{
    EnterCriticalSection(&pool->lock);
    pool->taken--;
    LeaveCriticalSection(&pool->lock);
}

void auth_pool_submit(auth_pool *pool, auth_job *job, void (*done)(void *ctx), void *ctx)
{
    job->done = done;
    job->ctx = ctx;
    job->next = NULL;
    job->state = AUTH_JOB_QUEUED;
    EnterCriticalSection(&pool->lock);
    if (pool->tail) {
        pool->tail->next = job;
    } else {
        pool->head = job;
    }
    pool->tail = job;
    WakeConditionVariable(&pool->wake);
    LeaveCriticalSection(&pool->lock);
}
