"""Writes the golden packet cases of this directory: NAME.bin (the raw bytes sent to a daemon)
and NAME.json (what the daemon must make of them).

The .bin and .json files are committed; this script only shows how they were made and
regenerates them (`python tests/data/packets/generate.py`), so review the diff it makes.
It encodes packets on its own (it never imports wsgid), byte by byte as docs/protocol.md
draws them, so the cases do not depend on the code they test.

NAME.json keys:
- "description": what the case is about.
- "environ": for a valid packet, the whole expected environ except the base_environ entries the
  test passes in; "rest": the body bytes past the vars block (latin-1 text);
  "content_length": the parsed CONTENT_LENGTH or null.
- "error": for a malformed packet, a substring of the ProtocolError's text.
- "truncated": true when the bytes end before the packet does: feeding them never completes,
  and read_request fails only when the connection closes.
"""

import json
import struct
from pathlib import Path

HERE = Path(__file__).resolve().parent


def header(datasize, modifier1=0, modifier2=0):
    return struct.pack("<BHB", modifier1, datasize, modifier2)


def pair(key, value):
    return struct.pack("<H", len(key)) + key + struct.pack("<H", len(value)) + value


def block(pairs):
    return b"".join(pair(k, v) for k, v in pairs)


def packet(pairs, body=b""):
    data = block(pairs)
    return header(len(data)) + data + body


def text(pairs):
    return {k.decode("latin-1"): v.decode("latin-1") for k, v in pairs}


GET = [
    (b"REQUEST_METHOD", b"GET"),
    (b"SCRIPT_NAME", b"/app"),
    (b"PATH_INFO", b"/hello"),
    (b"QUERY_STRING", b"a=1&b=2"),
    (b"SERVER_NAME", b"localhost"),
    (b"SERVER_PORT", b"8000"),
    (b"SERVER_PROTOCOL", b"HTTP/1.1"),
    (b"REMOTE_ADDR", b"127.0.0.1"),
    (b"HTTP_HOST", b"localhost:8000"),
    (b"wsgid.process_group", b"site"),
]
PLAIN = {"wsgi.url_scheme": "http", "wsgi.input_terminated": False}


def valid(description, data, environ, rest=b"", content_length=None):
    return {
        "description": description,
        "environ": environ,
        "rest": rest.decode("latin-1"),
        "content_length": content_length,
    }, data


def malformed(description, data, error, truncated=False):
    case = {"description": description, "error": error}
    if truncated:
        case["truncated"] = True
    return case, data


def cases():
    post = [(b"REQUEST_METHOD", b"POST"), (b"CONTENT_LENGTH", b"11")]
    yield "get", valid("a GET with the usual CGI variables", packet(GET), {**text(GET), **PLAIN})
    yield "post_with_body_start", valid(
        "a POST whose first body bytes arrive with the packet: they become rest",
        packet(post, b"hello"),
        {**text(post), **PLAIN, "SCRIPT_NAME": "", "PATH_INFO": ""},
        rest=b"hello",
        content_length=11,
    )
    leading_zero = [(b"CONTENT_LENGTH", b"007")]
    yield "content_length_leading_zeros", valid(
        "leading zeros are still a plain decimal number",
        packet(leading_zero),
        {**text(leading_zero), **PLAIN, "SCRIPT_NAME": "", "PATH_INFO": ""},
        content_length=7,
    )
    largest = [(b"CONTENT_LENGTH", b"9223372036854775807")]
    yield "content_length_largest", valid(
        "the largest CONTENT_LENGTH, 2**63 - 1",
        packet(largest),
        {**text(largest), **PLAIN, "SCRIPT_NAME": "", "PATH_INFO": ""},
        content_length=2**63 - 1,
    )
    empty_length = [(b"REQUEST_METHOD", b"GET"), (b"CONTENT_LENGTH", b"")]
    yield "content_length_empty", valid(
        "an empty CONTENT_LENGTH means no body",
        packet(empty_length),
        {**text(empty_length), **PLAIN, "SCRIPT_NAME": "", "PATH_INFO": ""},
    )
    https = [(b"HTTPS", b"on"), (b"PATH_INFO", b"/")]
    yield "https_on", valid(
        "HTTPS=on makes the url scheme https",
        packet(https),
        {**text(https), "wsgi.url_scheme": "https", "wsgi.input_terminated": False,
         "SCRIPT_NAME": ""},
    )
    https1 = [(b"HTTPS", b"1")]
    yield "https_1", valid(
        "HTTPS=1 makes the url scheme https",
        packet(https1),
        {**text(https1), "wsgi.url_scheme": "https", "wsgi.input_terminated": False,
         "SCRIPT_NAME": "", "PATH_INFO": ""},
    )
    https_off = [(b"HTTPS", b"off")]
    yield "https_off", valid(
        "HTTPS=off leaves the url scheme http",
        packet(https_off),
        {**text(https_off), **PLAIN, "SCRIPT_NAME": "", "PATH_INFO": ""},
    )
    scheme = [(b"REQUEST_SCHEME", b"https")]
    yield "request_scheme_https", valid(
        "REQUEST_SCHEME=https (what stock uwsgi front ends send) makes the url scheme https",
        packet(scheme),
        {**text(scheme), "wsgi.url_scheme": "https", "wsgi.input_terminated": False,
         "SCRIPT_NAME": "", "PATH_INFO": ""},
    )
    chunked = [(b"REQUEST_METHOD", b"PUT"), (b"wsgid.input_terminated", b"1")]
    yield "input_terminated", valid(
        "a chunked request: no CONTENT_LENGTH, the body ends at the half-close",
        packet(chunked, b"5\r\nhello"),
        {**text(chunked), "wsgi.url_scheme": "http", "wsgi.input_terminated": True,
         "SCRIPT_NAME": "", "PATH_INFO": ""},
        rest=b"5\r\nhello",
    )
    latin1 = [(b"PATH_INFO", b"/caf\xe9"), (b"HTTP_X_\xff", b"\x00\x01\x7f\x80\xff"),
              (b"HTTP_EMPTY", b"")]
    yield "latin1_and_empty_values", valid(
        "keys and values are bytes decoded as latin-1; a value may be empty",
        packet(latin1),
        {**text(latin1), **PLAIN, "SCRIPT_NAME": ""},
    )
    yield "empty_vars_block", valid(
        "a vars block of 0 bytes is a packet without variables",
        header(0),
        {**PLAIN, "SCRIPT_NAME": "", "PATH_INFO": ""},
    )
    # Two length fields, a 6-byte key and the value: 65535, the largest block a u16 describes.
    big = [(b"HTTP_X", b"x" * (0xFFFF - 4 - len(b"HTTP_X")))]
    assert len(block(big)) == 0xFFFF, len(block(big))
    yield "vars_block_65535", valid(
        "a vars block of exactly 65535 bytes is accepted",
        packet(big, b"body"),
        {**text(big), **PLAIN, "SCRIPT_NAME": "", "PATH_INFO": ""},
        rest=b"body",
    )
    thousand = [(b"V%04d" % i, b"%d" % i) for i in range(1000)]
    yield "vars_1000", valid(
        "1000 variables, the limit, are accepted",
        packet(thousand),
        {**text(thousand), **PLAIN, "SCRIPT_NAME": "", "PATH_INFO": ""},
    )

    yield "too_many_vars", malformed(
        "1001 variables are one too many",
        packet([(b"V%04d" % i, b"") for i in range(1001)]),
        "more than 1000 variables",
    )
    yield "empty_connection", malformed(
        "the connection closes without sending anything", b"", "truncated packet", True
    )
    yield "truncated_header", malformed(
        "the connection closes inside the 4-byte header", b"\x00\x10", "truncated packet", True
    )
    full = packet(GET)
    yield "size_larger_than_data", malformed(
        "datasize says more than the connection sends before it closes (truncated vars block)",
        full[: len(full) // 2],
        "truncated packet",
        True,
    )
    data = block([(b"REQUEST_METHOD", b"GET"), (b"PATH_INFO", b"/x")])
    yield "size_smaller_than_data_in_value", malformed(
        "datasize ends the block inside a value",
        header(len(data) - 1) + data,
        "runs past the end",
    )
    yield "size_smaller_than_data_after_key", malformed(
        "datasize ends the block right after a key: no value length",
        header(2 + len(b"REQUEST_METHOD")) + data,
        "ends inside a pair",
    )
    yield "stray_byte", malformed(
        "one byte after the last pair does not make a pair",
        header(len(data) + 1) + data + b"\x05",
        "stray byte",
    )
    yield "zero_length_key", malformed(
        "a key of length 0",
        packet([(b"REQUEST_METHOD", b"GET"), (b"", b"value")]),
        "zero-length key",
    )
    overrun = struct.pack("<H", 200) + b"REQUEST_METHOD"
    yield "key_length_past_end", malformed(
        "a key length that runs past the end of the block",
        header(len(overrun)) + overrun,
        "key of length 200",
    )
    value_overrun = struct.pack("<H", 4) + b"HOST" + struct.pack("<H", 100) + b"short"
    yield "value_length_past_end", malformed(
        "a value length that runs past the end of the block",
        header(len(value_overrun)) + value_overrun,
        "runs past the end",
    )
    body = block(GET)
    yield "modifier1_not_zero", malformed(
        "modifier1 5 is not a WSGI request",
        header(len(body), modifier1=5) + body,
        "not a uwsgi packet: modifier1=5 modifier2=0",
    )
    yield "modifier2_not_zero", malformed(
        "modifier2 1 is not a WSGI request",
        header(len(body), modifier2=1) + body,
        "not a uwsgi packet: modifier1=0 modifier2=1",
    )
    yield "plain_http", malformed(
        "a plain HTTP request sent to the daemon socket",
        b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n",
        "plain HTTP?",
    )
    yield "plain_http_post", malformed(
        "a plain HTTP POST sent to the daemon socket",
        b"POST /upload HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\n\r\n",
        "plain HTTP?",
    )
    yield "duplicate_content_length", malformed(
        "CONTENT_LENGTH twice",
        packet([(b"CONTENT_LENGTH", b"5"), (b"REQUEST_METHOD", b"POST"),
                (b"CONTENT_LENGTH", b"500")]),
        "duplicate key 'CONTENT_LENGTH'",
    )
    yield "duplicate_key", malformed(
        "any key twice",
        packet([(b"HTTP_HOST", b"a"), (b"HTTP_HOST", b"b")]),
        "duplicate key 'HTTP_HOST'",
    )
    for name, value in [
        ("letters", b"12a"),
        ("negative", b"-1"),
        ("plus_sign", b"+5"),
        ("spaces", b" 5"),
        ("superscript_digit", b"\xb2"),
        ("too_large", b"9223372036854775808"),
        ("huge", b"1" * 40),
    ]:
        yield "content_length_" + name, malformed(
            "CONTENT_LENGTH %r is not a plain decimal number that fits 63 bits" % value,
            packet([(b"CONTENT_LENGTH", value)]),
            "CONTENT_LENGTH",
        )
    yield "content_length_with_input_terminated", malformed(
        "a body cannot both have a length and end at the half-close",
        packet([(b"CONTENT_LENGTH", b"5"), (b"wsgid.input_terminated", b"1")]),
        "together with wsgid.input_terminated=1",
    )
    yield "input_terminated_bad_value", malformed(
        "wsgid.input_terminated is 1 or 0",
        packet([(b"wsgid.input_terminated", b"yes")]),
        "wsgid.input_terminated is 'yes'",
    )


def main():
    for old in list(HERE.glob("*.bin")) + list(HERE.glob("*.json")):
        old.unlink()
    for name, (case, data) in cases():
        (HERE / (name + ".bin")).write_bytes(data)
        (HERE / (name + ".json")).write_text(json.dumps(case, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
