"""The rules and constants that the C module and the Python side both hold agree.

Each value below is declared once on each side (the C module cannot import Python, and the
daemons do not read C headers); this test reads the C sources as text and holds the pairs
together, so that a change to one side fails here until the other follows (docs/design.md,
contract 1).
"""

import os
import random
import re
import subprocess

import pytest

from tests.support.cprogram import compile_c_program
from wsgid import answers, config, control, held_groups, log, log_format, options, sockets
from wsgid.errors import ConfigError
from wsgid.request_path import MAX_VARS

CMODULE = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(__file__))), "cmodule")


def c_sources():
    text = ""
    for name in sorted(os.listdir(CMODULE)):
        if name.endswith((".c", ".h")):
            with open(os.path.join(CMODULE, name)) as f:
                text += f.read()
    return text


SOURCES = c_sources()


def define(name):
    """The text of `#define NAME VALUE` in the C sources (exactly one such line)."""
    found = re.findall(rf"^#define {name} (.+?)\s*(?:/\*.*)?$", SOURCES, re.MULTILINE)
    assert len(found) == 1, f"{name}: {found}"
    return found[0]


def seconds_define(name):
    match = re.fullmatch(r"apr_time_from_sec\((\d+)\)", define(name))
    assert match, define(name)
    return float(match.group(1))


def test_the_timeouts_the_module_uses_default_as_the_option_table_says():
    assert seconds_define("WSGID_DEFAULT_CONNECT_TIMEOUT") == \
        options.OPTION_BY_NAME["connect-timeout"].default
    assert seconds_define("WSGID_DEFAULT_SHUTDOWN_TIMEOUT") == \
        options.OPTION_BY_NAME["shutdown-timeout"].default


def test_both_sides_clamp_seconds_at_the_same_largest_value():
    largest = float(define("WSGID_SECONDS_MAX"))
    convert = options.OPTION_BY_NAME["socket-timeout"].kind.convert
    assert convert("99999999999") == largest
    assert convert("2147483647") == largest


def test_the_default_callable_is_the_same():
    assert define("WSGID_DEFAULT_CALLABLE") == f'"{config.DEFAULT_CALLABLE}"'


def test_the_packet_variable_limit_is_the_same():
    assert define("WSGID_WIRE_MAX_VARS") == f"{MAX_VARS}u"


def test_the_file_suffixes_next_to_the_daemon_configuration_are_the_same():
    assert define("CHILDREN_SUFFIX") == f'"{held_groups.APACHE_CHILDREN_SUFFIX}"'
    assert define("CONTROL_SUFFIX") == f'"{control.CONTROL_SUFFIX}"'


def test_the_socket_path_limit_is_one_number_on_the_python_side():
    assert config.SOCKET_PATH_MAX == control.SOCKET_PATH_MAX == 107


def test_the_default_groups_options_are_valid_daemon_options():
    words = define("WSGID_DEFAULT_GROUP_OPTIONS").strip('"').split()
    name, values = options.parse_daemon_process(["wsgid-default", *words],
                                                apache_ids=(33, 33), running_ids=(0, 0))
    assert (values["processes"], values["threads"]) == (1, 15)


def daemon_file_directives():
    """Every directive name the module writes into the daemon configuration file."""
    written = set(re.findall(r'WSGID_DAEMON_SETTING\("(WSGI\w+)"', SOURCES))
    with open(os.path.join(CMODULE, "wsgid_daemon_file.c")) as f:
        text = f.read()
    written |= set(re.findall(r'"(WSGI[A-Za-z]+)[ "]', text))
    written |= set(re.findall(r'add_line\(lines, p, "([A-Za-z]+) ', text))
    # the hook directives go in by wsgid_hook_directive(): its table's names
    table = re.search(r"hook_directives\[WSGID_HOOK_KINDS\] = \{(.*?)\}", SOURCES, re.DOTALL)
    written |= set(re.findall(r'"(WSGI\w+)"', table.group(1)))
    return written


def test_the_daemon_file_directives_are_read_from_the_sources():
    # guards the readers above: they must find what the module writes
    assert {"WSGIDaemonProcess", "WSGIScriptAliasMatch", "WSGIAccessScript",
            "WSGIPythonOptimize", "WSGIScriptDirectory", "WSGIApacheServer", "LogLevel",
            "ErrorLogFormat"} <= daemon_file_directives()


def test_the_log_level_words_are_the_same_in_apaches_order():
    # cmodule writes LogLevel by Apache's level number; log.py and log_format.py read the word
    table = re.search(r"log_level_words\[\] = \{(.*?)\};", SOURCES, re.DOTALL)
    words = re.findall(r'"(\w+)"', table.group(1))
    assert tuple(words) == log_format.LEVEL_WORDS
    assert tuple(log.APACHE_LEVELS) == log_format.LEVEL_WORDS


@pytest.mark.parametrize("directive", sorted(daemon_file_directives()))
def test_every_directive_the_module_writes_is_one_the_daemon_file_reader_knows(directive):
    assert directive in config.DIRECTIVES or directive == config.ORIGIN_DIRECTIVE


# -- the grammars: the same inputs through cmodule/wsgid_values.c and wsgid/options.py ---------

SECONDS_INPUTS = [
    "0", "00", "1", "15", "0.5", ".5", "5.", ".", "", "1.2.3", "1e3", "-1", "+1", " 1", "1 ",
    "0x10", "inf", "nan", "٣", "2147483647", "2147483648", "99999999999999999999",
    "0.000001", "0.0", "000.000", "1_000",
]
GROUP_INPUTS = [
    "site", "site-1.example.com:8000", "wsgi_app", "%{GLOBAL}", "%site", ".hidden", "a/b",
    "a b", "a\tb", "a\x7fb", "processes=2", "a=b", "é-café", "a\u00a0b", "x" * 64, "x" * 65,
    "é" * 32, "é" * 33, "127.0.0.1", "",
]


def random_inputs(alphabet, count, seed):
    chooser = random.Random(seed)
    return ["".join(chooser.choice(alphabet) for _ in range(chooser.randint(0, 8)))
            for _ in range(count)]


def c_verdicts(tmp_path, lines):
    probe = compile_c_program(tmp_path, "values_probe", "wsgid_values.c")
    out = subprocess.run([str(probe)], input="".join(f"{line}\n" for line in lines).encode(),
                         capture_output=True, check=True, timeout=60).stdout.decode()
    return out.splitlines()


def python_seconds(text, allow_zero):
    try:
        return f"ok {options.seconds(allow_zero).convert(text)!r}"
    except options.InvalidValue:
        return "bad"


def python_group(name):
    try:
        options.check_group_name(name)
    except ConfigError:
        return "bad"
    return "ok"


def test_the_module_and_the_supervisor_read_seconds_with_one_grammar(tmp_path):
    inputs = SECONDS_INPUTS + random_inputs("0123456789.e+- ", 400, seed=1)
    lines = [f"{kind} {text}" for text in inputs for kind in ("seconds", "seconds0")]
    expected = [python_seconds(text, allow_zero) for text in inputs
                for allow_zero in (False, True)]
    # %.17g and repr() print the same double the same way for the values these inputs give.
    got = [v if not v.startswith("ok ") else f"ok {float(v[3:])!r}" for v in
           c_verdicts(tmp_path, lines)]
    assert list(zip(lines, got)) == list(zip(lines, expected))
    assert got.count("bad") not in (0, len(got))   # the inputs test both verdicts


def test_the_module_and_the_supervisor_accept_the_same_group_names(tmp_path):
    inputs = GROUP_INPUTS + random_inputs("ab.%/= \t{}-_:é", 400, seed=2)
    # The probe reads one line per input: a name with a newline cannot reach it (nor can it
    # appear in an Apache configuration line).
    got = [v.split(" ", 1)[0] for v in c_verdicts(tmp_path, [f"group {n}" for n in inputs])]
    expected = [python_group(name) for name in inputs]
    assert list(zip(inputs, got)) == list(zip(inputs, expected))
    assert "ok" in got and "bad" in got


def test_the_send_again_answer_is_the_one_the_module_reads():
    answer = answers.send_again_answer(processes=2, threads=4)
    assert answer.startswith(b"HTTP/1.1 000 ")      # the status only this answer has
    header = define("WSGID_REPLAY_ATTEMPTS_HEADER").strip('"')
    assert f"\r\n{header}: 9\r\n".encode() in answer


def test_both_sides_name_a_groups_health_socket_alike():
    assert define("WSGID_GROUP_SOCKET_SUFFIX") == f'"{sockets.GROUP_SOCKET_SUFFIX}"'
    assert define("HEALTH_SUFFIX") == f'"{sockets.HEALTH_SUFFIX}"'
    # the twin of a path that fits fits too: the suffix it replaces is no shorter
    assert len(sockets.HEALTH_SUFFIX) <= len(sockets.GROUP_SOCKET_SUFFIX)
