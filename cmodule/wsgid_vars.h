/*
 * wsgid_vars.h: the variables of a request packet: the CGI/1.1 variables
 * Apache computes for a request, then the wsgid.* control keys, which only
 * the module sets (docs/protocol.md, "Variables" and "Control keys").
 */
#ifndef WSGID_VARS_H
#define WSGID_VARS_H

#include "apr_tables.h"
#include "httpd.h"

/* Add r's CGI variables to env: Apache's common and CGI variables, with
 * SCRIPT_NAME/PATH_INFO split at r's path info and never
 * HTTP_AUTHORIZATION (the caller adds it if WSGIPassAuthorization says
 * so).  env may be r->subprocess_env (then SetEnv values are in it too) or
 * a table of its own. */
void wsgid_vars_add_cgi(request_rec *r, apr_table_t *env);

/* The variables of env as wsgid_wire_var, in a new array with room for
 * extra more; keys starting with "wsgid." are left out, since control
 * keys come only from the module. */
apr_array_header_t *wsgid_vars_from_table(apr_pool_t *p,
                                          const apr_table_t *env, int extra);

void wsgid_vars_push(apr_array_header_t *vars, const char *key,
                     const char *value);

/* What every packet to a daemon starts with, a request's or a hook call's:
 * the variables of env (see wsgid_vars_from_table), then the control keys
 * that name the request and where it runs: wsgid.process_group,
 * wsgid.application_group, wsgid.request_id (Apache's log id, made here if
 * no module made it yet) and wsgid.request_start.  Room for extra more. */
apr_array_header_t *wsgid_vars_for_daemon(request_rec *r,
                                          const apr_table_t *env,
                                          const char *process_group,
                                          const char *application_group,
                                          int extra);

/* Integer microseconds since the epoch, as wsgid.request_start and
 * wsgid.queue_start carry time. */
const char *wsgid_vars_usec(apr_pool_t *p, apr_time_t t);

#endif /* WSGID_VARS_H */
