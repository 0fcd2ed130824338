/*
 * wsgid_route.c: from a request and the configuration to the daemon group
 * and the application group (see wsgid_route.h).  The expansions are
 * mod_wsgi 4.6's; docs/configuration.md, "Application groups", is their
 * specification.
 */
#include <stdlib.h>

#include "apr_strings.h"

#include "httpd.h"
#include "http_config.h"
#include "http_core.h"
#include "http_log.h"
#include "util_script.h"

#include "wsgid_route.h"

APLOG_USE_MODULE(wsgid);

/* %{SERVER} and %{HOST}: a name, with the port unless it is 80 or 443 */
static const char *with_port(request_rec *r, const char *name)
{
    apr_port_t port = ap_get_server_port(r);

    if (port == 80 || port == 443) {
        return name;
    }
    return apr_psprintf(r->pool, "%s:%u", name, (unsigned)port);
}

const char *wsgid_script_name(request_rec *r)
{
    if (r->path_info && *r->path_info) {
        int end = ap_find_path_info(r->uri, r->path_info);

        return apr_pstrmemdup(r->pool, r->uri, end);
    }
    return r->uri;
}

const char *wsgid_expand_group_name(request_rec *r, const char *value)
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
        char *name = apr_pstrdup(r->pool, wsgid_script_name(r));

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
            return wsgid_expand_group_name(r, env);  /* one level, no loop */
        }
        return env;
    }
    return value;
}

/* The WSGIScriptAlias(Match) that translate_name mapped r with, or NULL. */
static const wsgid_script_alias *mapped_alias(request_rec *r)
{
    const wsgid_alias_match *match
        = ap_get_module_config(r->request_config, &wsgid_module);

    return match ? match->alias : NULL;
}

const char *wsgid_configured_process_group(request_rec *r,
                                           const wsgid_dir_config *dconf)
{
    const wsgid_script_alias *alias = mapped_alias(r);

    if (alias && alias->process_group) {
        return alias->process_group;
    }
    return dconf->process_group;
}

const char *wsgid_configured_application_group(request_rec *r,
                                               const wsgid_dir_config *dconf)
{
    const wsgid_script_alias *alias = mapped_alias(r);

    if (alias && alias->application_group) {
        return alias->application_group;
    }
    return dconf->application_group;
}

const char *wsgid_configured_callable_object(request_rec *r,
                                             const wsgid_dir_config *dconf)
{
    const wsgid_script_alias *alias = mapped_alias(r);

    if (alias && alias->callable_object) {
        return alias->callable_object;
    }
    return dconf->callable_object ? dconf->callable_object
                                  : WSGID_DEFAULT_CALLABLE;
}

int wsgid_configured_pass_authorization(request_rec *r,
                                        const wsgid_dir_config *dconf)
{
    const wsgid_script_alias *alias = mapped_alias(r);

    if (alias && alias->pass_authorization != WSGID_UNSET) {
        return alias->pass_authorization;
    }
    return dconf->pass_authorization == 1;
}

int wsgid_route_group(request_rec *r, const wsgid_dir_config *dconf,
                      const char *configured, const char *who,
                      const char *what, const char *fix,
                      wsgid_daemon_group **group)
{
    const wsgid_globals *g = wsgid_server_conf(r->server)->globals;
    const char *name = wsgid_expand_group_name(r, configured);

    *group = NULL;
    if (*name == '\0' && g->default_group != NULL) {
        /* what mod_wsgi would run embedded (wsgid_default_group.c); no
         * WSGIRestrictProcess applies, as none does to embedded mode */
        *group = g->default_group;
        return OK;
    }
    if (*name == '\0') {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "mod_wsgid: no daemon process group for %s (%s %s): "
                      "%s; %s", r->uri, who, what,
                      g->restrict_embedded == 1
                      ? "WSGIRestrictEmbedded On refuses what mod_wsgi would "
                        "run embedded"
                      : "wsgid runs no Python inside Apache", fix);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    /* mod_wsgi checks the restriction first, and answers 500 too */
    if (!wsgid_restriction_allows(dconf->restrict_process, name)) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "mod_wsgid: group '%s' socket (none): refused %s (%s "
                      "%s): WSGIRestrictProcess at %s allows only %s here "
                      "(group from '%s'); answering 500", name, r->uri, who,
                      what,
                      dconf->restrict_process->defined_at,
                      wsgid_restriction_names(dconf->restrict_process,
                                              r->pool), configured);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    *group = wsgid_find_group(g, r->server, name);
    if (*group == NULL) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "mod_wsgid: group '%s' socket (none): no "
                      "WSGIDaemonProcess '%s' that this virtual host may use "
                      "(from '%s', for %s %s)", name, name, configured, who,
                      what);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return OK;
}
