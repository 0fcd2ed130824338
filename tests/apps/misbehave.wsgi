"""A WSGI script that breaks the WSGI contract on request, for the reliability suite.

Routes (PATH_INFO):
  /case/NAME?token=T  runs the misbehaviour NAME (see CASES); T names this request in the
                      records below and must not appear in anything the case raises or logs
  /inject/NAME        start_response with the bad status or header INJECTIONS[NAME]; if the
                      daemon accepted it, 200 "accepted\\n"
  /outcome?token=T    200 application/json {"returned_closable": BOOL, "closed": BOOL,
                      "pid": PID}: whether request T returned an object with close(), and
                      whether the server called that close()
  /seen/...           200 application/json, what this request looked like to the application
                      (see `seen`); it is also appended to the record that /seen-log returns.
                      With unread=1 in the query, the request body is left unread
  /seen-log           200 application/json, the list of every /seen request this process served

Rules: the records live in this process's memory, so the tests run the script in a group with
one process; with one thread as well, /outcome is only served once the request before it has
left its thread, close() included. Every exception a case raises says "misbehave.wsgi on
purpose" and nothing else that names the request, so that log lines can be counted by URL.
"""

import hashlib
import json
import os
import sys
import threading
from urllib.parse import parse_qs

RETURNED_CLOSABLE = set()   # tokens of requests that returned an object with close()
CLOSED = set()              # tokens whose close() the server called
SEEN = []                   # what every /seen request looked like
_seen_lock = threading.Lock()


class Failure(Exception):
    """What the cases raise."""


def fail():
    raise Failure("misbehave.wsgi on purpose")


class Body:
    """An iterable response whose close() is recorded. Each item of `items` is sent as it is,
    or, if it is a callable, called and its result sent (so that it may raise)."""

    def __init__(self, token, items):
        self.token = token
        self._items = iter(items)
        RETURNED_CLOSABLE.add(token)

    def __iter__(self):
        return self

    def __next__(self):
        item = next(self._items)
        return item() if callable(item) else item

    def close(self):
        CLOSED.add(self.token)


class Uniterable:
    """Has close() but no __iter__: not a valid WSGI response."""

    def __init__(self, token):
        self.token = token
        RETURNED_CLOSABLE.add(token)

    def close(self):
        CLOSED.add(self.token)


class RaisingClose(Body):
    def close(self):
        super().close()
        fail()


KIB = 1024
TEXT = [("Content-Type", "text/plain")]


def with_length(n):
    return TEXT + [("Content-Length", str(n))]


def raise_before_start(sr, token):
    fail()


def raise_after_start(sr, token):
    sr("200 OK", TEXT)
    fail()


def raise_in_first_chunk(sr, token):
    sr("200 OK", TEXT)
    return Body(token, [fail])


def raise_after_first_chunk_with_length(sr, token):
    sr("200 OK", with_length(8 * KIB))
    return Body(token, [b"a" * KIB, fail])


def raise_after_first_chunk_chunked(sr, token):
    sr("200 OK", TEXT)
    return Body(token, [b"a" * KIB, fail])


def raise_after_write(sr, token):
    write = sr("200 OK", TEXT)
    write(b"w" * KIB)
    fail()


def exit_before_start(sr, token):
    sys.exit(3)


def return_none(sr, token):
    sr("200 OK", TEXT)
    return None


def return_str(sr, token):
    sr("200 OK", TEXT)
    return "a str, not bytes"


def return_bytes(sr, token):
    sr("200 OK", TEXT)
    return b"bytes, not an iterable of bytes"


def return_uniterable(sr, token):
    sr("200 OK", TEXT)
    return Uniterable(token)


def return_without_start(sr, token):
    return Body(token, [b"no start_response"])


def str_chunk(sr, token):
    sr("200 OK", TEXT)
    return Body(token, ["a str chunk"])


def str_chunk_after_bytes(sr, token):
    sr("200 OK", TEXT)
    return Body(token, [b"a" * KIB, "a str chunk"])


def header_name_bytes(sr, token):
    sr("200 OK", [(b"X-Bytes", "1")])
    return Body(token, [b"x"])


def header_value_int(sr, token):
    sr("200 OK", [("X-Number", 1)])
    return Body(token, [b"x"])


def header_item_list(sr, token):
    sr("200 OK", [["X-List", "1"]])
    return Body(token, [b"x"])


def header_item_triple(sr, token):
    sr("200 OK", [("X-Triple", "1", "2")])
    return Body(token, [b"x"])


def headers_tuple(sr, token):
    sr("200 OK", (("X-Tuple", "1"),))
    return Body(token, [b"x"])


def headers_dict(sr, token):
    sr("200 OK", {"X-Dict": "1"})
    return Body(token, [b"x"])


def status_bytes(sr, token):
    sr(b"200 OK", TEXT)
    return Body(token, [b"x"])


def start_response_twice(sr, token):
    sr("200 OK", TEXT)
    sr("201 Created", TEXT)
    return Body(token, [b"x"])


def length_larger_than_body(sr, token):
    sr("200 OK", with_length(4 * KIB))
    return Body(token, [b"s" * KIB])


def length_smaller_than_body(sr, token):
    sr("200 OK", with_length(KIB))
    return Body(token, [b"l" * (4 * KIB)])


def hop_by_hop(name, value):
    def case(sr, token):
        sr("200 OK", TEXT + [(name, value)])
        return Body(token, [b"x"])
    return case


def big_headers(count, size):
    def case(sr, token):
        sr("200 OK", TEXT + [(f"X-Big-{i}", "b" * size) for i in range(count)])
        return Body(token, [b"x"])
    return case


def close_raises(sr, token):
    sr("200 OK", with_length(2))
    return RaisingClose(token, [b"ok"])


def latin1_value(sr, token):
    sr("200 OK", TEXT + [("X-Latin1", "caf\u00e9")])
    return Body(token, [b"x"])


CASES = {
    "raise-before-start": raise_before_start,
    "raise-after-start": raise_after_start,
    "raise-in-first-chunk": raise_in_first_chunk,
    "raise-after-first-chunk-with-length": raise_after_first_chunk_with_length,
    "raise-after-first-chunk-chunked": raise_after_first_chunk_chunked,
    "raise-after-write": raise_after_write,
    "exit-before-start": exit_before_start,
    "return-none": return_none,
    "return-str": return_str,
    "return-bytes": return_bytes,
    "return-uniterable": return_uniterable,
    "return-without-start": return_without_start,
    "str-chunk": str_chunk,
    "str-chunk-after-bytes": str_chunk_after_bytes,
    "header-name-bytes": header_name_bytes,
    "header-value-int": header_value_int,
    "header-item-list": header_item_list,
    "header-item-triple": header_item_triple,
    "headers-tuple": headers_tuple,
    "headers-dict": headers_dict,
    "status-bytes": status_bytes,
    "start-response-twice": start_response_twice,
    "length-larger-than-body": length_larger_than_body,
    "length-smaller-than-body": length_smaller_than_body,
    "hop-connection": hop_by_hop("Connection", "close"),
    "hop-keep-alive": hop_by_hop("Keep-Alive", "timeout=5"),
    "hop-transfer-encoding": hop_by_hop("Transfer-Encoding", "chunked"),
    "hop-te": hop_by_hop("TE", "trailers"),
    "hop-trailer": hop_by_hop("Trailer", "X-Sum"),
    "hop-upgrade": hop_by_hop("Upgrade", "websocket"),
    "hop-proxy-authenticate": hop_by_hop("Proxy-Authenticate", "Basic"),
    "hop-proxy-authorization": hop_by_hop("Proxy-Authorization", "Basic eDp5"),
    "headers-30k-in-many": big_headers(30, KIB),
    "headers-33k-in-one": big_headers(1, 33 * KIB),
    "headers-40k-in-many": big_headers(40, KIB),
    "headers-70k-in-many": big_headers(70, KIB),
    "close-raises": close_raises,
    "latin1-value": latin1_value,   # not a misbehaviour: the edge of the header-value rule
}

# Bad heads for /inject: (status, headers). "Injected" must never reach a client.
INJECTIONS = {
    "value-crlf": ("200 OK", [("X-A", "1\r\nInjected: 1")]),
    "value-lf": ("200 OK", [("X-A", "1\nInjected: 1")]),
    "value-cr": ("200 OK", [("X-A", "1\rInjected: 1")]),
    "value-nul": ("200 OK", [("X-A", "1\x00Injected: 1")]),
    "value-crlfcrlf-body": ("200 OK", [("X-A", "1\r\n\r\nInjected body")]),
    "name-crlf": ("200 OK", [("X-A\r\nInjected", "1")]),
    "name-lf": ("200 OK", [("X-A\nInjected", "1")]),
    "name-nul": ("200 OK", [("X-A\x00Injected", "1")]),
    "name-colon": ("200 OK", [("Injected: 1\r\nX-A", "1")]),
    "name-space": ("200 OK", [("X A", "1")]),
    "name-empty": ("200 OK", [("", "1")]),
    "value-non-latin1": ("200 OK", [("X-A", "caf\u00e9 \u20ac")]),
    "value-surrogate": ("200 OK", [("X-A", "\udcff")]),
    "name-non-latin1": ("200 OK", [("X-\u20ac", "1")]),
    "status-no-code": ("OK", TEXT),
    "status-letters": ("2OO OK", TEXT),
    "status-code-only": ("200", TEXT),
    "status-two-digits": ("20 OK", TEXT),
    "status-four-digits": ("2000 OK", TEXT),
    "status-below-100": ("099 Low", TEXT),
    "status-no-space": ("200OK", TEXT),
    "status-leading-space": (" 200 OK", TEXT),
    "status-crlf": ("200 OK\r\nInjected: 1", TEXT),
    "status-lf": ("200 OK\nInjected: 1", TEXT),
    "status-cr": ("200 OK\rInjected: 1", TEXT),
    "status-nul": ("200 OK\x00Injected", TEXT),
    "status-non-latin1": ("200 \u20ac", TEXT),
    "status-too-long": ("200 " + "R" * 70000, TEXT),
    "status-http-prefix": ("HTTP/1.1 200 OK", TEXT),
}


def query(environ, name):
    values = parse_qs(environ.get("QUERY_STRING", "")).get(name)
    return values[0] if values else ""


def json_response(start_response, value):
    data = json.dumps(value).encode("ascii")
    start_response("200 OK", [("Content-Type", "application/json"),
                              ("Content-Length", str(len(data)))])
    return [data]


def seen(environ):
    """What the application was given: PATH_INFO as the bytes the client sent (WSGI decodes
    them as latin-1), the query, the URI, and the body's length and SHA-256."""
    unread = query(environ, "unread") == "1"
    body = b"" if unread else environ["wsgi.input"].read()
    return {
        "method": environ["REQUEST_METHOD"],
        "path_info_hex": environ.get("PATH_INFO", "").encode("latin-1").hex(),
        "query_string": environ.get("QUERY_STRING", ""),
        "request_uri": environ.get("REQUEST_URI", ""),
        "content_length": environ.get("CONTENT_LENGTH", ""),
        "input_terminated": environ.get("wsgi.input_terminated", False),
        "body_length": None if unread else len(body),
        "body_sha256": hashlib.sha256(body).hexdigest(),
    }


def application(environ, start_response):
    path = environ.get("PATH_INFO", "")
    if path.startswith("/case/"):
        return CASES[path[len("/case/"):]](start_response, query(environ, "token"))
    if path.startswith("/inject/"):
        status, headers = INJECTIONS[path[len("/inject/"):]]
        start_response(status, headers)
        return [b"accepted\n"]
    if path == "/outcome":
        token = query(environ, "token")
        return json_response(start_response, {"returned_closable": token in RETURNED_CLOSABLE,
                                              "closed": token in CLOSED, "pid": os.getpid()})
    if path.startswith("/seen/"):
        record = seen(environ)
        with _seen_lock:
            SEEN.append(record)
        return json_response(start_response, record)
    if path == "/seen-log":
        with _seen_lock:
            return json_response(start_response, list(SEEN))
    start_response("404 Not Found", TEXT)
    return [b"no route\n"]
