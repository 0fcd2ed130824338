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
                                const char *args);
const char *wsgid_cmd_not_applied(cmd_parms *cmd, void *dconf,
                                  const char *args);
const char *wsgid_cmd_pass_apache_request(cmd_parms *cmd, void *dconf,
                                          int on);
const char *wsgid_cmd_restrict_embedded(cmd_parms *cmd, void *dconf,
                                        const char *value);

/* The Python of every daemon process: written into the daemon
 * configuration file as they are (wsgid/config.py reads and checks them,
 * and gives each its effect).  Server-wide, as in mod_wsgi. */
#define WSGID_DAEMON_SETTING(name, help) \
    AP_INIT_RAW_ARGS(name, wsgid_cmd_daemon_setting, NULL, RSRC_CONF, help)

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
    AP_INIT_TAKE1("WSGIPythonPath", wsgid_cmd_no_effect, NULL, RSRC_CONF, \
        "no effect on daemons: use python-path= of WSGIDaemonProcess"), \
    AP_INIT_TAKE1("WSGIPythonEggs", wsgid_cmd_no_effect, NULL, RSRC_CONF, \
        "no effect on daemons: use python-eggs= of WSGIDaemonProcess"), \
    AP_INIT_TAKE1("WSGILazyInitialization", wsgid_cmd_no_effect, NULL, \
        RSRC_CONF, "no effect: Python never starts inside Apache"), \
    AP_INIT_TAKE1("WSGIPy3kWarningFlag", wsgid_cmd_no_effect, NULL, \
        RSRC_CONF, "no effect: a Python 2 setting"), \
    AP_INIT_TAKE1("WSGIRestrictEmbedded", wsgid_cmd_restrict_embedded, \
        NULL, RSRC_CONF, "On: refuse scripts without a daemon group (500); " \
        "Off (default): run them in wsgid's default daemon group"), \
    AP_INIT_TAKE1("WSGIUserAuthoritative", wsgid_cmd_no_effect, NULL, \
        OR_AUTHCFG, "no effect with Apache 2.4's authentication providers"), \
    AP_INIT_TAKE1("WSGIGroupAuthoritative", wsgid_cmd_no_effect, NULL, \
        OR_AUTHCFG, "no effect with Apache 2.4's authorization providers"), \
    AP_INIT_TAKE1("WSGIScriptReloading", wsgid_cmd_not_applied, NULL, \
        OR_FILEINFO, "On|Off: restart the daemons when the script changes"), \
    AP_INIT_TAKE1("WSGIEnableSendfile", wsgid_cmd_no_effect, NULL, \
        OR_FILEINFO, "On|Off: the daemons always use sendfile() for " \
        "wsgi.file_wrapper"), \
    AP_INIT_FLAG("WSGIPassApacheRequest", wsgid_cmd_pass_apache_request, \
        NULL, ACCESS_CONF | RSRC_CONF, \
        "Off (default); On needs Python inside Apache")

#endif /* WSGID_SETTINGS_H */
