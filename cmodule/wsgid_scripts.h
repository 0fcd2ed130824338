/*
 * wsgid_scripts.h: the directives that name scripts (wsgid_scripts.c); their
 * command_rec entries are WSGID_SCRIPT_COMMANDS, which wsgid_cmds includes.
 */
#ifndef WSGID_SCRIPTS_H
#define WSGID_SCRIPTS_H

#include "httpd.h"
#include "http_config.h"

const char *wsgid_cmd_script_alias(cmd_parms *cmd, void *dconf,
                                   const char *args);
const char *wsgid_cmd_import_script(cmd_parms *cmd, void *dconf,
                                    const char *args);
const char *wsgid_cmd_hook_script(cmd_parms *cmd, void *dconf,
                                  const char *args);
const char *wsgid_cmd_handler_script(cmd_parms *cmd, void *dconf,
                                     const char *args);

#define WSGID_SCRIPT_COMMANDS \
    AP_INIT_RAW_ARGS("WSGIScriptAlias", wsgid_cmd_script_alias, NULL, RSRC_CONF, \
        "URL-PATH SCRIPT-OR-DIRECTORY [process-group=NAME] " \
        "[application-group=NAME]: mount a WSGI script"), \
    AP_INIT_RAW_ARGS("WSGIScriptAliasMatch", wsgid_cmd_script_alias, "match", \
        RSRC_CONF, \
        "REGEX TARGET [process-group=NAME] [application-group=NAME]: mount " \
        "WSGI scripts at the URLs REGEX matches; TARGET may use $1..$9"), \
    AP_INIT_RAW_ARGS("WSGIImportScript", wsgid_cmd_import_script, NULL, RSRC_CONF, \
        "SCRIPT process-group=NAME application-group=NAME: load a script " \
        "when the group's daemon processes start (threads=0: run it as " \
        "their service)"), \
    AP_INIT_RAW_ARGS("WSGIAccessScript", wsgid_cmd_hook_script, NULL, \
        RSRC_CONF | ACCESS_CONF | OR_AUTHCFG, \
        "SCRIPT [process-group=NAME] [application-group=NAME]: decide " \
        "host access with allow_access(environ, host)"), \
    AP_INIT_RAW_ARGS("WSGIAuthUserScript", wsgid_cmd_hook_script, NULL, \
        RSRC_CONF | ACCESS_CONF | OR_AUTHCFG, \
        "SCRIPT [process-group=NAME] [application-group=NAME]: the 'wsgi' " \
        "authentication provider (check_password, get_realm_hash)"), \
    AP_INIT_RAW_ARGS("WSGIAuthGroupScript", wsgid_cmd_hook_script, NULL, \
        RSRC_CONF | ACCESS_CONF | OR_AUTHCFG, \
        "SCRIPT [process-group=NAME] [application-group=NAME]: the groups " \
        "of a user for 'Require wsgi-group' (groups_for_user)"), \
    AP_INIT_RAW_ARGS("WSGIDispatchScript", wsgid_cmd_hook_script, NULL, \
        RSRC_CONF | ACCESS_CONF, \
        "SCRIPT [process-group=NAME] [application-group=NAME]: choose the " \
        "process group, application group or callable per request"), \
    AP_INIT_RAW_ARGS("WSGIHandlerScript", wsgid_cmd_handler_script, NULL, \
        ACCESS_CONF | RSRC_CONF, \
        "NAME SCRIPT [process-group=NAME] [application-group=NAME] " \
        "[pass-authorization=On|Off]: serve files mapped to handler NAME with " \
        "handle_request() of SCRIPT")

#endif /* WSGID_SCRIPTS_H */
