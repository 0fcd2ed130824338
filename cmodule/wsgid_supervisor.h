/*
 * wsgid_supervisor.h: managed mode (docs/internals.md): the Apache parent
 * writes the daemon configuration file, has `PYTHON -m wsgid check-config`
 * validate it, runs `PYTHON -m wsgid supervise` as an Apache "other
 * child", restarts it (with back-off) when it dies, makes it reload on
 * Apache restarts, and stops it when Apache exits.
 */
#ifndef WSGID_SUPERVISOR_H
#define WSGID_SUPERVISOR_H

#include "httpd.h"

#include "wsgid_config.h"

/* check_config hook: run `PYTHON -m wsgid check-config` on the daemon
 * configuration of this load.  Its stderr reaches the user as it is. */
int wsgid_supervisor_check_config(wsgid_globals *g, apr_pool_t *pconf,
                                  apr_pool_t *ptemp, server_rec *s);

/* post_config hook (in the Apache parent, after the socket paths are
 * assigned): start the supervisor or make the running one reload. */
int wsgid_supervisor_post_config(wsgid_globals *g, apr_pool_t *pconf,
                                 apr_pool_t *ptemp, server_rec *s);

#endif /* WSGID_SUPERVISOR_H */
