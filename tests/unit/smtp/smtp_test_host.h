/* A scripted host for the SMTP engine tests: answers the callbacks as configured and
 * records everything the engine did, so a test can state a whole conversation and check
 * the replies, the messages stored and the log. */
#ifndef IMSRELAY_TEST_SMTP_TEST_HOST_H
#define IMSRELAY_TEST_SMTP_TEST_HOST_H

#include "smtp_session.h"

#define TEST_MAX_MESSAGES 8
#define TEST_BODY_MAX     (1u << 20)
#define TEST_TEXT_MAX     (1u << 16)

typedef struct test_message {
    char envelope[2048]; /* "helo|from|rcpt(L),rcpt(R)|client|account|body|size" */
    size_t recipient_count;
    char last_recipient[300];
    char *body;
    size_t body_len;
    bool committed;
    bool aborted;
} test_message;

typedef struct test_host {
    smtp_host host;

    /* How the host answers. */
    bool relay_allow_all;
    bool relay_allow_authenticated; /* RelayFlags bit 4 */
    const char *user;
    const char *password;
    bool auth_tempfail;
    bool auth_pending; /* answer SMTP_AUTH_PENDING, as a host with a hashing pool does */
    bool storage_full; /* data_begin/data_write refusals are for a storage limit */
    bool fail_begin;
    bool fail_write;
    bool fail_commit;

    /* What the engine did. */
    int relay_calls;
    char relay_last_recipient[300];
    char relay_last_account[300];
    int auth_calls;
    char auth_last_user[300];
    char auth_last_password[300];
    test_message messages[TEST_MAX_MESSAGES];
    int begins; /* data_begin calls */
    int ends;   /* data_end calls */
    int writes; /* data_write calls */
    char log[TEST_TEXT_MAX];
    size_t log_len;
    char output[TEST_TEXT_MAX]; /* every byte sent, in order */
    size_t output_len;
    uint32_t delays[16]; /* each delay honoured, in order */
    int delay_count;
    bool closed;
} test_host;

/* Default answers: local domains example.com and [192.0.2.1], relay denied, AUTH offered
 * with user "alice" password "secret", every callback succeeding. */
void test_host_init(test_host *t);
void test_host_free(test_host *t);
smtp_session *test_session(test_host *t);

/* Feeds input as a client that pipelines by the rules (RFC 2920) sends it: nothing after a
 * DATA line until DATA's reply is in; each part in chunks of `chunk` bytes (0: all at
 * once), sending the output and honouring delays after each feed call exactly as a host
 * must. Returns t->output. */
const char *test_feed(test_host *t, smtp_session *s, const char *input, size_t len, size_t chunk);
const char *test_feeds(test_host *t, smtp_session *s, const char *input); /* whole string */
/* The same without waiting after DATA: input in chunks of `chunk` bytes, as a client that
 * pipelines message text or commands behind DATA sends it. */
const char *test_feed_at_once(test_host *t, smtp_session *s, const char *input, size_t len,
                              size_t chunk);
const char *test_feeds_at_once(test_host *t, smtp_session *s, const char *input);

/* The output of a fresh session fed `input` in one piece, or byte by byte. */
const char *test_conversation(test_host *t, const char *input, size_t chunk);

/* Number of messages committed. */
int test_committed(const test_host *t);

#endif
