"""A WSGI script that writes to the error log every way an application does, for
tests/integration/test_error_log.py. Routes, by PATH_INFO:

  /print      print() to sys.stderr and to sys.stdout, and a line to wsgi.errors
  /logging    Python logging with no handler configured: info, warning and debug records of
              the logger 'shop', and one error with a traceback
  anything    200 'ok'
Each answers 200 with the request's id (mod_wsgi.request_id) as its body, so that a test can
find the lines of that request.
"""

import logging
import sys

log = logging.getLogger("shop")


def application(environ, start_response):
    path = environ.get("PATH_INFO", "")
    if path == "/print":
        print("printed to stderr", file=sys.stderr)
        print("printed to stdout")
        environ["wsgi.errors"].write("written to wsgi.errors\n")
    elif path == "/logging":
        log.info("order %d placed", 17)
        log.warning("stock of item %d is low", 4)
        log.debug("debug record, below every LogLevel of the tests")
        try:
            {}["missing"]
        except KeyError:
            log.exception("charging order %d failed", 17)
    body = environ["mod_wsgi.request_id"].encode()
    start_response("200 OK", [("Content-Type", "text/plain"),
                              ("Content-Length", str(len(body)))])
    return [body]
