/*
 * wsgid_scripts.c: the directives that name scripts: WSGIScriptAlias and
 * WSGIScriptAliasMatch (a URL to a script), WSGIImportScript (a script a
 * group loads at start), the hook scripts (WSGIAccessScript,
 * WSGIAuthUserScript, WSGIAuthGroupScript, WSGIDispatchScript) and
 * WSGIHandlerScript, with their NAME=VALUE options read as mod_wsgi reads
 * them.  Each script is also recorded in the configuration's globals, from
 * which the daemon configuration file names every script the daemons may
 * run (docs/design.md, contract 2).
 */
#include "apr_hash.h"
#include "apr_lib.h"
#include "apr_strings.h"
#include "apr_file_info.h"

#include "httpd.h"
#include "http_config.h"

#include "wsgid_config.h"
#include "wsgid_scripts.h"

/* The literal part of a WSGIScriptAliasMatch target before its first $N
 * substitution, unescaped the way ap_pregsub reads it ("\x" is "x"), and
 * whether there is a substitution at all. */
static const char *template_literal_prefix(apr_pool_t *p, const char *target,
                                           int *has_subst)
{
    char *out = apr_palloc(p, strlen(target) + 1), *o = out;
    const char *c = target;

    *has_subst = 0;
    while (*c) {
        if (*c == '$' && apr_isdigit(c[1])) {
            *has_subst = 1;
            break;
        }
        if (*c == '\\' && c[1]) {
            c++;
        }
        *o++ = *c++;
    }
    *o = '\0';
    return out;
}

/* The NAME=VALUE options that end the script directives' lines. */
typedef struct {
    const char *process_group;
    const char *application_group;
    const char *callable_object;         /* WSGIScriptAlias(Match) only */
    int pass_authorization;              /* the same; WSGID_UNSET if not given */
} script_options;

/* Which options a script directive takes besides process-group= and
 * application-group= (mod_wsgi's sets). */
#define OPT_CALLABLE 1                   /* callable-object= */
#define OPT_PASS_AUTH 2                  /* pass-authorization= */
#define ALIAS_OPTIONS (OPT_CALLABLE | OPT_PASS_AUTH)

/* Read the options of a script directive into opts; extra is the OPT_*
 * options it takes too.  An error message or NULL.  An empty value or an
 * option given twice is an error: nothing is guessed. */
static const char *parse_script_options(cmd_parms *cmd, const char *directive,
                                        const char *args, int extra,
                                        script_options *opts)
{
    const char *name, *value;
    int kind;

    memset(opts, 0, sizeof(*opts));
    opts->pass_authorization = WSGID_UNSET;
    while ((kind = wsgid_next_option(cmd->pool, &args, &name, &value)) != 0) {
        const char **option = NULL;
        int seen;

        if (kind > 0 && strcmp(name, "process-group") == 0) {
            option = &opts->process_group;
        }
        else if (kind > 0 && strcmp(name, "application-group") == 0) {
            option = &opts->application_group;
        }
        else if (kind > 0 && (extra & OPT_CALLABLE)
                 && strcmp(name, "callable-object") == 0) {
            option = &opts->callable_object;
        }
        else if (!(kind > 0 && (extra & OPT_PASS_AUTH)
                   && strcmp(name, "pass-authorization") == 0)) {
            return apr_psprintf(cmd->pool,
                                "%s: unknown option '%s%s%s'; the options "
                                "are process-group=NAME%s%s and "
                                "application-group=NAME", directive, name,
                                kind > 0 ? "=" : "", kind > 0 ? value : "",
                                (extra & OPT_CALLABLE)
                                ? ", callable-object=NAME" : "",
                                (extra & OPT_PASS_AUTH)
                                ? ", pass-authorization=On|Off" : "");
        }
        if (*value == '\0') {
            return apr_psprintf(cmd->pool,
                                "%s: option '%s=' is empty; give a %s",
                                directive, name,
                                option ? "name" : "value (On or Off)");
        }
        seen = option ? *option != NULL
                      : opts->pass_authorization != WSGID_UNSET;
        if (seen) {
            return apr_psprintf(cmd->pool,
                                "%s: option '%s' is given twice; keep one",
                                directive, name);
        }
        if (option) {
            *option = value;
        }
        else if (strcasecmp(value, "On") == 0 || strcasecmp(value, "Off") == 0) {
            opts->pass_authorization = strcasecmp(value, "On") == 0;
        }
        else {
            return apr_psprintf(cmd->pool,
                                "%s: option 'pass-authorization=%s' must be "
                                "On or Off", directive, value);
        }
    }
    if (opts->callable_object && !wsgid_valid_identifier(opts->callable_object)) {
        return apr_psprintf(cmd->pool,
                            "%s: callable-object=%s is not a Python "
                            "identifier; name the callable of the script, "
                            "e.g. callable-object=application", directive,
                            opts->callable_object);
    }
    return NULL;
}

/* A group value that names no per-request expansion; %{GLOBAL} counts as
 * plain, as in mod_wsgi, which turns it into "" before looking for "%{". */
static int fixed_group_value(const char *value)
{
    return value != NULL
           && (strcmp(value, "%{GLOBAL}") == 0 || strstr(value, "%{") == NULL);
}

/* WSGIScriptAlias, and since mod_wsgi 4.6 WSGIScriptAliasMatch, with both
 * options, neither a per-request expansion, and a target that names one
 * file (no $N): the target is preloaded like a WSGIImportScript with the
 * same options, so it becomes one, in file order.  A directory target has
 * no one script to preload. */
static void import_preloaded_target(cmd_parms *cmd,
                                    const wsgid_script_alias *alias)
{
    wsgid_import_script *script;
    apr_finfo_t finfo;

    if (!fixed_group_value(alias->process_group)
        || !wsgid_is_literal_group(alias->process_group)
        || !fixed_group_value(alias->application_group)
        || alias->target_dir != NULL
        || apr_stat(&finfo, alias->target, APR_FINFO_TYPE, cmd->temp_pool)
           != APR_SUCCESS || finfo.filetype != APR_REG) {
        return;
    }
    script = apr_array_push(wsgid_globals_for(cmd->pool)->import_scripts);
    script->path = alias->target;
    script->process_group = alias->process_group;
    script->application_group = alias->application_group;
    script->defined_at = alias->defined_at;
}

/* WSGIScriptAlias (cmd->info NULL) and WSGIScriptAliasMatch (non-NULL). */
const char *wsgid_cmd_script_alias(cmd_parms *cmd, void *dconf,
                                    const char *args)
{
    wsgid_server_config *sconf = wsgid_server_conf(cmd->server);
    wsgid_script_alias *alias;
    const char *url, *target;
    const char *directive = cmd->cmd->name;
    int is_match = cmd->info != NULL;
    const char *err = ap_check_cmd_context(cmd, NOT_IN_DIR_LOC_FILE);
    apr_finfo_t finfo;
    apr_size_t len;
    script_options opts;

    (void)dconf;
    if (err) {
        return err;
    }
    url = ap_getword_conf(cmd->pool, &args);
    target = ap_getword_conf(cmd->pool, &args);
    if (is_match && (*url == '\0' || *target != '/')) {
        return "WSGIScriptAliasMatch: write WSGIScriptAliasMatch REGEX "
               "TARGET [process-group=NAME] [application-group=NAME], with "
               "an absolute TARGET path that may use $1..$9 from REGEX";
    }
    if (!is_match && (*url != '/' || *target == '\0')) {
        return "WSGIScriptAlias: write WSGIScriptAlias URL-PATH SCRIPT "
               "[process-group=NAME] [application-group=NAME], with a "
               "URL-PATH starting with '/'";
    }
    alias = apr_array_push(sconf->aliases);
    memset(alias, 0, sizeof(*alias));
    alias->defined_at = wsgid_directive_place(cmd);
    alias->target = target;
    alias->written_target = target;
    if (is_match) {
        int has_subst;
        const char *literal = template_literal_prefix(cmd->pool, target,
                                                      &has_subst);

        alias->url = url;
        alias->regex = ap_pregcomp(cmd->pool, url, AP_REG_EXTENDED);
        if (alias->regex == NULL) {
            return apr_psprintf(cmd->pool,
                                "WSGIScriptAliasMatch: '%s' is not a valid "
                                "regular expression (POSIX extended syntax, "
                                "as in AliasMatch); correct it", url);
        }
        if (has_subst) {
            const char *slash = strrchr(literal, '/');

            alias->target_dir = apr_pstrmemdup(cmd->pool, literal,
                                               slash - literal);
            if (*alias->target_dir == '\0') {
                return apr_psprintf(cmd->pool,
                                    "WSGIScriptAliasMatch: the target '%s' "
                                    "substitutes into the root directory, "
                                    "so a URL could name any file of the "
                                    "system; put the $N part below the "
                                    "directory that holds the scripts, e.g. "
                                    "/srv/wsgi/$1.wsgi", target);
            }
        }
        else {
            alias->target = literal;
        }
    }
    else {
        /* The mount point is kept without a trailing slash ("" for "/"),
         * the form SCRIPT_NAME takes. */
        len = strlen(url);
        while (len > 0 && url[len - 1] == '/') {
            len--;
        }
        alias->url = apr_pstrmemdup(cmd->pool, url, len);
    }
    alias->target_is_dir = alias->target_dir == NULL
        && (alias->target[strlen(alias->target) - 1] == '/'
            || (apr_stat(&finfo, alias->target, APR_FINFO_TYPE,
                         cmd->temp_pool) == APR_SUCCESS
                && finfo.filetype == APR_DIR));
    err = parse_script_options(cmd, directive, args, ALIAS_OPTIONS, &opts);
    if (err) {
        return err;
    }
    alias->process_group = opts.process_group;
    alias->application_group = opts.application_group;
    alias->callable_object = opts.callable_object;
    alias->pass_authorization = opts.pass_authorization;
    if (alias->process_group) {
        wsgid_record_group_use(cmd, NULL, alias->process_group,
                         apr_pstrcat(cmd->pool, directive, " process-group=",
                                     NULL));
    }
    alias->server = cmd->server;
    /* every alias of every server goes into the daemon configuration */
    *(wsgid_script_alias *)apr_array_push(wsgid_globals_for(cmd->pool)->aliases)
        = *alias;
    import_preloaded_target(cmd, alias);
    return NULL;
}

#define IMPORT_SCRIPT_USAGE "write WSGIImportScript SCRIPT " \
    "process-group=NAME application-group=%{GLOBAL}"

/* The file's existence and the application group are checked by the
 * supervisor (check-config), which is where they matter; the module checks
 * the syntax and, in check_config, the process group. */
const char *wsgid_cmd_import_script(cmd_parms *cmd, void *dconf,
                                     const char *args)
{
    wsgid_import_script *script;
    const char *err = ap_check_cmd_context(cmd, NOT_IN_DIR_LOC_FILE);
    script_options opts;

    (void)dconf;
    if (err) {
        return err;
    }
    script = apr_pcalloc(cmd->pool, sizeof(*script));
    script->defined_at = wsgid_directive_place(cmd);
    script->path = ap_getword_conf(cmd->pool, &args);
    if (*script->path == '\0'
        || strncmp(script->path, "process-group=", 14) == 0
        || strncmp(script->path, "application-group=", 18) == 0) {
        return "WSGIImportScript: the script path is missing; "
               IMPORT_SCRIPT_USAGE;
    }
    err = parse_script_options(cmd, "WSGIImportScript", args, 0, &opts);
    if (err) {
        return err;
    }
    script->process_group = opts.process_group;
    script->application_group = opts.application_group;
    /* mod_wsgi requires both options too: nothing is guessed. */
    if (script->process_group == NULL) {
        return "WSGIImportScript: process-group= is missing: name the "
               "daemon group whose processes load the script; "
               IMPORT_SCRIPT_USAGE;
    }
    if (script->application_group == NULL) {
        return "WSGIImportScript: application-group= is missing: name the "
               "application group the script is loaded into; "
               IMPORT_SCRIPT_USAGE;
    }
    if (!wsgid_is_literal_group(script->process_group)) {
        return apr_psprintf(cmd->pool,
                            "WSGIImportScript: process-group=%s is not "
                            "supported: wsgid has no embedded mode, so an "
                            "import script runs in a daemon group; name a "
                            "group defined with WSGIDaemonProcess",
                            script->process_group);
    }
    wsgid_record_group_use(cmd, NULL, script->process_group,
                     "WSGIImportScript process-group=");
    *(wsgid_import_script *)apr_array_push(wsgid_globals_for(cmd->pool)
                                           ->import_scripts) = *script;
    return NULL;
}

static const char *const hook_directives[WSGID_HOOK_KINDS] = {
    "WSGIAccessScript", "WSGIAuthUserScript", "WSGIAuthGroupScript",
    "WSGIDispatchScript"
};

const char *wsgid_hook_directive(wsgid_hook_kind kind)
{
    return hook_directives[kind];
}

/* WSGIAccessScript, WSGIAuthUserScript, WSGIAuthGroupScript and
 * WSGIDispatchScript: SCRIPT [process-group=NAME] [application-group=NAME].
 * The access, user and group scripts may be named in .htaccess
 * (AllowOverride AuthConfig), as in mod_wsgi: the daemons run such a script
 * only from inside a <Directory> whose .htaccess may do so (wsgid_script_dirs.c).
 * The file itself is checked by the supervisor (check-config). */
const char *wsgid_cmd_hook_script(cmd_parms *cmd, void *dconf,
                                   const char *args)
{
    wsgid_dir_config *conf = dconf;
    wsgid_hook_script *script = apr_pcalloc(cmd->pool, sizeof(*script));
    const char *err;
    script_options opts;

    while (strcmp(hook_directives[script->kind], cmd->cmd->name) != 0) {
        script->kind++;
    }
    script->defined_at = wsgid_directive_place(cmd);
    script->server = cmd->server;
    script->section = cmd->path ? dconf : NULL;
    script->path = ap_getword_conf(cmd->pool, &args);
    if (*script->path != '/') {
        return apr_psprintf(cmd->pool,
                            "%s: the first argument must be the absolute "
                            "path of the script; write %s /path/to/script "
                            "[process-group=NAME] [application-group=NAME]",
                            cmd->cmd->name, cmd->cmd->name);
    }
    err = parse_script_options(cmd, cmd->cmd->name, args, 0, &opts);
    if (err) {
        return err;
    }
    script->process_group = opts.process_group;
    script->application_group = opts.application_group;
    if (script->process_group
        && strcmp(script->process_group, "%{GLOBAL}") == 0) {
        /* mod_wsgi: run it inside Apache; wsgid: in the request's group or
         * the default group (wsgid_default_group.c) */
        script->process_group = NULL;
    }
    if (script->process_group) {
        wsgid_record_group_use(cmd, cmd->path ? dconf : NULL, script->process_group,
                         apr_pstrcat(cmd->pool, cmd->cmd->name,
                                     " process-group=", NULL));
    }
    conf->hooks[script->kind] = script;
    APR_ARRAY_PUSH(wsgid_globals_for(cmd->pool)->hook_scripts,
                   wsgid_hook_script *) = script;
    return NULL;
}

/* WSGIHandlerScript NAME SCRIPT [process-group=] [application-group=]
 * [pass-authorization=]: a request whose handler is NAME (AddHandler NAME
 * .ext, SetHandler NAME) is served by handle_request() of SCRIPT, with the
 * requested file as SCRIPT_FILENAME, as in mod_wsgi.  The daemons run only
 * the handler scripts this names (the daemon file lists them). */
const char *wsgid_cmd_handler_script(cmd_parms *cmd, void *dconf,
                                      const char *args)
{
    wsgid_dir_config *conf = dconf;
    wsgid_handler_script *script = apr_pcalloc(cmd->pool, sizeof(*script));
    script_options opts;
    const char *err;

    script->name = ap_getword_conf(cmd->pool, &args);
    script->path = ap_getword_conf(cmd->pool, &args);
    if (*script->name == '\0' || *script->path != '/') {
        return "WSGIHandlerScript: write WSGIHandlerScript NAME /path/to/script "
               "[process-group=NAME] [application-group=NAME] "
               "[pass-authorization=On|Off], then map files to NAME with "
               "AddHandler NAME .ext or SetHandler NAME";
    }
    err = parse_script_options(cmd, "WSGIHandlerScript", args, OPT_PASS_AUTH,
                               &opts);
    if (err) {
        return err;
    }
    script->process_group = wsgid_names_daemon_group(opts.process_group)
                            ? opts.process_group : NULL;
    script->application_group = opts.application_group;
    script->pass_authorization = opts.pass_authorization;
    script->defined_at = wsgid_directive_place(cmd);
    script->server = cmd->server;
    script->section = cmd->path ? dconf : NULL;
    if (script->process_group) {
        wsgid_record_group_use(cmd, cmd->path ? dconf : NULL, script->process_group,
                         "WSGIHandlerScript process-group=");
    }
    if (conf->handler_scripts == NULL) {
        conf->handler_scripts = apr_hash_make(cmd->pool);
    }
    apr_hash_set(conf->handler_scripts, script->name, APR_HASH_KEY_STRING,
                 script);
    APR_ARRAY_PUSH(wsgid_globals_for(cmd->pool)->handler_scripts,
                   wsgid_handler_script *) = script;
    return NULL;
}
