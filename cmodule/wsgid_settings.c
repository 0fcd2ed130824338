/*
 * wsgid_settings.c: the mod_wsgi directives that do not route a request.
 *
 * - Settings of the daemons' Python (WSGIPythonHome, WSGIPythonOptimize,
 *   WSGIRestrictSignal, ...): kept as written, in file order, and written
 *   into the daemon configuration file (wsgid_supervisor.c), where the
 *   Python side checks them (one owner for each rule: check-config names
 *   the Apache file and line of a bad value) and gives them their effect.
 * - Directives that have no effect in mod_wsgi's daemon mode either, or that
 *   only make sense with Python inside Apache: accepted, with one info line
 *   at startup saying what to use instead.  The one that cannot be honoured
 *   at all (WSGIPassApacheRequest On) is a configuration error.
 * - WSGIScriptReloading, recorded per directory for the handler
 *   (mod_wsgid.c sends the script's mtime when it is On).
 *
 * docs/porting.md has the table of every directive and what it does here.
 */
#include "apr_lib.h"
#include "apr_strings.h"

#include "httpd.h"
#include "http_config.h"
#include "http_log.h"

#include "wsgid_config.h"
#include "wsgid_settings.h"

APLOG_USE_MODULE(wsgid);

const char *wsgid_cmd_daemon_setting(cmd_parms *cmd, void *dconf,
                                     const char *args)
{
    wsgid_directive_line *line;

    (void)dconf;
    while (apr_isspace(*args)) {
        args++;
    }
    if (*args == '\0') {
        return apr_psprintf(cmd->pool, "%s needs a value (%s)",
                            cmd->cmd->name, cmd->cmd->errmsg);
    }
    line = apr_array_push(wsgid_globals_for(cmd->pool)->settings);
    line->directive = cmd->cmd->name;
    line->args = args;
    line->defined_at = wsgid_directive_place(cmd);
    return NULL;
}

/* Log a notice now (.htaccess: read per request, after startup) or queue it
 * for the end of the configuration. */
static void notice(cmd_parms *cmd, int level, const char *text)
{
    if (ap_check_cmd_context(cmd, NOT_IN_HTACCESS) != NULL) {
        ap_log_error(APLOG_MARK, level, 0, cmd->server,
                     "mod_wsgid: %s at %s: %s", cmd->cmd->name,
                     wsgid_directive_place(cmd), text);
        return;
    }
    wsgid_add_notice(cmd, level, text);
}

const char *wsgid_cmd_no_effect(cmd_parms *cmd, void *dconf,
                                const char *value)
{
    (void)dconf;
    (void)value;
    notice(cmd, APLOG_INFO, apr_pstrcat(cmd->pool, "accepted, with no effect: ",
                                        (const char *)cmd->info, NULL));
    return NULL;
}

const char *wsgid_cmd_no_effect_flag(cmd_parms *cmd, void *dconf, int on)
{
    (void)on;
    return wsgid_cmd_no_effect(cmd, dconf, NULL);
}

/* On (mod_wsgi's default) or Off: see mod_wsgid.c, "script reloading". */
const char *wsgid_cmd_script_reloading(cmd_parms *cmd, void *dconf, int on)
{
    (void)cmd;
    ((wsgid_dir_config *)dconf)->script_reloading = on;
    return NULL;
}

const char *wsgid_cmd_restrict_embedded(cmd_parms *cmd, void *dconf, int on)
{
    (void)dconf;
    /* wsgid_default_group.c: On refuses what mod_wsgi would run embedded, as
     * mod_wsgi does; Off runs it in the default group */
    wsgid_globals_for(cmd->pool)->restrict_embedded = on;
    return NULL;
}

const char *wsgid_cmd_pass_apache_request(cmd_parms *cmd, void *dconf, int on)
{
    (void)dconf;
    if (on) {
        return "WSGIPassApacheRequest On passes Apache's request_rec to "
               "Python running inside Apache (embedded mode), which wsgid "
               "does not have: the application runs in a daemon process. "
               "Remove the line (Off is the default), or read what the "
               "application needs from the WSGI environ";
    }
    return NULL;
}
