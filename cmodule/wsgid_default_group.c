/*
 * wsgid_default_group.c: the daemon group for the scripts mod_wsgi would run
 * inside Apache (embedded mode).
 *
 * A WSGIScriptAlias, a handler-mapped script, a WSGIHandlerScript or a hook
 * script that no WSGIProcessGroup (and no
 * process-group= option) gives a daemon group runs, under mod_wsgi, in the
 * Apache children themselves.  wsgid never runs Python inside Apache, so it
 * defines one more daemon group for such scripts, WSGID_DEFAULT_GROUP_NAME
 * with WSGID_DEFAULT_GROUP_OPTIONS, in the main server (every virtual host
 * may use it), and says so once at startup.  A request whose configuration
 * names no group goes there (wsgid_route.c).  WSGIRestrictEmbedded On, which
 * makes mod_wsgi refuse such requests, makes wsgid refuse them too: no
 * default group, and a 500 with a log line per request, as in mod_wsgi.
 *
 * Whether a script has a group is decided from the configuration as
 * written: the script's own option, its server's WSGIProcessGroup, or a
 * WSGIProcessGroup in a <Location> that contains its whole URL or a
 * <Directory> that contains its file; a WSGIProcessGroup %{GLOBAL} in a
 * section (mod_wsgi: run these inside Apache) always needs the group.  A section whose reach cannot be told
 * without a request (a pattern, a <Files>, an <If>) does not count, so the
 * default group may exist for a script every request of which has a group:
 * it then costs one idle process, and its startup line names that script.
 */
#include "apr_strings.h"

#include "httpd.h"
#include "http_config.h"
#include "http_log.h"

#include "wsgid_config.h"
#include "wsgid_default_group.h"

APLOG_USE_MODULE(wsgid);

/* The WSGIProcessGroup a server sets outside its sections (a virtual host's
 * includes the main server's: Apache merged them before check_config). */
static const char *server_group(server_rec *s)
{
    const wsgid_dir_config *dconf
        = ap_get_module_config(s->lookup_defaults, &wsgid_module);

    return dconf && wsgid_names_daemon_group(dconf->process_group)
           ? dconf->process_group : NULL;
}

/* Does path lie in the section path prefix (a <Location> URL or a
 * <Directory> path, with or without its trailing slash)? */
static int inside(const char *path, const char *prefix)
{
    apr_size_t len = strlen(prefix);

    while (len > 0 && prefix[len - 1] == '/') {
        len--;
    }
    return strncmp(path, prefix, len) == 0
           && (path[len] == '\0' || path[len] == '/');
}

/* Does a WSGIProcessGroup section of server s (or of the main server, whose
 * sections apply to every virtual host) hold every request to the script at
 * url (NULL: any URL) with the file target? */
static int section_gives_group(const wsgid_globals *g, server_rec *s,
                               server_rec *main, const char *url,
                               const char *target)
{
    int i;

    for (i = 0; i < g->group_sections->nelts; i++) {
        const wsgid_group_section *section
            = &APR_ARRAY_IDX(g->group_sections, i, wsgid_group_section);

        if (section->is_pattern
            || (section->server != s && section->server != main)) {
            continue;
        }
        if (section->is_location ? url != NULL && inside(*url ? url : "/",
                                                         section->path)
                                 : inside(target, section->path)) {
            return 1;
        }
    }
    return 0;
}

static int alias_has_group(const wsgid_globals *g,
                           const wsgid_script_alias *alias, server_rec *main)
{
    if (alias->process_group != NULL) {
        /* process-group=%{GLOBAL}: mod_wsgi runs it inside Apache */
        return wsgid_names_daemon_group(alias->process_group);
    }
    return server_group(alias->server) != NULL
           || section_gives_group(g, alias->server, main,
                                  alias->regex ? NULL : alias->url,
                                  alias->target_dir ? alias->target_dir
                                                    : alias->target);
}

/* A hook or handler script: its own option, else its section's
 * WSGIProcessGroup (%{GLOBAL} there is none), else its server's. */
static int script_has_group(const char *option, const void *section_conf,
                            server_rec *s)
{
    const wsgid_dir_config *section = section_conf;

    if (option != NULL) {
        return 1;
    }
    if (section != NULL && section->process_group != NULL) {
        return wsgid_names_daemon_group(section->process_group);
    }
    return server_group(s) != NULL;
}

/* The first script without a group, as "DIRECTIVE ARG" with *place set to
 * its "FILE:LINE", and how many there are; NULL if none. */
static const char *scripts_without_group(const wsgid_globals *g,
                                         server_rec *main, apr_pool_t *p,
                                         int *count, const char **place)
{
    const char *first = NULL;
    int i;

    *count = 0;
    for (i = 0; i < g->aliases->nelts; i++) {
        const wsgid_script_alias *alias
            = &APR_ARRAY_IDX(g->aliases, i, wsgid_script_alias);

        if (!alias_has_group(g, alias, main)) {
            if ((*count)++ == 0) {
                first = apr_psprintf(p, "%s %s", alias->regex
                                     ? "WSGIScriptAliasMatch"
                                     : "WSGIScriptAlias",
                                     alias->regex || *alias->url
                                     ? alias->url : "/");
                *place = alias->defined_at;
            }
        }
    }
    for (i = 0; i < g->handler_dirs->nelts; i++) {
        const wsgid_handler_dir *dir
            = &APR_ARRAY_IDX(g->handler_dirs, i, wsgid_handler_dir);

        /* the group comes from the section, else from the server (a
         * virtual host's own cannot be told here: the main server's) */
        if (dir->process_group == NULL && server_group(main) == NULL
            && (*count)++ == 0) {
            first = apr_psprintf(p, "<Directory %s> (AddHandler/SetHandler "
                                 "wsgi-script)", dir->path);
            *place = dir->defined_at;
        }
    }
    for (i = 0; i < g->handler_scripts->nelts; i++) {
        const wsgid_handler_script *handler
            = APR_ARRAY_IDX(g->handler_scripts, i, wsgid_handler_script *);

        if (!script_has_group(handler->process_group, handler->section,
                              handler->server) && (*count)++ == 0) {
            first = apr_psprintf(p, "WSGIHandlerScript %s", handler->name);
            *place = handler->defined_at;
        }
    }
    if (g->embedded_section != NULL && (*count)++ == 0) {
        first = "WSGIProcessGroup %{GLOBAL}";
        *place = g->embedded_section;
    }
    for (i = 0; i < g->hook_scripts->nelts; i++) {
        const wsgid_hook_script *hook
            = APR_ARRAY_IDX(g->hook_scripts, i, wsgid_hook_script *);

        if (!script_has_group(hook->process_group, hook->section,
                              hook->server)) {
            if ((*count)++ == 0) {
                first = wsgid_hook_directive(hook->kind);
                *place = hook->defined_at;
            }
        }
    }
    return first;
}

int wsgid_define_default_group(wsgid_globals *g, apr_pool_t *pconf,
                               server_rec *main)
{
    wsgid_directive_line *notice;
    const char *first, *place = NULL, *name = WSGID_DEFAULT_GROUP_NAME, *word;
    const char *options = WSGID_DEFAULT_GROUP_OPTIONS;
    int count, n = 1;

    g->default_group = NULL;
    first = scripts_without_group(g, main, pconf, &count, &place);
    if (first == NULL || g->restrict_embedded == 1) {
        return OK;
    }
    while (wsgid_group_defined(g, name)) {
        name = apr_psprintf(pconf, "%s-%d", WSGID_DEFAULT_GROUP_NAME, ++n);
    }
    /* its messages point at the script it is for */
    g->default_group = wsgid_new_group(pconf, main, name, place);
    while (*(word = ap_getword_white(pconf, &options)) != '\0') {
        APR_ARRAY_PUSH(g->default_group->raw_args, const char *) = word;
    }
    APR_ARRAY_PUSH(g->groups, wsgid_daemon_group *) = g->default_group;

    notice = apr_array_push(g->notices);
    notice->directive = first;
    notice->defined_at = place;
    notice->level = APLOG_NOTICE;
    notice->args = apr_psprintf(pconf,
        "no daemon process group is named for it%s; mod_wsgi would run it "
        "inside Apache (embedded mode), so wsgid runs it in its default "
        "daemon group '%s' (%s). To choose the processes yourself, define a "
        "group with WSGIDaemonProcess and name it with WSGIProcessGroup or "
        "process-group=; WSGIRestrictEmbedded On refuses such scripts "
        "instead", count > 1 ? apr_psprintf(pconf, " (nor for %d other "
                                            "script(s))", count - 1) : "",
        name, WSGID_DEFAULT_GROUP_OPTIONS);
    return OK;
}
