/*
 * wsgid_body.h: the request body from the client, as Apache's input filters
 * give it (de-chunked, within LimitRequestBody): piece by piece, or whole
 * when it is small.
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

/* A body with a Content-Length of at most this many bytes (forms, JSON; not
 * uploads) is read whole from the client before the request goes to a
 * daemon (docs/protocol.md, "The request body"): it then leaves with the
 * packet in one write, a slow client never holds a daemon thread for it,
 * and the request can be sent again if its script changed (wsgid_replay.h). */
#define WSGID_BODY_WHOLE_LIMIT 65536

/* How r's body goes to the daemon: none, read whole, or streamed (the last
 * two kinds). */
typedef enum {
    WSGID_BODY_NONE,       /* no Transfer-Encoding; no Content-Length or 0 */
    WSGID_BODY_WHOLE,      /* Content-Length 1 to WSGID_BODY_WHOLE_LIMIT */
    WSGID_BODY_LARGE,      /* a larger Content-Length (or one the HTTP input
                            * filter will refuse at its read) */
    WSGID_BODY_CHUNKED     /* Transfer-Encoding, which wins over Content-Length
                            * as in the HTTP input filter */
} wsgid_body_kind;

/* r's kind of body; *size its Content-Length when WSGID_BODY_WHOLE. */
wsgid_body_kind wsgid_body_kind_of(request_rec *r, apr_size_t *size);

static APR_INLINE int wsgid_body_streamed(wsgid_body_kind kind)
{
    return kind == WSGID_BODY_LARGE || kind == WSGID_BODY_CHUNKED;
}

/* Read r's body of `size` bytes (WSGID_BODY_WHOLE) into a buffer of
 * r's pool, *body.  OK, or the status wsgid_body_each gives a failed read;
 * 400 for a body that ends before `size` bytes. */
int wsgid_body_read_whole(request_rec *r, const char *group,
                          const char *socket, apr_size_t size, char **body);

#endif /* WSGID_BODY_H */
