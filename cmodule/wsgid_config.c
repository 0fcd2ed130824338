/*
 * wsgid_config.c: the WSGI* directives of daemon groups, routing and the
 * request's options, the command table, per-server and per-directory config
 * create and merge (NULL or WSGID_UNSET means "inherit"), and daemon group
 * lookup.  The directives that name scripts are in wsgid_scripts.c, those
 * for the daemons' Python in wsgid_settings.c, the proxy headers in
 * wsgid_proxy_headers.c, the checks across directives in wsgid_checks.c.
 *
 * Rules: no file-scope mutable state.  Settings of one configuration load
 * (the daemon groups, WSGISocketPrefix, WSGIPythonExecutable, ...) live in
 * one wsgid_globals record kept as userdata of pconf, so each load starts
 * fresh and every server config points at the same record.
 */
#include "apr_lib.h"
#include <stdlib.h>

#include "apr_strings.h"
#include "apr_file_info.h"
#include "apr_fnmatch.h"
#include "apr_hash.h"

#include "httpd.h"
#include "http_config.h"
#include "http_log.h"

#include "wsgid_config.h"
#include "wsgid_conn.h"
#include "wsgid_health.h"
#include "wsgid_proxy_headers.h"
#include "wsgid_scripts.h"
#include "wsgid_settings.h"
#include "wsgid_values.h"

APLOG_USE_MODULE(wsgid);

#define WSGID_GLOBALS_KEY "wsgid_module:globals"

const char *wsgid_directive_place(cmd_parms *cmd)
{
    return apr_psprintf(cmd->pool, "%s:%d", cmd->directive->filename,
                        cmd->directive->line_num);
}

wsgid_globals *wsgid_globals_for(apr_pool_t *pconf)
{
    void *data = NULL;
    wsgid_globals *g;

    apr_pool_userdata_get(&data, WSGID_GLOBALS_KEY, pconf);
    if (data != NULL) {
        return data;
    }
    g = apr_pcalloc(pconf, sizeof(*g));
    g->groups = apr_array_make(pconf, 4, sizeof(wsgid_daemon_group *));
    g->external_groups = apr_array_make(pconf, 1,
                                        sizeof(wsgid_daemon_group *));
    g->group_uses = apr_array_make(pconf, 4, sizeof(wsgid_group_use));
    g->aliases = apr_array_make(pconf, 4, sizeof(wsgid_script_alias));
    g->import_scripts = apr_array_make(pconf, 2, sizeof(wsgid_import_script));
    g->restrictions = apr_array_make(pconf, 2, sizeof(wsgid_restriction *));
    g->hook_scripts = apr_array_make(pconf, 2, sizeof(wsgid_hook_script *));
    g->settings = apr_array_make(pconf, 4, sizeof(wsgid_directive_line));
    g->notices = apr_array_make(pconf, 2, sizeof(wsgid_directive_line));
    g->group_sections = apr_array_make(pconf, 4, sizeof(wsgid_group_section));
    g->handler_scripts = apr_array_make(pconf, 1,
                                        sizeof(wsgid_handler_script *));
    g->restrict_embedded = WSGID_UNSET;
    g->socket_rotation = WSGID_UNSET;
    apr_pool_userdata_set(g, WSGID_GLOBALS_KEY, apr_pool_cleanup_null, pconf);
    return g;
}

void *wsgid_create_server_config(apr_pool_t *p, server_rec *s)
{
    wsgid_server_config *conf = apr_pcalloc(p, sizeof(*conf));

    (void)s;
    conf->globals = wsgid_globals_for(p);
    conf->aliases = apr_array_make(p, 2, sizeof(wsgid_script_alias));
    return conf;
}

void *wsgid_merge_server_config(apr_pool_t *p, void *base_, void *add_)
{
    wsgid_server_config *base = base_, *add = add_;
    wsgid_server_config *conf = apr_pcalloc(p, sizeof(*conf));

    conf->globals = base->globals;
    /* A virtual host's own aliases win, then the main server's (as in
     * mod_alias): first match wins. */
    conf->aliases = apr_array_append(p, add->aliases, base->aliases);
    return conf;
}

void *wsgid_create_dir_config(apr_pool_t *p, char *dir)
{
    wsgid_dir_config *conf = apr_pcalloc(p, sizeof(*conf));

    (void)dir;
    conf->pass_authorization = WSGID_UNSET;
    conf->chunked_request = WSGID_UNSET;
    conf->error_override = WSGID_UNSET;
    conf->ignore_activity = WSGID_UNSET;
    conf->script_reloading = WSGID_UNSET;
    conf->map_head_to_get = WSGID_UNSET;
    return conf;
}

void *wsgid_merge_dir_config(apr_pool_t *p, void *base_, void *add_)
{
    wsgid_dir_config *base = base_, *add = add_;
    wsgid_dir_config *conf = apr_pcalloc(p, sizeof(*conf));
    int i;

    conf->process_group = add->process_group ? add->process_group
                                             : base->process_group;
    conf->application_group = add->application_group
                              ? add->application_group
                              : base->application_group;
    conf->callable_object = add->callable_object ? add->callable_object
                                                 : base->callable_object;
    conf->pass_authorization = add->pass_authorization != WSGID_UNSET
                               ? add->pass_authorization
                               : base->pass_authorization;
    conf->chunked_request = add->chunked_request != WSGID_UNSET
                            ? add->chunked_request : base->chunked_request;
    conf->error_override = add->error_override != WSGID_UNSET
                           ? add->error_override : base->error_override;
    conf->ignore_activity = add->ignore_activity != WSGID_UNSET
                            ? add->ignore_activity : base->ignore_activity;
    conf->script_reloading = add->script_reloading != WSGID_UNSET
                             ? add->script_reloading : base->script_reloading;
    /* as in mod_wsgi: an inner list replaces the outer one */
    conf->trusted_proxy_headers = add->trusted_proxy_headers
                                  ? add->trusted_proxy_headers
                                  : base->trusted_proxy_headers;
    conf->trusted_proxies = add->trusted_proxies ? add->trusted_proxies
                                                 : base->trusted_proxies;
    conf->map_head_to_get = add->map_head_to_get != WSGID_UNSET
                            ? add->map_head_to_get : base->map_head_to_get;
    /* as in mod_wsgi: the innermost list replaces, it does not add */
    conf->restrict_process = add->restrict_process ? add->restrict_process
                                                   : base->restrict_process;
    for (i = 0; i < WSGID_HOOK_KINDS; i++) {
        conf->hooks[i] = add->hooks[i] ? add->hooks[i] : base->hooks[i];
    }
    /* as mod_wsgi: the inner section's names win, the outer ones stay */
    conf->handler_scripts = !add->handler_scripts ? base->handler_scripts
        : !base->handler_scripts ? add->handler_scripts
        : apr_hash_overlay(p, add->handler_scripts, base->handler_scripts);
    return conf;
}

wsgid_server_config *wsgid_server_conf(const server_rec *s)
{
    return ap_get_module_config(s->module_config, &wsgid_module);
}

void wsgid_add_notice(cmd_parms *cmd, int level, const char *text)
{
    wsgid_directive_line *notice
        = apr_array_push(wsgid_globals_for(cmd->pool)->notices);

    notice->directive = cmd->cmd->name;
    notice->args = text;
    notice->defined_at = wsgid_directive_place(cmd);
    notice->level = level;
}

void wsgid_log_notices(const wsgid_globals *g, server_rec *s)
{
    int i;

    for (i = 0; i < g->notices->nelts; i++) {
        const wsgid_directive_line *notice
            = &APR_ARRAY_IDX(g->notices, i, wsgid_directive_line);

        ap_log_error(APLOG_MARK, notice->level, 0, s, "mod_wsgid: %s%s%s: %s",
                     notice->directive, notice->defined_at ? " at " : "",
                     notice->defined_at ? notice->defined_at : "",
                     notice->args);
    }
}

int wsgid_next_option(apr_pool_t *p, const char **args, const char **name,
                      const char **value)
{
    const char *start = *args, *end;

    while (apr_isspace(*start)) {
        start++;
    }
    if (*start == '\0') {
        *args = start;
        return 0;
    }
    if (*start == '"' || *start == '\'') {
        /* "key=value" quoted whole: wsgid has always read it so (mod_wsgi
         * would not); the word's own quotes group it */
        const char *word, *eq;

        *args = start;
        word = ap_getword_conf(p, args);
        eq = ap_strchr_c(word, '=');
        if (eq == NULL || eq == word) {
            *name = word;
            return -1;
        }
        *name = apr_pstrmemdup(p, word, eq - word);
        *value = eq + 1;
        return 1;
    }
    for (end = start; *end && *end != '=' && !apr_isspace(*end); end++) {
    }
    if (*end != '=' || end == start) {
        *args = start;
        *name = ap_getword_conf(p, args);
        return -1;
    }
    *name = apr_pstrmemdup(p, start, end - start);
    *args = end + 1;
    /* ap_getword_conf would skip blanks: "key= next" is an empty key */
    *value = (**args == '\0' || apr_isspace(**args))
             ? "" : ap_getword_conf(p, args);
    return 1;
}

int wsgid_names_daemon_group(const char *value)
{
    return value != NULL && *value != '\0' && strcmp(value, "%{GLOBAL}") != 0;
}

int wsgid_is_literal_group(const char *name)
{
    return name[0] != '\0' && strncmp(name, "%{", 2) != 0;
}

int wsgid_socket_rotation(const wsgid_globals *g)
{
    return g->socket_rotation != 0;   /* WSGID_UNSET means the default, On */
}

int wsgid_group_usable_from(const wsgid_daemon_group *group,
                            const server_rec *s)
{
    if (group->server == s || !group->server->is_virtual) {
        return 1;
    }
    return group->server->server_hostname != NULL
           && s->server_hostname != NULL
           && strcasecmp(group->server->server_hostname,
                         s->server_hostname) == 0;
}

static wsgid_daemon_group *find_in(const apr_array_header_t *groups,
                                   const char *name)
{
    int i;

    for (i = 0; i < groups->nelts; i++) {
        wsgid_daemon_group *group = APR_ARRAY_IDX(groups, i,
                                                  wsgid_daemon_group *);

        if (strcmp(group->name, name) == 0) {
            return group;
        }
    }
    return NULL;
}

/* A managed or an external group: their names share one namespace. */
wsgid_daemon_group *wsgid_group_named(const wsgid_globals *g,
                                      const char *name)
{
    wsgid_daemon_group *group = find_in(g->groups, name);

    return group ? group : find_in(g->external_groups, name);
}

wsgid_daemon_group *wsgid_find_group(const wsgid_globals *g,
                                     const server_rec *s, const char *name)
{
    wsgid_daemon_group *group = wsgid_group_named(g, name);

    return group && wsgid_group_usable_from(group, s) ? group : NULL;
}

int wsgid_group_defined(const wsgid_globals *g, const char *name)
{
    return wsgid_group_named(g, name) != NULL;
}

int wsgid_is_external_group(const wsgid_globals *g, const char *name)
{
    return name != NULL && find_in(g->external_groups, name) != NULL;
}

/* section: the dir config of the <Directory>/<Location> the directive is
 * in (cmd->path set), else NULL. */
void wsgid_record_group_use(cmd_parms *cmd, const void *section,
                            const char *name, const char *directive)
{
    wsgid_globals *g = wsgid_globals_for(cmd->pool);
    wsgid_group_use *use;

    if (!wsgid_is_literal_group(name)) {
        return;
    }
    use = apr_array_push(g->group_uses);
    use->name = name;
    use->directive = directive;
    use->defined_at = wsgid_directive_place(cmd);
    use->server = cmd->server;
    use->section = section;
}

/* A number of seconds for option; an error message or NULL. */
static const char *parse_seconds(cmd_parms *cmd, const char *option,
                                 const char *value, int allow_zero,
                                 apr_interval_time_t *out)
{
    double n;

    if (!wsgid_parse_seconds(value, allow_zero, &n)) {
        return apr_psprintf(cmd->pool,
                            "WSGIDaemonProcess: option %s=%s is not a "
                            "number of seconds %s; write e.g. %s=15", option,
                            value, allow_zero ? "of 0 or more" : "greater than 0",
                            option);
    }
    *out = (apr_interval_time_t)(n * APR_USEC_PER_SEC);
    return NULL;
}

/* The group name of a WSGIDaemonProcess or WSGIDaemonSocket line; an error
 * message or NULL. */
static const char *check_group_name(cmd_parms *cmd, const char *name)
{
    const char *problem = wsgid_group_name_problem(name);

    if (problem == NULL) {
        return NULL;
    }
    return apr_psprintf(cmd->pool,
                        "%s: the group name '%s' %s; write %s NAME followed "
                        "by its options, with a NAME of letters, digits and "
                        "characters such as '-', '_', '.', ':' (it is part of "
                        "a socket file name)", cmd->cmd->name, name, problem,
                        cmd->cmd->name);
}

wsgid_daemon_group *wsgid_new_group(apr_pool_t *p, server_rec *s,
                                    const char *name, const char *defined_at)
{
    wsgid_daemon_group *group = apr_pcalloc(p, sizeof(*group));

    group->name = name;
    group->server = s;
    group->defined_at = defined_at;
    group->raw_args = apr_array_make(p, 8, sizeof(const char *));
    group->connect_timeout = WSGID_DEFAULT_CONNECT_TIMEOUT;
    group->shutdown_timeout = WSGID_DEFAULT_SHUTDOWN_TIMEOUT;
    return group;
}

/* A group as the line at cmd defines it, with the module's defaults. */
static wsgid_daemon_group *new_group(cmd_parms *cmd, const char *name)
{
    return wsgid_new_group(cmd->pool, cmd->server, name,
                           wsgid_directive_place(cmd));
}

/* The group options the module uses when it connects and proxies
 * (connect-timeout, socket-timeout, and for WSGIDaemonProcess the others of
 * group_option_names): *used says whether name was one of them.  An error
 * message or NULL. */
static const char *module_option(cmd_parms *cmd, wsgid_daemon_group *group,
                                 const char *name, const char *value,
                                 int *used)
{
    *used = 1;
    if (strcmp(name, "connect-timeout") == 0) {
        return parse_seconds(cmd, name, value, 0, &group->connect_timeout);
    }
    if (strcmp(name, "socket-timeout") == 0) {
        return parse_seconds(cmd, name, value, 0, &group->socket_timeout);
    }
    *used = 0;
    return NULL;
}

/* The options only WSGIDaemonProcess has that the module uses too. */
static const char *proxy_option(cmd_parms *cmd, wsgid_daemon_group *group,
                                const char *name, const char *value)
{
    if (strcmp(name, "shutdown-timeout") == 0) {
        /* Apache waits for the supervisor at exit: long enough for this */
        return parse_seconds(cmd, name, value, 1, &group->shutdown_timeout);
    }
    if (strcmp(name, "response-socket-timeout") == 0) {
        return parse_seconds(cmd, name, value, 1,
                             &group->response_socket_timeout);
    }
    if (strcmp(name, "header-buffer-size") == 0
        || strcmp(name, "response-buffer-size") == 0) {
        /* wsgid/options.py checks the ranges; here only what is used */
        apr_size_t *out = name[0] == 'h' ? &group->header_buffer_size
                                         : &group->response_buffer_size;
        char *end;
        apr_int64_t n = apr_strtoi64(value, &end, 10);

        if (*value == '\0' || *end != '\0' || n < 0 || n > 1073741824) {
            return apr_psprintf(cmd->pool,
                                "WSGIDaemonProcess: option %s=%s is not a "
                                "number of bytes; write e.g. %s=65536",
                                name, value, name);
        }
        *out = (apr_size_t)n;
    }
    return NULL;
}

/* What a WSGIDaemonProcess or WSGIDaemonSocket line begins with: the context
 * check, then a group NAME that may name a socket and is not taken yet.
 * `taken_fix` ends the message for a name defined before. */
static const char *begin_group_line(cmd_parms *cmd, const char **args,
                                    const char *taken_fix,
                                    wsgid_daemon_group **group)
{
    wsgid_daemon_group *other;
    const char *err = ap_check_cmd_context(cmd, NOT_IN_DIR_LOC_FILE);

    if (err) {
        return err;
    }
    *group = new_group(cmd, ap_getword_conf(cmd->pool, args));
    if ((err = check_group_name(cmd, (*group)->name)) != NULL) {
        return err;
    }
    /* Group names also name the sockets, so they are unique across all
     * virtual hosts, not only within one. */
    other = wsgid_group_named(wsgid_globals_for(cmd->pool), (*group)->name);
    if (other != NULL) {
        return apr_psprintf(cmd->pool, "%s: the group name '%s' is already "
                            "defined at %s; %s", cmd->cmd->name,
                            (*group)->name, other->defined_at, taken_fix);
    }
    return NULL;
}

static const char *cmd_daemon_process(cmd_parms *cmd, void *dconf,
                                      const char *args)
{
    wsgid_daemon_group *group;
    const char *name, *value;
    const char *err;
    int kind;

    (void)dconf;
    err = begin_group_line(cmd, &args, "give each daemon group its own name",
                           &group);
    if (err) {
        return err;
    }
    while ((kind = wsgid_next_option(cmd->pool, &args, &name, &value)) != 0) {
        int used;

        /* every option goes to the supervisor, unquoted, and its
         * check-config explains what is wrong with the others */
        APR_ARRAY_PUSH(group->raw_args, const char *)
            = kind > 0 ? apr_pstrcat(cmd->pool, name, "=", value, NULL) : name;
        if (kind < 0) {
            continue;
        }
        err = module_option(cmd, group, name, value, &used);
        if (!used) {
            err = proxy_option(cmd, group, name, value);
        }
        if (err) {
            return err;
        }
    }
    APR_ARRAY_PUSH(wsgid_globals_for(cmd->pool)->groups, wsgid_daemon_group *)
        = group;
    return NULL;
}

/* WSGIDaemonSocket NAME PATH [connect-timeout=N] [socket-timeout=N]: the
 * group NAME is run by a supervisor Apache does not start (`wsgid
 * supervise --config FILE`, e.g. under systemd) and listens on PATH.  The
 * module routes to it like to any group; its scripts, options and socket
 * owner are that supervisor's configuration's business. */
static const char *cmd_daemon_socket(cmd_parms *cmd, void *dconf,
                                     const char *args)
{
    wsgid_daemon_group *group;
    const char *name, *value;
    const char *err;
    int kind;

    (void)dconf;
    err = begin_group_line(cmd, &args, "a group is either run by Apache's "
                           "supervisor (WSGIDaemonProcess) or by another one "
                           "(WSGIDaemonSocket), once", &group);
    if (err) {
        return err;
    }
    group->socket_path = ap_getword_conf(cmd->pool, &args);
    if (*group->socket_path != '/') {
        return "WSGIDaemonSocket: write WSGIDaemonSocket NAME /absolute/"
               "socket/path [connect-timeout=N] [socket-timeout=N], with the "
               "group and socket of a `wsgid supervise --config FILE` "
               "supervisor";
    }
    if (strlen(group->socket_path) > wsgid_socket_path_limit()) {
        return apr_psprintf(cmd->pool,
                            "WSGIDaemonSocket: the socket path '%s' is %"
                            APR_SIZE_T_FMT " bytes, longer than the %"
                            APR_SIZE_T_FMT " a unix socket path may have; "
                            "use a shorter path (in the supervisor's "
                            "configuration too)", group->socket_path,
                            strlen(group->socket_path),
                            wsgid_socket_path_limit());
    }
    if (strlen(wsgid_health_socket_path(cmd->pool, group->socket_path))
        > wsgid_socket_path_limit()) {
        /* only a path that does not end in .sock has a longer twin */
        return apr_psprintf(cmd->pool,
                            "WSGIDaemonSocket: the health socket of '%s' "
                            "would be '%s', longer than the %" APR_SIZE_T_FMT
                            " bytes a unix socket path may have; end the "
                            "socket path in .sock (its health socket then "
                            "replaces .sock with .hc), or shorten it (in the "
                            "supervisor's configuration too)",
                            group->socket_path,
                            wsgid_health_socket_path(cmd->pool,
                                                     group->socket_path),
                            wsgid_socket_path_limit());
    }
    while ((kind = wsgid_next_option(cmd->pool, &args, &name, &value))
           != 0) {
        int used = 0;

        err = kind > 0 ? module_option(cmd, group, name, value, &used) : NULL;
        if (!used) {
            err = apr_psprintf(cmd->pool,
                               "WSGIDaemonSocket: unknown option '%s%s%s'; "
                               "the options are connect-timeout=N and "
                               "socket-timeout=N (the others belong to the "
                               "WSGIDaemonProcess line of the supervisor's "
                               "own configuration)", name, kind > 0 ? "=" : "",
                               kind > 0 ? value : "");
        }
        if (err) {
            return err;
        }
    }
    APR_ARRAY_PUSH(wsgid_globals_for(cmd->pool)->external_groups,
                   wsgid_daemon_group *) = group;
    return NULL;
}

static const char *cmd_process_group(cmd_parms *cmd, void *dconf,
                                     const char *name)
{
    wsgid_dir_config *conf = dconf;

    conf->process_group = name;
    wsgid_record_group_use(cmd, cmd->path ? dconf : NULL, name, "WSGIProcessGroup");
    if (cmd->path != NULL && !wsgid_names_daemon_group(name)) {
        wsgid_globals *g = wsgid_globals_for(cmd->pool);

        if (g->embedded_section == NULL) {
            g->embedded_section = wsgid_directive_place(cmd);
        }
    }
    else if (cmd->path != NULL) {
        wsgid_group_section *section
            = apr_array_push(wsgid_globals_for(cmd->pool)->group_sections);
        const ap_directive_t *parent = cmd->directive->parent;
        const char *header = parent ? parent->directive : "";

        section->server = cmd->server;
        section->path = cmd->path;
        section->is_location = strncasecmp(header, "<Location", 9) == 0;
        section->is_pattern = (strcasecmp(header, "<Location") != 0
                               && strcasecmp(header, "<Directory") != 0)
                              || (parent && parent->args[0] == '~')
                              || apr_fnmatch_test(cmd->path);
    }
    return NULL;
}

static const char *cmd_application_group(cmd_parms *cmd, void *dconf,
                                         const char *name)
{
    wsgid_dir_config *conf = dconf;

    (void)cmd;
    conf->application_group = name;
    return NULL;
}

int wsgid_valid_identifier(const char *s)
{
    const char *c;

    if (!(apr_isalpha(*s) || *s == '_')) {
        return 0;
    }
    for (c = s + 1; *c; c++) {
        if (!(apr_isalnum(*c) || *c == '_')) {
            return 0;
        }
    }
    return 1;
}

static const char *cmd_callable_object(cmd_parms *cmd, void *dconf,
                                       const char *name)
{
    wsgid_dir_config *conf = dconf;

    if (!wsgid_valid_identifier(name)) {
        return apr_psprintf(cmd->pool,
                            "WSGICallableObject: '%s' is not a Python "
                            "identifier; name the callable of the script, "
                            "e.g. WSGICallableObject application", name);
    }
    conf->callable_object = name;
    return NULL;
}

static const char *cmd_restrict_process(cmd_parms *cmd, void *dconf,
                                        const char *args)
{
    wsgid_dir_config *conf = dconf;
    wsgid_restriction *restriction = apr_pcalloc(cmd->pool,
                                                 sizeof(*restriction));
    const char *word;

    restriction->names = apr_array_make(cmd->pool, 4, sizeof(const char *));
    restriction->defined_at = wsgid_directive_place(cmd);
    restriction->server = cmd->server;
    restriction->section = cmd->path ? dconf : NULL;
    while (*(word = ap_getword_conf(cmd->pool, &args)) != '\0') {
        APR_ARRAY_PUSH(restriction->names, const char *) = word;
    }
    if (restriction->names->nelts == 0) {
        return "WSGIRestrictProcess: name at least one daemon group: write "
               "WSGIRestrictProcess NAME...";
    }
    conf->restrict_process = restriction;
    APR_ARRAY_PUSH(wsgid_globals_for(cmd->pool)->restrictions,
                   wsgid_restriction *) = restriction;
    return NULL;
}

int wsgid_restriction_allows(const wsgid_restriction *restriction,
                             const char *name)
{
    int i;

    if (restriction == NULL) {
        return 1;
    }
    for (i = 0; i < restriction->names->nelts; i++) {
        if (strcmp(APR_ARRAY_IDX(restriction->names, i, const char *),
                   name) == 0) {
            return 1;
        }
    }
    return 0;
}

const char *wsgid_restriction_names(const wsgid_restriction *restriction,
                                    apr_pool_t *p)
{
    const char *names = APR_ARRAY_IDX(restriction->names, 0, const char *);
    int i;

    for (i = 1; i < restriction->names->nelts; i++) {
        names = apr_pstrcat(p, names, ", ",
                            APR_ARRAY_IDX(restriction->names, i,
                                          const char *), NULL);
    }
    return names;
}

static const char *cmd_socket_prefix(cmd_parms *cmd, void *dconf,
                                     const char *prefix)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);

    (void)dconf;
    if (err) {
        return err;
    }
    wsgid_globals_for(cmd->pool)->socket_prefix = prefix;
    return NULL;
}

static const char *cmd_socket_rotation(cmd_parms *cmd, void *dconf, int on)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);

    (void)dconf;
    if (err) {
        return err;
    }
    wsgid_globals_for(cmd->pool)->socket_rotation = on;
    return NULL;
}

static const char *cmd_python_executable(cmd_parms *cmd, void *dconf,
                                         const char *path)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);

    (void)dconf;
    if (err) {
        return err;
    }
    if (*path != '/') {
        return "WSGIPythonExecutable: give the absolute path of the Python "
               "in whose environment wsgid is installed (paste the output "
               "of `wsgid module-config`)";
    }
    wsgid_globals_for(cmd->pool)->python_executable = path;
    return NULL;
}

static const char *cmd_map_head_to_get(cmd_parms *cmd, void *dconf,
                                       const char *value)
{
    wsgid_dir_config *conf = dconf;

    if (strcasecmp(value, "On") == 0) {
        conf->map_head_to_get = WSGID_MAP_HEAD_ON;
    }
    else if (strcasecmp(value, "Off") == 0) {
        conf->map_head_to_get = WSGID_MAP_HEAD_OFF;
    }
    else if (strcasecmp(value, "Auto") == 0) {
        conf->map_head_to_get = WSGID_MAP_HEAD_AUTO;
    }
    else {
        return apr_psprintf(cmd->pool, "WSGIMapHEADToGET must be On, Off or "
                            "Auto, not '%s'", value);
    }
    return NULL;
}

/* The On/Off directives that only set a field of the directory config:
 * Apache's ap_set_flag_slot writes 1 or 0 at the field's offset. */
#define FLAG_SLOT(field) (void *)APR_OFFSETOF(wsgid_dir_config, field)

const command_rec wsgid_cmds[] = {
    AP_INIT_RAW_ARGS("WSGIDaemonProcess", cmd_daemon_process, NULL, RSRC_CONF,
        "NAME key=value ...: define a daemon process group"),
    AP_INIT_RAW_ARGS("WSGIDaemonSocket", cmd_daemon_socket, NULL, RSRC_CONF,
        "NAME PATH [connect-timeout=N] [socket-timeout=N]: a daemon group "
        "run by `wsgid supervise --config FILE`, listening on PATH"),
    AP_INIT_TAKE1("WSGIProcessGroup", cmd_process_group, NULL,
        RSRC_CONF | ACCESS_CONF,
        "NAME: the daemon process group that serves requests here"),
    AP_INIT_TAKE1("WSGIApplicationGroup", cmd_application_group, NULL,
        RSRC_CONF | ACCESS_CONF,
        "NAME, %{GLOBAL} (default), %{SERVER}, %{HOST}, %{RESOURCE} or "
        "%{ENV:VAR}: which loaded copy of the script serves requests"),
    AP_INIT_RAW_ARGS("WSGIRestrictProcess", cmd_restrict_process, NULL,
        RSRC_CONF | ACCESS_CONF,
        "NAME...: the only daemon process groups requests here may use"),
    AP_INIT_TAKE1("WSGICallableObject", cmd_callable_object, NULL,
        OR_FILEINFO,
        "NAME: the callable in the script (default 'application')"),
    AP_INIT_TAKE1("WSGISocketPrefix", cmd_socket_prefix, NULL, RSRC_CONF,
        "PATH: prefix of the daemon socket paths, relative to ServerRoot "
        "(default 'wsgid' in the runtime directory)"),
    AP_INIT_FLAG("WSGISocketRotation", cmd_socket_rotation, NULL, RSRC_CONF,
        "On (default): socket paths carry Apache's generation; Off: stable "
        "for the life of the Apache instance"),
    AP_INIT_TAKE1("WSGIPythonExecutable", cmd_python_executable, NULL,
        RSRC_CONF,
        "PATH: the Python in whose environment wsgid is installed"),
    AP_INIT_FLAG("WSGIPassAuthorization", ap_set_flag_slot,
        FLAG_SLOT(pass_authorization),
        OR_FILEINFO,
        "On: pass the Authorization header as HTTP_AUTHORIZATION "
        "(default Off)"),
    AP_INIT_FLAG("WSGIChunkedRequest", ap_set_flag_slot,
        FLAG_SLOT(chunked_request),
        OR_FILEINFO,
        "On: accept chunked request bodies (default Off: 411)"),
    AP_INIT_FLAG("WSGIErrorOverride", ap_set_flag_slot,
        FLAG_SLOT(error_override), OR_FILEINFO,
        "On: an error status from the application is answered with "
        "Apache's ErrorDocument (default Off)"),
    AP_INIT_FLAG("WSGIIgnoreActivity", ap_set_flag_slot,
        FLAG_SLOT(ignore_activity), OR_FILEINFO,
        "On: requests here do not count as activity for inactivity-timeout "
        "(health checks, say; default Off)"),
    AP_INIT_RAW_ARGS("WSGITrustedProxyHeaders",
        wsgid_cmd_trusted_proxy_headers, NULL, OR_FILEINFO,
        "HEADER...: the proxy headers (X-Forwarded-For, X-Forwarded-Proto, "
        "...) that set the request's variables; the others are removed"),
    AP_INIT_RAW_ARGS("WSGITrustedProxies", wsgid_cmd_trusted_proxies, NULL,
        OR_FILEINFO,
        "ADDRESS[/BITS]...: the proxies whose WSGITrustedProxyHeaders are "
        "believed (default: any peer)"),
    AP_INIT_TAKE1("WSGIMapHEADToGET", cmd_map_head_to_get, NULL, OR_FILEINFO,
        "On, Off or Auto (default): send HEAD requests to the application "
        "as GET (Auto: when an output filter may need the body)"),
    WSGID_SCRIPT_COMMANDS,
    WSGID_SETTINGS_COMMANDS,
    { NULL }
};
