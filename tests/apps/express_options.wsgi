"""The application of the start-server option tests; its callable is `app`, not `application`.

It imports `express_helper` from a --python-path directory, so it loads only when that option
works, and it has no `application`, so it serves only when --callable-object app works. Routes:

  /typed?type=T   200, a compressible body of 8 KiB with Content-Type T
  /where          200 application/json {"cwd", "sys_path", "helper", "pid", "lang", "lc_all",
                  "server_metrics"} of the daemon (server_metrics: whether mod_wsgi answers)
  anything else   200 text/plain "app PATH" (the URLs the document root has no file for)
"""

import json
import os
import sys
from urllib.parse import parse_qs

import express_helper

COMPRESSIBLE = b"wsgid express " * 600


def app(environ, start_response):
    path = environ.get("PATH_INFO", "")
    if path == "/typed":
        content_type = parse_qs(environ.get("QUERY_STRING", "")).get("type", ["text/plain"])[0]
        start_response("200 OK", [("Content-Type", content_type),
                                  ("Content-Length", str(len(COMPRESSIBLE)))])
        return [COMPRESSIBLE]
    if path == "/where":
        import mod_wsgi
        body = json.dumps({"cwd": os.getcwd(), "sys_path": sys.path,
                           "helper": express_helper.NAME, "pid": os.getpid(),
                           "lang": os.environ.get("LANG"), "lc_all": os.environ.get("LC_ALL"),
                           "server_metrics": mod_wsgi.server_metrics() is not None}).encode()
        start_response("200 OK", [("Content-Type", "application/json")])
        return [body]
    body = f"app {path}".encode()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body]
