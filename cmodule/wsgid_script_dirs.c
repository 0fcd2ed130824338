/*
 * wsgid_script_dirs.c: the directories, read from the configuration tree,
 * whose scripts the daemons may run though no directive names them: the
 * scripts a handler-style deployment maps, and the hook scripts .htaccess
 * files name.
 *
 * mod_wsgi serves a file that `AddHandler wsgi-script .wsgi` or `SetHandler
 * wsgi-script` maps, in a directory where `Options ExecCGI` is on.  The
 * daemons load only the scripts the configuration names (docs/protocol.md:
 * packet variables never choose the code), so the module reads, once per
 * configuration, which <Directory> sections can run such scripts and names
 * them in the daemon configuration file (WSGIScriptDirectory); a daemon
 * loads a handler-mapped script only from inside one of them, by real path.
 *
 * A section counts when ExecCGI can be on there (its Options, an enclosing
 * <Directory>'s, or AllowOverride letting .htaccess set Options) and the
 * wsgi-script handler can apply there (AddHandler or SetHandler in it or at
 * server or virtual-host level, or AllowOverride FileInfo for .htaccess).
 * <Directory> sections given by a pattern (~, DirectoryMatch, wildcards)
 * are not read: scripts there are answered 404 by the daemon, with a line
 * that says which script it refused.  The handler itself still requires
 * ExecCGI for each request, as mod_wsgi does.
 *
 * mod_wsgi lets an .htaccess file name an access, authentication or group
 * script (AllowOverride AuthConfig).  The daemons run such a script when it
 * lies inside a <Directory> whose AllowOverride lets .htaccess set AuthConfig
 * (WSGIHookDirectory): the directory the file's author controls anyway.
 */
#include "apr_fnmatch.h"
#include "apr_strings.h"

#include "httpd.h"
#include "http_config.h"

#include "wsgid_config.h"
#include "wsgid_script_dirs.h"

/* What one <Directory> section allows, as read from the tree. */
typedef struct {
    const char *path;                    /* no trailing slash ("" for /) */
    const char *process_group;           /* its literal WSGIProcessGroup */
    const char *defined_at;
    int exec_cgi;                        /* Options ... ExecCGI */
    int htaccess_options;                /* AllowOverride lets .htaccess set
                                            Options */
    int handler;                         /* maps wsgi-script itself */
    int htaccess_handler;                /* AllowOverride FileInfo */
    int htaccess_auth;                   /* AllowOverride AuthConfig */
} dir_section;

typedef struct {
    apr_pool_t *p;
    apr_array_header_t *sections;        /* dir_section */
    int server_handler;                  /* wsgi-script outside sections */
} walk_state;

static int has_word(const char *args, apr_pool_t *p, const char *const *words)
{
    const char *word;

    while (*(word = ap_getword_conf(p, &args)) != '\0') {
        const char *const *w;

        if (*word == '+') {
            word++;
        }
        for (w = words; *w; w++) {
            if (strncasecmp(word, *w, strlen(*w)) == 0) {
                return 1;
            }
        }
    }
    return 0;
}

/* AddHandler wsgi-script .x, SetHandler wsgi-script (or mod_wsgi's other
 * name for it, application/x-httpd-wsgi). */
static int maps_wsgi_script(const ap_directive_t *d, apr_pool_t *p)
{
    const char *args = d->args;
    const char *handler;

    if (strcasecmp(d->directive, "AddHandler") != 0
        && strcasecmp(d->directive, "SetHandler") != 0) {
        return 0;
    }
    handler = ap_getword_conf(p, &args);
    return strcasecmp(handler, "wsgi-script") == 0
           || strcasecmp(handler, "application/x-httpd-wsgi") == 0;
}

/* The path of a "<Directory PATH>" header, or NULL for a pattern. */
static const char *section_path(const ap_directive_t *d, apr_pool_t *p)
{
    char *args = apr_pstrdup(p, d->args);
    const char *rest;
    char *end = strrchr(args, '>');
    char *path;
    apr_size_t len;

    if (end) {
        *end = '\0';
    }
    rest = args;
    path = ap_getword_conf(p, &rest);
    if (*path != '/' || apr_fnmatch_test(path)) {
        return NULL;
    }
    len = strlen(path);
    while (len > 0 && path[len - 1] == '/') {
        path[--len] = '\0';
    }
    return path;
}

/* Read the directives inside a <Directory> (and the <Files>, <IfModule>
 * and such nested in it) into section. */
static void read_section(const ap_directive_t *d, dir_section *section,
                         apr_pool_t *p)
{
    static const char *const exec_cgi[] = { "ExecCGI", "All", NULL };
    static const char *const options[] = { "All", "Options", NULL };
    static const char *const fileinfo[] = { "All", "FileInfo", NULL };
    static const char *const authconfig[] = { "All", "AuthConfig", NULL };

    for (; d != NULL; d = d->next) {
        if (strcasecmp(d->directive, "Options") == 0) {
            section->exec_cgi = has_word(d->args, p, exec_cgi);
        }
        else if (strcasecmp(d->directive, "AllowOverride") == 0) {
            section->htaccess_options = has_word(d->args, p, options);
            section->htaccess_handler = has_word(d->args, p, fileinfo);
            section->htaccess_auth = has_word(d->args, p, authconfig);
        }
        else if (strcasecmp(d->directive, "WSGIProcessGroup") == 0) {
            const char *args = d->args;
            const char *name = ap_getword_conf(p, &args);

            section->process_group = wsgid_is_literal_group(name) ? name
                                                                  : NULL;
        }
        else if (maps_wsgi_script(d, p)) {
            section->handler = 1;
        }
        if (d->first_child && strncasecmp(d->directive, "<Directory", 10) != 0
            && strncasecmp(d->directive, "<Location", 9) != 0) {
            read_section(d->first_child, section, p);
        }
    }
}

static void walk(const ap_directive_t *d, walk_state *state)
{
    for (; d != NULL; d = d->next) {
        if (strcasecmp(d->directive, "<Directory") == 0) {
            const char *path = section_path(d, state->p);

            if (path != NULL) {
                dir_section *section = apr_array_push(state->sections);

                memset(section, 0, sizeof(*section));
                section->path = path;
                section->defined_at = apr_psprintf(state->p, "%s:%d",
                                                   d->filename, d->line_num);
                read_section(d->first_child, section, state->p);
            }
        }
        else if (strncasecmp(d->directive, "<Location", 9) == 0
                 || strncasecmp(d->directive, "<Directory", 10) == 0) {
            continue;   /* URL sections, and patterns: not read */
        }
        else if (maps_wsgi_script(d, state->p)) {
            state->server_handler = 1;
        }
        else if (d->first_child) {
            walk(d->first_child, state);   /* <VirtualHost>, <IfModule>, ... */
        }
    }
}

/* Is ExecCGI on for path through its own section or one around it? */
static int exec_cgi_at(const apr_array_header_t *sections, const char *path)
{
    int i;

    for (i = 0; i < sections->nelts; i++) {
        const dir_section *s = &APR_ARRAY_IDX(sections, i, dir_section);
        apr_size_t len = strlen(s->path);

        if ((s->exec_cgi || s->htaccess_options)
            && strncmp(path, s->path, len) == 0
            && (path[len] == '\0' || path[len] == '/')) {
            return 1;
        }
    }
    return 0;
}

void wsgid_collect_script_dirs(wsgid_globals *g, apr_pool_t *pconf)
{
    walk_state state = { pconf, apr_array_make(pconf, 8, sizeof(dir_section)),
                         0 };
    int i;

    g->handler_dirs = apr_array_make(pconf, 2, sizeof(wsgid_handler_dir));
    g->hook_dirs = apr_array_make(pconf, 2, sizeof(wsgid_handler_dir));
    walk(ap_conftree, &state);
    for (i = 0; i < state.sections->nelts; i++) {
        const dir_section *s = &APR_ARRAY_IDX(state.sections, i, dir_section);
        wsgid_handler_dir *dir;

        if (s->htaccess_auth) {
            dir = apr_array_push(g->hook_dirs);
            dir->path = *s->path ? s->path : "/";
            dir->process_group = NULL;
            dir->defined_at = s->defined_at;
        }

        if (!(s->handler || s->htaccess_handler || state.server_handler)
            || !exec_cgi_at(state.sections, s->path)) {
            continue;
        }
        dir = apr_array_push(g->handler_dirs);
        dir->path = *s->path ? s->path : "/";
        dir->process_group = s->process_group;
        dir->defined_at = s->defined_at;
    }
}
