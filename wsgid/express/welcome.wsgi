"""The page `wsgid start-server` serves when no WSGI script is given.

It says wsgid is running and shows what a first look needs: the Python version and the daemon
process group that answered. It shows no paths, since the server may listen on every interface;
everything shown is escaped.
"""

import html
import os
import sys

PAGE = """<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>wsgid is running</title></head>
<body>
<h1>wsgid is running</h1>
<p>Apache httpd passed this request to a wsgid daemon process. Give <code>wsgid start-server</code>
the path of your WSGI script to serve your application here.</p>
<table>
<tr><th align="left">Python</th><td>{python}</td></tr>
<tr><th align="left">Process group</th><td>{group}</td></tr>
<tr><th align="left">Daemon pid</th><td>{pid}</td></tr>
</table>
</body>
</html>
"""


def application(environ, start_response):
    body = PAGE.format(
        python=html.escape(f"{sys.implementation.name} {sys.version.split()[0]}"),
        group=html.escape(environ.get("wsgid.process_group", "")),
        pid=os.getpid(),
    ).encode("utf-8")
    start_response("200 OK", [("Content-Type", "text/html; charset=utf-8"),
                              ("Content-Length", str(len(body)))])
    return [body]
