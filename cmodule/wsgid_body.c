/*
 * wsgid_body.c: the request body from the client (see wsgid_body.h).
 */
#include "apr_strings.h"

#include "httpd.h"
#include "http_log.h"
#include "http_protocol.h"
#include "util_filter.h"

#include "wsgid_body.h"

APLOG_USE_MODULE(wsgid);

int wsgid_body_each(request_rec *r, const char *group, const char *socket,
                    apr_off_t readbytes, wsgid_body_fn fn, void *ctx)
{
    apr_bucket_brigade *bb = apr_brigade_create(r->pool,
                                                r->connection->bucket_alloc);
    int status = OK;

    for (;;) {
        apr_bucket *b;
        apr_status_t rv = ap_get_brigade(r->input_filters, bb,
                                         AP_MODE_READBYTES, APR_BLOCK_READ,
                                         readbytes);

        for (b = APR_BRIGADE_FIRST(bb);
             rv == APR_SUCCESS && b != APR_BRIGADE_SENTINEL(bb);
             b = APR_BUCKET_NEXT(b)) {
            const char *data;
            apr_size_t len;

            if (APR_BUCKET_IS_EOS(b)) {
                apr_brigade_cleanup(bb);
                return OK;
            }
            if (APR_BUCKET_IS_METADATA(b)) {
                continue;
            }
            rv = apr_bucket_read(b, &data, &len, APR_BLOCK_READ);
            if (rv == APR_SUCCESS && (status = fn(ctx, data, len)) != OK) {
                apr_brigade_cleanup(bb);
                return status;
            }
        }
        apr_brigade_cleanup(bb);
        if (rv != APR_SUCCESS) {
            if (group) {
                ap_log_rerror(APLOG_MARK, APLOG_INFO, rv, r,
                              "mod_wsgid: group '%s' socket %s: reading the "
                              "request body from the client failed", group,
                              socket);
            }
            else {
                ap_log_rerror(APLOG_MARK, APLOG_INFO, rv, r,
                              "mod_wsgid: reading the request body from the "
                              "client failed");
            }
            return ap_map_http_request_error(rv, HTTP_BAD_REQUEST);
        }
    }
}

wsgid_body_kind wsgid_body_kind_of(request_rec *r, apr_size_t *size)
{
    const char *length = apr_table_get(r->headers_in, "Content-Length");
    apr_off_t n;
    char *end;

    if (apr_table_get(r->headers_in, "Transfer-Encoding") != NULL) {
        return WSGID_BODY_CHUNKED;
    }
    if (length == NULL) {
        return WSGID_BODY_NONE;
    }
    if (apr_strtoff(&n, length, &end, 10) != APR_SUCCESS || *end != '\0'
        || n < 0 || n > WSGID_BODY_WHOLE_LIMIT) {
        return WSGID_BODY_LARGE;
    }
    *size = (apr_size_t)n;
    return n == 0 ? WSGID_BODY_NONE : WSGID_BODY_WHOLE;
}

typedef struct {
    request_rec *r;
    char *buf;
    apr_size_t size;
    apr_size_t len;
} whole_body;

static int copy_piece(void *ctx, const char *data, apr_size_t len)
{
    whole_body *body = ctx;

    /* the HTTP input filter ends the body at Content-Length: an input
     * filter that adds to it is refused rather than cut */
    if (len > body->size - body->len) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, body->r,
                      "mod_wsgid: an input filter made the request body "
                      "longer than its Content-Length (%" APR_SIZE_T_FMT
                      " bytes); answering 400", body->size);
        return HTTP_BAD_REQUEST;
    }
    memcpy(body->buf + body->len, data, len);
    body->len += len;
    return OK;
}

int wsgid_body_read_whole(request_rec *r, const char *group,
                          const char *socket, apr_size_t size, char **out)
{
    whole_body body = { r, apr_palloc(r->pool, size), size, 0 };
    int status = wsgid_body_each(r, group, socket, (apr_off_t)size,
                                 copy_piece, &body);

    if (status == OK && body.len < size) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      "mod_wsgid: the request body ended after %"
                      APR_SIZE_T_FMT " of %" APR_SIZE_T_FMT " bytes",
                      body.len, size);
        status = HTTP_BAD_REQUEST;
    }
    *out = body.buf;
    return status;
}
