/*
 * wsgid_vars.c: a request's packet variables (see wsgid_vars.h).
 */
#include "apr_strings.h"

#include "httpd.h"
#include "http_core.h"
#include "util_script.h"

#include "wsgid_route.h"
#include "wsgid_vars.h"
#include "wsgid_wire.h"

void wsgid_vars_add_cgi(request_rec *r, apr_table_t *env)
{
    apr_table_t *request_env = r->subprocess_env;
    char *path_info = r->path_info;

    /* Apache's functions fill r->subprocess_env: lend them env. */
    r->subprocess_env = env;
    ap_add_common_vars(r);
    /* Without path info, ap_add_cgi_vars makes no PATH_TRANSLATED, which
     * costs a subrequest (and its access checks and log lines) that WSGI
     * has no use for; SCRIPT_NAME and PATH_INFO are set right after. */
    r->path_info = NULL;
    ap_add_cgi_vars(r);
    r->path_info = path_info;
    r->subprocess_env = request_env;
    apr_table_setn(env, "SCRIPT_NAME", wsgid_script_name(r));
    apr_table_setn(env, "PATH_INFO", path_info ? path_info : "");
    apr_table_unset(env, "HTTP_AUTHORIZATION");
    /* the daemon refuses duplicate keys */
    apr_table_compress(env, APR_OVERLAP_TABLES_SET);
}

apr_array_header_t *wsgid_vars_from_table(apr_pool_t *p,
                                          const apr_table_t *env, int extra)
{
    const apr_array_header_t *arr = apr_table_elts(env);
    const apr_table_entry_t *elts = (const apr_table_entry_t *)arr->elts;
    apr_array_header_t *vars = apr_array_make(p, arr->nelts + extra,
                                              sizeof(wsgid_wire_var));
    int i;

    for (i = 0; i < arr->nelts; i++) {
        if (elts[i].key == NULL || *elts[i].key == '\0'
            || strncmp(elts[i].key, "wsgid.", 6) == 0) {
            continue;
        }
        wsgid_vars_push(vars, elts[i].key, elts[i].val);
    }
    return vars;
}

void wsgid_vars_push(apr_array_header_t *vars, const char *key,
                     const char *value)
{
    wsgid_wire_var *v = apr_array_push(vars);

    v->key = key;
    v->key_len = strlen(key);
    v->value = value ? value : "";
    v->value_len = strlen(v->value);
}

apr_array_header_t *wsgid_vars_for_daemon(request_rec *r,
                                          const apr_table_t *env,
                                          const char *process_group,
                                          const char *application_group,
                                          int extra)
{
    apr_array_header_t *vars;

    if (r->log_id == NULL) {
        ap_run_generate_log_id(r->connection, r, &r->log_id);
    }
    vars = wsgid_vars_from_table(r->pool, env, extra + 4);
    wsgid_vars_push(vars, "wsgid.process_group", process_group);
    wsgid_vars_push(vars, "wsgid.application_group", application_group);
    wsgid_vars_push(vars, "wsgid.request_id", r->log_id);
    wsgid_vars_push(vars, "wsgid.request_start",
                    wsgid_vars_usec(r->pool, r->request_time));
    return vars;
}

/* APR's own integer formatting, not apr_psprintf: a request carries up to
 * four of these, and the format walk cost about 600 instructions each, 3% of
 * the module's side of a hello-world request (bench/README.md). */
_Static_assert(sizeof(apr_off_t) >= sizeof(apr_time_t),
               "apr_off_t_toa must hold a time in microseconds");

const char *wsgid_vars_usec(apr_pool_t *p, apr_time_t t)
{
    return apr_off_t_toa(p, (apr_off_t)t);
}
