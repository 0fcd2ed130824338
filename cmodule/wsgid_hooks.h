/*
 * wsgid_hooks.h: the access, authentication, authorization and dispatch
 * hooks of mod_wsgi (WSGIAccessScript, the 'wsgi' AuthBasicProvider and
 * AuthDigestProvider, 'Require wsgi-group', WSGIDispatchScript), run as
 * hook calls in a daemon group (docs/protocol.md, "Hook calls").
 */
#ifndef WSGID_HOOKS_H
#define WSGID_HOOKS_H

#include "httpd.h"

#include "wsgid_config.h"

/* Register the access checker and the two auth providers. */
void wsgid_hooks_register(apr_pool_t *p);

/* The WSGIDispatchScript in effect for the handler: its answers replace
 * *process_group, *application_group and *callable_object (as written,
 * expanded later like the configured ones).  OK, or the status that ends
 * the request (500 for an error of the script, already logged). */
int wsgid_hook_dispatch(request_rec *r, const char **process_group,
                        const char **application_group,
                        const char **callable_object);

#endif /* WSGID_HOOKS_H */
