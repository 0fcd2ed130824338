/*
 * wsgid_default_group.h: the daemon group for the scripts mod_wsgi would run
 * inside Apache (wsgid_default_group.c).
 */
#ifndef WSGID_DEFAULT_GROUP_H
#define WSGID_DEFAULT_GROUP_H

#include "httpd.h"

#include "wsgid_config.h"

/* Its name (a number is added if a WSGIDaemonProcess has it) and options:
 * mod_wsgi's WSGIDaemonProcess defaults. */
#define WSGID_DEFAULT_GROUP_NAME "wsgid-default"
#define WSGID_DEFAULT_GROUP_OPTIONS "processes=1 threads=15"

/* check_config, before the groups are checked and given sockets: define
 * g->default_group when some script has no daemon group and
 * WSGIRestrictEmbedded is not On, and queue the startup line that says so.
 * OK. */
int wsgid_define_default_group(wsgid_globals *g, apr_pool_t *pconf,
                               server_rec *main);

#endif /* WSGID_DEFAULT_GROUP_H */
