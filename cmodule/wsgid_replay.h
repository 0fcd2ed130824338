/*
 * wsgid_replay.h: script reloading on the module's side (WSGIScriptReloading
 * On, mod_wsgi's default; docs/protocol.md, "Script reloading").
 *
 * The packet carries the script file's mtime, which Apache's directory walk
 * has already read (r->finfo): no system call per request.  A daemon process
 * that loaded an older version of the script does not answer with it; it
 * answers the status line "HTTP/1.1 000 ..." (a code no application can
 * send, and that the head parser accepts for this alone) and is replaced,
 * and the module sends the request again: to another process, or to the
 * replacement, which loads the script as it is now.  mod_wsgi's daemon mode
 * does the same with a round trip before every request body; here nothing
 * is added to a request until a script changes.
 *
 * The module can send a request again while it has the whole body: none,
 * or one it read whole before sending (wsgid_body.h, at most
 * WSGID_BODY_WHOLE_LIMIT bytes).  A body it streams instead (chunked, or
 * larger) waits behind a gate (wsgid.body_gate): the module sends the
 * packet alone and reads the daemon's interim "HTTP/1.1 100 Continue"
 * before it sends the body; a stale process answers "send it again"
 * instead, before any of the body has left the client, so mod_wsgi's one
 * round trip is paid only by such requests.  The packet says either way
 * that the request may be sent again (wsgid.retry_ok).
 */
#ifndef WSGID_REPLAY_H
#define WSGID_REPLAY_H

#include "apr_tables.h"
#include "httpd.h"

#include "wsgid_exchange.h"

/* What the daemon's "send it again" answer says in a header: how many times
 * in all the module may send the request.  A process that had the old
 * script loaded stops taking connections at its first "send it again", but
 * each of its threads may hold one it took just before; so the daemon says
 * processes x threads + 1, which no request can exhaust unless the script
 * changes again meanwhile (mod_wsgi, with one connection per request in
 * flight per process, tries 2 x processes + 1 times). */
#define WSGID_REPLAY_ATTEMPTS_HEADER "Wsgid-Attempts"

/* The daemon's "send the body now" (wsgid.body_gate). */
#define WSGID_REPLAY_GATE_OPEN 100

typedef struct {
    int retry_ok;          /* the packet says the request may be sent again */
    int gate;              /* the body waits for the daemon's 100 (body_gate) */
    int attempts;          /* requests sent so far */
    int limit;             /* the most that may be sent (once known) */
    const char *script;    /* the script whose change is reported (for log lines) */
} wsgid_replay;

/* Push the packet's variables for script reloading when `script_mtime` is
 * given (the script is reloaded: WSGIScriptReloading On, and a script that
 * was stat()ed, mod_wsgid.c): wsgid.script_mtime, wsgid.retry_ok, and
 * wsgid.body_gate unless `body_whole` (no body, or one read whole). */
void wsgid_replay_setup(wsgid_replay *replay, request_rec *r,
                        apr_array_header_t *vars, const char *script,
                        const apr_time_t *script_mtime, int body_whole);

/* The daemon answered "send it again" (x's head has status 0).  OK when the
 * request may be sent again: the limit of attempts is not reached.  Else
 * the status to answer, after one log line: 502 for an answer the packet
 * did not allow, 503 after the last attempt. */
int wsgid_replay_prepare(wsgid_replay *replay, wsgid_exchange *x);

#endif /* WSGID_REPLAY_H */
