"""Real mod_wsgi-express command lines (tests/data/express_command_lines, each with its source),
run with `wsgid start-server` in place of `mod_wsgi-express start-server` until they answer:
the porting promise for Dockerfiles, Procfiles and start scripts."""

import os
import shlex
import subprocess
from pathlib import Path

import pytest

from tests.support.apache import shared_tmpdir
from tests.support.express import ExpressServer

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
    for item in spec.split():
        name, _, kind = item.partition("=")
        path = os.path.join(directory, name)
        if name.endswith("/"):
            os.makedirs(path, mode=0o755, exist_ok=True)
            os.chmod(path, 0o755)
            continue
        with open(path, "w") as f:
            f.write(APP if kind in ("wsgi", "module") else "a file of the project\n")
        os.chmod(path, 0o644)


@pytest.mark.parametrize("entry", entries(), ids=lambda entry: entry["source"].split()[0])
def test_a_real_mod_wsgi_express_command_line_serves_with_wsgid(entry):
    project = shared_tmpdir("wsgid-real-line-")
    try:
        lay_out(project, entry["files"])
        words = shlex.split(entry["line"])
        assert words[:2] == ["mod_wsgi-express", "start-server"]
        args = words[2:]
        for replacement in filter(None, [entry.get("absolute")]):
            theirs, ours = replacement.split("=")
            args = [os.path.join(project, ours) if word == theirs else word for word in args]
        # the port is a test's own; everything else is as the authors wrote it
        port_at = args.index("--port") + 1
        del args[port_at - 1:port_at + 1]
        server = ExpressServer(args, cwd=project)
        try:
            answer = server.wait_until_serving("/")
            assert answer.status_code == 200, server.diagnostics()
            assert answer.text == "answered by the application"
        finally:
            server.cleanup()
    finally:
        subprocess.run(["rm", "-rf", project], check=False)
