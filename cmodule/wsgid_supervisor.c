/*
 * wsgid_supervisor.c: managed mode, all in the Apache parent.
 *
 * Life cycle (docs/internals.md):
 *   check_config  write the daemon configuration to a temporary file and
 *                 run `PYTHON -m wsgid check-config FILE`; non-zero fails
 *                 the configuration (also for `apachectl configtest`).
 *   post_config   (not on the pre-detach pass) write <prefix>.<pid>.conf,
 *                 then spawn `PYTHON -m wsgid supervise --config FILE
 *                 --managed-by PID`, or make the one still running from an
 *                 earlier generation reload: write FILE.children (the
 *                 Apache children alive now, all of earlier generations),
 *                 then SIGHUP; register it as an other child.
 *   death         the MPM reports it; restart it unless Apache is
 *                 stopping, at most once a second, backing off while it
 *                 keeps dying young.
 *   exit          pconf cleanup with the main state AP_SQ_MS_EXITING
 *                 (server/main.c sets it just before destroying the
 *                 process pool): SIGTERM, bounded wait, SIGKILL.
 *
 * Rules: the supervisor's pid survives restarts in userdata of
 * s->process->pool, as plain data; every function pointer of this module
 * is registered on pconf only, because the DSO is unloaded with pconf.
 * The supervisor inherits Apache's stdin, stdout and stderr (the main
 * error log): no pipes, so Apache children hold no descriptor of it.
 * FILE.children is written after FILE and before the SIGHUP, so a
 * supervisor that reads FILE and then FILE.children never sees a list
 * older than the configuration it loaded.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

#include "apr_file_io.h"
#include "apr_strings.h"
#include "apr_thread_proc.h"

#include "httpd.h"
#include "http_config.h"
#include "http_core.h"
#include "http_log.h"
#include "ap_mpm.h"

#include "wsgid_conn.h"
#include "wsgid_daemon_file.h"
#include "wsgid_supervisor.h"

APLOG_USE_MODULE(wsgid);

#define RETAINED_KEY "wsgid_module:supervisor"
/* Appended to the daemon configuration file's path: the Apache children
 * that may still connect to the sockets of groups leaving the
 * configuration (docs/internals.md, "Graceful restarts"). */
#define CHILDREN_SUFFIX ".children"
/* wsgid/control.py: the supervisor's control socket is FILE + this */
#define CONTROL_SUFFIX ".control"
/* A stopping supervisor gives its daemons the largest shutdown-timeout of
 * their groups, SIGKILLs the overstayers a second later and waits up to 2 s
 * to reap them (wsgid/states.py, wsgid/supervisor.py); Apache waits that
 * long plus this margin before it kills the supervisor itself. */
#define STOP_MARGIN apr_time_from_sec(5)
#define STOP_POLL apr_time_from_msec(20)
/* A supervisor that lived this long died of something new: no back-off. */
#define HEALTHY_UPTIME apr_time_from_sec(10)
#define MIN_RESTART_INTERVAL apr_time_from_sec(1)
#define MAX_RESTART_DELAY apr_time_from_sec(30)

/* Survives Apache restarts (process pool); plain data only. */
typedef struct {
    apr_proc_t proc;                 /* pid 0: none running */
    apr_time_t started;
    apr_interval_time_t backoff;     /* next delay if it dies young */
    char *config_path;               /* the --config the running one got */
    apr_interval_time_t stop_timeout; /* how long it may take to stop */
} wsgid_retained;

/* One configuration generation (pconf). */
typedef struct {
    wsgid_retained *retained;
    const char *python;
    server_rec *s;
    apr_pool_t *pconf;
    pid_t apache_pid;
} wsgid_run;

/* --- writing the files the supervisor reads ----------------------------- */

/* Write text to a new file next to path, then rename it into place, so
 * that a reloading supervisor never reads half a file. */
static apr_status_t write_file_atomically(const char *path, const char *text,
                                          apr_pool_t *p)
{
    apr_file_t *f;
    char *tmp = apr_pstrcat(p, path, ".XXXXXX", NULL);
    apr_size_t len = strlen(text);
    apr_status_t rv;

    rv = apr_file_mktemp(&f, tmp, APR_FOPEN_CREATE | APR_FOPEN_WRITE
                         | APR_FOPEN_EXCL, p);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    rv = apr_file_write_full(f, text, len, NULL);
    if (rv == APR_SUCCESS) {
        rv = apr_file_close(f);
    }
    else {
        apr_file_close(f);
    }
    if (rv == APR_SUCCESS) {
        rv = apr_file_rename(tmp, path, p);
    }
    if (rv != APR_SUCCESS) {
        apr_file_remove(tmp, p);
    }
    return rv;
}

/* --- check_config ------------------------------------------------------ */

static int python_usable(const char *python, server_rec *s)
{
    if (access(python, X_OK) == 0) {
        return 1;
    }
    ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_CRIT, errno, s,
                 "mod_wsgid: WSGIPythonExecutable %s cannot be executed; "
                 "paste the output of `wsgid module-config` (run with the "
                 "Python where wsgid is installed) into the Apache "
                 "configuration", python);
    return 0;
}

/* True for `httpd -k stop` and `-k graceful-stop`: such a command only
 * signals the running parent and never uses the configuration it reads, so
 * it must not depend on Python being usable (a removed virtualenv must not
 * keep Apache from stopping).  Apache removes -k from process->argv before
 * any hook runs (ap_mpm_rewrite_args), so the original command line is read
 * from /proc; where there is no /proc the check simply runs. */
static int only_stopping(apr_pool_t *ptemp)
{
    apr_file_t *f;
    char buf[4096];
    apr_size_t n = sizeof(buf) - 1;
    const char *arg, *end, *prev = "";

    if (apr_file_open(&f, "/proc/self/cmdline", APR_FOPEN_READ,
                      APR_OS_DEFAULT, ptemp) != APR_SUCCESS) {
        return 0;
    }
    if (apr_file_read(f, buf, &n) != APR_SUCCESS) {
        n = 0;
    }
    apr_file_close(f);
    buf[n] = '\0';
    for (arg = buf, end = buf + n; arg < end; arg += strlen(arg) + 1) {
        const char *action = strcmp(prev, "-k") == 0 ? arg
                             : strncmp(arg, "-k", 2) == 0 ? arg + 2 : NULL;

        if (action && (strcmp(action, "stop") == 0
                       || strcmp(action, "graceful-stop") == 0)) {
            return 1;
        }
        prev = arg;
    }
    return 0;
}

int wsgid_supervisor_check_config(wsgid_globals *g, apr_pool_t *pconf,
                                  apr_pool_t *ptemp, server_rec *s)
{
    const char *dir, *argv[6];
    char *path;
    apr_file_t *f;
    apr_procattr_t *attr;
    apr_proc_t proc;
    apr_exit_why_e why;
    int code;
    apr_status_t rv;
    const char *text;

    (void)pconf;
    if (g->groups->nelts == 0 || g->python_executable == NULL
        || only_stopping(ptemp)) {
        return OK;
    }
    if (!python_usable(g->python_executable, s)) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    text = wsgid_daemon_file_text(g, ptemp, s);
    if ((rv = apr_temp_dir_get(&dir, ptemp)) != APR_SUCCESS
        || (rv = apr_filepath_merge(&path, dir, "wsgid-check.XXXXXX", 0,
                                    ptemp)) != APR_SUCCESS
        || (rv = apr_file_mktemp(&f, path, APR_FOPEN_CREATE | APR_FOPEN_WRITE
                                 | APR_FOPEN_EXCL | APR_FOPEN_DELONCLOSE,
                                 ptemp)) != APR_SUCCESS
        || (rv = apr_file_write_full(f, text, strlen(text), NULL))
           != APR_SUCCESS
        || (rv = apr_file_flush(f)) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_CRIT, rv, s,
                     "mod_wsgid: cannot write a temporary daemon "
                     "configuration file to check it");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    argv[0] = g->python_executable;
    argv[1] = "-m";
    argv[2] = "wsgid";
    argv[3] = "check-config";
    argv[4] = path;
    argv[5] = NULL;
    /* stdin, stdout, stderr inherited: the user sees the message as is */
    if ((rv = apr_procattr_create(&attr, ptemp)) != APR_SUCCESS
        || (rv = apr_procattr_cmdtype_set(attr, APR_PROGRAM)) != APR_SUCCESS
        || (rv = apr_proc_create(&proc, argv[0], argv, NULL, attr, ptemp))
           != APR_SUCCESS) {
        apr_file_close(f);
        ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_CRIT, rv, s,
                     "mod_wsgid: cannot run %s -m wsgid check-config; check "
                     "WSGIPythonExecutable", argv[0]);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    rv = apr_proc_wait(&proc, &code, &why, APR_WAIT);
    apr_file_close(f);
    if (rv != APR_CHILD_DONE || !APR_PROC_CHECK_EXIT(why) || code != 0) {
        ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_CRIT, 0, s,
                     "mod_wsgid: the daemon configuration was refused by "
                     "`%s -m wsgid check-config` (%s %d); see its message "
                     "above", argv[0],
                     APR_PROC_CHECK_SIGNALED(why) ? "signal" : "exit status",
                     code);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return OK;
}

/* --- running the supervisor ------------------------------------------- */

/* In the forked child: become `PYTHON -m wsgid supervise ...`. */
static void exec_supervisor(const char *const *argv,
                            apr_interval_time_t delay)
{
    sigset_t only_hup;
    int sig;

    /* Apache's handlers and mask are not the supervisor's business.  SIGHUP
     * alone stays blocked through exec: a graceful restart that comes while
     * the supervisor is still starting must reach it as a reload once it has
     * its handlers (it unblocks SIGHUP then), not kill it with the default
     * action. */
    sigemptyset(&only_hup);
    sigaddset(&only_hup, SIGHUP);
    sigprocmask(SIG_SETMASK, &only_hup, NULL);
    for (sig = 1; sig < NSIG; sig++) {
        signal(sig, SIG_DFL);
    }
    /* stdin and stdout stay Apache's: the supervisor decides what its
     * daemons get (interpreter.settle_standard_descriptors), since only it
     * reads WSGIRestrictStdin. */
    if (delay > 0) {
        apr_sleep(delay);   /* back-off, without blocking the Apache parent */
    }
    execv(argv[0], (char *const *)argv);
    {
        char msg[512];
        int n = apr_snprintf(msg, sizeof(msg),
                             "mod_wsgid: cannot execute %s for the wsgid "
                             "supervisor: %s\n", argv[0], strerror(errno));

        if (write(STDERR_FILENO, msg, n) < 0) {
            /* nowhere left to say it */
        }
    }
    _exit(127);
}

static void maintenance(int reason, void *data, apr_wait_t status);

static void register_other_child(wsgid_run *run)
{
    apr_proc_other_child_register(&run->retained->proc, maintenance, run,
                                  NULL, run->pconf);
}

static apr_status_t spawn_supervisor(wsgid_run *run,
                                     apr_interval_time_t delay)
{
    wsgid_retained *retained = run->retained;
    const char *argv[9];
    apr_status_t rv;

    argv[0] = run->python;
    argv[1] = "-m";
    argv[2] = "wsgid";
    argv[3] = "supervise";
    argv[4] = "--config";
    argv[5] = retained->config_path;
    argv[6] = "--managed-by";
    argv[7] = apr_psprintf(run->pconf, "%" APR_PID_T_FMT, run->apache_pid);
    argv[8] = NULL;

    rv = apr_proc_fork(&retained->proc, run->pconf);
    if (rv == APR_INCHILD) {
        exec_supervisor(argv, delay);
    }
    if (rv != APR_INPARENT) {
        retained->proc.pid = 0;
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, run->s,
                     "mod_wsgid: cannot fork the wsgid supervisor (%s -m "
                     "wsgid supervise --config %s)", run->python,
                     retained->config_path);
        return rv;
    }
    retained->started = apr_time_now() + delay;
    ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, run->s,
                 "mod_wsgid: started the wsgid supervisor, pid %"
                 APR_PID_T_FMT "%s: %s -m wsgid supervise --config %s "
                 "--managed-by %s", retained->proc.pid,
                 delay > 0 ? apr_psprintf(run->pconf, " (after a %"
                                          APR_TIME_T_FMT " ms back-off)",
                                          apr_time_as_msec(delay)) : "",
                 run->python, retained->config_path, argv[7]);
    register_other_child(run);
    return APR_SUCCESS;
}

/* The delay before restarting a supervisor that just died: none if it
 * lived long, else at least a second after its start, doubling. */
static apr_interval_time_t restart_delay(wsgid_retained *retained)
{
    apr_time_t uptime = apr_time_now() - retained->started;
    apr_interval_time_t delay;

    if (uptime >= HEALTHY_UPTIME) {
        retained->backoff = 0;
    }
    delay = retained->backoff;
    if (uptime < MIN_RESTART_INTERVAL
        && delay < MIN_RESTART_INTERVAL - uptime) {
        delay = MIN_RESTART_INTERVAL - uptime;
    }
    retained->backoff = retained->backoff == 0 ? MIN_RESTART_INTERVAL
                        : retained->backoff * 2;
    if (retained->backoff > MAX_RESTART_DELAY) {
        retained->backoff = MAX_RESTART_DELAY;
    }
    return delay;
}

/* The MPM reaped the child already and passes only APR's exit code: the
 * exit status, or the number of the signal that killed it. */
static const char *describe_exit(apr_pool_t *p, apr_wait_t code)
{
    return apr_psprintf(p, "ended with code %d (its exit status, or the "
                        "signal that killed it)", (int)code);
}

static void maintenance(int reason, void *data, apr_wait_t status)
{
    wsgid_run *run = data;
    wsgid_retained *retained = run->retained;
    int mpm_state = AP_MPMQ_STOPPING;
    pid_t pid = retained->proc.pid;
    apr_interval_time_t delay;

    switch (reason) {
    case APR_OC_REASON_DEATH:
    case APR_OC_REASON_LOST:
        apr_proc_other_child_unregister(run);
        retained->proc.pid = 0;
        if (ap_mpm_query(AP_MPMQ_MPM_STATE, &mpm_state) != APR_SUCCESS
            || mpm_state == AP_MPMQ_STOPPING) {
            break;   /* Apache is stopping: the exit cleanup is done */
        }
        delay = restart_delay(retained);
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, run->s,
                     "mod_wsgid: the wsgid supervisor (pid %" APR_PID_T_FMT
                     ", --config %s) %s; restarting it in %" APR_TIME_T_FMT
                     " ms", pid, retained->config_path,
                     reason == APR_OC_REASON_LOST ? "was lost"
                     : describe_exit(run->pconf, status),
                     apr_time_as_msec(delay));
        spawn_supervisor(run, delay);
        break;
    case APR_OC_REASON_RESTART:
        /* Apache restarts or stops; it keeps running, and the next
         * generation (or the exit cleanup) takes it over. */
        apr_proc_other_child_unregister(run);
        break;
    default:
        break;
    }
}

/* Is the retained supervisor still running?  Reaps it if it is not. */
static int supervisor_alive(wsgid_retained *retained)
{
    int status;
    pid_t rv;

    if (retained->proc.pid <= 0) {
        return 0;
    }
    rv = waitpid(retained->proc.pid, &status, WNOHANG);
    if (rv == 0) {
        return 1;
    }
    retained->proc.pid = 0;
    return 0;
}

static void stop_supervisor(wsgid_retained *retained, server_rec *s)
{
    pid_t pid = retained->proc.pid;
    apr_time_t deadline = apr_time_now() + retained->stop_timeout;
    int status;

    if (pid <= 0) {
        return;
    }
    if (kill(pid, SIGTERM) == 0) {
        while (apr_time_now() < deadline) {
            pid_t rv = waitpid(pid, &status, WNOHANG);

            if (rv == pid || (rv < 0 && errno != EINTR)) {
                retained->proc.pid = 0;
                return;
            }
            apr_sleep(STOP_POLL);
        }
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                     "mod_wsgid: the wsgid supervisor (pid %" APR_PID_T_FMT
                     ") did not stop within %" APR_TIME_T_FMT " s of "
                     "SIGTERM; sending SIGKILL", pid,
                     apr_time_sec(retained->stop_timeout));
        kill(pid, SIGKILL);
    }
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        /* retry */
    }
    retained->proc.pid = 0;
}

static apr_status_t stop_at_exit(void *data)
{
    wsgid_run *run = data;

    /* Only when Apache itself exits (server/main.c sets this state right
     * before destroying the process pool), and only in the parent: a
     * restart keeps the supervisor running for the next generation. */
    if (ap_state_query(AP_SQ_MAIN_STATE) != AP_SQ_MS_EXITING
        || getpid() != run->apache_pid) {
        return APR_SUCCESS;
    }
    stop_supervisor(run->retained, run->s);
    if (run->retained->config_path) {
        const char *control = apr_pstrcat(run->pconf,
                                          run->retained->config_path,
                                          CONTROL_SUFFIX, NULL);
        struct stat st;

        apr_file_remove(run->retained->config_path, run->pconf);
        apr_file_remove(apr_pstrcat(run->pconf, run->retained->config_path,
                                    CHILDREN_SUFFIX, NULL), run->pconf);
        /* the supervisor removes it itself; not if it was killed */
        if (lstat(control, &st) == 0 && S_ISSOCK(st.st_mode)) {
            unlink(control);
        }
    }
    return APR_SUCCESS;
}

static wsgid_retained *retained_state(server_rec *s)
{
    apr_pool_t *pool = s->process->pool;
    void *data = NULL;

    apr_pool_userdata_get(&data, RETAINED_KEY, pool);
    if (data == NULL) {
        data = apr_pcalloc(pool, sizeof(wsgid_retained));
        apr_pool_userdata_set(data, RETAINED_KEY, apr_pool_cleanup_null,
                              pool);
    }
    return data;
}

static apr_interval_time_t stop_timeout_for(wsgid_globals *g)
{
    apr_interval_time_t longest = 0;
    int i;

    for (i = 0; i < g->groups->nelts; i++) {
        wsgid_daemon_group *group = APR_ARRAY_IDX(g->groups, i,
                                                  wsgid_daemon_group *);

        if (group->shutdown_timeout > longest) {
            longest = group->shutdown_timeout;
        }
    }
    return longest + STOP_MARGIN;
}

int wsgid_supervisor_post_config(wsgid_globals *g, apr_pool_t *pconf,
                                 apr_pool_t *ptemp, server_rec *s)
{
    wsgid_retained *retained;
    wsgid_run *run;
    const char *config_path;
    apr_status_t rv;

    /* The pre-detach pass ends before the server runs; its pid is not
     * the Apache parent's. */
    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG) {
        return OK;
    }
    retained = retained_state(s);
    if (g->groups->nelts == 0) {
        if (supervisor_alive(retained)) {
            ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s,
                         "mod_wsgid: no WSGIDaemonProcess is left in the "
                         "configuration; stopping the wsgid supervisor "
                         "(pid %" APR_PID_T_FMT ")", retained->proc.pid);
            stop_supervisor(retained, s);
        }
        return OK;
    }

    retained->stop_timeout = stop_timeout_for(g);
    run = apr_pcalloc(pconf, sizeof(*run));
    run->retained = retained;
    run->python = g->python_executable;
    run->s = s;
    run->pconf = pconf;
    run->apache_pid = getpid();

    /* A running supervisor keeps reading the file it was started with. */
    config_path = apr_psprintf(ptemp, "%s.%" APR_PID_T_FMT ".conf",
                               wsgid_socket_prefix(ptemp, g), getpid());
    if (!supervisor_alive(retained) || retained->config_path == NULL) {
        if (retained->config_path == NULL
            || strcmp(retained->config_path, config_path) != 0) {
            retained->config_path = apr_pstrdup(s->process->pool,
                                                config_path);
        }
    }
    rv = write_file_atomically(retained->config_path,
                               wsgid_daemon_file_text(g, ptemp, s), ptemp);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_CRIT, rv, s,
                     "mod_wsgid: cannot write the daemon configuration file "
                     "%s; WSGISocketPrefix must name a path in a directory "
                     "that exists and that Apache can write",
                     retained->config_path);
        return HTTP_INTERNAL_SERVER_ERROR;
    }

    if (supervisor_alive(retained)) {
        const char *children_path = apr_pstrcat(ptemp, retained->config_path,
                                                CHILDREN_SUFFIX, NULL);

        /* Without the list the supervisor retires leaving groups at once:
         * worth a warning, not a failed restart. */
        rv = write_file_atomically(children_path, wsgid_children_file_text(ptemp),
                                   ptemp);
        if (rv != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, rv, s,
                         "mod_wsgid: cannot write %s; daemon groups leaving "
                         "the configuration stop at once instead of serving "
                         "the Apache children of earlier generations",
                         children_path);
        }
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s,
                     "mod_wsgid: asking the wsgid supervisor (pid %"
                     APR_PID_T_FMT ") to reload %s (SIGHUP)",
                     retained->proc.pid, retained->config_path);
        if (kill(retained->proc.pid, SIGHUP) != 0) {
            ap_log_error(APLOG_MARK, APLOG_ERR, errno, s,
                         "mod_wsgid: cannot signal the wsgid supervisor "
                         "(pid %" APR_PID_T_FMT ")", retained->proc.pid);
        }
        register_other_child(run);
    }
    else {
        retained->backoff = 0;
        if (spawn_supervisor(run, 0) != APR_SUCCESS) {
            return HTTP_INTERNAL_SERVER_ERROR;
        }
    }
    apr_pool_cleanup_register(pconf, run, stop_at_exit,
                              apr_pool_cleanup_null);
    return OK;
}
