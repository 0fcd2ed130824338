/*
 * wsgid_exchange.h: one exchange with a daemon group over its socket, as
 * docs/protocol.md describes it: connect, send the packet (and a body),
 * half-close, read and validate the response head.  The handler streams
 * the body that follows; a hook call only needs the head.
 *
 * Every failure is one error-log line naming the group, the socket path
 * and errno, and maps to the status of protocol.md: no connection within
 * connect-timeout 503, a daemon that closed or failed before a complete
 * head 502, a malformed head 502, socket-timeout passed 504.
 */
#ifndef WSGID_EXCHANGE_H
#define WSGID_EXCHANGE_H

#include "apr_network_io.h"
#include "httpd.h"

#include "wsgid_config.h"
#include "wsgid_wire.h"

/* The read buffer takes the head and the first bytes of the body, then each
 * read of the body: the head limit (header-buffer-size= may raise it above
 * WSGID_WIRE_MAX_HEAD_SIZE) plus this much, or response-buffer-size= if
 * that is larger. */
#define WSGID_BODY_READ_SIZE 8192

typedef struct {
    request_rec *r;
    const wsgid_daemon_group *group;
    apr_socket_t *sock;                  /* NULL until connected */
    char *buf;                           /* buf_size bytes */
    apr_size_t buf_size;
    apr_size_t buf_len;
    wsgid_head head;                     /* valid after read_head: OK */
    apr_interval_time_t timeout;         /* socket-timeout */
    /* A body send may stop when the daemon answers: only when the daemon
     * can tell the stop from the end (the body has a CONTENT_LENGTH). */
    int may_stop_when_answered;
    int connect_attempts;                /* connect() calls it took */
    const char *carry;                   /* read past the last head: the next */
    apr_size_t carry_len;                /* read_head starts with these bytes */
} wsgid_exchange;

/* wsgid_exchange_send's "stop sending: the daemon has begun to answer". */
#define WSGID_EXCHANGE_ANSWERED (APR_OS_START_USERERR + 71)

/* Connect within the group's connect-timeout and set its socket-timeout
 * (Apache's Timeout when unset).  OK or 503. */
int wsgid_exchange_connect(wsgid_exchange *x, request_rec *r,
                           const wsgid_daemon_group *group);

/* Send all of data; APR_SUCCESS or the error of the failed send.  A send
 * that would wait first looks whether the daemon has begun to answer (an
 * application may answer without reading the whole body, and a daemon
 * writing a big answer while we write a big body would wait on each other
 * until socket-timeout): then WSGID_EXCHANGE_ANSWERED, read the answer
 * (only with may_stop_when_answered; the packet is sent before it is set). */
apr_status_t wsgid_exchange_send(wsgid_exchange *x, const char *data,
                                 apr_size_t len);

/* wsgid_exchange_send for nvec pieces in as few system calls as the socket
 * allows; vec is changed as it goes. */
apr_status_t wsgid_exchange_sendv(wsgid_exchange *x, struct iovec *vec,
                                  apr_int32_t nvec);

/* EPIPE, ECONNRESET or WSGID_EXCHANGE_ANSWERED while sending: the daemon
 * stopped reading or began to answer, so its answer is waiting to be read. */
int wsgid_exchange_daemon_answered(apr_status_t rv);

/* Encode vars (vars_size from wsgid_wire_vars_size) and send the packet,
 * and the body behind it when body_len is not 0 (a body read whole,
 * wsgid_body.h).  OK, also when the daemon answered before taking all of
 * it, or 502/504. */
int wsgid_exchange_send_packet(wsgid_exchange *x, const wsgid_wire_var *vars,
                               apr_size_t n, apr_size_t vars_size,
                               const char *body, apr_size_t body_len);

/* The request is complete: half-close, the daemon's end-of-body. */
void wsgid_exchange_end_request(wsgid_exchange *x);

/* Read until the head is complete and valid: OK (x->head set; x->buf
 * holds it and maybe the first body bytes), 502 or 504. */
int wsgid_exchange_read_head(wsgid_exchange *x);

/* The head read was an interim one (the daemon's 100): the bytes after it
 * belong to the next head, which the next read_head starts with. */
void wsgid_exchange_after_interim_head(wsgid_exchange *x);

/* Call fn for each header of the head read (valid: read_head said OK). */
void wsgid_exchange_headers(wsgid_exchange *x, wsgid_head_header_fn fn,
                            void *ctx);

void wsgid_exchange_close(wsgid_exchange *x);

#endif /* WSGID_EXCHANGE_H */
