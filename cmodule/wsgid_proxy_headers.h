/*
 * wsgid_proxy_headers.h: WSGITrustedProxyHeaders and WSGITrustedProxies
 * (wsgid_proxy_headers.c).
 */
#ifndef WSGID_PROXY_HEADERS_H
#define WSGID_PROXY_HEADERS_H

#include "httpd.h"
#include "http_config.h"

#include "wsgid_config.h"

const char *wsgid_cmd_trusted_proxy_headers(cmd_parms *cmd, void *dconf,
                                            const char *args);
const char *wsgid_cmd_trusted_proxies(cmd_parms *cmd, void *dconf,
                                      const char *args);

/* Rewrite env (r's CGI variables) from the proxy headers the configuration
 * trusts, and remove the ones it does not (wsgid_proxy_headers.c says how). */
void wsgid_apply_proxy_headers(request_rec *r, const wsgid_dir_config *dconf,
                               apr_table_t *env);

#endif /* WSGID_PROXY_HEADERS_H */
