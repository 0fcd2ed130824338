/*
 * wsgid_settings.h: the mod_wsgi directives that set up the daemons'
 * Python rather than route a request, and those that mean nothing without
 * Python inside Apache (wsgid_settings.c).  Their command_rec entries are
 * WSGID_SETTINGS_COMMANDS, which wsgid_cmds includes.
 */
#ifndef WSGID_SETTINGS_H
#define WSGID_SETTINGS_H

#include "httpd.h"
#include "http_config.h"

const char *wsgid_cmd_daemon_setting(cmd_parms *cmd, void *dconf,
                                     const char *args);
const char *wsgid_cmd_no_effect(cmd_parms *cmd, void *dconf,
                                const char *value);
const char *wsgid_cmd_no_effect_flag(cmd_parms *cmd, void *dconf, int on);
const char *wsgid_cmd_script_reloading(cmd_parms *cmd, void *dconf, int on);
const char *wsgid_cmd_pass_apache_request(cmd_parms *cmd, void *dconf,
                                          int on);
const char *wsgid_cmd_restrict_embedded(cmd_parms *cmd, void *dconf, int on);

/* The Python of every daemon process: written into the daemon
 * configuration file as they are (wsgid/config.py reads and checks them,
 * and gives each its effect).  Server-wide, as in mod_wsgi. */
#define WSGID_DAEMON_SETTING(name, help) \
    AP_INIT_RAW_ARGS(name, wsgid_cmd_daemon_setting, NULL, RSRC_CONF, help)

/* A directive that means nothing here: `why` (the notice logged at startup)
 * says what it would have done and what to use instead. */
#define WSGID_NO_EFFECT(name, where, why) \
    AP_INIT_TAKE1(name, wsgid_cmd_no_effect, why, where, why)
#define WSGID_NO_EFFECT_FLAG(name, where, why) \
    AP_INIT_FLAG(name, wsgid_cmd_no_effect_flag, why, where, why)

#define WSGID_SETTINGS_COMMANDS \
    WSGID_DAEMON_SETTING("WSGIPythonHome", \
        "PATH: the Python home (virtual environment) of every daemon group " \
        "without python-home="), \
    WSGID_DAEMON_SETTING("WSGIPythonOptimize", \
        "0, 1 or 2: the optimisation level of the daemons' Python (-O)"), \
    WSGID_DAEMON_SETTING("WSGIDontWriteBytecode", \
        "On|Off: whether the daemons write .pyc files"), \
    WSGID_DAEMON_SETTING("WSGIPythonHashSeed", \
        "random or 0..4294967295: the daemons' PYTHONHASHSEED"), \
    WSGID_DAEMON_SETTING("WSGIPythonWarnings", \
        "SPEC: a warning filter of the daemons, as python -W SPEC"), \
    WSGID_DAEMON_SETTING("WSGIRestrictStdin", \
        "On (default)|Off: whether reading sys.stdin raises"), \
    WSGID_DAEMON_SETTING("WSGIRestrictStdout", \
        "On|Off (default): whether writing to sys.stdout raises"), \
    WSGID_DAEMON_SETTING("WSGIRestrictSignal", \
        "On (default)|Off: whether signal.signal() in an application is " \
        "ignored"), \
    WSGID_DAEMON_SETTING("WSGIDestroyInterpreter", \
        "On (default)|Off: whether a stopping daemon runs Python's shutdown " \
        "(atexit)"), \
    WSGID_DAEMON_SETTING("WSGIVerboseDebugging", \
        "On|Off (default): debug lines from the daemons"), \
    WSGID_DAEMON_SETTING("WSGIServerMetrics", \
        "On|Off (default): the default of server-metrics="), \
    WSGID_DAEMON_SETTING("WSGINewRelicConfigFile", \
        "PATH: the default of newrelic-config-file="), \
    WSGID_DAEMON_SETTING("WSGINewRelicEnvironment", \
        "NAME: the default of newrelic-environment="), \
    WSGID_DAEMON_SETTING("WSGICaseSensitivity", \
        "On|Off: whether script paths are case sensitive"), \
    WSGID_DAEMON_SETTING("WSGIAcceptMutex", \
        "NAME: accepted; the daemons use their own accept lock"), \
    WSGID_NO_EFFECT("WSGIPythonPath", RSRC_CONF, \
        "it sets the path of Python inside Apache, which daemon processes do " \
        "not use (as in mod_wsgi's daemon mode); give the directories with " \
        "python-path= of WSGIDaemonProcess"), \
    WSGID_NO_EFFECT("WSGIPythonEggs", RSRC_CONF, \
        "it sets the egg cache of Python inside Apache; give daemon processes " \
        "theirs with python-eggs= of WSGIDaemonProcess"), \
    WSGID_NO_EFFECT_FLAG("WSGILazyInitialization", RSRC_CONF, \
        "Python never starts inside Apache, so there is nothing to " \
        "initialise early or late"), \
    WSGID_NO_EFFECT_FLAG("WSGIPy3kWarningFlag", RSRC_CONF, \
        "it is a Python 2 setting; wsgid runs Python 3"), \
    WSGID_NO_EFFECT_FLAG("WSGIUserAuthoritative", OR_AUTHCFG, \
        "with Apache 2.4's authentication providers, mod_wsgi does not use " \
        "it either; list the providers in AuthBasicProvider"), \
    WSGID_NO_EFFECT_FLAG("WSGIGroupAuthoritative", OR_AUTHCFG, \
        "with Apache 2.4's authorization providers, mod_wsgi does not use it " \
        "either; combine Require lines with <RequireAny>/<RequireAll>"), \
    WSGID_NO_EFFECT_FLAG("WSGIEnableSendfile", OR_FILEINFO, \
        "the daemons always send wsgi.file_wrapper files to Apache with " \
        "sendfile() over the daemon socket; Apache's own EnableSendfile " \
        "governs the client side"), \
    AP_INIT_FLAG("WSGIRestrictEmbedded", wsgid_cmd_restrict_embedded, \
        NULL, RSRC_CONF, "On: refuse scripts without a daemon group (500); " \
        "Off (default): run them in wsgid's default daemon group"), \
    AP_INIT_FLAG("WSGIScriptReloading", wsgid_cmd_script_reloading, NULL, \
        OR_FILEINFO, "On|Off: restart the daemons when the script changes"), \
    AP_INIT_FLAG("WSGIPassApacheRequest", wsgid_cmd_pass_apache_request, \
        NULL, ACCESS_CONF | RSRC_CONF, \
        "Off (default); On needs Python inside Apache")

#endif /* WSGID_SETTINGS_H */
