/*
 * wsgid_proxy_headers.c: WSGITrustedProxyHeaders and WSGITrustedProxies,
 * what the headers of a proxy in front of Apache may change in a request's
 * environment, as in mod_wsgi.
 *
 * Each header mod_wsgi knows belongs to one kind: the client's address
 * (X-Forwarded-For, X-Client-IP, X-Real-IP), the host (X-Forwarded-Host,
 * X-Host), the mount point (X-Script-Name, X-Forwarded-Script-Name), the
 * scheme (X-Forwarded-Proto, X-Forwarded-Scheme, X-Scheme, X-Forwarded-HTTPS,
 * X-Forwarded-SSL, X-HTTPS), and X-Forwarded-Server and X-Forwarded-Port.
 *
 * Rules:
 * - Nothing happens where no WSGITrustedProxyHeaders applies.
 * - The peer is trusted when no WSGITrustedProxies applies, or its address
 *   is in one of the listed addresses or networks (CIDR).
 * - From a trusted peer, each listed header that the request has sets its
 *   variable (REMOTE_ADDR, HTTP_HOST, SCRIPT_NAME, HTTPS and REQUEST_SCHEME,
 *   SERVER_NAME, SERVER_PORT); the last one listed of a kind wins.
 * - For every kind with a listed header, the other headers of that kind are
 *   removed (and all of them from an untrusted peer), so that the
 *   application never reads one the configuration did not vouch for.
 * - X-Forwarded-For with WSGITrustedProxies: walking from its end, the
 *   entries that are trusted proxies are passed over; the entry before them
 *   is the client (the list keeps it and what follows).  Without the list,
 *   its first entry is the client.
 */
#include "apr_lib.h"
#include "apr_network_io.h"
#include "apr_strings.h"

#include "httpd.h"
#include "http_config.h"
#include "http_log.h"

#include "wsgid_config.h"
#include "wsgid_proxy_headers.h"

APLOG_USE_MODULE(wsgid);

typedef enum { CLIENT, HOST, SCRIPT_NAME, SCHEME, SERVER, PORT, KINDS } kind;

/* Each known header, as the CGI variable Apache makes of it, and its kind. */
static const struct {
    const char *variable;
    kind kind;
} known_headers[] = {
    { "HTTP_X_FORWARDED_FOR", CLIENT },
    { "HTTP_X_CLIENT_IP", CLIENT },
    { "HTTP_X_REAL_IP", CLIENT },
    { "HTTP_X_FORWARDED_HOST", HOST },
    { "HTTP_X_HOST", HOST },
    { "HTTP_X_SCRIPT_NAME", SCRIPT_NAME },
    { "HTTP_X_FORWARDED_SCRIPT_NAME", SCRIPT_NAME },
    { "HTTP_X_FORWARDED_PROTO", SCHEME },
    { "HTTP_X_FORWARDED_SCHEME", SCHEME },
    { "HTTP_X_SCHEME", SCHEME },
    { "HTTP_X_FORWARDED_HTTPS", SCHEME },
    { "HTTP_X_FORWARDED_SSL", SCHEME },
    { "HTTP_X_HTTPS", SCHEME },
    { "HTTP_X_FORWARDED_SERVER", SERVER },
    { "HTTP_X_FORWARDED_PORT", PORT },
};
#define KNOWN_HEADERS (sizeof(known_headers) / sizeof(known_headers[0]))

/* The CGI variable of a header name (X-Forwarded-For: HTTP_X_FORWARDED_FOR). */
static const char *variable_of(apr_pool_t *p, const char *header)
{
    char *variable = apr_pstrcat(p, "HTTP_", header, NULL);
    char *c;

    for (c = variable + 5; *c; c++) {
        *c = *c == '-' ? '_' : apr_toupper(*c);
    }
    return variable;
}

static int known_index(const char *variable)
{
    apr_size_t i;

    for (i = 0; i < KNOWN_HEADERS; i++) {
        if (strcmp(known_headers[i].variable, variable) == 0) {
            return (int)i;
        }
    }
    return -1;
}

const char *wsgid_cmd_trusted_proxy_headers(cmd_parms *cmd, void *dconf,
                                            const char *args)
{
    wsgid_dir_config *conf = dconf;
    const char *word;

    if (conf->trusted_proxy_headers == NULL) {
        conf->trusted_proxy_headers = apr_array_make(cmd->pool, 4,
                                                     sizeof(int));
    }
    while (*(word = ap_getword_conf(cmd->pool, &args)) != '\0') {
        int index = known_index(variable_of(cmd->temp_pool, word));

        if (index < 0) {
            return apr_psprintf(cmd->pool,
                                "WSGITrustedProxyHeaders: '%s' is not a proxy "
                                "header it knows; name X-Forwarded-For, "
                                "X-Client-IP, X-Real-IP, X-Forwarded-Host, "
                                "X-Host, X-Script-Name, "
                                "X-Forwarded-Script-Name, X-Forwarded-Proto, "
                                "X-Forwarded-Scheme, X-Scheme, "
                                "X-Forwarded-HTTPS, X-Forwarded-SSL, X-HTTPS, "
                                "X-Forwarded-Server or X-Forwarded-Port", word);
        }
        APR_ARRAY_PUSH(conf->trusted_proxy_headers, int) = index;
    }
    return NULL;
}

const char *wsgid_cmd_trusted_proxies(cmd_parms *cmd, void *dconf,
                                      const char *args)
{
    wsgid_dir_config *conf = dconf;
    const char *word;

    if (conf->trusted_proxies == NULL) {
        conf->trusted_proxies = apr_array_make(cmd->pool, 4,
                                               sizeof(apr_ipsubnet_t *));
    }
    while (*(word = ap_getword_conf(cmd->pool, &args)) != '\0') {
        char *address = apr_pstrdup(cmd->temp_pool, word);
        char *mask = strchr(address, '/');
        apr_ipsubnet_t *subnet;

        if (mask) {
            *mask++ = '\0';
        }
        if (apr_ipsubnet_create(&subnet, address, mask, cmd->pool)
            != APR_SUCCESS) {
            return apr_psprintf(cmd->pool,
                                "WSGITrustedProxies: '%s' is not an IP "
                                "address or network; write addresses such as "
                                "127.0.0.1 or networks such as 10.0.0.0/8",
                                word);
        }
        APR_ARRAY_PUSH(conf->trusted_proxies, apr_ipsubnet_t *) = subnet;
    }
    return NULL;
}

/* Is the address text in one of the trusted networks? */
static int trusted_address(const apr_array_header_t *proxies,
                           const char *address, apr_pool_t *p)
{
    apr_sockaddr_t *sa;
    int i;

    if (apr_sockaddr_info_get(&sa, address, APR_UNSPEC, 0, 0, p)
        != APR_SUCCESS) {
        return 0;
    }
    for (i = 0; i < proxies->nelts; i++) {
        if (apr_ipsubnet_test(APR_ARRAY_IDX(proxies, i, apr_ipsubnet_t *),
                              sa)) {
            return 1;
        }
    }
    return 0;
}

/* X-Forwarded-For: set REMOTE_ADDR (and trim the list) as the rules say. */
static void client_from_forwarded_for(apr_table_t *env, const char *value,
                                      const apr_array_header_t *proxies,
                                      apr_pool_t *p)
{
    apr_array_header_t *items = apr_array_make(p, 4, sizeof(char *));
    char *list = apr_pstrdup(p, value), *state, *item;
    int client;

    for (item = apr_strtok(list, ",", &state); item;
         item = apr_strtok(NULL, ",", &state)) {
        item = apr_pstrdup(p, item);
        apr_collapse_spaces(item, item);
        if (*item) {
            APR_ARRAY_PUSH(items, char *) = item;
        }
    }
    if (items->nelts == 0) {
        return;
    }
    if (proxies == NULL) {
        apr_table_set(env, "REMOTE_ADDR", APR_ARRAY_IDX(items, 0, char *));
        return;
    }
    client = items->nelts - 1;
    while (client > 0 && trusted_address(proxies, APR_ARRAY_IDX(items, client,
                                                                char *), p)) {
        client--;
    }
    apr_table_set(env, "REMOTE_ADDR", APR_ARRAY_IDX(items, client, char *));
    list = APR_ARRAY_IDX(items, client, char *);
    while (++client < items->nelts) {
        list = apr_pstrcat(p, list, ", ", APR_ARRAY_IDX(items, client, char *),
                           NULL);
    }
    apr_table_set(env, "HTTP_X_FORWARDED_FOR", list);
}

static void set_scheme(apr_table_t *env, int https)
{
    if (https) {
        apr_table_set(env, "HTTPS", "on");
        apr_table_set(env, "REQUEST_SCHEME", "https");
    }
    else {
        apr_table_unset(env, "HTTPS");
        apr_table_set(env, "REQUEST_SCHEME", "http");
    }
}

/* Apply one trusted header's value; its kind's variable. */
static void apply(apr_table_t *env, const char *variable, kind k,
                  const char *value, const apr_array_header_t *proxies,
                  apr_pool_t *p)
{
    switch (k) {
    case CLIENT:
        if (strcmp(variable, "HTTP_X_FORWARDED_FOR") == 0) {
            client_from_forwarded_for(env, value, proxies, p);
        }
        else {
            apr_table_set(env, "REMOTE_ADDR", value);
        }
        break;
    case HOST:
        apr_table_set(env, "HTTP_HOST", value);
        break;
    case SCRIPT_NAME:
        apr_table_set(env, "SCRIPT_NAME", value);
        apr_table_set(env, "mod_wsgi.mount_point", value);
        break;
    case SCHEME:
        if (strcmp(variable, "HTTP_X_FORWARDED_PROTO") == 0
            || strcmp(variable, "HTTP_X_FORWARDED_SCHEME") == 0
            || strcmp(variable, "HTTP_X_SCHEME") == 0) {
            if (strcasecmp(value, "https") == 0 || strcasecmp(value, "http")
                                                   == 0) {
                set_scheme(env, strcasecmp(value, "https") == 0);
            }
        }
        else if (strcasecmp(value, "on") == 0 || strcasecmp(value, "true") == 0
                 || strcmp(value, "1") == 0) {
            set_scheme(env, 1);
        }
        else if (strcasecmp(value, "off") == 0
                 || strcasecmp(value, "false") == 0 || strcmp(value, "0") == 0) {
            set_scheme(env, 0);
        }
        break;
    case SERVER:
        apr_table_set(env, "SERVER_NAME", value);
        break;
    case PORT:
        apr_table_set(env, "SERVER_PORT", value);
        break;
    default:
        break;
    }
}

void wsgid_apply_proxy_headers(request_rec *r, const wsgid_dir_config *dconf,
                               apr_table_t *env)
{
    const apr_array_header_t *listed = dconf->trusted_proxy_headers;
    const apr_array_header_t *proxies = dconf->trusted_proxies;
    int listed_kind[KINDS] = { 0 };
    const char *kept[KINDS] = { NULL };
    int trusted, i;
    apr_size_t h;

    if (listed == NULL || listed->nelts == 0) {
        return;
    }
    trusted = proxies == NULL || proxies->nelts == 0
              || trusted_address(proxies, r->useragent_ip, r->pool);
    for (i = 0; i < listed->nelts; i++) {
        int index = APR_ARRAY_IDX(listed, i, int);
        const char *variable = known_headers[index].variable;
        kind k = known_headers[index].kind;
        const char *value = apr_table_get(env, variable);

        listed_kind[k] = 1;
        if (trusted && value != NULL) {
            apply(env, variable, k, value,
                  proxies && proxies->nelts ? proxies : NULL, r->pool);
            kept[k] = variable;
        }
    }
    for (h = 0; h < KNOWN_HEADERS; h++) {
        kind k = known_headers[h].kind;

        if (listed_kind[k] && (kept[k] == NULL
                               || strcmp(kept[k], known_headers[h].variable))) {
            apr_table_unset(env, known_headers[h].variable);
        }
    }
    if (!trusted) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                      "mod_wsgid: %s is not in WSGITrustedProxies: its proxy "
                      "headers were removed", r->useragent_ip);
    }
}
