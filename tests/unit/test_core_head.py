"""The response head (docs/protocol.md, "The response"): encode_head on both core
implementations: golden bytes, every way a status or header can be wrong, and agreement of the
Cython module with the twin on random heads.
"""

import random

import pytest


def test_golden_head(core):
    head = core.encode_head(
        "200 OK",
        [
            ("Content-Type", "text/plain; charset=utf-8"),
            ("Set-Cookie", "a=1; Path=/"),
            ("Set-Cookie", "b=2"),
            ("X-Tab", "a\tb"),
            ("X-Latin1", "caf\xe9 \x80\xff"),
            ("X-Empty", ""),
        ],
    )
    assert head == (
        b"HTTP/1.1 200 OK\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n"
        b"Set-Cookie: a=1; Path=/\r\n"
        b"Set-Cookie: b=2\r\n"
        b"X-Tab: a\tb\r\n"
        b"X-Latin1: caf\xe9 \x80\xff\r\n"
        b"X-Empty: \r\n"
        b"\r\n"
    )


def test_golden_head_without_headers(core):
    assert core.encode_head("204 No Content", []) == b"HTTP/1.1 204 No Content\r\n\r\n"


def test_status_with_empty_reason(core):
    assert core.encode_head("599 ", []) == b"HTTP/1.1 599 \r\n\r\n"


def test_every_token_character_is_a_valid_name(core):
    name = "!#$%&'*+-.^_`|~09azAZ"
    assert core.encode_head("200 OK", [(name, "v")]) == (
        b"HTTP/1.1 200 OK\r\n" + name.encode() + b": v\r\n\r\n"
    )


def test_str_subclasses_count_as_str(core):
    class Text(str):
        pass

    head = core.encode_head(Text("200 OK"), [(Text("X-A"), Text("b"))])
    assert head == b"HTTP/1.1 200 OK\r\nX-A: b\r\n\r\n"


def test_the_header_list_is_not_changed(core):
    headers = [("A", "1")]
    core.encode_head("200 OK", headers)
    assert headers == [("A", "1")]


INVALID = [
    # (status, headers, a substring of the HeadError's text)
    (b"200 OK", [], "status must be a str"),
    (200, [], "status must be a str"),
    (None, [], "status must be a str"),
    ("200", [], "not a 3-digit code"),
    ("200OK", [], "not a 3-digit code"),
    ("20 OK", [], "not a 3-digit code"),
    ("2000 OK", [], "not a 3-digit code"),
    ("abc OK", [], "not a 3-digit code"),
    ("\u066200 OK", [], "not a 3-digit code"),  # an Arabic-Indic digit is not a digit here
    (" 200 OK", [], "not a 3-digit code"),
    ("", [], "not a 3-digit code"),
    ("099 Low", [], "below 100"),
    ("200 O\r\nX-Injected: 1", [], "control character '\\r'"),
    ("200 O\nK", [], "control character '\\n'"),
    ("200 O\x00K", [], "control character '\\x00'"),
    ("200 O\tK", [], "control character '\\t'"),
    ("200 O\x7fK", [], "control character '\\x7f'"),
    ("200 \u20ac", [], "non-latin-1 character '\\u20ac'"),
    ("200 OK", (("A", "b"),), "headers must be a list"),
    ("200 OK", None, "headers must be a list"),
    ("200 OK", {"A": "b"}, "headers must be a list"),
    ("200 OK", [["A", "b"]], "must be a (name, value) tuple"),
    ("200 OK", [("A",)], "must be a (name, value) tuple"),
    ("200 OK", [("A", "b", "c")], "must be a (name, value) tuple"),
    ("200 OK", ["A: b"], "must be a (name, value) tuple"),
    ("200 OK", [(b"A", "b")], "must be str"),
    ("200 OK", [("A", b"b")], "must be str"),
    ("200 OK", [("A", 1)], "must be str"),
    ("200 OK", [("", "b")], "is not an HTTP token"),
    ("200 OK", [("X Y", "b")], "is not an HTTP token"),
    ("200 OK", [("X:Y", "b")], "is not an HTTP token"),
    ("200 OK", [("X\r\nY", "b")], "is not an HTTP token"),
    ("200 OK", [("X(", "b")], "is not an HTTP token"),
    ("200 OK", [("Caf\xe9", "b")], "is not an HTTP token"),
    ("200 OK", [("X-\u20ac", "b")], "is not an HTTP token"),
    ("200 OK", [("X", "a\r\nSet-Cookie: evil=1")], "control character '\\r'"),
    ("200 OK", [("X", "a\nb")], "control character '\\n'"),
    ("200 OK", [("X", "a\x00b")], "control character '\\x00'"),
    ("200 OK", [("X", "a\x1bb")], "control character '\\x1b'"),
    ("200 OK", [("X", "a\x7fb")], "control character '\\x7f'"),
    ("200 OK", [("X", "\u20ac")], "non-latin-1 character '\\u20ac'"),
    ("200 OK", [("X", "\U0001f600")], "non-latin-1 character"),
    ("200 OK", [("Connection", "close")], "hop-by-hop header 'Connection'"),
    ("200 OK", [("keep-alive", "timeout=5")], "hop-by-hop header 'keep-alive'"),
    ("200 OK", [("Proxy-Authenticate", "Basic")], "hop-by-hop"),
    ("200 OK", [("PROXY-AUTHORIZATION", "x")], "hop-by-hop"),
    ("200 OK", [("TE", "trailers")], "hop-by-hop"),
    ("200 OK", [("Trailer", "X")], "hop-by-hop"),
    ("200 OK", [("Transfer-Encoding", "chunked")], "hop-by-hop"),
    ("200 OK", [("upgrade", "h2c")], "hop-by-hop"),
    ("200 OK", [("A", "ok"), ("B", "bad\n")], "header 'B' value"),
]


@pytest.mark.parametrize("status, headers, problem", INVALID, ids=range(len(INVALID)))
def test_invalid_head_is_a_head_error(core, status, headers, problem):
    with pytest.raises(core.HeadError) as caught:
        core.encode_head(status, headers)
    assert problem in str(caught.value)
    assert "\n" not in str(caught.value) and "\r" not in str(caught.value)


@pytest.mark.parametrize("status, headers, problem", INVALID, ids=range(len(INVALID)))
def test_both_cores_give_the_same_head_error_text(both_cores, status, headers, problem):
    texts = []
    for core in both_cores:
        with pytest.raises(core.HeadError) as caught:
            core.encode_head(status, headers)
        texts.append(str(caught.value))
    assert texts[0] == texts[1]


def test_hop_by_hop_lookalikes_are_allowed(core):
    # Same lengths or prefixes as hop-by-hop names, but other names.
    names = ["Connectiom", "Keep-Alivf", "TF", "Trailers", "Upgrades", "Transfer-Encodinh", "T"]
    head = core.encode_head("200 OK", [(name, "1") for name in names])
    assert head.count(b"\r\n") == len(names) + 2


def test_long_values_are_cut_in_error_texts(core):
    with pytest.raises(core.HeadError) as caught:
        core.encode_head("200 OK", [("X", "v" * 10000 + "\n")])
    assert len(str(caught.value)) < 400


# The two implementations agree on random heads.

ALPHABET = (
    "aZ09-_!#~ :;,()\"/\t\r\n\x00\x01\x1f\x7f\x80\x9f\xa0\xe9\xff\u0100\u20ac\U0001f600"
)


def random_text(rng, limit):
    return "".join(rng.choice(ALPHABET) for _ in range(rng.randrange(limit)))


def random_head(rng):
    if rng.random() < 0.7:
        status = "%03d %s" % (rng.randrange(0, 1000), random_text(rng, 5))
    else:
        status = random_text(rng, 8)
    headers = []
    for _ in range(rng.randrange(6)):
        if rng.random() < 0.6:
            name = rng.choice(["Content-Type", "X-A", "Set-Cookie", "te", "Upgrade", "A:B"])
        else:
            name = random_text(rng, 6)
        headers.append((name, random_text(rng, 10)))
    return status, headers


def head_outcome(core, status, headers):
    try:
        return "head", core.encode_head(status, headers)
    except core.HeadError as error:
        return "error", str(error)


def test_cython_and_python_agree_on_random_heads(both_cores):
    rng = random.Random(7130)
    cython, python = both_cores
    kinds = set()
    for _ in range(3000):
        status, headers = random_head(rng)
        expected = head_outcome(python, status, headers)
        assert head_outcome(cython, status, headers) == expected, (status, headers)
        kinds.add(expected[0])
    assert kinds == {"head", "error"}
