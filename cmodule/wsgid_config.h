/*
 * wsgid_config.h: the WSGI* directives of mod_wsgid and the configuration
 * records they fill (per server, per directory, and the settings global to
 * one configuration load).
 *
 * Names and syntax are mod_wsgi's.  The C side parses only the daemon
 * options it uses itself (connect-timeout, socket-timeout,
 * shutdown-timeout); the rest of a WSGIDaemonProcess line is kept verbatim
 * for the Python supervisor, which validates it against its one option
 * table.
 */
#ifndef WSGID_CONFIG_H
#define WSGID_CONFIG_H

#include "httpd.h"
#include "http_config.h"
#include "ap_regex.h"
#include "apr_hash.h"

#define WSGID_DEFAULT_CONNECT_TIMEOUT apr_time_from_sec(15)
/* wsgid/options.py's default for shutdown-timeout */
#define WSGID_DEFAULT_SHUTDOWN_TIMEOUT apr_time_from_sec(5)
#define WSGID_DEFAULT_CALLABLE "application"
#define WSGID_DEFAULT_SOCKET_PREFIX "wsgid"
/* The module's name, mod_wsgi's (mod_wsgid.c says why). */
#define WSGID_MODULE_NAME "mod_wsgi.c"

/* -1 means "not set here" for the On/Off flags of a directory config. */
#define WSGID_UNSET -1

/* One WSGIDaemonProcess definition. */
typedef struct {
    const char *name;
    server_rec *server;                  /* where it was defined */
    const char *defined_at;              /* "file:line", for messages */
    apr_array_header_t *raw_args;        /* const char *, without the name */
    apr_interval_time_t connect_timeout;
    apr_interval_time_t socket_timeout;  /* 0: Apache's Timeout */
    apr_interval_time_t shutdown_timeout; /* how long its daemons may take to stop */
    /* response-socket-timeout: the limit on each write of the response to
     * the client; 0: Apache's Timeout */
    apr_interval_time_t response_socket_timeout;
    apr_size_t header_buffer_size;       /* 0: WSGID_WIRE_MAX_HEAD_SIZE */
    apr_size_t response_buffer_size;     /* 0: WSGID_BODY_READ_SIZE */
    const char *socket_path;             /* computed in check/post_config */
} wsgid_daemon_group;

/* One WSGIScriptAlias, or WSGIScriptAliasMatch (regex set). */
typedef struct {
    const char *url;                     /* mount point, no trailing slash;
                                            the pattern as written (Match) */
    ap_regex_t *regex;                   /* WSGIScriptAliasMatch only */
    const char *target;                  /* script file, or directory; for
                                            Match a $N template */
    const char *written_target;          /* TARGET as the user wrote it */
    int target_is_dir;
    /* Match with $N in the target: the directory every substituted path
     * must stay in (the template's literal part up to its last '/'). */
    const char *target_dir;
    const char *process_group;           /* option, or NULL */
    const char *application_group;       /* option, or NULL */
    const char *callable_object;         /* option, or NULL */
    int pass_authorization;              /* option, or WSGID_UNSET */
    const char *defined_at;
    server_rec *server;                  /* where it was defined */
} wsgid_script_alias;

/* What translate_name decided for a request (its request_config). */
typedef struct {
    const wsgid_script_alias *alias;
    const char *script_path;             /* Match with $N: the substituted
                                            target, which the script must be
                                            (or lie in, for a directory) */
} wsgid_alias_match;

/* One WSGIImportScript: a script the daemons of process_group load at
 * start (threads=0: run as the process's service).  Both options are
 * required, as in mod_wsgi; the supervisor checks the file and the
 * application group. */
typedef struct {
    const char *path;
    const char *process_group;
    const char *application_group;
    const char *defined_at;
} wsgid_import_script;

/* A literal process-group name some directive used: checked in
 * check_config against the groups that server may use. */
typedef struct {
    const char *name;
    const char *directive;
    const char *defined_at;
    server_rec *server;
    const void *section;                 /* its <Directory>/<Location> dir
                                            config, NULL at server level */
} wsgid_group_use;

/* One WSGIRestrictProcess line: the groups that may be chosen where it
 * applies (mod_wsgi: the innermost restriction replaces the outer ones). */
typedef struct {
    apr_array_header_t *names;           /* const char * */
    const char *defined_at;
    server_rec *server;
    const void *section;                 /* as in wsgid_group_use */
} wsgid_restriction;

/* The script directives whose Python functions Apache calls before the
 * handler runs (or, for dispatch, at its start); wsgid runs them in a
 * daemon group (docs/protocol.md, "Hook calls"). */
typedef enum {
    WSGID_HOOK_ACCESS,       /* WSGIAccessScript: allow_access() */
    WSGID_HOOK_AUTH_USER,    /* WSGIAuthUserScript: check_password(),
                                get_realm_hash() */
    WSGID_HOOK_AUTH_GROUP,   /* WSGIAuthGroupScript: groups_for_user() */
    WSGID_HOOK_DISPATCH,     /* WSGIDispatchScript: process_group() ... */
    WSGID_HOOK_KINDS
} wsgid_hook_kind;

/* One WSGIHandlerScript: the script whose handle_request() serves the files
 * mapped to handler name. */
typedef struct {
    const char *name;
    const char *path;
    const char *process_group;           /* option, or NULL */
    const char *application_group;       /* option, or NULL */
    int pass_authorization;              /* option, or WSGID_UNSET */
    const char *defined_at;
    server_rec *server;
    const void *section;                 /* its section's dir config, or NULL */
} wsgid_handler_script;

/* One hook script directive as written. */
typedef struct {
    wsgid_hook_kind kind;
    const char *path;
    const char *process_group;           /* option, or NULL */
    const char *application_group;       /* option, or NULL */
    const char *defined_at;
    server_rec *server;                  /* where it was written */
    const void *section;                 /* its section's dir config, or NULL */
} wsgid_hook_script;

/* A <Directory> whose scripts handler-style mapping may run there, or whose
 * .htaccess files may name hook scripts inside it (wsgid_script_dirs.c). */
typedef struct {
    const char *path;                    /* absolute, no trailing slash */
    const char *process_group;           /* its literal WSGIProcessGroup */
    const char *defined_at;
} wsgid_handler_dir;

/* Where a WSGIProcessGroup was written: its server, and its <Location> or
 * <Directory> section (path NULL: the server itself), to tell which scripts
 * it gives a group to (wsgid_default_group.c). */
typedef struct {
    server_rec *server;
    const char *path;                    /* as in the section header */
    int is_location;                     /* <Location>, else <Directory> */
    int is_pattern;                      /* ~, Match or wildcards: unknown */
} wsgid_group_section;

/* One directive line kept for later: a server-wide setting written into the
 * daemon configuration file (wsgid_settings.c), or a startup notice. */
typedef struct {
    const char *directive;
    const char *args;                    /* as written; notices: the text */
    const char *defined_at;
    int level;                           /* notices: APLOG_INFO, APLOG_WARNING */
} wsgid_directive_line;

/* The directive name of a hook kind ("WSGIAccessScript", ...). */
const char *wsgid_hook_directive(wsgid_hook_kind kind);

/* Settings of the whole configuration (one instance per config load). */
typedef struct {
    apr_array_header_t *groups;          /* wsgid_daemon_group *: managed */
    /* WSGIDaemonSocket: groups another supervisor runs (external mode);
     * mod_wsgid only connects to them */
    apr_array_header_t *external_groups; /* wsgid_daemon_group * */
    apr_array_header_t *group_uses;      /* wsgid_group_use */
    apr_array_header_t *aliases;         /* wsgid_script_alias, all servers */
    apr_array_header_t *import_scripts;  /* wsgid_import_script, file order */
    apr_array_header_t *restrictions;    /* wsgid_restriction * */
    apr_array_header_t *hook_scripts;    /* wsgid_hook_script *, file order */
    /* WSGIPythonHome, WSGIPythonOptimize, ...: for the daemons, in file
     * order (wsgid_settings.c) */
    apr_array_header_t *settings;        /* wsgid_directive_line */
    /* lines logged once the configuration is complete: directives that
     * have no effect in daemon mode, or none yet */
    apr_array_header_t *notices;         /* wsgid_directive_line */
    apr_array_header_t *group_sections;  /* wsgid_group_section */
    apr_array_header_t *handler_dirs;    /* wsgid_handler_dir, check_config */
    apr_array_header_t *hook_dirs;       /* wsgid_handler_dir, check_config */
    apr_array_header_t *handler_scripts; /* wsgid_handler_script *, file order */
    /* "FILE:LINE" of the first WSGIProcessGroup %{GLOBAL} in a section, or
     * NULL: requests there have no daemon group */
    const char *embedded_section;
    /* the group for scripts mod_wsgi would run embedded, or NULL */
    wsgid_daemon_group *default_group;
    int restrict_embedded;               /* WSGIRestrictEmbedded On: no default
                                            group; WSGID_UNSET: Off */
    const char *socket_prefix;           /* as written; NULL: default */
    int socket_rotation;                 /* WSGID_UNSET: On */
    const char *python_executable;
} wsgid_globals;

typedef struct {
    wsgid_globals *globals;
    apr_array_header_t *aliases;         /* wsgid_script_alias, this server's */
} wsgid_server_config;

/* WSGIMapHEADToGET: WSGID_UNSET means Auto, mod_wsgi's default. */
#define WSGID_MAP_HEAD_OFF 0
#define WSGID_MAP_HEAD_ON 1
#define WSGID_MAP_HEAD_AUTO 2

typedef struct {
    const char *process_group;
    const char *application_group;
    const char *callable_object;
    int pass_authorization;
    int chunked_request;
    int error_override;
    int ignore_activity;                 /* WSGIIgnoreActivity */
    int script_reloading;                /* WSGIScriptReloading; unset: On */
    /* WSGITrustedProxyHeaders (indexes into wsgid_proxy_headers.c's known
     * headers) and WSGITrustedProxies (apr_ipsubnet_t *); NULL: none here */
    apr_array_header_t *trusted_proxy_headers;
    apr_array_header_t *trusted_proxies;
    int map_head_to_get;                 /* WSGID_MAP_HEAD_*, or unset */
    const wsgid_restriction *restrict_process;   /* NULL: none here */
    const wsgid_hook_script *hooks[WSGID_HOOK_KINDS];  /* NULL: none here */
    apr_hash_t *handler_scripts;         /* name -> wsgid_handler_script *;
                                            NULL: none here */
} wsgid_dir_config;

extern module AP_MODULE_DECLARE_DATA wsgid_module;
extern const command_rec wsgid_cmds[];

void *wsgid_create_server_config(apr_pool_t *p, server_rec *s);
void *wsgid_merge_server_config(apr_pool_t *p, void *base, void *add);
void *wsgid_create_dir_config(apr_pool_t *p, char *dir);
void *wsgid_merge_dir_config(apr_pool_t *p, void *base, void *add);

wsgid_server_config *wsgid_server_conf(const server_rec *s);

/* The settings of the configuration being read (kept in pconf). */
wsgid_globals *wsgid_globals_for(apr_pool_t *pconf);

/* "FILE:LINE" of the directive cmd is reading, for messages. */
const char *wsgid_directive_place(cmd_parms *cmd);

/* Queue a line to log once the configuration is complete. */
void wsgid_add_notice(cmd_parms *cmd, int level, const char *text);

/* Log the queued notices (post_config of the real start). */
void wsgid_log_notices(const wsgid_globals *g, server_rec *s);

/*
 * The next NAME=VALUE option of a directive's arguments, read as mod_wsgi
 * reads them: NAME runs to '=', VALUE is one word that may be quoted
 * ("a b" or 'a b'), so key="value" means key=value; a word quoted whole,
 * "key=value", is read too.  1 with *name and *value
 * set; 0 at the end of args; -1 for a word that is no NAME=VALUE (*name is
 * that word).
 */
int wsgid_next_option(apr_pool_t *p, const char **args, const char **name,
                      const char **value);

/* The group named name as server s may use it: defined in the main server,
 * or in a virtual host with the same ServerName as s.  NULL if none. */
wsgid_daemon_group *wsgid_find_group(const wsgid_globals *g,
                                     const server_rec *s, const char *name);

/* A daemon group named name, defined at defined_at in server s, with the
 * module's defaults and no options yet. */
wsgid_daemon_group *wsgid_new_group(apr_pool_t *p, server_rec *s,
                                    const char *name, const char *defined_at);

/* The managed or external group named name (one namespace), or NULL. */
wsgid_daemon_group *wsgid_group_named(const wsgid_globals *g,
                                      const char *name);

/* May server s use group: defined in the main server, in s, or in a virtual
 * host with the same ServerName? */
int wsgid_group_usable_from(const wsgid_daemon_group *group,
                            const server_rec *s);

/* Record a literal process-group name a directive used, for check_config
 * (wsgid_checks.c); section: the dir config of its <Directory>/<Location>,
 * or NULL. */
void wsgid_record_group_use(cmd_parms *cmd, const void *section,
                            const char *name, const char *directive);

/* Is s a Python identifier (a callable's name)? */
int wsgid_valid_identifier(const char *s);

/* Is a managed or external group named name defined anywhere? */
int wsgid_group_defined(const wsgid_globals *g, const char *name);

/* Is name a WSGIDaemonSocket group (run by an external supervisor)? */
int wsgid_is_external_group(const wsgid_globals *g, const char *name);

/* Two questions about a process-group value (WSGIProcessGroup,
 * process-group=); what a group may be named when it is defined is a third,
 * wsgid_group_name_problem() in wsgid_values.h, shared with the supervisor.
 *
 * Does the value select a daemon group (a name or an expansion), rather than
 * nothing or %{GLOBAL} (mod_wsgi: inside Apache)? */
int wsgid_names_daemon_group(const char *value);

/* Is the value a literal name, known at configuration time, rather than an
 * expansion (%{GLOBAL}, %{ENV:..}) resolved per request? */
int wsgid_is_literal_group(const char *name);

int wsgid_socket_rotation(const wsgid_globals *g);

/* Does the WSGIRestrictProcess in effect (NULL: none) allow group name? */
int wsgid_restriction_allows(const wsgid_restriction *restriction,
                             const char *name);

/* The allowed names of a restriction, comma separated, for messages. */
const char *wsgid_restriction_names(const wsgid_restriction *restriction,
                                    apr_pool_t *p);

/* check_config (wsgid_checks.c): every literal process group used exists,
 * may be used where it is used, and is not excluded by the
 * WSGIRestrictProcess that certainly applies there; a Python executable is
 * set when groups exist.  Logs each problem; returns OK or
 * HTTP_INTERNAL_SERVER_ERROR. */
int wsgid_check_group_uses(wsgid_globals *g, apr_pool_t *ptemp,
                           server_rec *main_server);

#endif /* WSGID_CONFIG_H */
