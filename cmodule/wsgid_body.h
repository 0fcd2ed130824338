/*
 * wsgid_body.h: the request body from the client, as Apache's input filters
 * give it (de-chunked, within LimitRequestBody), piece by piece.
 */
#ifndef WSGID_BODY_H
#define WSGID_BODY_H

#include "apr_buckets.h"
#include "httpd.h"

/* What to do with one piece: OK to go on, anything else to stop there
 * (DONE: stopped on purpose; an HTTP status: a failure, logged by fn). */
typedef int (*wsgid_body_fn)(void *ctx, const char *data, apr_size_t len);

/* Hand the pieces of r's body to fn, in order, reading at most `readbytes`
 * at a time.  OK once the body has ended; what fn returned when it stopped;
 * or, when reading fails, the status Apache maps the error to (400 unless
 * a limit says 413, ...), after one info line that names the daemon group
 * and its socket when `group` is not NULL. */
int wsgid_body_each(request_rec *r, const char *group, const char *socket,
                    apr_off_t readbytes, wsgid_body_fn fn, void *ctx);

#endif /* WSGID_BODY_H */
