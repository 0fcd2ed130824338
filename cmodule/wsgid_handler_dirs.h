/*
 * wsgid_handler_dirs.h: the directories whose scripts a handler-style
 * deployment (AddHandler/SetHandler wsgi-script) may run
 * (wsgid_handler_dirs.c).
 */
#ifndef WSGID_HANDLER_DIRS_H
#define WSGID_HANDLER_DIRS_H

#include "wsgid_config.h"

/* check_config: fill g->handler_dirs from the configuration tree. */
void wsgid_collect_handler_dirs(wsgid_globals *g, apr_pool_t *pconf);

#endif /* WSGID_HANDLER_DIRS_H */
