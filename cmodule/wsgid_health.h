/*
 * wsgid_health.h: the `wsgid-health` handler (docs/operations.md,
 * "Health"), mounted like mod_status's server-status:
 *
 *     <Location /healthz>
 *         SetHandler wsgid-health
 *         WSGIProcessGroup site
 *     </Location>
 *
 * It asks the supervisor about the group in scope on the twin of the
 * group's socket (wsgid/health.py) and answers 200 while the group has a
 * process ready to take a request, else 503, with the supervisor's small
 * JSON document; a supervisor that does not answer is 503 "down".  It
 * never reaches a daemon process or the application.
 */
#ifndef WSGID_HEALTH_H
#define WSGID_HEALTH_H

#include "httpd.h"

#define WSGID_HEALTH_HANDLER "wsgid-health"

/* The twin of a group socket path: a ".sock" ending replaced by ".hc",
 * else ".hc" added (wsgid/health.py: health_socket_path). */
const char *wsgid_health_socket_path(apr_pool_t *p, const char *socket_path);

/* The handler: DECLINED unless r's handler is WSGID_HEALTH_HANDLER. */
int wsgid_health_handler(request_rec *r);

#endif /* WSGID_HEALTH_H */
