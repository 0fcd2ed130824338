"""The daemons' own complete answers: the fixed HTTP responses that a daemon process, or the
supervisor standing in for a group it cannot start, sends without any application (403, 404,
500, 503, 504). Both sides import them from here, so that neither imports the other's code.
"""

_ERROR_BODY = (
    b"<!DOCTYPE html>\n<html><head><title>500 Internal Server Error</title></head>\n"
    b"<body><h1>Internal Server Error</h1>\n"
    b"<p>The application failed while handling this request. "
    b"Details are in the server's error log.</p></body></html>\n"
)
_NOT_FOUND_BODY = (
    b"<!DOCTYPE html>\n<html><head><title>404 Not Found</title></head>\n"
    b"<body><h1>Not Found</h1>\n<p>No application is configured for this URL.</p></body></html>\n"
)


def complete_response(status_line, body, extra_headers=b""):
    """A whole response of the daemon's own (an HTML `body`), as bytes ready to send;
    `extra_headers` are complete header lines, each ending in CRLF."""
    return (b"HTTP/1.1 " + status_line + b"\r\n"
            b"Content-Type: text/html; charset=utf-8\r\n" + extra_headers +
            b"Content-Length: " + str(len(body)).encode("ascii") + b"\r\n\r\n" + body)


_GATEWAY_TIMEOUT_BODY = (
    b"<!DOCTYPE html>\n<html><head><title>504 Gateway Timeout</title></head>\n"
    b"<body><h1>Gateway Timeout</h1>\n<p>The application did not answer in time.</p>"
    b"</body></html>\n"
)

_FORBIDDEN_BODY = (
    b"<!DOCTYPE html>\n<html><head><title>403 Forbidden</title></head>\n"
    b"<body><h1>Forbidden</h1>\n<p>You don't have permission to access this resource.</p>"
    b"</body></html>\n"
)

FORBIDDEN_RESPONSE_403 = complete_response(b"403 Forbidden", _FORBIDDEN_BODY)
ERROR_RESPONSE_500 = complete_response(b"500 Internal Server Error", _ERROR_BODY)
NOT_FOUND_RESPONSE_404 = complete_response(b"404 Not Found", _NOT_FOUND_BODY)
GATEWAY_TIMEOUT_RESPONSE_504 = complete_response(b"504 Gateway Timeout", _GATEWAY_TIMEOUT_BODY)

_UNAVAILABLE_BODY = (
    b"<!DOCTYPE html>\n<html><head><title>503 Service Unavailable</title></head>\n"
    b"<body><h1>Service Unavailable</h1>\n<p>The application's processes fail to start. "
    b"Details are in the server's error log.</p></body></html>\n"
)


def unavailable_answer(retry_after):
    """The bytes of the 503 response (an HTTP status line and headers, docs/protocol.md)."""
    return complete_response(b"503 Service Unavailable", _UNAVAILABLE_BODY,
                             b"Retry-After: %d\r\n" % retry_after)


# The interim head that opens the body gate (wsgid.body_gate, docs/protocol.md): mod_wsgid sends
# the request body only after it.
BODY_GATE_OPEN = b"HTTP/1.1 100 Continue\r\n\r\n"


def send_again_answer(processes, threads):
    """The answer of a process whose loaded script is older than the file (script reloading,
    docs/protocol.md): not an HTTP response but mod_wsgid's "send this request again", with
    how many times in all it may send it: processes x threads + 1 (each process stops taking
    connections at its first such answer, but each of its threads may hold one already), and
    never fewer than mod_wsgi's 2 x processes + 1."""
    attempts = max(processes * threads, 2 * processes) + 1
    return b"HTTP/1.1 000 Script Changed\r\nWsgid-Attempts: %d\r\n\r\n" % attempts
