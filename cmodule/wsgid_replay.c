/*
 * wsgid_replay.c: script reloading on the module's side (see wsgid_replay.h).
 */
#include "apr_lib.h"
#include "apr_strings.h"

#include "httpd.h"
#include "http_log.h"

#include "wsgid_replay.h"
#include "wsgid_vars.h"

APLOG_USE_MODULE(wsgid);

/* More than any group could ask for (processes= x threads= + 1). */
#define ATTEMPTS_MAX 1000000

void wsgid_replay_setup(wsgid_replay *replay, request_rec *r,
                        apr_array_header_t *vars, const char *script,
                        const apr_time_t *script_mtime, int body_whole)
{
    memset(replay, 0, sizeof(*replay));
    replay->script = script;
    if (script_mtime == NULL) {
        return;
    }
    wsgid_vars_push(vars, "wsgid.script_mtime",
                    wsgid_vars_usec(r->pool, *script_mtime));
    replay->retry_ok = 1;
    wsgid_vars_push(vars, "wsgid.retry_ok", "1");
    if (!body_whole) {
        /* a body that is streamed waits for the daemon's go instead */
        replay->gate = 1;
        wsgid_vars_push(vars, "wsgid.body_gate", "1");
    }
}

/* Header callback: how many attempts the daemon's answer allows. */
static int find_attempts(void *ctx, const char *name, apr_size_t name_len,
                         const char *value, apr_size_t value_len)
{
    int *attempts = ctx;
    apr_size_t i;
    int n = 0;

    if (name_len != sizeof(WSGID_REPLAY_ATTEMPTS_HEADER) - 1
        || strncasecmp(name, WSGID_REPLAY_ATTEMPTS_HEADER, name_len) != 0) {
        return 0;
    }
    for (i = 0; i < value_len && apr_isdigit(value[i]) && n <= ATTEMPTS_MAX;
         i++) {
        n = n * 10 + (value[i] - '0');
    }
    if (i == value_len && n >= 2 && n <= ATTEMPTS_MAX) {
        *attempts = n;
    }
    return 1;
}

int wsgid_replay_prepare(wsgid_replay *replay, wsgid_exchange *x)
{
    request_rec *r = x->r;
    int attempts = 3;     /* what mod_wsgi allows one process */

    if (!replay->retry_ok) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "mod_wsgid: group '%s' socket %s: the daemon asked for "
                      "the request again, which its packet did not allow; "
                      "answering 502", x->group->name, x->group->socket_path);
        return HTTP_BAD_GATEWAY;
    }
    if (replay->limit == 0) {
        wsgid_exchange_headers(x, find_attempts, &attempts);
        replay->limit = attempts;
    }
    if (replay->attempts >= replay->limit) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "mod_wsgid: group '%s' socket %s: sent %d times, and "
                      "each time the daemon process had an older version of "
                      "%s loaded (did it change again meanwhile?); answering "
                      "503", x->group->name,
                      x->group->socket_path, replay->attempts, replay->script);
        return HTTP_SERVICE_UNAVAILABLE;
    }
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                  "mod_wsgid: group '%s' socket %s: %s changed since the "
                  "daemon process loaded it; sending the request again "
                  "(attempt %d)", x->group->name, x->group->socket_path,
                  replay->script, replay->attempts + 1);
    /* the body was read whole, or is still behind the gate: none of it
     * has been lost */
    return OK;
}
