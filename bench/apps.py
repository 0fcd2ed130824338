"""The one WSGI application every contender runs: four routes, one per benchmark app.

Rules:
- Every contender loads this same file (copied into the run's private directory), so the work
  per request is identical; nothing here depends on wsgid, mod_wsgi or uWSGI.
- The route is the last segment of the request path, read from SCRIPT_NAME + PATH_INFO, or from
  REQUEST_URI when a proxy passes the path only there.
- Everything that can be computed once (the JSON document, the stream chunk) is computed at
  import; per request the app does what a real app of that kind does (encode the JSON, read the
  upload), no more.
- bench/run.py imports this file too, to know the exact bytes each route must answer with.
"""

import json

HELLO_BODY = b"Hello World!"
STREAM_CHUNK = b"s" * (64 * 1024)
STREAM_CHUNKS = 16                      # 16 x 64 KiB = 1 MiB
UPLOAD_BYTES = 16 * 1024
JSON_TARGET_BYTES = 4096


def _json_document():
    """A document of realistic shape whose encoding is 4 KB (just under 4096 bytes)."""
    items = []
    while True:
        n = len(items)
        item = {"id": n, "name": f"item-{n:04d}", "price": round(n * 1.25, 2),
                "tags": ["bench", "json", f"t{n % 7}"], "active": n % 2 == 0}
        if len(json.dumps({"items": items + [item]})) > JSON_TARGET_BYTES:
            return {"items": items}
        items.append(item)


JSON_DOCUMENT = _json_document()


def _route(environ):
    path = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
    if not path.strip("/"):
        path = environ.get("REQUEST_URI", "").split("?", 1)[0]
    return path.rstrip("/").rsplit("/", 1)[-1]


def hello(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"),
                              ("Content-Length", str(len(HELLO_BODY)))])
    return [HELLO_BODY]


def json_response(environ, start_response):
    body = json.dumps(JSON_DOCUMENT).encode()
    start_response("200 OK", [("Content-Type", "application/json"),
                              ("Content-Length", str(len(body)))])
    return [body]


def stream(environ, start_response):
    # No Content-Length: a streamed body of unknown length, as a generator yields it.
    start_response("200 OK", [("Content-Type", "application/octet-stream")])
    return (STREAM_CHUNK for _ in range(STREAM_CHUNKS))


def upload(environ, start_response):
    stream_in = environ["wsgi.input"]
    length = environ.get("CONTENT_LENGTH", "")
    received = len(stream_in.read(int(length))) if length.isdigit() else len(stream_in.read())
    body = str(received).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


ROUTES = {"hello": hello, "json": json_response, "stream": stream, "upload": upload}


def application(environ, start_response):
    handler = ROUTES.get(_route(environ))
    if handler is None:
        start_response("404 Not Found", [("Content-Type", "text/plain"), ("Content-Length", "9")])
        return [b"not found"]
    return handler(environ, start_response)
