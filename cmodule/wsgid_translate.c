/*
 * wsgid_translate.c: from a URL to the WSGI script that serves it.
 * WSGIScriptAlias maps a mount point (as mod_alias maps Alias), and
 * WSGIScriptAliasMatch a regular expression whose $N may choose the script;
 * the core's directory walk then finds the script file in the path and the
 * rest becomes PATH_INFO, as in mod_wsgi.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>

#include "apr_strings.h"

#include "httpd.h"
#include "http_config.h"
#include "http_log.h"

#include "wsgid_config.h"
#include "wsgid_translate.h"

APLOG_USE_MODULE(wsgid);

/* Length of uri matched by the mount point url ("" is "/"), or 0. */
static apr_size_t mount_matches(const char *uri, const char *url)
{
    apr_size_t len = strlen(url);

    if (len == 0) {
        return uri[0] == '/' ? 1 : 0;   /* the root mount takes everything */
    }
    if (strncmp(uri, url, len) != 0) {
        return 0;
    }
    return (uri[len] == '\0' || uri[len] == '/') ? len : 0;
}

/* Does a substituted script path have a "." or ".." segment?  Apache
 * removed those from the URL (decoded %2e too), but a capture can still
 * put one together ("/a..b" with REGEX ^/a(.*)b gives ".."). */
static int has_dot_segment(const char *path)
{
    const char *seg = path;

    for (;;) {
        apr_size_t len = strcspn(seg, "/");

        if ((len == 1 && seg[0] == '.')
            || (len == 2 && seg[0] == '.' && seg[1] == '.')) {
            return 1;
        }
        if (seg[len] == '\0') {
            return 0;
        }
        seg += len + 1;
    }
}

/* WSGIScriptAliasMatch: r->filename is TARGET with $N from the match, plus
 * the rest of the URL after the match (mod_wsgi's rule), so SCRIPT_NAME
 * ends where the match ends.  DECLINED if the regex does not match. */
static int translate_match(request_rec *r, const wsgid_script_alias *alias,
                           wsgid_alias_match *match)
{
    ap_regmatch_t m[AP_MAX_REG_MATCH];
    const char *target, *rest;

    if (ap_regexec(alias->regex, r->uri, AP_MAX_REG_MATCH, m, 0) != 0) {
        return DECLINED;
    }
    target = alias->target;
    if (alias->target_dir != NULL) {
        target = ap_pregsub(r->pool, alias->target, r->uri, AP_MAX_REG_MATCH,
                            m);
        if (target == NULL || has_dot_segment(target)) {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                          "mod_wsgid: WSGIScriptAliasMatch at %s: refused "
                          "%s: the script path it makes (%s) %s; answering "
                          "404", alias->defined_at, r->uri,
                          target ? target : "too long",
                          target ? "has a '.' or '..' segment"
                                 : "cannot be built");
            return HTTP_NOT_FOUND;
        }
        match->script_path = target;
    }
    /* a match of just "/" leaves the whole URL as the rest, like a mount
     * at "/" (SCRIPT_NAME "") */
    rest = m[0].rm_eo == 1 && r->uri[0] == '/' ? r->uri : r->uri + m[0].rm_eo;
    if (*rest == '/' && *target && target[strlen(target) - 1] == '/') {
        target = apr_pstrmemdup(r->pool, target, strlen(target) - 1);
    }
    r->filename = apr_pstrcat(r->pool, target, rest, NULL);
    return OK;
}

int wsgid_translate_name(request_rec *r)
{
    wsgid_server_config *sconf = wsgid_server_conf(r->server);
    int i;

    if (r->uri[0] != '/') {
        return DECLINED;
    }
    for (i = 0; i < sconf->aliases->nelts; i++) {
        wsgid_script_alias *alias = &APR_ARRAY_IDX(sconf->aliases, i,
                                                   wsgid_script_alias);
        wsgid_alias_match *match = apr_pcalloc(r->pool, sizeof(*match));
        const char *rest;
        apr_size_t target_len;

        match->alias = alias;
        if (alias->regex != NULL) {
            int status = translate_match(r, alias, match);

            if (status == DECLINED) {
                continue;
            }
            if (status != OK) {
                return status;
            }
        }
        else {
            if (!mount_matches(r->uri, alias->url)) {
                continue;
            }
            rest = r->uri + strlen(alias->url);
            target_len = strlen(alias->target);
            if (alias->target[target_len - 1] == '/') {
                target_len--;
            }
            /* As mod_alias does: the core's directory walk then finds the
             * script file in this path and sets r->path_info to the rest. */
            r->filename = apr_pstrcat(r->pool,
                                      apr_pstrmemdup(r->pool, alias->target,
                                                     target_len),
                                      rest, NULL);
        }
        r->handler = WSGID_HANDLER;
        ap_set_module_config(r->request_config, &wsgid_module, match);
        return OK;
    }
    return DECLINED;
}

/* A WSGIScriptAliasMatch script made with $N must be the substituted path
 * itself (or a file in it, when that is a directory), and its real path,
 * symlinks resolved, must lie inside the target's directory: the URL never
 * reaches a file outside it.  OK, or 404 with one log line. */
int wsgid_check_match_script(request_rec *r,
                             const wsgid_alias_match *match)
{
    const char *script = match->script_path;
    apr_size_t len = strlen(script);
    char real[PATH_MAX], real_dir[PATH_MAX];
    const char *problem = NULL;

    while (len > 1 && script[len - 1] == '/') {
        len--;
    }
    if (strncmp(r->filename, script, len) != 0
        || (r->filename[len] != '\0' && r->filename[len] != '/')) {
        problem = "is not the script path the match made";
    }
    else if (realpath(r->filename, real) == NULL
             || realpath(match->alias->target_dir, real_dir) == NULL) {
        problem = apr_psprintf(r->pool, "cannot be resolved (%s)",
                               strerror(errno));
    }
    else if (strncmp(real, real_dir, strlen(real_dir)) != 0
             || real[strlen(real_dir)] != '/') {
        problem = apr_psprintf(r->pool, "resolves to %s, outside %s", real,
                               real_dir);
    }
    if (problem == NULL) {
        return OK;
    }
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                  "mod_wsgid: WSGIScriptAliasMatch at %s: refused %s: the "
                  "script %s %s; answering 404", match->alias->defined_at,
                  r->uri, r->filename, problem);
    return HTTP_NOT_FOUND;
}
