"""Configuration mistakes that mod_wsgid itself (the C side) refuses at `httpd -t`.

Each case runs the real Apache configtest with the real module and checks that it fails with a
message naming the directive, the offending value and the fix; the cases that are right (a
socket path of exactly the limit) pass configtest and serve. Option values that only the Python
side knows are checked by `wsgid check-config` and tested with the supervisor.
"""

import os
import re

import pytest
import requests

from tests.support.apache import APPS
from tests.support.procs import wait_for_daemons
from wsgid import paths

pytestmark = pytest.mark.apache

# sizeof(sun_path) - 1 on Linux
SOCKET_PATH_LIMIT = 107

SITE = """
WSGIDaemonProcess site processes=1 threads=2
WSGIScriptAlias /app "{apps}/echo.wsgi" process-group=site
"""


def failed_configtest(inst):
    rc, output = inst.configtest()
    assert rc != 0, f"configtest passed but should have failed:\n{output}"
    return output


def test_script_alias_naming_an_unknown_process_group_fails_configtest(apache):
    inst = apache(SITE + 'WSGIScriptAlias /other "{apps}/echo.wsgi" process-group=nosuch\n')
    output = failed_configtest(inst)
    assert "WSGIScriptAlias process-group=nosuch" in output
    assert "httpd.conf:" in output                       # where it was written
    assert "defined groups: site" in output
    assert "WSGIDaemonProcess nosuch" in output          # the fix


def test_process_group_directive_naming_an_unknown_group_fails_configtest(apache):
    inst = apache(SITE + '<Location /other>\n    WSGIProcessGroup missing\n</Location>\n')
    output = failed_configtest(inst)
    assert "WSGIProcessGroup missing" in output
    assert "defined groups: site" in output
    assert "WSGIDaemonProcess missing" in output


def test_group_of_another_virtual_host_cannot_be_used(apache):
    inst = apache("""
<VirtualHost *:{port}>
    ServerName one.example
    WSGIDaemonProcess private processes=1 threads=1
</VirtualHost>
<VirtualHost *:{port}>
    ServerName two.example
    WSGIScriptAlias / "{apps}/echo.wsgi" process-group=private
</VirtualHost>
""".replace("{port}", "*"))
    output = failed_configtest(inst)
    assert "process-group=" in output and "'private'" in output
    assert "same ServerName" in output
    assert "main server" in output


def test_missing_python_executable_fails_configtest_and_says_what_to_paste(apache):
    inst = apache(f'LoadModule wsgid_module "{paths.module_path()}"\n' + SITE, load_wsgid=False)
    output = failed_configtest(inst)
    assert "WSGIPythonExecutable is not set" in output
    assert "wsgid module-config" in output


def test_duplicate_group_name_fails_configtest(apache):
    inst = apache(SITE + "WSGIDaemonProcess site processes=2\n")
    output = failed_configtest(inst)
    assert "WSGIDaemonProcess" in output
    assert "'site' is already defined at" in output


@pytest.mark.parametrize("name, problem", [(".hidden", "starts with '.'"),
                                           ("a=b", "contains '='"),
                                           ("x" * 65, "is longer than 64 bytes")])
def test_a_group_name_the_supervisor_would_refuse_fails_configtest(apache, name, problem):
    inst = apache(f"WSGIDaemonProcess {name} processes=1\n")
    output = failed_configtest(inst)
    assert f"WSGIDaemonProcess: the group name '{name}' {problem}" in output


@pytest.mark.parametrize("option", ["connect-timeout=soon", "socket-timeout=0", "socket-timeout=1.2.3",
                                    "connect-timeout=-1", "connect-timeout=5.",
                                    "shutdown-timeout=-1", "shutdown-timeout=later"])
def test_bad_timeout_option_fails_configtest(apache, option):
    inst = apache(f"WSGIDaemonProcess site {option}\n")
    output = failed_configtest(inst)
    name, value = option.split("=")
    assert f"{name}={value} is not a number of seconds" in output
    assert f"{name}=15" in output


def test_unknown_script_alias_option_fails_configtest(apache):
    inst = apache(SITE + 'WSGIScriptAlias /x "{apps}/echo.wsgi" proces-group=site\n')
    output = failed_configtest(inst)
    assert "WSGIScriptAlias: unknown option 'proces-group=site'" in output
    assert "process-group=NAME" in output


def pid_digits():
    """Digits of the largest pid this system hands out: the module reserves that many."""
    with open("/proc/sys/kernel/pid_max") as f:
        return len(str(int(f.read()) - 1))


def socket_path_length(prefix, group):
    """Length of <prefix>.<pid>.<generation>.<group>.sock for the widest pid, generation 0-9."""
    return len(prefix) + 1 + pid_digits() + 1 + 1 + 1 + len(group) + len(".sock")


def prefix_for_length(root, group, length):
    """A WSGISocketPrefix under root whose socket path for group is exactly length bytes."""
    base = os.path.join(root, "run", "p")
    padding = length - socket_path_length(base, group)
    assert padding >= 0, "the test's server root is too deep for this test"
    return base + "x" * padding


def test_socket_path_longer_than_sun_path_fails_configtest_naming_the_prefix(apache):
    inst = apache(SITE)
    prefix = prefix_for_length(inst.root, "site", SOCKET_PATH_LIMIT + 1)
    inst.write_config(SITE + f'WSGISocketPrefix "{prefix}"\n')
    output = failed_configtest(inst)
    assert "group 'site'" in output
    assert f"can be {SOCKET_PATH_LIMIT + 1} bytes" in output
    assert f"at most {SOCKET_PATH_LIMIT} bytes" in output
    assert "WSGISocketPrefix" in output
    assert prefix in output                               # the computed path starts with it


def test_socket_path_of_exactly_the_limit_passes_and_serves(apache):
    inst = apache(SITE)
    prefix = prefix_for_length(inst.root, "site", SOCKET_PATH_LIMIT)
    inst.write_config(SITE + f'WSGISocketPrefix "{prefix}"\n')
    rc, output = inst.configtest()
    assert rc == 0, output
    inst.start()
    wait_for_daemons(inst, 1)
    response = requests.get(inst.url("/app/hello"), timeout=10)
    assert response.status_code == 200
    assert response.text == "Hello, world!\n"
    socket_names = [n for n in os.listdir(os.path.dirname(prefix)) if n.endswith(".sock")]
    assert len(socket_names) == 1
    assert len(os.path.join(os.path.dirname(prefix), socket_names[0])) <= SOCKET_PATH_LIMIT


def test_socket_prefix_in_a_missing_directory_fails_configtest(apache):
    inst = apache(SITE + "WSGISocketPrefix no-such-dir/wsgid\n")
    output = failed_configtest(inst)
    assert "WSGISocketPrefix" in output
    # relative to ServerRoot, as in mod_wsgi
    assert os.path.join(inst.root, "no-such-dir") + "/ of the socket prefix" in output
    assert "does not exist" in output


def test_socket_rotation_off_names_the_socket_without_the_generation(apache):
    # a relative prefix is relative to ServerRoot, as Red Hat's "run/wsgi" is
    inst = apache(SITE + "WSGISocketRotation Off\nWSGISocketPrefix run/sk\n")
    inst.start()
    wait_for_daemons(inst, 1)
    sockets = [n for n in os.listdir(os.path.join(inst.root, "run")) if n.endswith(".sock")]
    assert sockets == [f"sk.{inst.pid()}.site.sock"]
    inst.graceful()
    assert requests.get(inst.url("/app/hello"), timeout=10).text == "Hello, world!\n"
    sockets = [n for n in os.listdir(os.path.join(inst.root, "run")) if n.endswith(".sock")]
    assert sockets == [f"sk.{inst.pid()}.site.sock"]


def test_decimal_timeouts_pass_configtest(apache):
    inst = apache('WSGIDaemonProcess site connect-timeout=0.5 socket-timeout=2.5 '
                  'shutdown-timeout=0\n'
                  'WSGIScriptAlias /app "{apps}/echo.wsgi" process-group=site\n')
    rc, output = inst.configtest()
    assert rc == 0, output


def test_stop_does_not_need_python(apache):
    """`httpd -k stop` only signals the parent: a virtualenv removed meanwhile must not block it."""
    inst = apache('WSGIDaemonProcess site\nWSGIScriptAlias /app "{apps}/echo.wsgi" process-group=site\n')
    inst.start()
    with open(inst.conf_path) as f:
        text = f.read()
    assert "WSGIPythonExecutable" in text
    with open(inst.conf_path, "w") as f:
        f.write(re.sub(r'WSGIPythonExecutable "[^"]*"', 'WSGIPythonExecutable "/nonexistent/python3"', text))
    rc, output = inst.configtest()
    assert rc != 0 and "/nonexistent/python3" in output
    inst.stop()   # asserts that `httpd -k stop` succeeded and the parent exited


def test_daemons_get_apaches_timeout_as_socket_timeout_unless_given(apache):
    """mod_wsgi's default socket-timeout is the server's Timeout; module and daemons agree on it."""
    inst = apache('Timeout 42\n'
                  'WSGIDaemonProcess site\n'
                  'WSGIDaemonProcess other socket-timeout=7\n'
                  'WSGIScriptAlias /app "{apps}/echo.wsgi" process-group=site\n'
                  'WSGIScriptAlias /other "{apps}/echo.wsgi" process-group=other\n')
    inst.start()
    generated = os.path.join(inst.root, "run", f"wsgid.{inst.pid()}.conf")
    with open(generated) as f:
        lines = [line.split() for line in f if line.startswith("WSGIDaemonProcess")]
    assert lines == [["WSGIDaemonProcess", "site", "socket-timeout=42"],
                     ["WSGIDaemonProcess", "other", "socket-timeout=7"]]
    assert requests.get(inst.url("/app/hello"), timeout=10).status_code == 200


# -- WSGIImportScript ------------------------------------------------------------------------

IMPORT_SCRIPT = '{apps}/echo.wsgi'


@pytest.mark.parametrize("line, words", [
    ("WSGIImportScript", "the script path is missing"),
    ("WSGIImportScript process-group=site application-group=%{GLOBAL}",
     "the script path is missing"),
    (f'WSGIImportScript "{IMPORT_SCRIPT}" application-group=%{{GLOBAL}}',
     "process-group= is missing"),
    (f'WSGIImportScript "{IMPORT_SCRIPT}" process-group=site', "application-group= is missing"),
    (f'WSGIImportScript "{IMPORT_SCRIPT}" process-group=site application-group=%{{GLOBAL}} '
     "callable-object=app", "unknown option 'callable-object=app'"),
    (f'WSGIImportScript "{IMPORT_SCRIPT}" process-group= application-group=%{{GLOBAL}}',
     "option 'process-group=' is empty"),
    (f'WSGIImportScript "{IMPORT_SCRIPT}" process-group=site process-group=site '
     "application-group=%{GLOBAL}", "option 'process-group' is given twice"),
    (f'WSGIImportScript "{IMPORT_SCRIPT}" process-group=%{{GLOBAL}} '
     "application-group=%{GLOBAL}", "process-group=%{GLOBAL} is not supported: wsgid has no "
                                    "embedded mode"),
])
def test_import_script_syntax_errors_fail_configtest(apache, line, words):
    inst = apache(SITE + line + "\n")
    output = failed_configtest(inst)
    assert "WSGIImportScript: " + words in output
    assert "httpd.conf" in output                        # Apache names the line


def test_import_script_naming_an_unknown_group_fails_configtest(apache):
    inst = apache(SITE + f'WSGIImportScript "{IMPORT_SCRIPT}" process-group=nosuch '
                         "application-group=%{GLOBAL}\n")
    output = failed_configtest(inst)
    assert "WSGIImportScript process-group=nosuch at " in output
    assert "httpd.conf:" in output
    assert "defined groups: site" in output
    assert "WSGIDaemonProcess nosuch" in output


def test_import_script_cannot_use_the_group_of_another_virtual_host(apache):
    inst = apache(f"""
<VirtualHost *:*>
    ServerName one.example
    WSGIDaemonProcess private processes=1 threads=1
</VirtualHost>
<VirtualHost *:*>
    ServerName two.example
    WSGIImportScript "{IMPORT_SCRIPT}" process-group=private application-group=%{{GLOBAL}}
</VirtualHost>
""")
    output = failed_configtest(inst)
    assert "WSGIImportScript process-group= at " in output and "'private'" in output
    assert "same ServerName" in output


def test_import_script_checks_of_the_daemon_side_name_the_users_line(apache):
    """The file's existence and the service-group rules are wsgid check-config's: through the
    generated file's WSGIConfigOrigin, the message still names httpd.conf and its line."""
    inst = apache(SITE + 'WSGIImportScript "{root}/missing.py" process-group=site '
                         "application-group=%{GLOBAL}\n")
    output = failed_configtest(inst)
    assert "WSGIImportScript: the script '" + inst.root + "/missing.py' does not exist" in output
    assert re.search(r"httpd\.conf:\d+: WSGIImportScript", output)

    inst.write_config("WSGIDaemonProcess svc threads=0\n")
    output = failed_configtest(inst)
    assert re.search(r"httpd\.conf:\d+: WSGIDaemonProcess svc: threads=0 makes 'svc' a service "
                     r"group", output)
    assert "nothing to run" in output


def test_import_scripts_reach_the_generated_daemon_configuration(apache):
    inst = apache(SITE + f'WSGIImportScript "{IMPORT_SCRIPT}" process-group=site '
                         "application-group=%{GLOBAL}\n"
                         'WSGIDaemonProcess "svc" threads=0\n'
                         f'WSGIImportScript "{IMPORT_SCRIPT}" process-group=svc '
                         "application-group=%{GLOBAL}\n")
    rc, output = inst.configtest()
    assert rc == 0, output
    inst.start()
    generated = os.path.join(inst.root, "run", f"wsgid.{inst.pid()}.conf")
    with open(generated) as f:
        lines = f.read().splitlines()
    imports = [i for i, text in enumerate(lines) if text.startswith("WSGIImportScript")]
    script = IMPORT_SCRIPT.replace("{apps}", APPS)
    assert [lines[i] for i in imports] == [
        f"WSGIImportScript {script} process-group=site application-group=%{{GLOBAL}}",
        f"WSGIImportScript {script} process-group=svc application-group=%{{GLOBAL}}"]
    for i in imports:
        assert re.fullmatch(r"WSGIConfigOrigin \S+/conf/httpd\.conf:\d+", lines[i - 1])
    assert requests.get(inst.url("/app/hello"), timeout=10).text == "Hello, world!\n"
