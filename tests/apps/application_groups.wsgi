"""A WSGI script that says which application group, and which loaded copy of itself, served it.

Used by tests/integration/test_application_groups.py. Every application group loads its own copy
of this script (its own module, its own globals), so the counter below counts the requests of one
group only. Any path answers 200 application/json:

  {"environ_group": environ["wsgid.application_group"],
   "mod_wsgi_group": environ["mod_wsgi.application_group"],
   "api_group": wsgid.application_group (the in-process API's view),
   "module": __name__ of this copy, "copy_requests": requests this copy served (1 = the first),
   "pid": the daemon process id}
"""

import json
import os
import threading

import wsgid

_lock = threading.Lock()
copy_requests = 0


def application(environ, start_response):
    global copy_requests
    with _lock:
        copy_requests += 1
        served = copy_requests
    body = json.dumps({
        "environ_group": environ.get("wsgid.application_group"),
        "mod_wsgi_group": environ.get("mod_wsgi.application_group"),
        "api_group": wsgid.application_group,
        "module": __name__,
        "copy_requests": served,
        "pid": os.getpid(),
    }).encode("utf-8")
    start_response("200 OK", [("Content-Type", "application/json"),
                              ("Content-Length", str(len(body)))])
    return [body]
