/*
 * wsgid_translate.h: from a URL to the WSGI script that serves it
 * (wsgid_translate.c).
 */
#ifndef WSGID_TRANSLATE_H
#define WSGID_TRANSLATE_H

#include "httpd.h"

#include "wsgid_config.h"

/* The handler names mod_wsgid serves: mod_wsgi's, and its other name for it
 * (AddType application/x-httpd-wsgi .wsgi). */
#define WSGID_HANDLER "wsgi-script"
#define WSGID_HANDLER_TYPE "application/x-httpd-wsgi"

/* translate_name: a URL under a WSGIScriptAlias(Match) becomes its script's
 * path (r->filename), the handler wsgi-script, and the alias the request's
 * config (wsgid_alias_match); DECLINED for any other URL, 404 for a
 * substitution that would leave the target's directory. */
int wsgid_translate_name(request_rec *r);

/* A WSGIScriptAliasMatch script made with $N must be the substituted path
 * itself (or a file in it, when that is a directory), and its real path,
 * symlinks resolved, must lie inside the target's directory: OK, or 404
 * with one log line. */
int wsgid_check_match_script(request_rec *r, const wsgid_alias_match *match);

#endif /* WSGID_TRANSLATE_H */
