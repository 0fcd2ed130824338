/*
 * mod_wsgid.c: the Apache side of wsgid.  Maps WSGIScriptAlias URLs to
 * scripts (translate_name), and the "wsgi-script" handler, which proxies
 * the request to a daemon process group over its unix socket in the uwsgi
 * packet format and streams the answer back (docs/protocol.md).  There is
 * no embedded mode: Python never runs inside Apache.
 *
 * The handler is a sequence of numbered steps, each returning OK or the
 * HTTP status that ends the request, with one exit that always closes the
 * daemon socket.  Every log line names the group and the socket path, and
 * carries the errno where there is one.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>

#include "apr_strings.h"
#include "apr_buckets.h"

#include "httpd.h"
#include "http_config.h"
#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"
#include "util_script.h"

#include "wsgid_config.h"
#include "wsgid_conn.h"
#include "wsgid_supervisor.h"
#include "wsgid_wire.h"

APLOG_USE_MODULE(wsgid);

#define WSGID_HANDLER "wsgi-script"
/* Read size for the request body and the response body. */
#define WSGID_IO_CHUNK 65536
/* The head buffer also takes the first bytes of the body. */
#define WSGID_HEAD_BUFFER (WSGID_WIRE_MAX_HEAD_SIZE + 8192)

/* --- configuration hooks --------------------------------------------- */

static int wsgid_check_config(apr_pool_t *pconf, apr_pool_t *plog,
                              apr_pool_t *ptemp, server_rec *s)
{
    wsgid_globals *g = wsgid_server_conf(s)->globals;
    int rv = wsgid_check_group_uses(g, ptemp, s);

    (void)plog;
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
    return wsgid_supervisor_post_config(g, pconf, ptemp, s);
}

/* --- URL mapping ----------------------------------------------------- */

/* Length of uri matched by the mount point url ("" is "/"), or 0. */
static apr_size_t mount_matches(const char *uri, const char *url)
{
    apr_size_t len = strlen(url);

    if (len == 0) {
        return uri[0] == '/' ? 1 : 0;   /* the root mount takes everything */
    }
    if (strncmp(uri, url, len) != 0) {
        return 0;
    }
    return (uri[len] == '\0' || uri[len] == '/') ? len : 0;
}

/* Does a substituted script path have a "." or ".." segment?  Apache
 * removed those from the URL (decoded %2e too), but a capture can still
 * put one together ("/a..b" with REGEX ^/a(.*)b gives ".."). */
static int has_dot_segment(const char *path)
{
    const char *seg = path;

    for (;;) {
        apr_size_t len = strcspn(seg, "/");

        if ((len == 1 && seg[0] == '.')
            || (len == 2 && seg[0] == '.' && seg[1] == '.')) {
            return 1;
        }
        if (seg[len] == '\0') {
            return 0;
        }
        seg += len + 1;
    }
}

/* WSGIScriptAliasMatch: r->filename is TARGET with $N from the match, plus
 * the rest of the URL after the match (mod_wsgi's rule), so SCRIPT_NAME
 * ends where the match ends.  DECLINED if the regex does not match. */
static int translate_match(request_rec *r, const wsgid_script_alias *alias,
                           wsgid_alias_match *match)
{
    ap_regmatch_t m[AP_MAX_REG_MATCH];
    const char *target, *rest;

    if (ap_regexec(alias->regex, r->uri, AP_MAX_REG_MATCH, m, 0) != 0) {
        return DECLINED;
    }
    target = alias->target;
    if (alias->target_dir != NULL) {
        target = ap_pregsub(r->pool, alias->target, r->uri, AP_MAX_REG_MATCH,
                            m);
        if (target == NULL || has_dot_segment(target)) {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                          "mod_wsgid: WSGIScriptAliasMatch at %s: refused "
                          "%s: the script path it makes (%s) %s; answering "
                          "404", alias->defined_at, r->uri,
                          target ? target : "too long",
                          target ? "has a '.' or '..' segment"
                                 : "cannot be built");
            return HTTP_NOT_FOUND;
        }
        match->script_path = target;
    }
    /* a match of just "/" leaves the whole URL as the rest, like a mount
     * at "/" (SCRIPT_NAME "") */
    rest = m[0].rm_eo == 1 && r->uri[0] == '/' ? r->uri : r->uri + m[0].rm_eo;
    if (*rest == '/' && *target && target[strlen(target) - 1] == '/') {
        target = apr_pstrmemdup(r->pool, target, strlen(target) - 1);
    }
    r->filename = apr_pstrcat(r->pool, target, rest, NULL);
    return OK;
}

static int wsgid_translate_name(request_rec *r)
{
    wsgid_server_config *sconf = wsgid_server_conf(r->server);
    int i;

    if (r->uri[0] != '/') {
        return DECLINED;
    }
    for (i = 0; i < sconf->aliases->nelts; i++) {
        wsgid_script_alias *alias = &APR_ARRAY_IDX(sconf->aliases, i,
                                                   wsgid_script_alias);
        wsgid_alias_match *match = apr_pcalloc(r->pool, sizeof(*match));
        const char *rest;
        apr_size_t target_len;

        match->alias = alias;
        if (alias->regex != NULL) {
            int status = translate_match(r, alias, match);

            if (status == DECLINED) {
                continue;
            }
            if (status != OK) {
                return status;
            }
        }
        else {
            if (!mount_matches(r->uri, alias->url)) {
                continue;
            }
            rest = r->uri + strlen(alias->url);
            target_len = strlen(alias->target);
            if (alias->target[target_len - 1] == '/') {
                target_len--;
            }
            /* As mod_alias does: the core's directory walk then finds the
             * script file in this path and sets r->path_info to the rest. */
            r->filename = apr_pstrcat(r->pool,
                                      apr_pstrmemdup(r->pool, alias->target,
                                                     target_len),
                                      rest, NULL);
        }
        r->handler = WSGID_HANDLER;
        ap_set_module_config(r->request_config, &wsgid_module, match);
        return OK;
    }
    return DECLINED;
}

/* A WSGIScriptAliasMatch script made with $N must be the substituted path
 * itself (or a file in it, when that is a directory), and its real path,
 * symlinks resolved, must lie inside the target's directory: the URL never
 * reaches a file outside it.  OK, or 404 with one log line. */
static int check_match_script(request_rec *r, const wsgid_alias_match *match)
{
    const char *script = match->script_path;
    apr_size_t len = strlen(script);
    char real[PATH_MAX], real_dir[PATH_MAX];
    const char *problem = NULL;

    while (len > 1 && script[len - 1] == '/') {
        len--;
    }
    if (strncmp(r->filename, script, len) != 0
        || (r->filename[len] != '\0' && r->filename[len] != '/')) {
        problem = "is not the script path the match made";
    }
    else if (realpath(r->filename, real) == NULL
             || realpath(match->alias->target_dir, real_dir) == NULL) {
        problem = apr_psprintf(r->pool, "cannot be resolved (%s)",
                               strerror(errno));
    }
    else if (strncmp(real, real_dir, strlen(real_dir)) != 0
             || real[strlen(real_dir)] != '/') {
        problem = apr_psprintf(r->pool, "resolves to %s, outside %s", real,
                               real_dir);
    }
    if (problem == NULL) {
        return OK;
    }
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                  "mod_wsgid: WSGIScriptAliasMatch at %s: refused %s: the "
                  "script %s %s; answering 404", match->alias->defined_at,
                  r->uri, r->filename, problem);
    return HTTP_NOT_FOUND;
}

/* --- the handler ------------------------------------------------------ */

typedef struct {
    request_rec *r;
    const wsgid_script_alias *alias;     /* NULL if mapped by SetHandler */
    const wsgid_alias_match *match;      /* NULL if mapped by SetHandler */
    wsgid_dir_config *dconf;
    wsgid_daemon_group *group;
    const char *application_group;
    int chunked;
    apr_array_header_t *vars;            /* wsgid_wire_var */
    int queue_start_index;               /* in vars */
    apr_size_t vars_size;
    apr_socket_t *sock;
    char *buf;                           /* WSGID_HEAD_BUFFER bytes */
    apr_size_t buf_len;
    wsgid_head head;
} wsgid_request;

#define GROUP_NAME(req) ((req)->group ? (req)->group->name : "(none)")
#define SOCKET_PATH(req) ((req)->group ? (req)->group->socket_path : "(none)")

/* %{SERVER} and %{HOST}: a name, with the port unless it is 80 or 443 */
static const char *with_port(request_rec *r, const char *name)
{
    apr_port_t port = ap_get_server_port(r);

    if (port == 80 || port == 443) {
        return name;
    }
    return apr_psprintf(r->pool, "%s:%u", name, (unsigned)port);
}

static const char *script_name(request_rec *r)
{
    if (r->path_info && *r->path_info) {
        int end = ap_find_path_info(r->uri, r->path_info);

        return apr_pstrmemdup(r->pool, r->uri, end);
    }
    return r->uri;
}

/* The %{...} forms mod_wsgi allows in group names; literals as they are. */
static const char *expand_group_name(request_rec *r, const char *value)
{
    if (value == NULL || strcmp(value, "%{GLOBAL}") == 0) {
        return "";
    }
    if (strcmp(value, "%{SERVER}") == 0) {
        return with_port(r, r->server->server_hostname);
    }
    if (strcmp(value, "%{HOST}") == 0) {
        return with_port(r, r->hostname && *r->hostname
                            ? r->hostname : r->server->server_hostname);
    }
    if (strcmp(value, "%{RESOURCE}") == 0) {
        /* as mod_wsgi: SCRIPT_NAME lowercased, repeated slashes collapsed */
        char *name = apr_pstrdup(r->pool, script_name(r));

        ap_no2slash(name);
        ap_str_tolower(name);
        return apr_pstrcat(r->pool, with_port(r, r->server->server_hostname),
                           "|", name, NULL);
    }
    if (strncmp(value, "%{ENV:", 6) == 0 && value[strlen(value) - 1] == '}') {
        const char *var = apr_pstrmemdup(r->pool, value + 6,
                                         strlen(value) - 7);
        const char *env = apr_table_get(r->notes, var);

        if (env == NULL) {
            env = apr_table_get(r->subprocess_env, var);
        }
        if (env == NULL) {
            env = getenv(var);
        }
        if (env == NULL) {
            return value;   /* unset: the name as written, as mod_wsgi does */
        }
        if (env[0] == '%' && strncmp(env, "%{ENV:", 6) != 0) {
            return expand_group_name(r, env);   /* one level, never a loop */
        }
        return env;
    }
    return value;
}

/* Step 1: the daemon group: alias option > WSGIProcessGroup > none. */
static int choose_group(wsgid_request *req)
{
    request_rec *r = req->r;
    const char *configured = NULL;
    const char *name;

    if (req->alias && req->alias->process_group) {
        configured = req->alias->process_group;
    }
    else if (req->dconf->process_group) {
        configured = req->dconf->process_group;
    }
    name = expand_group_name(r, configured);
    if (*name == '\0') {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "mod_wsgid: no daemon process group for %s (script "
                      "%s): wsgid has no embedded mode; set "
                      "WSGIProcessGroup or the process-group= option of "
                      "WSGIScriptAlias", r->uri, r->filename);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    /* mod_wsgi checks the restriction first, and answers 500 too */
    if (!wsgid_restriction_allows(req->dconf->restrict_process, name)) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "mod_wsgid: group '%s' socket (none): refused %s: "
                      "WSGIRestrictProcess at %s allows only %s here "
                      "(group from '%s'); answering 500", name, r->uri,
                      req->dconf->restrict_process->defined_at,
                      wsgid_restriction_names(req->dconf->restrict_process,
                                              r->pool), configured);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    req->group = wsgid_find_group(wsgid_server_conf(r->server)->globals,
                                  r->server, name);
    if (req->group == NULL) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "mod_wsgid: group '%s' socket (none): no "
                      "WSGIDaemonProcess '%s' that this virtual host may use "
                      "(from '%s')", name, name, configured);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return OK;
}

/* Step 2: the application group: alias option > WSGIApplicationGroup. */
static int choose_application_group(wsgid_request *req)
{
    const char *configured = req->dconf->application_group;

    if (req->alias && req->alias->application_group) {
        configured = req->alias->application_group;
    }
    req->application_group = expand_group_name(req->r, configured);
    return OK;
}

/* Step 3: a chunked body only if WSGIChunkedRequest On. */
static int check_request_body(wsgid_request *req)
{
    request_rec *r = req->r;

    req->chunked = apr_table_get(r->headers_in, "Transfer-Encoding") != NULL;
    if (req->chunked && req->dconf->chunked_request != 1) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      "mod_wsgid: group '%s' socket %s: refused a chunked "
                      "request body with 411; set WSGIChunkedRequest On to "
                      "accept it", GROUP_NAME(req), SOCKET_PATH(req));
        return HTTP_LENGTH_REQUIRED;
    }
    return OK;
}

static void push_var(apr_array_header_t *vars, const char *key,
                     const char *value)
{
    wsgid_wire_var *v = apr_array_push(vars);

    v->key = key;
    v->key_len = strlen(key);
    v->value = value ? value : "";
    v->value_len = strlen(v->value);
}

static const char *usec_text(apr_pool_t *p, apr_time_t t)
{
    return apr_psprintf(p, "%" APR_TIME_T_FMT, t);
}

/* Step 4: the CGI variables and wsgid.* control keys; 431 if they do
 * not fit in one packet (checked before anything is encoded). */
static int build_variables(wsgid_request *req)
{
    request_rec *r = req->r;
    apr_table_t *env = r->subprocess_env;
    const apr_array_header_t *arr;
    const apr_table_entry_t *elts;
    wsgid_wire_size_result size_rv;
    char *path_info;
    int i;

    ap_add_common_vars(r);
    /* Without path info, ap_add_cgi_vars makes no PATH_TRANSLATED, which
     * costs a subrequest (and its access checks and log lines) that WSGI
     * has no use for; SCRIPT_NAME and PATH_INFO are set right after. */
    path_info = r->path_info;
    r->path_info = NULL;
    ap_add_cgi_vars(r);
    r->path_info = path_info;
    apr_table_setn(env, "SCRIPT_NAME", script_name(r));
    apr_table_setn(env, "PATH_INFO", path_info ? path_info : "");
    apr_table_unset(env, "HTTP_AUTHORIZATION");
    if (req->dconf->pass_authorization == 1) {
        const char *auth = apr_table_get(r->headers_in, "Authorization");

        if (auth) {
            apr_table_setn(env, "HTTP_AUTHORIZATION", auth);
        }
    }
    if (req->chunked) {
        apr_table_unset(env, "CONTENT_LENGTH");
    }
    /* the daemon refuses duplicate keys */
    apr_table_compress(env, APR_OVERLAP_TABLES_SET);

    if (r->log_id == NULL) {
        ap_run_generate_log_id(r->connection, r, &r->log_id);
    }
    arr = apr_table_elts(env);
    elts = (const apr_table_entry_t *)arr->elts;
    req->vars = apr_array_make(r->pool, arr->nelts + 8,
                               sizeof(wsgid_wire_var));
    for (i = 0; i < arr->nelts; i++) {
        if (elts[i].key == NULL || *elts[i].key == '\0'
            || strncmp(elts[i].key, "wsgid.", 6) == 0) {
            continue;   /* control keys come only from the module */
        }
        push_var(req->vars, elts[i].key, elts[i].val);
    }
    push_var(req->vars, "wsgid.process_group", req->group->name);
    push_var(req->vars, "wsgid.application_group", req->application_group);
    push_var(req->vars, "wsgid.callable_object",
             req->dconf->callable_object ? req->dconf->callable_object
                                         : WSGID_DEFAULT_CALLABLE);
    push_var(req->vars, "wsgid.request_id", r->log_id);
    push_var(req->vars, "wsgid.request_start",
             usec_text(r->pool, r->request_time));
    if (req->chunked) {
        push_var(req->vars, "wsgid.input_terminated", "1");
    }
    /* set again after connecting; the same number of digits */
    req->queue_start_index = req->vars->nelts;
    push_var(req->vars, "wsgid.queue_start",
             usec_text(r->pool, apr_time_now()));

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

/* Step 5: connect within connect-timeout, then apply socket-timeout. */
static int connect_to_group(wsgid_request *req)
{
    request_rec *r = req->r;
    wsgid_connect_info info;
    apr_status_t rv;

    rv = wsgid_connect_with_retry(r->pool, req->group->socket_path,
                                  req->group->connect_timeout, &req->sock,
                                  &info);
    if (rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r,
                      "mod_wsgid: group '%s' socket %s: cannot connect "
                      "after %d attempts within connect-timeout %g s%s; "
                      "answering 503",
                      req->group->name, req->group->socket_path,
                      info.attempts,
                      (double)req->group->connect_timeout / APR_USEC_PER_SEC,
                      info.backlog_full ? " (listen backlog full)" : "");
        return HTTP_SERVICE_UNAVAILABLE;
    }
    apr_socket_timeout_set(req->sock, req->group->socket_timeout
                                      ? req->group->socket_timeout
                                      : r->server->timeout);
    return OK;
}

static apr_status_t send_all(apr_socket_t *sock, const char *data,
                             apr_size_t len)
{
    while (len > 0) {
        apr_size_t n = len;
        apr_status_t rv = apr_socket_send(sock, data, &n);

        if (rv != APR_SUCCESS) {
            return rv;
        }
        data += n;
        len -= n;
    }
    return APR_SUCCESS;
}

static int daemon_stopped_reading(apr_status_t rv)
{
    return APR_STATUS_IS_EPIPE(rv) || APR_STATUS_IS_ECONNRESET(rv);
}

/* Step 6: packet header and variables in one send, then the body as the
 * input filters give it (de-chunked), then the half-close.  If the daemon
 * stops reading, its answer is already waiting: go and read it. */
static int send_request(wsgid_request *req)
{
    request_rec *r = req->r;
    wsgid_wire_var *vars = (wsgid_wire_var *)req->vars->elts;
    wsgid_wire_var *queue_start = &vars[req->queue_start_index];
    apr_bucket_brigade *bb;
    unsigned char *packet;
    apr_size_t packet_len;
    apr_status_t rv;
    int seen_eos = 0;

    queue_start->value = usec_text(r->pool, apr_time_now());
    queue_start->value_len = strlen(queue_start->value);
    if (wsgid_wire_vars_size(vars, req->vars->nelts, &req->vars_size)
        != WSGID_WIRE_OK) {
        return HTTP_REQUEST_HEADER_FIELDS_TOO_LARGE;   /* checked in step 4 */
    }
    packet = apr_palloc(r->pool, WSGID_WIRE_HEADER_SIZE + req->vars_size);
    packet_len = wsgid_wire_encode(vars, req->vars->nelts, req->vars_size,
                                   packet);
    rv = send_all(req->sock, (const char *)packet, packet_len);
    if (rv != APR_SUCCESS) {
        if (daemon_stopped_reading(rv)) {
            goto half_close;
        }
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r,
                      "mod_wsgid: group '%s' socket %s: cannot send the "
                      "request packet; answering %d", req->group->name,
                      req->group->socket_path,
                      APR_STATUS_IS_TIMEUP(rv) ? HTTP_GATEWAY_TIME_OUT
                                               : HTTP_BAD_GATEWAY);
        return APR_STATUS_IS_TIMEUP(rv) ? HTTP_GATEWAY_TIME_OUT
                                        : HTTP_BAD_GATEWAY;
    }

    bb = apr_brigade_create(r->pool, r->connection->bucket_alloc);
    while (!seen_eos) {
        apr_bucket *b;

        rv = ap_get_brigade(r->input_filters, bb, AP_MODE_READBYTES,
                            APR_BLOCK_READ, WSGID_IO_CHUNK);
        if (rv != APR_SUCCESS) {
            ap_log_rerror(APLOG_MARK, APLOG_INFO, rv, r,
                          "mod_wsgid: group '%s' socket %s: reading the "
                          "request body from the client failed",
                          req->group->name, req->group->socket_path);
            return ap_map_http_request_error(rv, HTTP_BAD_REQUEST);
        }
        for (b = APR_BRIGADE_FIRST(bb); b != APR_BRIGADE_SENTINEL(bb);
             b = APR_BUCKET_NEXT(b)) {
            const char *data;
            apr_size_t len;

            if (APR_BUCKET_IS_EOS(b)) {
                seen_eos = 1;
                break;
            }
            if (APR_BUCKET_IS_METADATA(b)) {
                continue;
            }
            rv = apr_bucket_read(b, &data, &len, APR_BLOCK_READ);
            if (rv != APR_SUCCESS) {
                ap_log_rerror(APLOG_MARK, APLOG_INFO, rv, r,
                              "mod_wsgid: group '%s' socket %s: reading "
                              "the request body from the client failed",
                              req->group->name, req->group->socket_path);
                return ap_map_http_request_error(rv, HTTP_BAD_REQUEST);
            }
            rv = send_all(req->sock, data, len);
            if (rv != APR_SUCCESS) {
                apr_brigade_cleanup(bb);
                if (daemon_stopped_reading(rv)) {
                    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, rv, r,
                                  "mod_wsgid: group '%s' socket %s: the "
                                  "daemon stopped reading the request "
                                  "body; reading its response",
                                  req->group->name,
                                  req->group->socket_path);
                    goto half_close;
                }
                ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r,
                              "mod_wsgid: group '%s' socket %s: cannot send "
                              "the request body", req->group->name,
                              req->group->socket_path);
                return APR_STATUS_IS_TIMEUP(rv) ? HTTP_GATEWAY_TIME_OUT
                                                : HTTP_BAD_GATEWAY;
            }
        }
        apr_brigade_cleanup(bb);
    }

half_close:
    apr_socket_shutdown(req->sock, APR_SHUTDOWN_WRITE);
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

/* Step 7: read and validate the response head. */
static int read_response_head(wsgid_request *req)
{
    request_rec *r = req->r;
    wsgid_head_result head_rv = WSGID_HEAD_NEED_MORE;
    apr_status_t rv = APR_SUCCESS;

    req->buf = apr_palloc(r->pool, WSGID_HEAD_BUFFER);
    req->buf_len = 0;
    memset(&req->head, 0, sizeof(req->head));
    while (head_rv == WSGID_HEAD_NEED_MORE) {
        apr_size_t n = WSGID_HEAD_BUFFER - req->buf_len;

        rv = apr_socket_recv(req->sock, req->buf + req->buf_len, &n);
        req->buf_len += n;
        if (n > 0) {
            head_rv = wsgid_wire_parse_head(req->buf, req->buf_len,
                                            &req->head, NULL, NULL);
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
                          "504", req->group->name, req->group->socket_path);
            return HTTP_GATEWAY_TIME_OUT;
        }
        ap_log_rerror(APLOG_MARK, APLOG_ERR, APR_STATUS_IS_EOF(rv) ? 0 : rv,
                      r, "mod_wsgid: group '%s' socket %s: the daemon %s "
                      "after %" APR_SIZE_T_FMT " bytes, before a complete "
                      "response head; answering 502", req->group->name,
                      req->group->socket_path,
                      APR_STATUS_IS_EOF(rv) ? "closed the connection"
                                            : "connection failed",
                      req->buf_len);
        return HTTP_BAD_GATEWAY;
    }
    if (head_rv != WSGID_HEAD_OK) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "mod_wsgid: group '%s' socket %s: malformed response "
                      "head from the daemon: %s (at byte %" APR_SIZE_T_FMT
                      "); answering 502", req->group->name,
                      req->group->socket_path,
                      wsgid_wire_head_result_text(head_rv),
                      req->head.error_offset);
        return HTTP_BAD_GATEWAY;
    }
    /* Valid: now it may change the response. */
    wsgid_wire_parse_head(req->buf, req->buf_len, &req->head,
                          add_response_header, r);
    r->status = req->head.status;
    r->status_line = req->head.reason_len
        ? apr_psprintf(r->pool, "%03d %.*s", req->head.status,
                       (int)req->head.reason_len, req->head.reason)
        : NULL;
    return OK;
}

/* Pass bytes on to the client; non-zero if the client is gone.  As in
 * mod_wsgi 4.6, a lost client is routine and not logged, but a client that
 * stopped reading held this worker for Timeout: that is logged once.  The
 * status stays the application's either way, for the access log. */
static int pass_to_client(wsgid_request *req, apr_bucket_brigade *bb,
                          const char *data, apr_size_t len)
{
    request_rec *r = req->r;
    apr_bucket *b = apr_bucket_transient_create(data, len,
                                                r->connection->bucket_alloc);
    apr_status_t rv;

    APR_BRIGADE_INSERT_TAIL(bb, b);
    /* flush: the application decides the pace, as it would with HTTP */
    APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_flush_create(
                                    r->connection->bucket_alloc));
    rv = ap_pass_brigade(r->output_filters, bb);
    apr_brigade_cleanup(bb);
    if (APR_STATUS_IS_TIMEUP(rv)) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r,
                      "mod_wsgid: group '%s' socket %s: writing the response "
                      "to the client timed out (Timeout %" APR_TIME_T_FMT
                      " s); the response is cut off", req->group->name,
                      req->group->socket_path,
                      apr_time_sec(r->server->timeout));
    }
    return rv != APR_SUCCESS || r->connection->aborted;
}

/* Step 8: the body, chunk by chunk, until the daemon closes. */
static int stream_response_body(wsgid_request *req)
{
    request_rec *r = req->r;
    conn_rec *c = r->connection;
    apr_bucket_brigade *bb = apr_brigade_create(r->pool, c->bucket_alloc);
    apr_size_t leftover = req->buf_len - req->head.body_offset;
    apr_status_t rv = APR_SUCCESS;

    if (leftover > 0 && pass_to_client(req, bb, req->buf
                                       + req->head.body_offset, leftover)) {
        return OK;   /* client gone: keep the status for the access log */
    }
    for (;;) {
        apr_size_t n = WSGID_HEAD_BUFFER;

        rv = apr_socket_recv(req->sock, req->buf, &n);
        if (n > 0 && pass_to_client(req, bb, req->buf, n)) {
            return OK;
        }
        if (rv != APR_SUCCESS) {
            break;
        }
    }
    if (!APR_STATUS_IS_EOF(rv)) {
        /* Too late for a status: make the client see a broken response
         * instead of a short one that looks complete. */
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r,
                      "mod_wsgid: group '%s' socket %s: %s while reading "
                      "the response body; the response is cut off",
                      req->group->name, req->group->socket_path,
                      APR_STATUS_IS_TIMEUP(rv) ? "socket-timeout passed"
                                               : "the connection failed");
        c->keepalive = AP_CONN_CLOSE;
        APR_BRIGADE_INSERT_TAIL(bb, ap_bucket_error_create(
                                    HTTP_BAD_GATEWAY, NULL, r->pool,
                                    c->bucket_alloc));
    }
    APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_eos_create(c->bucket_alloc));
    ap_pass_brigade(r->output_filters, bb);
    return OK;
}

static int wsgid_handler(request_rec *r)
{
    wsgid_request req;
    int status;

    if (r->handler == NULL || strcmp(r->handler, WSGID_HANDLER) != 0) {
        return DECLINED;
    }
    memset(&req, 0, sizeof(req));
    req.r = r;
    req.match = ap_get_module_config(r->request_config, &wsgid_module);
    req.alias = req.match ? req.match->alias : NULL;
    req.dconf = ap_get_module_config(r->per_dir_config, &wsgid_module);

    if (r->finfo.filetype != APR_REG) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      "mod_wsgid: no WSGI script file at %s (for %s)",
                      r->filename, r->uri);
        return HTTP_NOT_FOUND;
    }
    if (r->path_info && *r->path_info
        && r->used_path_info == AP_REQ_REJECT_PATH_INFO) {
        return HTTP_NOT_FOUND;
    }
    if (req.match && req.match->script_path
        && (status = check_match_script(r, req.match)) != OK) {
        return status;
    }

    if ((status = choose_group(&req)) != OK
        || (status = choose_application_group(&req)) != OK
        || (status = check_request_body(&req)) != OK
        || (status = build_variables(&req)) != OK
        || (status = connect_to_group(&req)) != OK
        || (status = send_request(&req)) != OK
        || (status = read_response_head(&req)) != OK
        || (status = stream_response_body(&req)) != OK) {
        goto cleanup;
    }

cleanup:
    if (req.sock) {
        apr_socket_close(req.sock);
    }
    return status;
}

static void wsgid_register_hooks(apr_pool_t *p)
{
    /* before mod_alias, so that an Alias of a parent URL does not win */
    static const char *const before_alias[] = { "mod_alias.c", NULL };

    (void)p;
    ap_hook_check_config(wsgid_check_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_config(wsgid_post_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_translate_name(wsgid_translate_name, NULL, before_alias,
                           APR_HOOK_MIDDLE);
    ap_hook_handler(wsgid_handler, NULL, NULL, APR_HOOK_MIDDLE);
}

module AP_MODULE_DECLARE_DATA wsgid_module = {
    STANDARD20_MODULE_STUFF,
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
