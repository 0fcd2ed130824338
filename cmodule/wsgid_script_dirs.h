/*
 * wsgid_script_dirs.h: the directories whose scripts the daemons may run
 * though no directive names them: handler-mapped scripts (AddHandler/
 * SetHandler wsgi-script), hook scripts named in .htaccess
 * (wsgid_script_dirs.c).
 */
#ifndef WSGID_SCRIPT_DIRS_H
#define WSGID_SCRIPT_DIRS_H

#include "wsgid_config.h"

/* check_config: fill g->handler_dirs and g->hook_dirs from the
 * configuration tree. */
void wsgid_collect_script_dirs(wsgid_globals *g, apr_pool_t *pconf);

#endif /* WSGID_SCRIPT_DIRS_H */
