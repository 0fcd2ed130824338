"""Real mod_wsgi-express command lines (tests/data/express_command_lines, each with its source),
run with `wsgid start-server` in place of `mod_wsgi-express start-server` until they answer:
the porting promise for Dockerfiles, Procfiles and start scripts."""

import os
import shlex
import subprocess
from pathlib import Path

import pytest
import requests

from tests.support.apache import free_port, shared_tmpdir, wait_for
from tests.support.express import START_TIMEOUT, ExpressServer

# The lines' certificates are self-signed stand-ins: the test checks the answer, not the chain.
pytestmark = pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")

DATA = Path(__file__).resolve().parents[1] / "data" / "express_command_lines" / "command_lines.txt"

APP = """\
def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"answered by the application"]
"""


def entries():
    found, entry = [], {}
    for line in DATA.read_text().splitlines() + [""]:
        if line.startswith("#"):
            continue
        if not line.strip():
            if entry:
                found.append(entry)
            entry = {}
            continue
        key, _, value = line.partition(": ")
        entry[key] = value
    return found


def lay_out(directory, spec):
    certificate = None
    for item in spec.split():
        name, _, kind = item.partition("=")
        path = os.path.join(directory, name)
        if name.endswith("/"):
            os.makedirs(path, mode=0o755, exist_ok=True)
            os.chmod(path, 0o755)
            continue
        if kind in ("cert", "key"):
            # one self-signed pair, made by openssl, stands in for the authors' certificate
            certificate = certificate or _self_signed(directory)
            with open(certificate[kind], "rb") as made, open(path, "wb") as f:
                f.write(made.read())
            continue
        with open(path, "w") as f:
            f.write(APP if kind in ("wsgi", "module") else "a file of the project\n")
        os.chmod(path, 0o644)


def _self_signed(directory):
    made = {"cert": os.path.join(directory, ".made.crt"), "key": os.path.join(directory, ".made.key")}
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=localhost", "-keyout", made["key"], "-out", made["cert"]],
                   check=True, capture_output=True)
    return made


def take_option(args, name):
    """Remove `--name VALUE` or `--name=VALUE` from args; return (the rest, VALUE or None)."""
    rest, value, words = [], None, iter(args)
    for word in words:
        if word == name:
            value = next(words)
        elif word.startswith(name + "="):
            value = word.split("=", 1)[1]
        else:
            rest.append(word)
    return rest, value


@pytest.mark.parametrize("entry", entries(), ids=lambda entry: entry["source"].split()[0])
def test_a_real_mod_wsgi_express_command_line_serves_with_wsgid(entry):
    project = shared_tmpdir("wsgid-real-line-")
    try:
        lay_out(project, entry["files"])
        words = shlex.split(entry["line"])
        assert words[:2] == ["mod_wsgi-express", "start-server"]
        args = words[2:]
        for replacement in entry.get("absolute", "").split():
            theirs, ours = replacement.split("=")
            args = [os.path.join(project, ours) if word == theirs else word for word in args]
        # the ports are a test's own; everything else is as the authors wrote it
        args, _ = take_option(args, "--port")
        args, https_port = take_option(args, "--https-port")
        _, server_name = take_option(args, "--server-name")
        if https_port is not None:
            https_port = free_port()
            args += ["--https-port", str(https_port)]
        server = ExpressServer(args, cwd=project)
        try:
            answer = wait_for(lambda: ask(server, https_port, server_name), START_TIMEOUT,
                              interval=0.1, message=f"{entry['source']} to answer")
            assert answer.status_code == 200, server.diagnostics()
            assert answer.text == "answered by the application"
        finally:
            server.cleanup()
    finally:
        subprocess.run(["rm", "-rf", project], check=False)


def ask(server, https_port, server_name):
    """The application's answer, over HTTPS when the line has an HTTPS port, under the line's
    --server-name when it has one; None while nothing answers yet."""
    if server.proc.poll() is not None:
        raise AssertionError(f"start-server exited\n{server.diagnostics()}")
    url = (f"https://127.0.0.1:{https_port}/" if https_port else server.url("/"))
    try:
        return requests.get(url, headers={"Host": server_name} if server_name else {},
                            verify=False, timeout=10)
    except requests.ConnectionError:
        return None
