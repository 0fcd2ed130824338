/*
 * wsgid_daemon_file.c: the texts of the files mod_wsgid writes for the
 * supervisor in managed mode (docs/internals.md): the daemon configuration
 * file, in mod_wsgi's directive syntax that wsgid/config.py reads, with a
 * WSGIConfigOrigin FILE:LINE before each directive so that its messages
 * name the user's file; and FILE.children, the Apache children alive when a
 * new generation is configured.  wsgid_supervisor.c writes them.
 */
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "apr_lib.h"
#include "apr_strings.h"

#include "httpd.h"
#include "http_config.h"
#include "http_core.h"
#include "ap_mpm.h"
#include "ap_release.h"
#include "util_cfgtree.h"
#include "http_log.h"
#include "scoreboard.h"
#include "unixd.h"

#include "wsgid_config.h"
#include "wsgid_daemon_file.h"

/* Arguments in the configuration file's directive syntax: double quotes
 * when needed, with \" and \\ inside them. */
static const char *quote_arg(apr_pool_t *p, const char *arg)
{
    const char *c;
    char *out, *o;
    int plain = *arg != '\0';

    for (c = arg; *c && plain; c++) {
        if (apr_isspace(*c) || apr_iscntrl(*c) || *c == '"' || *c == '\\'
            || *c == '#' || *c == '\'') {
            plain = 0;
        }
    }
    if (plain) {
        return arg;
    }
    o = out = apr_palloc(p, strlen(arg) * 2 + 3);
    *o++ = '"';
    for (c = arg; *c; c++) {
        if (*c == '"' || *c == '\\') {
            *o++ = '\\';
        }
        *o++ = *c;
    }
    *o++ = '"';
    *o = '\0';
    return out;
}

static void add_line(apr_array_header_t *lines, apr_pool_t *p,
                     const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    APR_ARRAY_PUSH(lines, const char *) = apr_pvsprintf(p, fmt, ap);
    va_end(ap);
}

/* The WSGIConfigOrigin line before a directive: where it was written. */
static void add_origin(apr_array_header_t *lines, apr_pool_t *p,
                       const char *defined_at)
{
    add_line(lines, p, "WSGIConfigOrigin %s\n", quote_arg(p, defined_at));
}

/* The process group an alias serves when its request has no other say:
 * its own option, else the WSGIProcessGroup of its server. */
static const char *alias_group(const wsgid_script_alias *alias)
{
    wsgid_dir_config *dconf;

    if (alias->process_group) {
        return wsgid_names_daemon_group(alias->process_group)
               ? alias->process_group : NULL;
    }
    dconf = ap_get_module_config(alias->server->lookup_defaults,
                                 &wsgid_module);
    return dconf && wsgid_names_daemon_group(dconf->process_group)
           ? dconf->process_group : NULL;
}

/* " KEY=VALUE", quoted as needed, or "" when there is no value. */
static const char *group_option(apr_pool_t *p, const char *key,
                                const char *value)
{
    if (value == NULL) {
        return "";
    }
    return apr_pstrcat(p, " ", quote_arg(p, apr_pstrcat(p, key, "=", value,
                                                        NULL)), NULL);
}

APLOG_USE_MODULE(wsgid);

/* Apache's LogLevel words, by level number (http_log.h: APLOG_EMERG 0 to
 * APLOG_TRACE8 15); wsgid/log.py knows the same words. */
static const char *const log_level_words[] = {
    "emerg", "alert", "crit", "error", "warn", "notice", "info", "debug",
    "trace1", "trace2", "trace3", "trace4", "trace5", "trace6", "trace7",
    "trace8"
};

/* What mod_wsgi's `apache` module tells an application about the server:
 * the MPM's process and thread limits (at least 1).  mod_wsgi reports the
 * most child processes used so far where the MPM knows it; here it is the
 * limit, which does not change from one graceful restart to the next (a
 * change restarts the daemons, wsgid/supervisor.py). */
static void add_apache_server(apr_array_header_t *lines, apr_pool_t *p)
{
    int threaded = AP_MPMQ_NOT_SUPPORTED, forked = AP_MPMQ_NOT_SUPPORTED;
    int threads = 0, processes = 0;

    if (ap_mpm_query(AP_MPMQ_IS_THREADED, &threaded) == APR_SUCCESS
        && threaded != AP_MPMQ_NOT_SUPPORTED) {
        ap_mpm_query(AP_MPMQ_MAX_THREADS, &threads);
    }
    if (ap_mpm_query(AP_MPMQ_IS_FORKED, &forked) == APR_SUCCESS
        && forked != AP_MPMQ_NOT_SUPPORTED) {
        ap_mpm_query(AP_MPMQ_MAX_DAEMONS, &processes);
    }
    add_line(lines, p, "WSGIApacheServer %s %d.%d.%d %s %s %d %d\n",
             quote_arg(p, ap_get_server_description()),
             AP_SERVER_MAJORVERSION_NUMBER, AP_SERVER_MINORVERSION_NUMBER,
             AP_SERVER_PATCHLEVEL_NUMBER, quote_arg(p, ap_show_mpm()),
             quote_arg(p, ap_get_server_built()),
             processes > 0 ? processes : 1, threads > 0 ? threads : 1);
}

/* The main server's ErrorLogFormat as written, or NULL for Apache's default:
 * the daemons format their lines with it (wsgid/log_format.py).  The core
 * keeps only its parsed form, so the directive is looked up in the
 * configuration tree, as mod_info reads it: outside <VirtualHost>, in the
 * sections Apache kept (an <IfModule> whose condition failed left nothing in
 * the tree), the last one that is not a connection or request format. */
static const char *main_error_log_format(apr_pool_t *p,
                                         const ap_directive_t *node,
                                         const char *found)
{
    for (; node != NULL; node = node->next) {
        const char *args, *first;

        if (strcasecmp(node->directive, "<VirtualHost") == 0) {
            continue;
        }
        if (node->first_child != NULL) {
            found = main_error_log_format(p, node->first_child, found);
            continue;
        }
        if (strcasecmp(node->directive, "ErrorLogFormat") != 0) {
            continue;
        }
        args = node->args;
        first = ap_getword_conf(p, &args);
        if (strcasecmp(first, "connection") != 0
            && strcasecmp(first, "request") != 0) {
            found = first;
        }
    }
    return found;
}

/* The main server's ErrorLog when it is a file, which the supervisor opens
 * again at each reload to follow a rotation (wsgid/group_log.py); NULL for
 * a piped log, syslog, or a device such as /dev/stderr (a terminal, a pipe
 * or the journal, which Apache's stderr already is). */
static const char *main_error_log_file(const server_rec *s)
{
    const char *fname = s->error_fname;

    if (fname == NULL || *fname == '|' || strncmp(fname, "syslog", 6) == 0
        || strncmp(fname, "/dev/", 5) == 0 || strncmp(fname, "/proc/", 6) == 0) {
        return NULL;
    }
    return fname;
}

/* Whether the group's options name error-log= themselves. */
static int has_option(const wsgid_daemon_group *group, const char *prefix)
{
    int j;

    for (j = 0; j < group->raw_args->nelts; j++) {
        if (strncmp(APR_ARRAY_IDX(group->raw_args, j, const char *), prefix,
                    strlen(prefix)) == 0) {
            return 1;
        }
    }
    return 0;
}

/* As mod_wsgi writes a daemon group's lines to the ErrorLog of the
 * <VirtualHost> that defines it: that log, for a group defined in a virtual
 * host whose ErrorLog is its own, as error-log= (a file relative to
 * ServerRoot made absolute; `|command` as written).  NULL for the main
 * server's log, or syslog, which mod_wsgi's daemons do not write to either
 * (wsgid/group_log.py opens it). */
static const char *group_error_log(apr_pool_t *p,
                                   const wsgid_daemon_group *group,
                                   const server_rec *main_server)
{
    const char *fname = group->server->error_fname;

    if (!group->server->is_virtual || fname == NULL
        || (main_server->error_fname != NULL
            && strcmp(fname, main_server->error_fname) == 0)
        || strncmp(fname, "syslog", 6) == 0 || has_option(group, "error-log=")) {
        return NULL;
    }
    if (*fname == '|') {
        return fname;
    }
    return ap_server_root_relative(p, fname);
}

const char *wsgid_daemon_file_text(wsgid_globals *g, apr_pool_t *p,
                                   server_rec *s)
{
    const char *error_log_format = main_error_log_format(p, ap_conftree,
                                                         NULL);
    int level = ap_get_server_module_loglevel(s, APLOG_MODULE_INDEX);
    apr_array_header_t *lines = apr_array_make(p, 16, sizeof(const char *));
    wsgid_dir_config *main_dir = ap_get_module_config(s->lookup_defaults,
                                                      &wsgid_module);
    int i, j;

    add_line(lines, p, "# Generated by mod_wsgid for Apache pid %"
             APR_PID_T_FMT ", generation %d\n", getpid(),
             ap_state_query(AP_SQ_CONFIG_GEN));
    /* mod_unixd switches users only when started as root; otherwise the
     * children keep the parent's uid and gid, whatever User says. */
    if (geteuid() == 0) {
        add_line(lines, p, "WSGIApacheUser %ld %ld\n",
                 (long)ap_unixd_config.user_id,
                 (long)ap_unixd_config.group_id);
    }
    else {
        add_line(lines, p, "WSGIApacheUser %ld %ld\n", (long)geteuid(),
                 (long)getegid());
    }
    add_apache_server(lines, p);
    /* the main server's level for this module: LogLevel, or LogLevel wsgi:X */
    add_line(lines, p, "LogLevel %s\n", log_level_words[
        level < 0 ? APLOG_WARNING : level > APLOG_TRACE8 ? APLOG_TRACE8 : level]);
    if (error_log_format != NULL && *error_log_format != '\0') {
        add_line(lines, p, "ErrorLogFormat %s\n",
                 quote_arg(p, error_log_format));
    }
    if (main_error_log_file(s) != NULL) {
        add_line(lines, p, "ErrorLog %s\n",
                 quote_arg(p, ap_server_root_relative(p, s->error_fname)));
    }
    /* settings of the daemons' Python, as written (wsgid_settings.c) */
    for (i = 0; i < g->settings->nelts; i++) {
        const wsgid_directive_line *setting
            = &APR_ARRAY_IDX(g->settings, i, wsgid_directive_line);
        const char *args = setting->args;
        const char *words = "";
        const char *word;

        add_origin(lines, p, setting->defined_at);
        while (*(word = ap_getword_conf(p, &args)) != '\0') {
            words = apr_pstrcat(p, words, " ", quote_arg(p, word), NULL);
        }
        add_line(lines, p, "%s%s\n", setting->directive, words);
    }
    for (i = 0; i < g->groups->nelts; i++) {
        wsgid_daemon_group *group = APR_ARRAY_IDX(g->groups, i,
                                                  wsgid_daemon_group *);
        const char *args = "";

        for (j = 0; j < group->raw_args->nelts; j++) {
            args = apr_pstrcat(p, args, " ", quote_arg(p,
                APR_ARRAY_IDX(group->raw_args, j, const char *)), NULL);
        }
        /* As in mod_wsgi, socket-timeout defaults to the Timeout of the
         * server that defines the group; the daemons must use the same
         * value as the module, so it is written out for them. */
        if (group->socket_timeout == 0) {
            args = apr_psprintf(p, "%s socket-timeout=%g", args,
                                (double)group->server->timeout
                                / APR_USEC_PER_SEC);
        }
        args = apr_pstrcat(p, args, group_option(p, "error-log",
                                                 group_error_log(p, group, s)),
                           NULL);
        add_origin(lines, p, group->defined_at);
        add_line(lines, p, "WSGIDaemonProcess %s%s\n",
                 quote_arg(p, group->name), args);
        add_line(lines, p, "WSGIDaemonSocket %s %s\n",
                 quote_arg(p, group->name), quote_arg(p, group->socket_path));
    }
    if (g->default_group != NULL) {
        /* it serves what mod_wsgi would run inside Apache: any script */
        add_line(lines, p, "WSGIDefaultGroup %s\n",
                 quote_arg(p, g->default_group->name));
    }
    for (i = 0; i < g->aliases->nelts; i++) {
        wsgid_script_alias *alias = &APR_ARRAY_IDX(g->aliases, i,
                                                   wsgid_script_alias);
        const char *group = alias_group(alias);

        if (wsgid_is_external_group(g, group)) {
            continue;   /* that group's supervisor has its own configuration */
        }
        add_origin(lines, p, alias->defined_at);
        /* a Match line keeps REGEX and TARGET as written: the daemons
         * derive from TARGET which files its $N can name */
        add_line(lines, p, "%s %s %s%s%s\n",
                 alias->regex ? "WSGIScriptAliasMatch" : "WSGIScriptAlias",
                 quote_arg(p, alias->regex || *alias->url ? alias->url : "/"),
                 quote_arg(p, alias->regex ? alias->written_target
                                           : alias->target),
                 group_option(p, "process-group", group),
                 group_option(p, "application-group",
                              alias->application_group));
    }
    /* the WSGIHandlerScript scripts: the daemons run no other */
    for (i = 0; i < g->handler_scripts->nelts; i++) {
        const wsgid_handler_script *handler
            = APR_ARRAY_IDX(g->handler_scripts, i, wsgid_handler_script *);

        if (wsgid_is_external_group(g, handler->process_group)) {
            continue;
        }
        add_origin(lines, p, handler->defined_at);
        add_line(lines, p, "WSGIHandlerScript %s %s%s%s\n",
                 quote_arg(p, handler->name), quote_arg(p, handler->path),
                 group_option(p, "process-group", handler->process_group),
                 group_option(p, "application-group",
                              handler->application_group));
    }
    /* the directories handler-mapped scripts may be loaded from */
    for (i = 0; i < g->handler_dirs->nelts; i++) {
        const wsgid_handler_dir *dir = &APR_ARRAY_IDX(g->handler_dirs, i,
                                                      wsgid_handler_dir);

        if (wsgid_is_external_group(g, dir->process_group)) {
            continue;
        }
        add_origin(lines, p, dir->defined_at);
        add_line(lines, p, "WSGIScriptDirectory %s%s\n",
                 quote_arg(p, dir->path),
                 group_option(p, "process-group", dir->process_group));
    }
    /* the directories whose .htaccess files may name hook scripts */
    for (i = 0; i < g->hook_dirs->nelts; i++) {
        const wsgid_handler_dir *dir = &APR_ARRAY_IDX(g->hook_dirs, i,
                                                      wsgid_handler_dir);

        add_origin(lines, p, dir->defined_at);
        add_line(lines, p, "WSGIHookDirectory %s\n", quote_arg(p, dir->path));
    }
    for (i = 0; i < g->import_scripts->nelts; i++) {
        wsgid_import_script *script = &APR_ARRAY_IDX(g->import_scripts, i,
                                                     wsgid_import_script);

        if (wsgid_is_external_group(g, script->process_group)) {
            continue;
        }
        add_origin(lines, p, script->defined_at);
        add_line(lines, p, "WSGIImportScript %s%s%s\n",
                 quote_arg(p, script->path),
                 group_option(p, "process-group", script->process_group),
                 group_option(p, "application-group",
                              script->application_group));
    }
    /* the daemons run only the hook scripts named here (protocol.md) */
    for (i = 0; i < g->hook_scripts->nelts; i++) {
        const wsgid_hook_script *hook = APR_ARRAY_IDX(g->hook_scripts, i,
                                                      wsgid_hook_script *);

        if (wsgid_is_external_group(g, hook->process_group)) {
            continue;
        }
        add_origin(lines, p, hook->defined_at);
        add_line(lines, p, "%s %s%s%s\n", wsgid_hook_directive(hook->kind),
                 quote_arg(p, hook->path),
                 group_option(p, "process-group", hook->process_group),
                 group_option(p, "application-group",
                              hook->application_group));
    }
    add_line(lines, p, "WSGICallableObject %s\n",
             main_dir && main_dir->callable_object
             ? main_dir->callable_object : WSGID_DEFAULT_CALLABLE);
    return apr_array_pstrcat(p, lines, '\0');
}

/* The Apache children alive now, from the scoreboard, one pid a line.
 * Called while a new generation is configured, before the MPM starts its
 * children: every child listed belongs to an earlier generation and may
 * still send requests (a request in progress, pipelined requests) to the
 * sockets that generation's configuration named. */
const char *wsgid_children_file_text(apr_pool_t *p)
{
    apr_array_header_t *lines = apr_array_make(p, 8, sizeof(const char *));
    int server_limit = 0, i;

    add_line(lines, p, "# Written by mod_wsgid (Apache pid %" APR_PID_T_FMT
             ") as it configured generation %d: the Apache children then\n"
             "# running. Daemon groups leaving the configuration serve until "
             "these have exited.\n", getpid(),
             ap_state_query(AP_SQ_CONFIG_GEN));
    if (ap_scoreboard_image != NULL
        && ap_mpm_query(AP_MPMQ_HARD_LIMIT_DAEMONS, &server_limit)
           == APR_SUCCESS) {
        for (i = 0; i < server_limit; i++) {
            process_score *ps = ap_get_scoreboard_process(i);

            if (ps != NULL && ps->pid > 0) {
                add_line(lines, p, "%" APR_PID_T_FMT "\n", ps->pid);
            }
        }
    }
    return apr_array_pstrcat(p, lines, '\0');
}
