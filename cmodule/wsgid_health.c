/*
 * wsgid_health.c: the `wsgid-health` handler (see wsgid_health.h).
 */
#include "apr_lib.h"
#include "apr_strings.h"

#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"

#include "wsgid_config.h"
#include "wsgid_conn.h"
#include "wsgid_health.h"
#include "wsgid_route.h"

APLOG_USE_MODULE(wsgid);

/* "hc", as mod_proxy_hcheck says "health check": a twin no longer than the
 * ".sock" it replaces, so that every path that fits has a twin that fits */
#define HEALTH_SUFFIX ".hc"
/* The supervisor's answer is a status line and a one-line JSON document of
 * a few hundred bytes (wsgid/health.py); more is not its answer. */
#define HEALTH_ANSWER_MAX 4096
/* How long a probe waits for the supervisor: it answers from its loop at
 * once, unless it is not there at all. */
#define HEALTH_TIMEOUT apr_time_from_sec(2)

const char *wsgid_health_socket_path(apr_pool_t *p, const char *socket_path)
{
    apr_size_t len = strlen(socket_path);
    apr_size_t suffix = sizeof(WSGID_GROUP_SOCKET_SUFFIX) - 1;

    if (len >= suffix
        && strcmp(socket_path + len - suffix,
                  WSGID_GROUP_SOCKET_SUFFIX) == 0) {
        len -= suffix;
    }
    return apr_pstrcat(p, apr_pstrmemdup(p, socket_path, len), HEALTH_SUFFIX,
                       NULL);
}

/* Read the supervisor's whole answer into buf (NUL-terminated); its length,
 * or -1 when it failed or was too long. */
static apr_ssize_t read_answer(apr_socket_t *sock, char *buf)
{
    apr_size_t have = 0;

    apr_socket_timeout_set(sock, HEALTH_TIMEOUT);
    for (;;) {
        apr_size_t n = HEALTH_ANSWER_MAX - have;
        apr_status_t rv;

        if (n == 0) {
            return -1;
        }
        rv = apr_socket_recv(sock, buf + have, &n);
        have += n;
        if (APR_STATUS_IS_EOF(rv) || (rv == APR_SUCCESS && n == 0)) {
            buf[have] = '\0';
            return (apr_ssize_t)have;
        }
        if (rv != APR_SUCCESS) {
            return -1;
        }
    }
}

/* 200 or 503 from "NNN\n{json}\n"; 0 when the answer is not that. */
static int answer_status(const char *answer, const char **json)
{
    if (!apr_isdigit(answer[0]) || !apr_isdigit(answer[1])
        || !apr_isdigit(answer[2]) || answer[3] != '\n' || answer[4] != '{') {
        return 0;
    }
    *json = answer + 4;
    if (strncmp(answer, "200", 3) == 0) {
        return HTTP_OK;
    }
    return strncmp(answer, "503", 3) == 0 ? HTTP_SERVICE_UNAVAILABLE : 0;
}

/* name as a JSON string: a group name has no control characters, but may
 * have quotes, backslashes and bytes past ASCII (written as \u00XX, read as
 * Latin-1) */
static const char *json_string(apr_pool_t *p, const char *name)
{
    char *out = apr_palloc(p, 6 * strlen(name) + 3);
    char *o = out;
    const unsigned char *c;

    *o++ = '"';
    for (c = (const unsigned char *)name; *c; c++) {
        if (*c == '"' || *c == '\\') {
            *o++ = '\\';
            *o++ = (char)*c;
        }
        else if (*c >= 0x80 || *c < 0x20) {
            o += apr_snprintf(o, 7, "\\u%04x", *c);
        }
        else {
            *o++ = (char)*c;
        }
    }
    *o++ = '"';
    *o = '\0';
    return out;
}

/* 503 "down", with the reason in the log line and the document. */
static int answer_down(request_rec *r, const wsgid_daemon_group *group,
                       const char *path, apr_status_t rv, const char *why)
{
    ap_log_rerror(APLOG_MARK, APLOG_INFO, rv, r,
                  "mod_wsgid: group '%s' socket %s: health: %s; answering 503",
                  group->name, path, why);
    r->status = HTTP_SERVICE_UNAVAILABLE;
    ap_set_content_type(r, "application/json");
    if (!r->header_only) {
        ap_rprintf(r, "{\"group\": %s, \"state\": \"down\"}\n",
                   json_string(r->pool, group->name));
    }
    return OK;
}

int wsgid_health_handler(request_rec *r)
{
    const wsgid_dir_config *dconf;
    wsgid_daemon_group *group;
    wsgid_connect_info info;
    apr_socket_t *sock;
    const char *path, *json;
    char *answer;
    apr_ssize_t len;
    apr_status_t rv;
    int status;

    if (r->handler == NULL || strcmp(r->handler, WSGID_HEALTH_HANDLER) != 0) {
        return DECLINED;
    }
    dconf = ap_get_module_config(r->per_dir_config, &wsgid_module);
    status = wsgid_route_group(r, dconf,
                               wsgid_configured_process_group(r, dconf),
                               "SetHandler", WSGID_HEALTH_HANDLER,
                               "set WSGIProcessGroup in the <Location> of "
                               "the health handler", &group);
    if (status != OK) {
        return status;
    }
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    if (r->method_number != M_GET) {
        ap_allow_methods(r, REPLACE_ALLOW, "GET", "HEAD", NULL);
        return HTTP_METHOD_NOT_ALLOWED;
    }
    path = wsgid_health_socket_path(r->pool, group->socket_path);
    /* one attempt: a probe wants the state now, not after connect-timeout */
    rv = wsgid_connect_with_retry(r->pool, path, 0, &sock, &info);
    if (rv != APR_SUCCESS) {
        return answer_down(r, group, path, rv, "no supervisor answers");
    }
    answer = apr_palloc(r->pool, HEALTH_ANSWER_MAX + 1);
    len = read_answer(sock, answer);
    apr_socket_close(sock);
    status = len > 0 ? answer_status(answer, &json) : 0;
    if (status == 0) {
        return answer_down(r, group, path, 0,
                           "the supervisor's answer is not a health answer");
    }
    r->status = status;
    ap_set_content_type(r, "application/json");
    ap_set_content_length(r, (apr_off_t)(len - 4));
    if (!r->header_only) {
        ap_rwrite(json, (int)(len - 4), r);
    }
    return OK;
}
