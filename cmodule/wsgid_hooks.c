/*
 * wsgid_hooks.c: mod_wsgi's access, authentication, authorization and
 * dispatch hooks, answered by a daemon group (see wsgid_hooks.h).
 *
 * Rules:
 * - A hook runs in the group its directive's process-group= names, else in
 *   the group that would serve the request (the WSGIScriptAlias option,
 *   else WSGIProcessGroup); with neither, the request ends with a 500 and
 *   a log line saying how to name one.  The application group is the
 *   directive's application-group=, else %{GLOBAL} (dispatch: the
 *   request's own application group).
 * - Access and auth hooks run before Apache's fixups: their packet has the
 *   request's CGI variables but nothing from SetEnv, and never a body.  The
 *   dispatch call, made by the handler, has the SetEnv variables too.
 * - An error of the script (an exception, a wrong return type) is logged
 *   by the daemon, once, with its traceback; this side adds no line, so
 *   the error log shows one story.  A failed exchange is logged here, once
 *   (wsgid_exchange.c).
 */
#include "apr_strings.h"

#include "httpd.h"
#include "http_config.h"
#include "http_core.h"
#include "http_log.h"
#include "http_request.h"
#include "mod_auth.h"

#include "wsgid_exchange.h"
#include "wsgid_hooks.h"
#include "wsgid_route.h"
#include "wsgid_vars.h"

APLOG_USE_MODULE(wsgid);

#define RESULT_HEADER "Wsgid-Hook-Result"

/* What one hook call asks: the function and its arguments. */
typedef struct {
    wsgid_hook_kind kind;
    const char *function;                /* wsgid.hook */
    const char *args[4];                 /* key, value, key, value */
    int with_setenv;                     /* dispatch: SetEnv values too */
    const char *request_group;           /* the group serving the request */
    const char *request_application_group;   /* dispatch's default */
} hook_request;

/* What the daemon answered. */
typedef struct {
    const char *result;                  /* Wsgid-Hook-Result */
    apr_table_t *values;                 /* the other headers */
} hook_answer;

static const wsgid_dir_config *dir_config(request_rec *r)
{
    return ap_get_module_config(r->per_dir_config, &wsgid_module);
}

/* "WSGIAccessScript /path (FILE:LINE)", for log lines */
static const char *describe(request_rec *r, const wsgid_hook_script *script)
{
    return apr_psprintf(r->pool, "%s %s (%s)",
                        wsgid_hook_directive(script->kind), script->path,
                        script->defined_at);
}

static int collect_header(void *ctx, const char *name, apr_size_t name_len,
                          const char *value, apr_size_t value_len)
{
    request_rec *r = ((void **)ctx)[0];
    hook_answer *answer = ((void **)ctx)[1];

    apr_table_addn(answer->values, apr_pstrmemdup(r->pool, name, name_len),
                   apr_pstrmemdup(r->pool, value, value_len));
    return 0;
}

/* The packet of a hook call; NULL (logged) if it cannot be one packet. */
static apr_array_header_t *hook_variables(request_rec *r,
                                          const hook_request *call,
                                          const wsgid_hook_script *script,
                                          const wsgid_daemon_group *group,
                                          const char *application_group,
                                          apr_size_t *size)
{
    apr_table_t *env = call->with_setenv ? r->subprocess_env
                                         : apr_table_make(r->pool, 32);
    apr_array_header_t *vars;
    int i;

    wsgid_vars_add_cgi(r, env);
    vars = wsgid_vars_for_daemon(r, env, group->name, application_group, 6);
    /* no body follows a hook packet, whatever the request has */
    for (i = 0; i < vars->nelts; i++) {
        wsgid_wire_var *v = &APR_ARRAY_IDX(vars, i, wsgid_wire_var);

        if (strcmp(v->key, "CONTENT_LENGTH") == 0) {
            *v = APR_ARRAY_IDX(vars, vars->nelts - 1, wsgid_wire_var);
            vars->nelts--;
            break;
        }
    }
    wsgid_vars_push(vars, "wsgid.hook", call->function);
    wsgid_vars_push(vars, "wsgid.hook_script", script->path);
    if (dir_config(r)->script_reloading != 0) {
        /* WSGIScriptReloading: the daemon loads the script again when this
         * is not the version it has (mod_wsgi reloads a hook script in
         * place); one that cannot be stat()ed is left to the daemon's load */
        apr_finfo_t finfo;

        if (apr_stat(&finfo, script->path, APR_FINFO_MTIME, r->pool)
            == APR_SUCCESS) {
            wsgid_vars_push(vars, "wsgid.script_mtime",
                            wsgid_vars_usec(r->pool, finfo.mtime));
        }
    }
    for (i = 0; i < 4 && call->args[i] != NULL; i += 2) {
        wsgid_vars_push(vars, call->args[i], call->args[i + 1]);
    }
    if (wsgid_wire_vars_size((wsgid_wire_var *)vars->elts, vars->nelts, size)
        != WSGID_WIRE_OK) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "mod_wsgid: group '%s' socket %s: the %d variables of "
                      "the %s call for %s take %" APR_SIZE_T_FMT " bytes, "
                      "more than one uwsgi packet can carry", group->name,
                      group->socket_path, vars->nelts, call->function,
                      r->uri, *size);
        return NULL;
    }
    return vars;
}

/*
 * Run call's hook script in its daemon group.  OK with *answer filled (its
 * result may be "error": the daemon logged it), or an HTTP status after one
 * log line: 500 (no group; too many variables), 503, 502, 504.
 */
static int hook_call(request_rec *r, const hook_request *call,
                     hook_answer *answer)
{
    const wsgid_dir_config *dconf = dir_config(r);
    const wsgid_hook_script *script = dconf->hooks[call->kind];
    wsgid_daemon_group *group;
    wsgid_exchange x;
    apr_array_header_t *vars;
    apr_size_t size;
    void *ctx[2];
    int status;

    status = wsgid_route_group(r, dconf, script->process_group
                                         ? script->process_group
                                         : call->request_group,
                               wsgid_hook_directive(script->kind),
                               script->path,
                               "add process-group=NAME to the hook "
                               "directive, or set WSGIProcessGroup",
                               &group);
    if (status != OK) {
        return status;
    }
    vars = hook_variables(r, call, script, group,
                          wsgid_expand_group_name(
                              r, script->application_group
                                 ? script->application_group
                                 : call->request_application_group),
                          &size);
    if (vars == NULL) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    status = wsgid_exchange_connect(&x, r, group);
    if (status == OK) {
        status = wsgid_exchange_send_packet(&x, (wsgid_wire_var *)vars->elts,
                                            vars->nelts, size, NULL, 0);
    }
    if (status == OK) {
        wsgid_exchange_end_request(&x);
        status = wsgid_exchange_read_head(&x);
    }
    if (status == OK) {
        answer->values = apr_table_make(r->pool, 4);
        ctx[0] = r;
        ctx[1] = answer;
        wsgid_exchange_headers(&x, collect_header, ctx);
        answer->result = apr_table_get(answer->values, RESULT_HEADER);
        if (x.head.status != HTTP_OK || answer->result == NULL) {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                          "mod_wsgid: group '%s' socket %s: the %s call of "
                          "%s for %s was answered %d without a %s; "
                          "answering 502", group->name, group->socket_path,
                          call->function, describe(r, script), r->uri,
                          x.head.status, RESULT_HEADER);
            status = HTTP_BAD_GATEWAY;
        }
    }
    wsgid_exchange_close(&x);
    return status;
}

/* A result word this hook cannot give: logged as a broken answer. */
static void unexpected_result(request_rec *r, const hook_request *call,
                              const char *result)
{
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                  "mod_wsgid: the %s call of %s for %s answered the unknown "
                  "result '%s'", call->function,
                  describe(r, dir_config(r)->hooks[call->kind]), r->uri,
                  result);
}

/* --- WSGIAccessScript ------------------------------------------------- */

static int check_access(request_rec *r)
{
    const wsgid_dir_config *dconf = dir_config(r);
    hook_request call = { .kind = WSGID_HOOK_ACCESS,
                          .function = "allow_access" };
    hook_answer answer;
    const char *host;
    int status;

    if (dconf->hooks[WSGID_HOOK_ACCESS] == NULL) {
        return DECLINED;
    }
    /* as mod_wsgi: the name if Apache looked it up (HostnameLookups),
     * else the address */
    host = ap_get_remote_host(r->connection, r->per_dir_config, REMOTE_HOST,
                              NULL);
    call.args[0] = "wsgid.hook_host";
    call.args[1] = host ? host : r->useragent_ip;
    call.request_group = wsgid_configured_process_group(r, dconf);
    status = hook_call(r, &call, &answer);
    if (status != OK) {
        return status;
    }
    if (strcmp(answer.result, "allow") == 0) {
        return OK;
    }
    if (strcmp(answer.result, "decline") == 0) {
        return DECLINED;
    }
    if (strcmp(answer.result, "deny") == 0) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "mod_wsgid: client denied by %s: allow_access() "
                      "returned False for %s", describe(r,
                      dconf->hooks[WSGID_HOOK_ACCESS]), r->uri);
        return HTTP_FORBIDDEN;
    }
    if (strcmp(answer.result, "error") != 0) {
        unexpected_result(r, &call, answer.result);
    }
    return HTTP_INTERNAL_SERVER_ERROR;
}

/* --- the 'wsgi' authentication provider -------------------------------- */

/* Run the WSGIAuthUserScript function; NULL result if none is configured
 * or the call failed (both logged). */
static const char *auth_user_call(request_rec *r, hook_request *call,
                                  hook_answer *answer)
{
    const wsgid_dir_config *dconf = dir_config(r);

    if (dconf->hooks[WSGID_HOOK_AUTH_USER] == NULL) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "mod_wsgid: the 'wsgi' authentication provider is used "
                      "for %s but no WSGIAuthUserScript applies there; add "
                      "WSGIAuthUserScript /path/to/auth.wsgi next to the "
                      "AuthBasicProvider or AuthDigestProvider line", r->uri);
        return NULL;
    }
    call->request_group = wsgid_configured_process_group(r, dconf);
    if (hook_call(r, call, answer) != OK) {
        return NULL;
    }
    return answer->result;
}

static authn_status check_password(request_rec *r, const char *user,
                                   const char *password)
{
    hook_request call = { .kind = WSGID_HOOK_AUTH_USER,
                          .function = "check_password",
                          .args = { "wsgid.hook_user", user,
                                    "wsgid.hook_password", password } };
    hook_answer answer;
    const char *result = auth_user_call(r, &call, &answer);

    if (result == NULL || strcmp(result, "error") == 0) {
        return AUTH_GENERAL_ERROR;
    }
    if (strcmp(result, "granted") == 0) {
        const char *name = apr_table_get(answer.values, "Wsgid-Hook-User");

        if (name != NULL) {
            r->user = apr_pstrdup(r->pool, name);
        }
        return AUTH_GRANTED;
    }
    if (strcmp(result, "denied") == 0) {
        return AUTH_DENIED;
    }
    if (strcmp(result, "not-found") == 0) {
        return AUTH_USER_NOT_FOUND;
    }
    unexpected_result(r, &call, result);
    return AUTH_GENERAL_ERROR;
}

static authn_status get_realm_hash(request_rec *r, const char *user,
                                   const char *realm, char **rethash)
{
    hook_request call = { .kind = WSGID_HOOK_AUTH_USER,
                          .function = "get_realm_hash",
                          .args = { "wsgid.hook_user", user,
                                    "wsgid.hook_realm", realm } };
    hook_answer answer;
    const char *result = auth_user_call(r, &call, &answer);

    if (result == NULL || strcmp(result, "error") == 0) {
        return AUTH_GENERAL_ERROR;
    }
    if (strcmp(result, "found") == 0
        && apr_table_get(answer.values, "Wsgid-Hook-Hash") != NULL) {
        *rethash = apr_pstrdup(r->pool,
                               apr_table_get(answer.values,
                                             "Wsgid-Hook-Hash"));
        return AUTH_USER_FOUND;
    }
    if (strcmp(result, "not-found") == 0) {
        return AUTH_USER_NOT_FOUND;
    }
    unexpected_result(r, &call, result);
    return AUTH_GENERAL_ERROR;
}

static const authn_provider wsgid_authn_provider = {
    &check_password,
    &get_realm_hash
};

/* --- Require wsgi-group ------------------------------------------------- */

typedef struct {
    const char *wanted;
    int found;
} group_search;

static int match_group(void *ctx, const char *key, const char *value)
{
    group_search *search = ctx;

    (void)key;
    if (strcmp(value, search->wanted) == 0) {
        search->found = 1;
        return 0;   /* stop */
    }
    return 1;
}

static authz_status check_wsgi_group(request_rec *r, const char *require_args,
                                     const void *parsed_require_args)
{
    const wsgid_dir_config *dconf = dir_config(r);
    hook_request call = { .kind = WSGID_HOOK_AUTH_GROUP,
                          .function = "groups_for_user" };
    hook_answer answer;
    const char *word;

    (void)parsed_require_args;
    if (r->user == NULL) {
        return AUTHZ_DENIED_NO_USER;   /* authenticate first */
    }
    if (dconf->hooks[WSGID_HOOK_AUTH_GROUP] == NULL) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "mod_wsgid: 'Require wsgi-group' applies to %s but no "
                      "WSGIAuthGroupScript does; add WSGIAuthGroupScript "
                      "/path/to/groups.wsgi next to it", r->uri);
        return AUTHZ_GENERAL_ERROR;
    }
    call.args[0] = "wsgid.hook_user";
    call.args[1] = r->user;
    call.request_group = wsgid_configured_process_group(r, dconf);
    if (hook_call(r, &call, &answer) != OK
        || strcmp(answer.result, "error") == 0) {
        return AUTHZ_GENERAL_ERROR;
    }
    if (strcmp(answer.result, "groups") != 0) {
        unexpected_result(r, &call, answer.result);
        return AUTHZ_GENERAL_ERROR;
    }
    while (*(word = ap_getword_conf(r->pool, &require_args)) != '\0') {
        group_search search = { word, 0 };

        apr_table_do(match_group, &search, answer.values, "Wsgid-Hook-Group",
                     NULL);
        if (search.found) {
            return AUTHZ_GRANTED;
        }
    }
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                  "mod_wsgid: user '%s' may not access %s: groups_for_user() "
                  "of %s names none of the required groups", r->user, r->uri,
                  describe(r, dconf->hooks[WSGID_HOOK_AUTH_GROUP]));
    return AUTHZ_DENIED;
}

static const authz_provider wsgid_authz_provider = {
    &check_wsgi_group,
    NULL
};

/* --- WSGIDispatchScript -------------------------------------------------- */

int wsgid_hook_dispatch(request_rec *r, const char **process_group,
                        const char **application_group,
                        const char **callable_object)
{
    hook_request call = { .kind = WSGID_HOOK_DISPATCH,
                          .function = "dispatch", .with_setenv = 1 };
    hook_answer answer;
    const char *value;
    int status;

    call.request_group = *process_group;
    call.request_application_group = *application_group;
    status = hook_call(r, &call, &answer);
    if (status != OK) {
        return status;
    }
    if (strcmp(answer.result, "dispatch") != 0) {
        if (strcmp(answer.result, "error") != 0) {
            unexpected_result(r, &call, answer.result);
        }
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if ((value = apr_table_get(answer.values, "Wsgid-Hook-Process-Group"))) {
        *process_group = value;
    }
    if ((value = apr_table_get(answer.values,
                               "Wsgid-Hook-Application-Group"))) {
        *application_group = value;
    }
    if ((value = apr_table_get(answer.values,
                               "Wsgid-Hook-Callable-Object"))) {
        *callable_object = value;
    }
    return OK;
}

void wsgid_hooks_register(apr_pool_t *p)
{
    ap_hook_check_access(check_access, NULL, NULL, APR_HOOK_MIDDLE,
                         AP_AUTH_INTERNAL_PER_CONF);
    ap_register_auth_provider(p, AUTHN_PROVIDER_GROUP, "wsgi",
                              AUTHN_PROVIDER_VERSION, &wsgid_authn_provider,
                              AP_AUTH_INTERNAL_PER_CONF);
    ap_register_auth_provider(p, AUTHZ_PROVIDER_GROUP, "wsgi-group",
                              AUTHZ_PROVIDER_VERSION, &wsgid_authz_provider,
                              AP_AUTH_INTERNAL_PER_CONF);
}
