/*
 * wsgid_exchange.c: connect, send, read the response head (see
 * wsgid_exchange.h).  The log lines keep one shape, "mod_wsgid: group 'G'
 * socket PATH: what happened; answering STATUS", so that one grep finds
 * every failure of a group.
 */
#include "apr_poll.h"
#include "apr_strings.h"

#include "httpd.h"
#include "http_config.h"
#include "http_log.h"

#include "wsgid_conn.h"
#include "wsgid_exchange.h"

APLOG_USE_MODULE(wsgid);

int wsgid_exchange_connect(wsgid_exchange *x, request_rec *r,
                           const wsgid_daemon_group *group)
{
    wsgid_connect_info info;
    apr_status_t rv;

    memset(x, 0, sizeof(*x));
    x->r = r;
    x->group = group;
    rv = wsgid_connect_with_retry(r->pool, group->socket_path,
                                  group->connect_timeout, &x->sock, &info);
    x->connect_attempts = info.attempts;
    if (rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r,
                      "mod_wsgid: group '%s' socket %s: cannot connect "
                      "after %d attempts within connect-timeout %g s%s; "
                      "answering 503", group->name, group->socket_path,
                      info.attempts,
                      (double)group->connect_timeout / APR_USEC_PER_SEC,
                      info.backlog_full ? " (listen backlog full)" : "");
        return HTTP_SERVICE_UNAVAILABLE;
    }
    x->timeout = group->socket_timeout ? group->socket_timeout
                                       : r->server->timeout;
    apr_socket_timeout_set(x->sock, x->timeout);
    return OK;
}

/* Wait until the daemon socket takes more bytes (APR_SUCCESS) or has an
 * answer to read (WSGID_EXCHANGE_ANSWERED), at most socket-timeout. */
static apr_status_t wait_writable_or_answered(wsgid_exchange *x)
{
    apr_pollfd_t pfd;
    apr_int32_t ready = 0;
    apr_status_t rv;

    memset(&pfd, 0, sizeof(pfd));
    pfd.p = x->r->pool;
    pfd.desc_type = APR_POLL_SOCKET;
    pfd.desc.s = x->sock;
    pfd.reqevents = x->may_stop_when_answered ? APR_POLLIN | APR_POLLOUT
                                              : APR_POLLOUT;
    do {
        rv = apr_poll(&pfd, 1, &ready, x->timeout);
    } while (APR_STATUS_IS_EINTR(rv));
    if (rv != APR_SUCCESS) {
        return rv;   /* APR_TIMEUP: socket-timeout passed */
    }
    if (pfd.rtnevents & (APR_POLLIN | APR_POLLHUP | APR_POLLERR)) {
        return WSGID_EXCHANGE_ANSWERED;
    }
    return APR_SUCCESS;
}

apr_status_t wsgid_exchange_sendv(wsgid_exchange *x, struct iovec *vec,
                                  apr_int32_t nvec)
{
    while (nvec > 0) {
        apr_size_t n = 0;
        apr_status_t rv;

        /* Timeout 0 makes the send return EAGAIN instead of waiting; with
         * a socket that is non-blocking already, switching costs no
         * system call. */
        apr_socket_timeout_set(x->sock, 0);
        rv = apr_socket_sendv(x->sock, vec, nvec, &n);
        apr_socket_timeout_set(x->sock, x->timeout);
        /* step past what was sent: whole vectors, then part of one */
        while (nvec > 0 && n >= vec->iov_len) {
            n -= vec->iov_len;
            vec++;
            nvec--;
        }
        if (nvec > 0) {
            vec->iov_base = (char *)vec->iov_base + n;
            vec->iov_len -= n;
        }
        if (APR_STATUS_IS_EAGAIN(rv)) {
            rv = wait_writable_or_answered(x);
        }
        if (rv != APR_SUCCESS) {
            return rv;
        }
    }
    return APR_SUCCESS;
}

apr_status_t wsgid_exchange_send(wsgid_exchange *x, const char *data,
                                 apr_size_t len)
{
    struct iovec vec = { (void *)data, len };

    return wsgid_exchange_sendv(x, &vec, 1);
}

int wsgid_exchange_daemon_answered(apr_status_t rv)
{
    return rv == WSGID_EXCHANGE_ANSWERED || APR_STATUS_IS_EPIPE(rv)
           || APR_STATUS_IS_ECONNRESET(rv);
}

int wsgid_exchange_send_packet(wsgid_exchange *x, const wsgid_wire_var *vars,
                               apr_size_t n, apr_size_t vars_size,
                               const char *body, apr_size_t body_len)
{
    unsigned char *packet = apr_palloc(x->r->pool,
                                       WSGID_WIRE_HEADER_SIZE + vars_size);
    struct iovec vec[2];
    apr_status_t rv;
    int status;

    vec[0].iov_base = packet;
    vec[0].iov_len = wsgid_wire_encode(vars, n, vars_size, packet);
    vec[1].iov_base = (void *)body;
    vec[1].iov_len = body_len;
    rv = wsgid_exchange_sendv(x, vec, body_len ? 2 : 1);

    if (rv == APR_SUCCESS || wsgid_exchange_daemon_answered(rv)) {
        return OK;
    }
    status = APR_STATUS_IS_TIMEUP(rv) ? HTTP_GATEWAY_TIME_OUT
                                      : HTTP_BAD_GATEWAY;
    ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, x->r,
                  "mod_wsgid: group '%s' socket %s: cannot send the request "
                  "packet; answering %d", x->group->name,
                  x->group->socket_path, status);
    return status;
}

void wsgid_exchange_end_request(wsgid_exchange *x)
{
    apr_socket_shutdown(x->sock, APR_SHUTDOWN_WRITE);
}

int wsgid_exchange_read_head(wsgid_exchange *x)
{
    request_rec *r = x->r;
    wsgid_head_result head_rv = WSGID_HEAD_NEED_MORE;
    apr_status_t rv = APR_SUCCESS;

    apr_size_t head_limit = x->group->header_buffer_size
                            > WSGID_WIRE_MAX_HEAD_SIZE
                            ? x->group->header_buffer_size
                            : WSGID_WIRE_MAX_HEAD_SIZE;

    x->buf_size = head_limit + WSGID_BODY_READ_SIZE;
    if (x->group->response_buffer_size > x->buf_size) {
        x->buf_size = x->group->response_buffer_size;
    }
    x->buf = apr_palloc(r->pool, x->buf_size);
    x->buf_len = 0;
    memset(&x->head, 0, sizeof(x->head));
    x->head.max_size = head_limit;
    if (x->carry_len > 0) {
        /* what came after an interim head (never more than a buffer) */
        memcpy(x->buf, x->carry, x->carry_len);
        x->buf_len = x->carry_len;
        x->carry_len = 0;
        head_rv = wsgid_wire_parse_head(x->buf, x->buf_len, &x->head, NULL,
                                        NULL);
    }
    while (head_rv == WSGID_HEAD_NEED_MORE) {
        apr_size_t n = x->buf_size - x->buf_len;

        rv = apr_socket_recv(x->sock, x->buf + x->buf_len, &n);
        x->buf_len += n;
        if (n > 0) {
            head_rv = wsgid_wire_parse_head(x->buf, x->buf_len, &x->head,
                                            NULL, NULL);
        }
        if (rv != APR_SUCCESS && head_rv == WSGID_HEAD_NEED_MORE) {
            break;
        }
    }
    if (head_rv == WSGID_HEAD_NEED_MORE) {
        if (APR_STATUS_IS_TIMEUP(rv)) {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r,
                          "mod_wsgid: group '%s' socket %s: no complete "
                          "response head within socket-timeout; answering "
                          "504", x->group->name, x->group->socket_path);
            return HTTP_GATEWAY_TIME_OUT;
        }
        ap_log_rerror(APLOG_MARK, APLOG_ERR, APR_STATUS_IS_EOF(rv) ? 0 : rv,
                      r, "mod_wsgid: group '%s' socket %s: the daemon %s "
                      "after %" APR_SIZE_T_FMT " bytes, before a complete "
                      "response head; answering 502", x->group->name,
                      x->group->socket_path,
                      APR_STATUS_IS_EOF(rv) ? "closed the connection"
                                            : "connection failed",
                      x->buf_len);
        return HTTP_BAD_GATEWAY;
    }
    if (head_rv == WSGID_HEAD_TOO_LARGE) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "mod_wsgid: group '%s' socket %s: the response head "
                      "from the daemon is larger than %" APR_SIZE_T_FMT
                      " bytes; answering 502 (raise header-buffer-size= of "
                      "WSGIDaemonProcess %s if the application means it)",
                      x->group->name, x->group->socket_path,
                      x->head.max_size, x->group->name);
        return HTTP_BAD_GATEWAY;
    }
    if (head_rv != WSGID_HEAD_OK) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "mod_wsgid: group '%s' socket %s: malformed response "
                      "head from the daemon: %s (at byte %" APR_SIZE_T_FMT
                      "); answering 502", x->group->name,
                      x->group->socket_path,
                      wsgid_wire_head_result_text(head_rv),
                      x->head.error_offset);
        return HTTP_BAD_GATEWAY;
    }
    return OK;
}

void wsgid_exchange_after_interim_head(wsgid_exchange *x)
{
    x->carry = x->buf + x->head.body_offset;
    x->carry_len = x->buf_len - x->head.body_offset;
}

void wsgid_exchange_headers(wsgid_exchange *x, wsgid_head_header_fn fn,
                            void *ctx)
{
    wsgid_wire_head_each_header(x->buf, &x->head, fn, ctx);
}

void wsgid_exchange_close(wsgid_exchange *x)
{
    if (x->sock) {
        apr_socket_close(x->sock);
        x->sock = NULL;
    }
}
