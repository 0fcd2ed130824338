/*
 * wsgid_checks.c: check_config's checks across directives: every literal
 * process group used exists, may be used where it is used, and is not
 * excluded by the WSGIRestrictProcess that certainly applies there; a
 * Python executable is set when daemon groups exist.  Each problem is one
 * startup line naming the directive, where it was written and the fix.
 */
#include "apr_strings.h"

#include "httpd.h"
#include "http_config.h"
#include "http_log.h"

#include "wsgid_config.h"

APLOG_USE_MODULE(wsgid);

static const char *defined_group_names(const wsgid_globals *g, apr_pool_t *p)
{
    const apr_array_header_t *lists[2] = { g->groups, g->external_groups };
    const char *names = NULL;
    int i, l;

    for (l = 0; l < 2; l++) {
        for (i = 0; i < lists[l]->nelts; i++) {
            const wsgid_daemon_group *group
                = APR_ARRAY_IDX(lists[l], i, wsgid_daemon_group *);

            names = names ? apr_pstrcat(p, names, ", ", group->name, NULL)
                          : group->name;
        }
    }
    return names ? names : "(none)";
}

/* The WSGIRestrictProcess that applies to every request a group use can
 * serve: one in the use's own section, else the server's own, else (for a
 * virtual host) the main server's.  NULL if requests may go unrestricted. */
static const wsgid_restriction *certain_restriction(const wsgid_globals *g,
                                                    const wsgid_group_use *use,
                                                    const server_rec *main)
{
    const wsgid_restriction *own_server = NULL, *main_level = NULL;
    int i;

    for (i = 0; i < g->restrictions->nelts; i++) {
        const wsgid_restriction *r = APR_ARRAY_IDX(g->restrictions, i,
                                                   wsgid_restriction *);

        if (use->section != NULL && r->section == use->section) {
            return r;
        }
        if (r->section == NULL && r->server == use->server) {
            own_server = r;
        }
        if (r->section == NULL && r->server == main) {
            main_level = r;
        }
    }
    return own_server ? own_server : main_level;
}

/* Could any WSGIRestrictProcess that reaches the use's server allow name?
 * Sections can replace the server's list per request, so a use is only
 * certainly refused when no list that can apply there names the group. */
static int some_restriction_allows(const wsgid_globals *g,
                                   const wsgid_group_use *use,
                                   const server_rec *main)
{
    int i;

    for (i = 0; i < g->restrictions->nelts; i++) {
        const wsgid_restriction *r = APR_ARRAY_IDX(g->restrictions, i,
                                                   wsgid_restriction *);

        if ((r->server == use->server || r->server == main)
            && wsgid_restriction_allows(r, use->name)) {
            return 1;
        }
    }
    return 0;
}

int wsgid_check_group_uses(wsgid_globals *g, apr_pool_t *ptemp,
                           server_rec *main_server)
{
    int i, rv = OK;

    for (i = 0; i < g->group_uses->nelts; i++) {
        wsgid_group_use *use = &APR_ARRAY_IDX(g->group_uses, i,
                                              wsgid_group_use);
        wsgid_daemon_group *group = wsgid_group_named(g, use->name);

        if (group == NULL) {
            ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_CRIT, 0,
                         main_server,
                         "mod_wsgid: %s%s%s at %s names the process group "
                         "'%s', which no WSGIDaemonProcess defines "
                         "(defined groups: %s); define it with "
                         "WSGIDaemonProcess %s ... or use one of the "
                         "defined names",
                         use->directive,
                         use->directive[strlen(use->directive) - 1] == '='
                             ? "" : " ",
                         use->name, use->defined_at, use->name,
                         defined_group_names(g, ptemp), use->name);
            rv = HTTP_INTERNAL_SERVER_ERROR;
        }
        /* a use in the main server reaches every virtual host, and those
         * with the group's ServerName may use it, as in mod_wsgi: each
         * request is checked (wsgid_route_group) */
        else if (use->server->is_virtual
                 && !wsgid_group_usable_from(group, use->server)) {
            ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_CRIT, 0,
                         main_server,
                         "mod_wsgid: %s at %s uses the process group '%s', "
                         "but that group is defined inside the virtual "
                         "host at %s, and only virtual hosts with the same "
                         "ServerName may use it; define the group in the "
                         "main server to share it",
                         use->directive, use->defined_at, use->name,
                         group->defined_at);
            rv = HTTP_INTERNAL_SERVER_ERROR;
        }
        else if (strncmp(use->directive, "WSGIImportScript", 16) != 0) {
            /* import scripts serve no request: no restriction applies */
            const wsgid_restriction *restriction
                = certain_restriction(g, use, main_server);

            if (restriction != NULL
                && !some_restriction_allows(g, use, main_server)) {
                ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_CRIT, 0,
                             main_server,
                             "mod_wsgid: %s%s%s at %s names the process "
                             "group '%s', which WSGIRestrictProcess at %s "
                             "does not allow there (allowed: %s); add '%s' "
                             "to that WSGIRestrictProcess or use one of the "
                             "allowed groups",
                             use->directive,
                             use->directive[strlen(use->directive) - 1]
                                 == '=' ? "" : " ",
                             use->name, use->defined_at, use->name,
                             restriction->defined_at,
                             wsgid_restriction_names(restriction, ptemp),
                             use->name);
                rv = HTTP_INTERNAL_SERVER_ERROR;
            }
        }
    }
    if (g->groups->nelts > 0 && g->python_executable == NULL) {
        ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_CRIT, 0, main_server,
                     "mod_wsgid: WSGIDaemonProcess is used but "
                     "WSGIPythonExecutable is not set, so the daemon "
                     "processes cannot be started; paste the output of "
                     "`wsgid module-config` (run with the Python where "
                     "wsgid is installed) into the Apache configuration");
        rv = HTTP_INTERNAL_SERVER_ERROR;
    }
    return rv;
}
