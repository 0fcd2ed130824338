/*
 * mod_wsgid.c: the Apache side of wsgid: the configuration hooks, and the
 * "wsgi-script" handler (with WSGIHandlerScript's names), which proxies
 * the request to a daemon process group over its unix socket in the uwsgi
 * packet format and streams the answer back (docs/protocol.md).  There is
 * no embedded mode: Python never runs inside Apache.
 *
 * The handler is a sequence of numbered steps, each returning OK or the
 * HTTP status that ends the request, with one exit that always closes the
 * daemon socket.  Every log line names the group and the socket path, and
 * carries the errno where there is one.  Its parts live in files of their
 * own: wsgid_translate.c (from a URL to a script), wsgid_route.c (which
 * group), wsgid_vars.c (the packet's variables),
 * wsgid_exchange.c (connect, send, read the head), wsgid_replay.c (a
 * request sent again after its script changed); the access, auth and
 * dispatch hooks, which use the same parts, in wsgid_hooks.c.
 */
#include "apr_hash.h"
#include "apr_strings.h"
#include "apr_buckets.h"

#include "httpd.h"
#include "http_config.h"
#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"
#include "util_script.h"

#include "wsgid_body.h"
#include "wsgid_config.h"
#include "wsgid_conn.h"
#include "wsgid_default_group.h"
#include "wsgid_exchange.h"
#include "wsgid_frames.h"
#include "wsgid_health.h"
#include "wsgid_hooks.h"
#include "wsgid_proxy_headers.h"
#include "wsgid_replay.h"
#include "wsgid_route.h"
#include "wsgid_script_dirs.h"
#include "wsgid_supervisor.h"
#include "wsgid_translate.h"
#include "wsgid_vars.h"
#include "wsgid_wire.h"

APLOG_USE_MODULE(wsgid);

/* the function of a WSGIHandlerScript that serves a request */
#define WSGID_HANDLER_CALLABLE "handle_request"
/* Read size for the request body and the response body. */
#define WSGID_IO_CHUNK 65536

/* --- configuration hooks --------------------------------------------- */

/* mod_wsgi and mod_wsgid define the same directives, and only one of them
 * can own a directive: a server that loads both would run whichever Apache
 * happens to ask first.  Every LoadModule has run by now (they act while the
 * configuration is read, before pre_config). */
static int wsgid_pre_config(apr_pool_t *pconf, apr_pool_t *plog,
                            apr_pool_t *ptemp)
{
    module *m;

    (void)pconf;
    (void)ptemp;
    for (m = ap_top_module; m != NULL; m = m->next) {
        if (m != &wsgid_module && m->name != NULL
            && strcmp(m->name, WSGID_MODULE_NAME) == 0) {
            ap_log_perror(APLOG_MARK, APLOG_STARTUP | APLOG_CRIT, 0, plog,
                          "mod_wsgid: mod_wsgi is loaded too; the two define "
                          "the same WSGI* directives and cannot run side by "
                          "side: remove mod_wsgi's LoadModule line (on "
                          "Debian: a2dismod wsgi) and keep the one for "
                          "mod_wsgid.so");
            return !OK;
        }
    }
    return OK;
}

static int wsgid_check_config(apr_pool_t *pconf, apr_pool_t *plog,
                              apr_pool_t *ptemp, server_rec *s)
{
    wsgid_globals *g = wsgid_server_conf(s)->globals;
    int rv;

    wsgid_collect_script_dirs(g, pconf);
    rv = wsgid_define_default_group(g, pconf, s);

    (void)plog;
    if (wsgid_check_group_uses(g, ptemp, s) != OK) {
        rv = HTTP_INTERNAL_SERVER_ERROR;
    }
    if (wsgid_check_socket_paths(g, pconf, s) != OK) {
        rv = HTTP_INTERNAL_SERVER_ERROR;
    }
    /* Only a configuration that is right so far is worth a Python run. */
    if (rv == OK) {
        rv = wsgid_supervisor_check_config(g, pconf, ptemp, s);
    }
    return rv;
}

static int wsgid_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                             apr_pool_t *ptemp, server_rec *s)
{
    wsgid_globals *g = wsgid_server_conf(s)->globals;

    (void)plog;
    if (wsgid_assign_socket_paths(g, pconf, s) != OK) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    /* once per configuration that runs: not on the pre-detach pass */
    if (ap_state_query(AP_SQ_MAIN_STATE) != AP_SQ_MS_CREATE_PRE_CONFIG) {
        wsgid_log_notices(g, s);
    }
    return wsgid_supervisor_post_config(g, pconf, ptemp, s);
}

/* --- the handler ------------------------------------------------------ */

typedef struct {
    request_rec *r;
    const wsgid_alias_match *match;      /* NULL if mapped by SetHandler */
    const wsgid_handler_script *handler_script;  /* WSGIHandlerScript */
    wsgid_dir_config *dconf;
    /* as configured, or as WSGIDispatchScript chose (not yet expanded) */
    const char *process_group;
    const char *application_group;
    const char *callable_object;
    wsgid_daemon_group *group;
    const char *expanded_application_group;
    int chunked;
    wsgid_body_kind body_kind;
    char *body;                          /* WSGID_BODY_WHOLE: the body, */
    apr_size_t body_len;                 /* read in step 3 */
    apr_array_header_t *vars;            /* wsgid_wire_var */
    int queue_start_index;               /* in vars, and the two after it */
    apr_size_t vars_size;
    wsgid_replay replay;                 /* WSGIScriptReloading */
    int send_again;                      /* the daemon asked for it */
    int head_read;                       /* answered before the body gate */
    wsgid_exchange x;
} wsgid_request;

#define GROUP_NAME(req) ((req)->group ? (req)->group->name : "(none)")
#define SOCKET_PATH(req) ((req)->group ? (req)->group->socket_path : "(none)")

/* Step 1: what the configuration says, then what a WSGIDispatchScript
 * makes of it. */
static int route_request(wsgid_request *req)
{
    request_rec *r = req->r;
    const wsgid_handler_script *handler = req->handler_script;

    req->process_group = handler && handler->process_group
                         ? handler->process_group
                         : wsgid_configured_process_group(r, req->dconf);
    req->application_group = handler && handler->application_group
        ? handler->application_group
        : wsgid_configured_application_group(r, req->dconf);
    /* a handler script's entry point is mod_wsgi's handle_request() */
    req->callable_object = handler ? WSGID_HANDLER_CALLABLE
                         : wsgid_configured_callable_object(r, req->dconf);
    if (req->dconf->hooks[WSGID_HOOK_DISPATCH] == NULL) {
        return OK;
    }
    return wsgid_hook_dispatch(r, &req->process_group,
                               &req->application_group,
                               &req->callable_object);
}

/* Step 2: the daemon group and the application group's name. */
static int choose_groups(wsgid_request *req)
{
    int status = wsgid_route_group(req->r, req->dconf, req->process_group,
                                   req->dconf->hooks[WSGID_HOOK_DISPATCH]
                                   ? "script routed by WSGIDispatchScript"
                                   : "script", req->r->filename,
                                   "set WSGIProcessGroup or the "
                                   "process-group= option of WSGIScriptAlias",
                                   &req->group);

    req->expanded_application_group
        = wsgid_expand_group_name(req->r, req->application_group);
    return status;
}

/* Step 3: a chunked body only if WSGIChunkedRequest On; a small one read
 * whole now, before any daemon is involved (wsgid_body.h). */
static int check_request_body(wsgid_request *req)
{
    request_rec *r = req->r;

    req->body_kind = wsgid_body_kind_of(r, &req->body_len);
    req->chunked = req->body_kind == WSGID_BODY_CHUNKED;
    if (req->chunked && req->dconf->chunked_request != 1) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      "mod_wsgid: group '%s' socket %s: refused a chunked "
                      "request body with 411; set WSGIChunkedRequest On to "
                      "accept it", GROUP_NAME(req), SOCKET_PATH(req));
        return HTTP_LENGTH_REQUIRED;
    }
    return req->body_kind == WSGID_BODY_WHOLE
           ? wsgid_body_read_whole(r, GROUP_NAME(req), SOCKET_PATH(req),
                                   req->body_len, &req->body)
           : OK;
}

/* WSGIMapHEADToGET: does this HEAD request reach the application as a GET?
 * Auto (mod_wsgi's default) says yes when an output filter of the content
 * kind (mod_deflate, say) is in the chain: such a filter may make headers
 * (Content-Length, ETag) from the body, which a GET produces. */
static int head_goes_as_get(request_rec *r, const wsgid_dir_config *dconf)
{
    int mode = dconf->map_head_to_get == WSGID_UNSET ? WSGID_MAP_HEAD_AUTO
                                                     : dconf->map_head_to_get;

    if (!r->header_only || r->method_number != M_GET
        || mode == WSGID_MAP_HEAD_OFF) {
        return 0;
    }
    return mode == WSGID_MAP_HEAD_ON
           || r->output_filters->frec->ftype < AP_FTYPE_PROTOCOL;
}

/* WSGIScriptReloading (On unless Off): the modification time of the script
 * that serves the request, in *mtime; 0 when it is not reloaded.  That is
 * the file Apache found, or a WSGIHandlerScript's script, which mod_wsgi
 * stat()s for each request too (what Apache found is then the file the
 * script serves).  A handler script that cannot be stat()ed is left to the
 * daemon, whose load of it fails with the reason. */
static int script_reloading(const wsgid_request *req, apr_time_t *mtime)
{
    apr_finfo_t finfo;

    if (req->dconf->script_reloading == 0) {
        return 0;
    }
    if (req->handler_script != NULL) {
        if (apr_stat(&finfo, req->handler_script->path, APR_FINFO_MTIME,
                     req->r->pool) != APR_SUCCESS) {
            return 0;
        }
        *mtime = finfo.mtime;
        return 1;
    }
    *mtime = req->r->finfo.mtime;
    return req->r->finfo.filetype == APR_REG;
}

/* Step 4: the CGI variables and wsgid.* control keys; 431 if they do
 * not fit in one packet (checked before anything is encoded). */
static int build_variables(wsgid_request *req)
{
    request_rec *r = req->r;
    apr_table_t *env = r->subprocess_env;
    wsgid_wire_size_result size_rv;
    apr_time_t mtime = 0;
    int reloading = script_reloading(req, &mtime);

    wsgid_vars_add_cgi(r, env);
    wsgid_apply_proxy_headers(r, req->dconf, env);
    if (head_goes_as_get(r, req->dconf)) {
        apr_table_setn(env, "REQUEST_METHOD", "GET");
    }
    if (req->handler_script
        && req->handler_script->pass_authorization != WSGID_UNSET
        ? req->handler_script->pass_authorization
        : wsgid_configured_pass_authorization(r, req->dconf)) {
        const char *auth = apr_table_get(r->headers_in, "Authorization");

        if (auth) {
            apr_table_setn(env, "HTTP_AUTHORIZATION", auth);
        }
    }
    if (req->chunked) {
        apr_table_unset(env, "CONTENT_LENGTH");
    }
    /* mod_wsgi's own keys, as its daemon mode puts them in the environ;
     * those the daemon knows from a wsgid.* key (callable_object,
     * handler_script, ignore_activity) it sets itself */
    apr_table_setn(env, "mod_wsgi.script_reloading", reloading ? "1" : "0");
    apr_table_setn(env, "mod_wsgi.request_handler", r->handler);
    apr_table_setn(env, "mod_wsgi.listener_host",
                   r->connection->local_addr->hostname
                   ? r->connection->local_addr->hostname : "");
    apr_table_setn(env, "mod_wsgi.listener_port",
                   apr_itoa(r->pool, r->connection->local_addr->port));
    if (r->connection->log_id == NULL) {
        ap_run_generate_log_id(r->connection, NULL, &r->connection->log_id);
    }
    if (r->connection->log_id) {
        apr_table_setn(env, "mod_wsgi.connection_id", r->connection->log_id);
    }
    /* pushed after the table (they change at each connect): a SetEnv of the
     * same name must not make a second key, which the daemon would refuse */
    apr_table_unset(env, "mod_wsgi.daemon_connects");
    apr_table_unset(env, "mod_wsgi.daemon_restarts");
    req->vars = wsgid_vars_for_daemon(r, env, req->group->name,
                                      req->expanded_application_group, 9);
    wsgid_vars_push(req->vars, "wsgid.callable_object",
                    req->callable_object);
    if (req->handler_script) {
        /* one of the handler scripts the daemon file names */
        wsgid_vars_push(req->vars, "wsgid.handler_script",
                        req->handler_script->path);
    }
    /* so that a cut-off body without Content-Length is told from an end */
    wsgid_vars_push(req->vars, "wsgid.framed_response", "1");
    if (req->chunked) {
        wsgid_vars_push(req->vars, "wsgid.input_terminated", "1");
    }
    if (req->dconf->ignore_activity == 1) {
        wsgid_vars_push(req->vars, "wsgid.ignore_activity", "1");
    }
    wsgid_replay_setup(&req->replay, r, req->vars,
                       req->handler_script ? req->handler_script->path
                                           : r->filename,
                       reloading ? &mtime : NULL,
                       !wsgid_body_streamed(req->body_kind));
    /* these three are set again at each connect (send_request) */
    req->queue_start_index = req->vars->nelts;
    wsgid_vars_push(req->vars, "wsgid.queue_start",
                    wsgid_vars_usec(r->pool, apr_time_now()));
    wsgid_vars_push(req->vars, "mod_wsgi.daemon_connects", "1");
    wsgid_vars_push(req->vars, "mod_wsgi.daemon_restarts", "0");

    size_rv = wsgid_wire_vars_size((wsgid_wire_var *)req->vars->elts,
                                   req->vars->nelts, &req->vars_size);
    if (size_rv != WSGID_WIRE_OK) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "mod_wsgid: group '%s' socket %s: the request's %d "
                      "variables take %" APR_SIZE_T_FMT " bytes, more than "
                      "one uwsgi packet can carry (%u bytes, %u variables); "
                      "answering 431 (request headers too large)",
                      GROUP_NAME(req), SOCKET_PATH(req), req->vars->nelts,
                      req->vars_size, WSGID_WIRE_MAX_VARS_SIZE,
                      WSGID_WIRE_MAX_VARS);
        return HTTP_REQUEST_HEADER_FIELDS_TOO_LARGE;
    }
    return OK;
}

/* Step 5: connect within connect-timeout. */
static int connect_to_group(wsgid_request *req)
{
    return wsgid_exchange_connect(&req->x, req->r, req->group);
}

/* Send a piece of a streamed body to the daemon (step 6): OK; DONE when
 * the daemon has answered already (its answer is read next); else the
 * status to end with, after one log line. */
static int send_body_piece(void *ctx, const char *data, apr_size_t len)
{
    wsgid_request *req = ctx;
    apr_status_t rv = wsgid_exchange_send(&req->x, data, len);

    if (rv == APR_SUCCESS) {
        return OK;
    }
    if (wsgid_exchange_daemon_answered(rv)) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG,
                      rv == WSGID_EXCHANGE_ANSWERED ? 0 : rv, req->r,
                      "mod_wsgid: group '%s' socket %s: the daemon answered or "
                      "stopped reading before the whole request body was "
                      "sent; reading its response", req->group->name,
                      req->group->socket_path);
        return DONE;
    }
    ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, req->r,
                  "mod_wsgid: group '%s' socket %s: cannot send the request "
                  "body", req->group->name, req->group->socket_path);
    return APR_STATUS_IS_TIMEUP(rv) ? HTTP_GATEWAY_TIME_OUT : HTTP_BAD_GATEWAY;
}

/* Step 6: the packet, with a body read whole behind it, in one send; or
 * the packet, then a streamed body as the input filters give it
 * (de-chunked); then the half-close.  If the daemon stops reading, its
 * answer is already waiting: go and read it.  A streamed body behind the
 * gate (wsgid_replay.h) goes only after the daemon's 100. */
static int send_request(wsgid_request *req)
{
    request_rec *r = req->r;
    wsgid_wire_var *vars = (wsgid_wire_var *)req->vars->elts;
    wsgid_wire_var *queue_start = &vars[req->queue_start_index];
    int status;

    queue_start->value = wsgid_vars_usec(r->pool, apr_time_now());
    queue_start->value_len = strlen(queue_start->value);
    /* mod_wsgi's counts: connect() calls for this connection, and how often the
     * request was sent again because a process was restarting (wsgid_replay.h) */
    queue_start[1].value = apr_itoa(r->pool, req->x.connect_attempts);
    queue_start[1].value_len = strlen(queue_start[1].value);
    queue_start[2].value = apr_itoa(r->pool, req->replay.attempts);
    queue_start[2].value_len = strlen(queue_start[2].value);
    if (wsgid_wire_vars_size(vars, req->vars->nelts, &req->vars_size)
        != WSGID_WIRE_OK) {
        return HTTP_REQUEST_HEADER_FIELDS_TOO_LARGE;   /* checked in step 4 */
    }
    /* A chunked body ends at the half-close, so a daemon could not tell a
     * body the module stopped sending from a whole one: it is sent whole. */
    req->x.may_stop_when_answered = !req->chunked;
    status = wsgid_exchange_send_packet(&req->x, vars, req->vars->nelts,
                                        req->vars_size, req->body,
                                        req->body_len);
    if (status != OK) {
        return status;
    }
    req->replay.attempts++;
    if (!wsgid_body_streamed(req->body_kind)) {
        wsgid_exchange_end_request(&req->x);
        return OK;
    }
    if (req->replay.gate) {
        /* the body waits for the daemon's go (wsgid_replay.h); what else it
         * answers (send it again, an error) is read as the response */
        status = wsgid_exchange_read_head(&req->x);
        if (status != OK) {
            return status;
        }
        if (req->x.head.status != WSGID_REPLAY_GATE_OPEN) {
            req->head_read = 1;
            wsgid_exchange_end_request(&req->x);
            return OK;
        }
        wsgid_exchange_after_interim_head(&req->x);
    }
    status = wsgid_body_each(r, req->group->name, req->group->socket_path,
                             WSGID_IO_CHUNK, send_body_piece, req);
    if (status != OK && status != DONE) {
        return status;
    }
    wsgid_exchange_end_request(&req->x);
    return OK;
}

/* Header callback of step 7. */
static int add_response_header(void *ctx, const char *name,
                               apr_size_t name_len, const char *value,
                               apr_size_t value_len)
{
    request_rec *r = ctx;
    const char *n, *v;

    if (wsgid_wire_is_hop_by_hop(name, name_len)) {
        return 0;   /* Apache frames the client connection itself */
    }
    n = apr_pstrmemdup(r->pool, name, name_len);
    v = apr_pstrmemdup(r->pool, value, value_len);
    if (strcasecmp(n, "Content-Type") == 0) {
        ap_set_content_type(r, v);
    }
    else {
        apr_table_add(r->headers_out, n, v);   /* repeats stay separate */
    }
    return 0;
}

/* Step 7: read and validate the response head; only a valid one changes
 * the response. */
static int read_response_head(wsgid_request *req)
{
    request_rec *r = req->r;
    const wsgid_head *head = &req->x.head;
    int status = req->head_read ? OK : wsgid_exchange_read_head(&req->x);

    if (status != OK) {
        return status;
    }
    if (head->status == 0) {
        /* "send it again": the process had an older version of the script
         * (wsgid_replay.h) */
        req->send_again = 1;
        return wsgid_replay_prepare(&req->replay, &req->x);
    }
    if (req->dconf->error_override == 1 && ap_is_HTTP_ERROR(head->status)) {
        /* WSGIErrorOverride On: Apache answers with its own error page (an
         * ErrorDocument, say); the application's head and body go unread */
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                      "mod_wsgid: group '%s' socket %s: the application "
                      "answered %d; WSGIErrorOverride hands it to Apache's "
                      "error page", req->group->name, req->group->socket_path,
                      head->status);
        return head->status;
    }
    wsgid_exchange_headers(&req->x, add_response_header, r);
    r->status = head->status;
    r->status_line = head->reason_len
        ? apr_psprintf(r->pool, "%03d %.*s", head->status,
                       (int)head->reason_len, head->reason)
        : NULL;
    return OK;
}

/* Pass what bb holds on to the client, flushed; non-zero if the client is
 * gone.  As in mod_wsgi 4.6, a lost client is routine and not logged, but a
 * client that stopped reading held this worker for Timeout: that is logged
 * once.  The status stays the application's either way, for the access
 * log. */
static int flush_to_client(wsgid_request *req, apr_bucket_brigade *bb)
{
    request_rec *r = req->r;
    apr_status_t rv;

    /* flush: the application decides the pace, as it would with HTTP; and
     * the buckets point into the read buffer, which is about to be reused */
    APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_flush_create(
                                    r->connection->bucket_alloc));
    rv = ap_pass_brigade(r->output_filters, bb);
    apr_brigade_cleanup(bb);
    if (APR_STATUS_IS_TIMEUP(rv)) {
        int own = req->group->response_socket_timeout > 0;

        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r,
                      "mod_wsgid: group '%s' socket %s: writing the response "
                      "to the client timed out (%s %g s); the response is "
                      "cut off", req->group->name, req->group->socket_path,
                      own ? "response-socket-timeout" : "Timeout",
                      (double)(own ? req->group->response_socket_timeout
                                   : r->server->timeout) / APR_USEC_PER_SEC);
    }
    return rv != APR_SUCCESS || r->connection->aborted;
}

/* The body length the daemon's head declared, or -1: none, or no body is
 * sent for this status or method. */
static apr_off_t declared_body_length(request_rec *r)
{
    const char *text = apr_table_get(r->headers_out, "Content-Length");
    apr_off_t length;
    char *end;

    if (text == NULL || r->header_only || r->status == HTTP_NO_CONTENT
        || r->status == HTTP_NOT_MODIFIED || r->status < 200) {
        return -1;
    }
    /* the head parser accepted only 1 to 18 digits */
    if (apr_strtoff(&length, text, &end, 10) != APR_SUCCESS || *end != '\0') {
        return -1;
    }
    return length;
}

/* Where the daemon's body bytes go: into the brigade for the client (no
 * copy: the buckets point into the read buffer), counted; flushed once per
 * read from the daemon. */
typedef struct {
    wsgid_request *req;
    apr_bucket_brigade *bb;
    apr_off_t passed;
} body_sink;

static int sink_to_client(void *ctx, const char *data, size_t len)
{
    body_sink *sink = ctx;

    sink->passed += len;
    APR_BRIGADE_INSERT_TAIL(sink->bb, apr_bucket_transient_create(
                                data, len, sink->req->r->connection->bucket_alloc));
    return 0;
}

/* The daemon sent more than the body it announced: those bytes are never
 * passed on (they could only be an injected response). */
static void log_bytes_after_body(wsgid_request *req, apr_size_t extra,
                                 const char *end)
{
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, req->r,
                  "mod_wsgid: group '%s' socket %s: %" APR_SIZE_T_FMT
                  " bytes after the %s of the response body; ignored",
                  req->group->name, req->group->socket_path, extra, end);
}

/* Step 8: the body, chunk by chunk, until its Content-Length is complete,
 * or, for a framed body (a head without Content-Length: the daemon frames it
 * because this module asked, docs/protocol.md), until the end frame, or else
 * until the daemon closes.  A body complete at its Content-Length goes to the
 * client flushed and with the end of the response, in one pass, without
 * waiting for the daemon's close; a byte past it is never passed on (it could
 * only be an injected response). */
static int stream_body(wsgid_request *req)
{
    request_rec *r = req->r;
    conn_rec *c = r->connection;
    body_sink sink = { req, apr_brigade_create(r->pool, c->bucket_alloc), 0 };
    apr_off_t declared = declared_body_length(r);
    int framed = apr_table_get(r->headers_out, "Content-Length") == NULL;
    int ended = 0;
    wsgid_frames frames;
    const char *data = req->x.buf + req->x.head.body_offset;
    apr_size_t n = req->x.buf_len - req->x.head.body_offset;
    apr_status_t rv = APR_SUCCESS;

    wsgid_frames_init(&frames);
    for (;;) {
        if (n > 0 && framed) {
            size_t used;

            if (wsgid_frames_feed(&frames, data, n, sink_to_client, &sink,
                                  &used) == WSGID_FRAMES_ENDED) {
                ended = 1;
                if (used < n) {
                    log_bytes_after_body(req, n - used, "end frame");
                }
                break;
            }
        }
        else if (declared >= 0 && (apr_off_t)n >= declared - sink.passed) {
            apr_size_t rest = (apr_size_t)(declared - sink.passed);

            if (rest < n) {
                log_bytes_after_body(req, n - rest, "Content-Length");
            }
            if (rest > 0) {
                sink_to_client(&sink, data, rest);
            }
            /* flushed here, in the handler: left to the end of the request,
             * the write costs the event MPM more (measured, bench/README) */
            APR_BRIGADE_INSERT_TAIL(sink.bb, apr_bucket_flush_create(
                                        c->bucket_alloc));
            ended = 1;
            break;
        }
        else if (n > 0) {
            sink_to_client(&sink, data, n);
        }
        if (!APR_BRIGADE_EMPTY(sink.bb) && flush_to_client(req, sink.bb)) {
            return OK;   /* client gone: keep the status for the access log */
        }
        if (rv != APR_SUCCESS) {
            break;
        }
        n = req->x.buf_size;
        data = req->x.buf;
        rv = apr_socket_recv(req->x.sock, req->x.buf, &n);
    }
    if (!ended && (!APR_STATUS_IS_EOF(rv) || framed
                   || sink.passed < declared)) {
        /* Too late for a status: make the client see a broken response
         * instead of a short one that looks complete, and close the
         * connection, so that no later byte is taken for the rest of this
         * body.  A body that ended early at a close is the daemon's own cut,
         * which it has logged with its cause. */
        if (!APR_STATUS_IS_EOF(rv)) {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r,
                          "mod_wsgid: group '%s' socket %s: %s while reading "
                          "the response body; the response is cut off",
                          req->group->name, req->group->socket_path,
                          APR_STATUS_IS_TIMEUP(rv) ? "socket-timeout passed"
                                                   : "the connection failed");
        }
        else {
            ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                          "mod_wsgid: group '%s' socket %s: the daemon "
                          "closed after %" APR_OFF_T_FMT " body bytes, %s; "
                          "the response is cut off", req->group->name,
                          req->group->socket_path, sink.passed,
                          framed ? "before the end frame"
                                 : "fewer than its Content-Length");
        }
        c->keepalive = AP_CONN_CLOSE;
        APR_BRIGADE_INSERT_TAIL(sink.bb, ap_bucket_error_create(
                                    HTTP_BAD_GATEWAY, NULL, r->pool,
                                    c->bucket_alloc));
    }
    APR_BRIGADE_INSERT_TAIL(sink.bb, apr_bucket_eos_create(c->bucket_alloc));
    ap_pass_brigade(r->output_filters, sink.bb);
    return OK;
}

/* Step 8 with response-socket-timeout: each write to the client may wait
 * that long instead of Timeout while the body streams (the core's output
 * filter polls with the socket's own timeout). */
static int stream_response_body(wsgid_request *req)
{
    apr_socket_t *client = ap_get_conn_socket(req->r->connection);
    apr_interval_time_t timeout;
    int status;

    if (req->group->response_socket_timeout == 0 || client == NULL) {
        return stream_body(req);
    }
    apr_socket_timeout_get(client, &timeout);
    apr_socket_timeout_set(client, req->group->response_socket_timeout);
    status = stream_body(req);
    apr_socket_timeout_set(client, timeout);
    return status;
}

/* Step 8 of a CGI local redirect (the CGI specification's, as mod_cgi and
 * mod_wsgi do it): a 200 whose Location is a path on this server.  Apache
 * serves that path instead, as a GET, and the application's body, if any,
 * is dropped; this is how an application hands a file to Apache to send
 * (django-sendfile's mod_wsgi backend, for one).  NULL: no such answer. */
static const char *local_redirect(const wsgid_request *req)
{
    const char *location = apr_table_get(req->r->headers_out, "Location");

    return req->r->status == HTTP_OK && location && location[0] == '/'
           ? location : NULL;
}

static int redirect_inside(wsgid_request *req, const char *location)
{
    request_rec *r = req->r;

    wsgid_exchange_close(&req->x);   /* the body is not read: nobody wants it */
    r->method = "GET";
    r->method_number = M_GET;
    apr_table_unset(r->headers_in, "Content-Length");   /* its body was read */
    ap_internal_redirect_handler(location, r);
    return OK;
}

static int serve(wsgid_request *req);

static int wsgid_handler(request_rec *r)
{
    wsgid_request req;
    int status;

    if (r->handler == NULL) {
        return DECLINED;
    }
    memset(&req, 0, sizeof(req));
    req.r = r;
    req.dconf = ap_get_module_config(r->per_dir_config, &wsgid_module);
    if (strcmp(r->handler, WSGID_HANDLER) != 0
        && strcmp(r->handler, WSGID_HANDLER_TYPE) != 0) {
        /* a WSGIHandlerScript's name: its script serves the file, whatever
         * the file is (mod_wsgi checks neither ExecCGI nor the file) */
        req.handler_script = req.dconf->handler_scripts
            ? apr_hash_get(req.dconf->handler_scripts, r->handler,
                           APR_HASH_KEY_STRING) : NULL;
        if (req.handler_script == NULL) {
            return DECLINED;
        }
        return serve(&req);
    }
    req.match = ap_get_module_config(r->request_config, &wsgid_module);

    /* A script mapped by AddHandler/SetHandler runs only where ExecCGI is
     * on, as in mod_wsgi; a WSGIScriptAlias says so by itself. */
    if (req.match == NULL && !(ap_allow_options(r) & OPT_EXECCGI)) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "mod_wsgid: Options ExecCGI is off in this directory: "
                      "%s (for %s); answering 403 (add Options ExecCGI to "
                      "its <Directory>, or map it with WSGIScriptAlias)",
                      r->filename, r->uri);
        return HTTP_FORBIDDEN;
    }
    if (r->finfo.filetype != APR_REG) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      "mod_wsgid: no WSGI script file at %s (for %s)",
                      r->filename, r->uri);
        return r->finfo.filetype == APR_DIR ? HTTP_FORBIDDEN
                                            : HTTP_NOT_FOUND;
    }
    if (r->path_info && *r->path_info
        && r->used_path_info == AP_REQ_REJECT_PATH_INFO) {
        return HTTP_NOT_FOUND;
    }
    if (req.match && req.match->script_path
        && (status = wsgid_check_match_script(r, req.match)) != OK) {
        return status;
    }
    return serve(&req);
}

/* The steps, from routing to the last byte of the body. */
static int serve(wsgid_request *req)
{
    int status;

    /* each step returns OK or the status that ends the request */
    (void)((status = route_request(req)) != OK
           || (status = choose_groups(req)) != OK
           || (status = check_request_body(req)) != OK
           || (status = build_variables(req)) != OK);
    /* steps 5-7 again for as long as daemons ask for it (wsgid_replay.h) */
    do {
        req->send_again = 0;
        req->head_read = 0;
        (void)(status != OK
               || (status = connect_to_group(req)) != OK
               || (status = send_request(req)) != OK
               || (status = read_response_head(req)) != OK);
        if (req->send_again) {
            wsgid_exchange_close(&req->x);
        }
    } while (status == OK && req->send_again);
    if (status == OK) {
        const char *location = local_redirect(req);

        status = location ? redirect_inside(req, location)
                          : stream_response_body(req);
    }
    wsgid_exchange_close(&req->x);
    return status;
}

static void wsgid_register_hooks(apr_pool_t *p)
{
    /* As mod_wsgi: mod_alias first, so that `Alias /static/ DIR` next to
     * `WSGIScriptAlias / SCRIPT` serves DIR; mod_userdir and
     * mod_vhost_alias after. */
    static const char *const after_alias[] = { "mod_alias.c", NULL };
    static const char *const before_userdir[] = { "mod_userdir.c",
                                                  "mod_vhost_alias.c", NULL };

    ap_hook_pre_config(wsgid_pre_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_check_config(wsgid_check_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_config(wsgid_post_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_translate_name(wsgid_translate_name, after_alias, before_userdir,
                           APR_HOOK_MIDDLE);
    ap_hook_handler(wsgid_handler, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_handler(wsgid_health_handler, NULL, NULL, APR_HOOK_MIDDLE);
    wsgid_hooks_register(p);
}

/* The module answers to mod_wsgi's identity, so that a configuration written
 * for mod_wsgi reads the same: its name is "mod_wsgi.c" (<IfModule
 * mod_wsgi.c>, and "wsgi" in log lines and LogLevel, as mod_wsgi's), and the
 * shared object exports it as wsgi_module too (LoadModule wsgi_module ...,
 * <IfModule wsgi_module>).  wsgid_module stays the name the code uses, and a
 * LoadModule line may name either. */
module AP_MODULE_DECLARE_DATA wsgid_module = {
    MODULE_MAGIC_NUMBER_MAJOR,
    MODULE_MAGIC_NUMBER_MINOR,
    -1,
    WSGID_MODULE_NAME,
    NULL,
    NULL,
    MODULE_MAGIC_COOKIE,
    NULL,                                /* rewrite args spot */
    wsgid_create_dir_config,
    wsgid_merge_dir_config,
    wsgid_create_server_config,
    wsgid_merge_server_config,
    wsgid_cmds,
    wsgid_register_hooks
#if AP_MODULE_HAS_FLAGS(wsgid_module)
    , AP_MODULE_FLAG_NONE
#endif
};

extern module AP_MODULE_DECLARE_DATA wsgi_module
    __attribute__((alias("wsgid_module")));
