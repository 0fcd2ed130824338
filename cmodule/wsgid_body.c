/*
 * wsgid_body.c: the request body from the client (see wsgid_body.h).
 */
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
