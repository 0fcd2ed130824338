/*
 * wsgid_conn.h: where a daemon group's socket is, and getting connected to
 * it (docs/internals.md, "Socket paths").
 *
 * Path: <prefix>.<apache-pid>.<generation>.<group>.sock with
 * WSGISocketRotation On, <prefix>.<apache-pid>.<group>.sock with Off; the
 * prefix is relative to Apache's runtime directory unless absolute.
 * Connect: retry while the socket is missing, refusing or its listen
 * backlog is full, with a doubling sleep bounded by connect-timeout.
 */
#ifndef WSGID_CONN_H
#define WSGID_CONN_H

#include "apr_network_io.h"
#include "httpd.h"

#include "wsgid_config.h"

/* How a group socket path that the module or WSGISocketPrefix makes ends
 * (wsgid/sockets.py: GROUP_SOCKET_SUFFIX). */
#define WSGID_GROUP_SOCKET_SUFFIX ".sock"

/* The longest socket path connect() can take (sizeof(sun_path) - 1). */
apr_size_t wsgid_socket_path_limit(void);

/* The prefix as a path: WSGISocketPrefix resolved against the runtime
 * directory, or the default. */
const char *wsgid_socket_prefix(apr_pool_t *p, const wsgid_globals *g);

const char *wsgid_socket_path(apr_pool_t *p, const char *prefix,
                              apr_int64_t apache_pid, int rotation,
                              int generation, const char *group);

/* check_config: set every group's socket_path (for this process's pid and
 * generation) and fail, with one message per group, when a path could
 * exceed the limit for any Apache pid this system can hand out. */
int wsgid_check_socket_paths(wsgid_globals *g, apr_pool_t *p,
                             server_rec *main_server);

/* post_config in the Apache parent: the real paths the children use. */
int wsgid_assign_socket_paths(wsgid_globals *g, apr_pool_t *p,
                              server_rec *main_server);

typedef struct {
    int attempts;
    int backlog_full;      /* the last failure was EAGAIN: backlog full */
} wsgid_connect_info;

/*
 * Connect to the unix socket at path.  ENOENT, ECONNREFUSED and EAGAIN are
 * retried with a sleep doubling from 10 ms up to 500 ms until timeout has
 * passed; any other error fails at once.  On success *sock is an APR socket
 * in pool p (closed by a cleanup of p at the latest).  Returns the errno of
 * the last attempt as an apr_status_t.
 */
apr_status_t wsgid_connect_with_retry(apr_pool_t *p, const char *path,
                                      apr_interval_time_t timeout,
                                      apr_socket_t **sock,
                                      wsgid_connect_info *info);

#endif /* WSGID_CONN_H */
