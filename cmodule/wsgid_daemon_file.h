/*
 * wsgid_daemon_file.h: the texts of the daemon configuration file and of
 * FILE.children (wsgid_daemon_file.c).
 */
#ifndef WSGID_DAEMON_FILE_H
#define WSGID_DAEMON_FILE_H

#include "httpd.h"

#include "wsgid_config.h"

/* The daemon configuration file for configuration g of server s. */
const char *wsgid_daemon_file_text(wsgid_globals *g, apr_pool_t *p,
                                   server_rec *s);

/* FILE.children: the Apache children alive now, one pid a line.  Called
 * while a new generation is configured, before the MPM starts its children:
 * every child listed belongs to an earlier generation. */
const char *wsgid_children_file_text(apr_pool_t *p);

#endif /* WSGID_DAEMON_FILE_H */
