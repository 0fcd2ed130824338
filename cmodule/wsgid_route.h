/*
 * wsgid_route.h: which daemon group, application group and callable a
 * request goes to, from the configuration (WSGIScriptAlias options,
 * WSGIProcessGroup, WSGIApplicationGroup, WSGICallableObject) and the
 * %{...} expansions mod_wsgi allows in group names.  Shared by the handler
 * and the hook calls, which run in the group the request would use.
 */
#ifndef WSGID_ROUTE_H
#define WSGID_ROUTE_H

#include "httpd.h"

#include "wsgid_config.h"

/* SCRIPT_NAME of r: its URL up to the path info. */
const char *wsgid_script_name(request_rec *r);

/* value expanded for r: %{GLOBAL} (or NULL) is "", %{SERVER}, %{HOST},
 * %{RESOURCE} and %{ENV:VAR} as in docs/configuration.md, literals as they
 * are. */
const char *wsgid_expand_group_name(request_rec *r, const char *value);

/* The process group the configuration names for r, as written: the
 * process-group= of the WSGIScriptAlias that mapped it, else the
 * WSGIProcessGroup in effect; NULL if none. */
const char *wsgid_configured_process_group(request_rec *r,
                                           const wsgid_dir_config *dconf);

/* The same for the application group (NULL: %{GLOBAL}). */
const char *wsgid_configured_application_group(request_rec *r,
                                               const wsgid_dir_config *dconf);

/* The same for the callable (never NULL: the default is "application"). */
const char *wsgid_configured_callable_object(request_rec *r,
                                             const wsgid_dir_config *dconf);

/* Whether the Authorization header reaches the application: the
 * pass-authorization= of the alias, else WSGIPassAuthorization (Off). */
int wsgid_configured_pass_authorization(request_rec *r,
                                        const wsgid_dir_config *dconf);

/*
 * The daemon group that configured (a process group as written, or NULL)
 * names for r: expanded, allowed by the WSGIRestrictProcess in effect, and
 * defined where r's virtual host may use it.  OK with *group set, or 500
 * with one log line that names who is asking and for what (e.g. "script",
 * its path) and, when no group is named at all, `fix`.  Nothing is
 * formatted unless a line is logged: this runs for every request.
 */
int wsgid_route_group(request_rec *r, const wsgid_dir_config *dconf,
                      const char *configured, const char *who,
                      const char *what, const char *fix,
                      wsgid_daemon_group **group);

#endif /* WSGID_ROUTE_H */
