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
 * - A directive whose effect wsgid does not have yet (WSGIScriptReloading
 *   On): accepted, with one warning line at startup saying so, so that
 *   nothing is silently ignored.
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

static const char *on_off(cmd_parms *cmd, const char *value, int *on)
{
    if (strcasecmp(value, "On") == 0 || strcasecmp(value, "Off") == 0) {
        *on = strcasecmp(value, "On") == 0;
        return NULL;
    }
    return apr_psprintf(cmd->pool, "%s must be On or Off, not '%s'",
                        cmd->cmd->name, value);
}

/* What each directive without an effect would have done, and what a
 * wsgid configuration uses instead. */
static const char *no_effect_text(const char *directive)
{
    static const char *const texts[][2] = {
        { "WSGIPythonPath", "it sets the path of Python inside Apache, which "
          "daemon processes do not use (as in mod_wsgi's daemon mode); give "
          "the directories with python-path= of WSGIDaemonProcess" },
        { "WSGIPythonEggs", "it sets the egg cache of Python inside Apache; "
          "give daemon processes theirs with python-eggs= of "
          "WSGIDaemonProcess" },
        { "WSGILazyInitialization", "Python never starts inside Apache, so "
          "there is nothing to initialise early or late" },
        { "WSGIPy3kWarningFlag", "it is a Python 2 setting; wsgid runs "
          "Python 3" },
        { "WSGIUserAuthoritative", "with Apache 2.4's authentication "
          "providers, mod_wsgi does not use it either; list the providers "
          "in AuthBasicProvider" },
        { "WSGIGroupAuthoritative", "with Apache 2.4's authorization "
          "providers, mod_wsgi does not use it either; combine Require lines "
          "with <RequireAny>/<RequireAll>" },
        { "WSGIEnableSendfile", "the daemons always send wsgi.file_wrapper "
          "files to Apache with sendfile() over the daemon socket; Apache's "
          "own EnableSendfile governs the client side" },
    };
    apr_size_t i;

    for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        if (strcasecmp(texts[i][0], directive) == 0) {
            return texts[i][1];
        }
    }
    return "it has no effect under wsgid";
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
    int on;
    const char *err = strcasecmp(cmd->cmd->name, "WSGIPythonPath") == 0
                      || strcasecmp(cmd->cmd->name, "WSGIPythonEggs") == 0
                      ? NULL : on_off(cmd, value, &on);

    (void)dconf;
    if (err) {
        return err;
    }
    notice(cmd, APLOG_INFO, apr_pstrcat(cmd->pool, "accepted, with no effect: ",
                                        no_effect_text(cmd->cmd->name),
                                        NULL));
    return NULL;
}

/* WSGIScriptReloading: Off is what wsgid does; On (mod_wsgi's default) is
 * accepted with a warning until script reloading exists. */
const char *wsgid_cmd_not_applied(cmd_parms *cmd, void *dconf,
                                  const char *args)
{
    int on;
    const char *err = on_off(cmd, args, &on);

    (void)dconf;
    if (err == NULL && on) {
        notice(cmd, APLOG_WARNING, "accepted, but wsgid does not apply it yet: "
               "a changed script takes effect when the daemons restart "
               "(apachectl graceful)");
    }
    return err;
}

const char *wsgid_cmd_restrict_embedded(cmd_parms *cmd, void *dconf,
                                        const char *value)
{
    int on;
    const char *err = on_off(cmd, value, &on);

    (void)dconf;
    if (err == NULL) {
        /* wsgid_default_group.c: On refuses what mod_wsgi would run
         * embedded, as mod_wsgi does; Off runs it in the default group */
        wsgid_globals_for(cmd->pool)->restrict_embedded = on;
    }
    return err;
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
