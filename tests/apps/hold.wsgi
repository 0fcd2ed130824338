"""A WSGI script that can hold a request thread until the test lets it go.

Used by tests/integration/test_overload.py. The directory HOLD_DIR comes from the request's
environment (SetEnv HOLD_DIR in the Apache configuration) and must be writable by the daemon
user. Routes, by PATH_INFO:

  /hold    creates HOLD_DIR/held, then waits until HOLD_DIR/release exists (at most 30 s),
           then 200 "released\\n"
  /quick   200 "quick\\n" at once
"""

import os
import time

MAX_HOLD_SECONDS = 30


def text(start_response, body):
    data = body.encode("ascii")
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(data)))])
    return [data]


def application(environ, start_response):
    if environ.get("PATH_INFO") == "/hold":
        hold_dir = environ["HOLD_DIR"]
        open(os.path.join(hold_dir, "held"), "w").close()
        release = os.path.join(hold_dir, "release")
        deadline = time.monotonic() + MAX_HOLD_SECONDS
        while not os.path.exists(release) and time.monotonic() < deadline:
            time.sleep(0.02)
        return text(start_response, "released\n")
    return text(start_response, "quick\n")
