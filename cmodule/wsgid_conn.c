/*
 * wsgid_conn.c: socket paths of the daemon groups and connect with retry.
 *
 * Rules: a path is never truncated: one that could be too long for
 * sun_path is a configuration error naming WSGISocketPrefix.  Connecting
 * retries only the errors that mean "the daemon is (re)starting or busy"
 * (ENOENT, ECONNREFUSED, and EAGAIN, which Linux returns for a full
 * listen backlog on a non-blocking unix socket; and EACCES from a socket
 * root owns, or owned until a moment ago, which the supervisor has bound
 * and is giving to the Apache user) and never beyond the group's
 * connect-timeout.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "apr_file_io.h"
#include "apr_portable.h"
#include "apr_strings.h"

#include "httpd.h"
#include "http_config.h"
#include "http_core.h"
#include "http_log.h"

#include "wsgid_conn.h"

APLOG_USE_MODULE(wsgid);

#define CONNECT_FIRST_DELAY apr_time_from_msec(10)
#define CONNECT_MAX_DELAY apr_time_from_msec(500)
/* Linux's PID_MAX_LIMIT is 2^22, seven digits; used if /proc says nothing */
#define FALLBACK_PID_DIGITS 7

apr_size_t wsgid_socket_path_limit(void)
{
    struct sockaddr_un sa;

    return sizeof(sa.sun_path) - 1;
}

const char *wsgid_socket_prefix(apr_pool_t *p, const wsgid_globals *g)
{
    /* A written prefix is relative to ServerRoot, as in mod_wsgi (Red Hat's
     * "WSGISocketPrefix run/wsgi" is /etc/httpd/run/wsgi); the default lives
     * in the runtime directory. */
    if (g->socket_prefix != NULL) {
        return ap_server_root_relative(p, g->socket_prefix);
    }
    return ap_runtime_dir_relative(p, WSGID_DEFAULT_SOCKET_PREFIX);
}

const char *wsgid_socket_path(apr_pool_t *p, const char *prefix,
                              apr_int64_t apache_pid, int rotation,
                              int generation, const char *group)
{
    if (rotation) {
        return apr_psprintf(p, "%s.%" APR_INT64_T_FMT ".%d.%s"
                            WSGID_GROUP_SOCKET_SUFFIX, prefix,
                            apache_pid, generation, group);
    }
    return apr_psprintf(p, "%s.%" APR_INT64_T_FMT ".%s"
                        WSGID_GROUP_SOCKET_SUFFIX, prefix,
                        apache_pid, group);
}

/* The widest pid this system can hand out, as a pid of that many nines:
 * the Apache parent's pid is not known before it detaches. */
static apr_int64_t widest_pid(apr_pool_t *p)
{
    apr_file_t *f;
    char buf[32];
    apr_size_t n = sizeof(buf) - 1;
    apr_int64_t pid_max = 0, widest = 0;
    int digits = 0;

    if (apr_file_open(&f, "/proc/sys/kernel/pid_max", APR_FOPEN_READ,
                      APR_OS_DEFAULT, p) == APR_SUCCESS) {
        if (apr_file_read(f, buf, &n) == APR_SUCCESS) {
            buf[n] = '\0';
            pid_max = apr_atoi64(buf);
        }
        apr_file_close(f);
    }
    for (pid_max = pid_max > 1 ? pid_max - 1 : 0; pid_max > 0; pid_max /= 10) {
        digits++;
    }
    if (digits == 0) {
        digits = FALLBACK_PID_DIGITS;
    }
    while (digits-- > 0) {
        widest = widest * 10 + 9;
    }
    return widest;
}

int wsgid_check_socket_paths(wsgid_globals *g, apr_pool_t *p,
                             server_rec *main_server)
{
    const char *prefix = wsgid_socket_prefix(p, g);
    int rotation = wsgid_socket_rotation(g);
    int generation = ap_state_query(AP_SQ_CONFIG_GEN);
    apr_int64_t widest = widest_pid(p);
    apr_size_t limit = wsgid_socket_path_limit();
    const char *slash = strrchr(prefix, '/');
    const char *dir = slash ? apr_pstrmemdup(p, prefix, slash - prefix + 1)
                            : ".";
    apr_finfo_t finfo;
    int i, rv = OK;

    if (g->groups->nelts > 0
        && (apr_stat(&finfo, dir, APR_FINFO_TYPE, p) != APR_SUCCESS
            || finfo.filetype != APR_DIR)) {
        ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_CRIT, 0, main_server,
                     "mod_wsgid: the directory %s of the socket prefix %s "
                     "does not exist; WSGISocketPrefix is a path prefix "
                     "(relative to ServerRoot unless absolute) whose "
                     "directory must exist: create it or set "
                     "WSGISocketPrefix accordingly", dir, prefix);
        rv = HTTP_INTERNAL_SERVER_ERROR;
    }
    for (i = 0; i < g->groups->nelts; i++) {
        wsgid_daemon_group *group = APR_ARRAY_IDX(g->groups, i,
                                                  wsgid_daemon_group *);
        const char *worst = wsgid_socket_path(p, prefix, widest, rotation,
                                              generation, group->name);

        group->socket_path = wsgid_socket_path(p, prefix, getpid(), rotation,
                                               generation, group->name);
        if (strlen(worst) > limit) {
            ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_CRIT, 0,
                         main_server,
                         "mod_wsgid: the socket path of WSGIDaemonProcess "
                         "group '%s' (defined at %s) is too long: '%s' can "
                         "be %" APR_SIZE_T_FMT " bytes with the longest "
                         "Apache pid of this system (like '%s'), but a unix "
                         "socket path may have at most %" APR_SIZE_T_FMT
                         " bytes; set WSGISocketPrefix to a shorter path "
                         "(this one, '%s', is %" APR_SIZE_T_FMT " bytes and "
                         "needs to lose %" APR_SIZE_T_FMT ")",
                         group->name, group->defined_at, group->socket_path,
                         strlen(worst), worst, limit, prefix, strlen(prefix),
                         strlen(worst) - limit);
            rv = HTTP_INTERNAL_SERVER_ERROR;
        }
    }
    return rv;
}

int wsgid_assign_socket_paths(wsgid_globals *g, apr_pool_t *p,
                              server_rec *main_server)
{
    const char *prefix = wsgid_socket_prefix(p, g);
    int rotation = wsgid_socket_rotation(g);
    int generation = ap_state_query(AP_SQ_CONFIG_GEN);
    apr_size_t limit = wsgid_socket_path_limit();
    int i, rv = OK;

    for (i = 0; i < g->groups->nelts; i++) {
        wsgid_daemon_group *group = APR_ARRAY_IDX(g->groups, i,
                                                  wsgid_daemon_group *);

        group->socket_path = wsgid_socket_path(p, prefix, getpid(), rotation,
                                               generation, group->name);
        /* Only a generation number that grew a digit can get here. */
        if (strlen(group->socket_path) > limit) {
            ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_CRIT, 0,
                         main_server,
                         "mod_wsgid: the socket path of WSGIDaemonProcess "
                         "group '%s' is %" APR_SIZE_T_FMT " bytes long "
                         "('%s'), more than the %" APR_SIZE_T_FMT " a unix "
                         "socket path may have; set WSGISocketPrefix to a "
                         "shorter path or WSGISocketRotation Off",
                         group->name, strlen(group->socket_path),
                         group->socket_path, limit);
            rv = HTTP_INTERNAL_SERVER_ERROR;
        }
    }
    return rv;
}

static apr_status_t close_socket(void *data)
{
    apr_socket_t *sock = data;
    apr_os_sock_t fd = -1;

    apr_os_sock_get(&fd, sock);
    if (fd != -1) {
        apr_socket_close(sock);
    }
    return APR_SUCCESS;
}

static int worth_retrying(int err, const char *path)
{
    struct stat st;

    if (err == EACCES) {
        /* The supervisor binds a group's socket as root, then chowns it to
         * the Apache user (wsgid/sockets.py): a connect in between is
         * refused.  By the time we look the chown may be done, so a socket
         * that is ours now refused us for that reason too.  A socket of any
         * other owner that refuses us is a real permission error, told at
         * once. */
        return geteuid() != 0 && stat(path, &st) == 0 && S_ISSOCK(st.st_mode)
               && (st.st_uid == 0 || st.st_uid == geteuid());
    }
    return err == ENOENT || err == ECONNREFUSED || err == EAGAIN
           || err == EWOULDBLOCK || err == EINPROGRESS;
}

apr_status_t wsgid_connect_with_retry(apr_pool_t *p, const char *path,
                                      apr_interval_time_t timeout,
                                      apr_socket_t **sock,
                                      wsgid_connect_info *info)
{
    struct sockaddr_un sa;
    apr_time_t deadline = apr_time_now() + timeout;
    apr_interval_time_t delay = CONNECT_FIRST_DELAY;
    apr_os_sock_t fd;
    int err;

    info->attempts = 0;
    info->backlog_full = 0;
    *sock = NULL;
    if (strlen(path) >= sizeof(sa.sun_path)) {
        return APR_FROM_OS_ERROR(ENAMETOOLONG);
    }
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, path, strlen(path) + 1);

    for (;;) {
        apr_time_t now;

        /* Non-blocking, so that a full backlog is EAGAIN at once instead
         * of a connect() that blocks past connect-timeout. */
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0) {
            return APR_FROM_OS_ERROR(errno);
        }
        info->attempts++;
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
            break;
        }
        err = errno;
        close(fd);
        if (err == EINTR) {
            continue;
        }
        if (!worth_retrying(err, path)) {
            return APR_FROM_OS_ERROR(err);
        }
        info->backlog_full = (err == EAGAIN || err == EWOULDBLOCK);
        now = apr_time_now();
        if (now >= deadline) {
            return APR_FROM_OS_ERROR(err);
        }
        apr_sleep(delay < deadline - now ? delay : deadline - now);
        delay = delay * 2 > CONNECT_MAX_DELAY ? CONNECT_MAX_DELAY : delay * 2;
    }
    info->backlog_full = 0;
    apr_os_sock_put(sock, &fd, p);
    apr_pool_cleanup_register(p, *sock, close_socket, apr_pool_cleanup_null);
    return APR_SUCCESS;
}
