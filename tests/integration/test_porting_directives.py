"""A mod_wsgi configuration read by mod_wsgid as mod_wsgi reads it: the module's identity, every
mod_wsgi 4.6 directive known, values written the way real configurations write them, and the
directives whose effect is the module's own (docs/porting.md).

One Apache serves the request tests (module scope, started once); the configtest cases each
generate their own configuration and never start a server.
"""

import concurrent.futures
import os
import shutil
import time
import socket

import psutil
import pytest
import requests

from tests.support.apache import APPS, REPO, ApacheInstance, module_config, wait_for
from tests.support.procs import daemons_of, wait_for_daemons
from wsgid import paths

pytestmark = pytest.mark.apache

# Served by one Apache for the whole module. {root} and {apps} are filled in by ApacheInstance.
SITE = """
LoadModule deflate_module "{moddir}/mod_deflate.so"
LoadModule filter_module "{moddir}/mod_filter.so"
LoadModule alias_module "{moddir}/mod_alias.so"
<IfModule mod_wsgi.c>
<IfModule wsgi_module>
WSGIDaemonProcess site processes=1 threads=4 header-buffer-size=131072 \\
    display-name='(wsgi:quoted site)' home="{root}" socket-timeout=2147483647
WSGIDaemonProcess small processes=1 threads=2
WSGIDaemonProcess impatient processes=1 threads=1 response-socket-timeout=1
WSGIDaemonProcess restartable processes=1 threads=2
WSGIScriptAlias /app "{apps}/echo.wsgi" process-group=site
WSGIScriptAlias /other "{apps}/echo.wsgi" process-group=site callable-object=other_callable
WSGIScriptAlias /auth "{apps}/echo.wsgi" process-group=site pass-authorization=On
WSGIScriptAlias /override "{apps}/echo.wsgi" process-group=site
WSGIScriptAlias /headget "{apps}/echo.wsgi" process-group=site
WSGIScriptAlias /deflated "{apps}/echo.wsgi" process-group=site
WSGIScriptAlias /headoff "{apps}/echo.wsgi" process-group=site
WSGIScriptAlias /big "{apps}/misbehave.wsgi" process-group=site
WSGIScriptAlias /small "{apps}/misbehave.wsgi" process-group=small
WSGIScriptAlias /ht "{root}/ht/echo.wsgi" process-group=site
WSGIScriptAlias /impatient "{apps}/echo.wsgi" process-group=impatient
WSGIScriptAlias /restartable "{apps}/echo.wsgi" process-group=restartable
</IfModule>
</IfModule>
<IfModule !mod_wsgi.c>
This line is no directive: Apache would refuse it if the block were read.
</IfModule>

ErrorDocument 404 "wsgid-custom-404"
<Location /override>
    WSGIErrorOverride On
</Location>
<Location /headget>
    WSGIMapHEADToGET On
</Location>
<Location /deflated>
    SetOutputFilter DEFLATE
</Location>
<Location /headoff>
    SetOutputFilter DEFLATE
    WSGIMapHEADToGET Off
</Location>
<Directory "{root}/ht">
    AllowOverride FileInfo
    Require all granted
</Directory>
Alias /files "{root}/files"
<Directory "{root}/files">
    Require all granted
</Directory>

WSGIPythonPath /srv/nothing-here
WSGILazyInitialization On
WSGIRestrictEmbedded On
WSGIPy3kWarningFlag Off
WSGIPassApacheRequest Off
WSGIScriptReloading Off
"""


@pytest.fixture(scope="module")
def site():
    inst = ApacheInstance("")
    try:
        ht = os.path.join(inst.root, "ht")
        os.mkdir(ht)
        os.chmod(ht, 0o755)
        shutil.copy(os.path.join(APPS, "echo.wsgi"), os.path.join(ht, "echo.wsgi"))
        with open(os.path.join(ht, ".htaccess"), "w") as f:
            f.write("WSGICallableObject other_callable\nWSGIPassAuthorization On\n")
        files = os.path.join(inst.root, "files")
        os.mkdir(files)
        os.chmod(files, 0o755)
        with open(os.path.join(files, "served.txt"), "w") as f:
            f.write(SERVED_BY_APACHE)
        inst.write_config(SITE.replace("{moddir}", paths.apache_modules_dir()))
        inst.start()
        wait_for_daemons(inst, 4)
        yield inst
    finally:
        inst.cleanup()


def get(site, path, **kw):
    return requests.get(site.url(path), timeout=10, **kw)


SERVED_BY_APACHE = "a file Apache serves after a CGI local redirect\n"


@pytest.mark.parametrize("method, body", [("GET", ""), ("POST", "application body")])
def test_a_200_with_a_local_location_is_served_by_apache_as_a_get_of_that_path(site, method,
                                                                                body):
    r = requests.request(method, site.url("/app/location"), timeout=10, data=b"x" * 1000,
                         params={"to": "/files/served.txt", "body": body},
                         allow_redirects=False)
    assert (r.status_code, r.text) == (200, SERVED_BY_APACHE), site.error_log()[-2000:]
    assert "Location" not in r.headers


@pytest.mark.parametrize("to, status", [("http://elsewhere.example/files/served.txt", "200"),
                                        ("/files/served.txt", "302")])
def test_other_locations_reach_the_client_as_the_application_sent_them(site, to, status):
    r = get(site, "/app/location", params={"to": to, "status": status, "body": "app"},
            allow_redirects=False)
    assert (r.status_code, r.headers["Location"], r.text) == (int(status), to, "app")


# --- identity -----------------------------------------------------------------------------

def test_module_config_loads_the_module_under_mod_wsgis_name():
    first = module_config().splitlines()[0]
    assert first.startswith("LoadModule wsgi_module ")
    assert first.rstrip('"').endswith("mod_wsgid.so")


def test_ifmodule_mod_wsgi_c_and_wsgi_module_hold_and_their_negation_does_not(site):
    # The whole WSGI part of SITE sits inside both <IfModule> blocks, as Debian's
    # mods-available/wsgi.conf and many install guides write it; the negated block would
    # fail the configuration if it were read.
    r = get(site, "/app/hello")
    assert (r.status_code, r.text) == (200, "Hello, world!\n")


def test_loadmodule_may_still_name_wsgid_module(apache):
    python_line = [line for line in module_config().splitlines()
                   if line.startswith("WSGIPythonExecutable")][0]
    inst = apache(f'LoadModule wsgid_module "{paths.module_path()}"\n{python_line}\n'
                  '<IfModule mod_wsgi.c>\nWSGIDaemonProcess one threads=1\n'
                  'WSGIScriptAlias /app "{apps}/echo.wsgi" process-group=one\n</IfModule>\n',
                  load_wsgid=False)
    inst.start()
    assert get(inst, "/app/hello").text == "Hello, world!\n"


# Debian's mod_wsgi, unpacked (not installed) by scripts/fetch-test-modules, which `make test`
# runs.
MOD_WSGI = os.path.join(REPO, "build", "test-modules", "mod_wsgi.so")


def test_loading_mod_wsgi_beside_mod_wsgid_is_refused_with_the_reason(apache):
    assert os.path.exists(MOD_WSGI), "mod_wsgi.so missing: run scripts/fetch-test-modules"
    ours = module_config().replace("LoadModule wsgi_module", "LoadModule wsgid_module", 1)
    inst = apache(ours + f'LoadModule wsgi_module "{MOD_WSGI}"\n', load_wsgid=False)
    rc, output = inst.configtest()
    assert rc != 0, output
    assert "mod_wsgi is loaded too" in output
    assert "remove mod_wsgi's LoadModule line" in output


# --- every directive known -------------------------------------------------------------------

# Each mod_wsgi 4.6 directive that takes effect or is accepted without one, in the context
# where real configurations write it. (The routing directives have tests of their own.)
SERVER_LEVEL = """
WSGIPythonPath /srv/a:/srv/b
WSGIPythonEggs /tmp/eggs
WSGILazyInitialization On
WSGIPy3kWarningFlag Off
WSGIRestrictEmbedded On
WSGIAcceptMutex default
WSGISocketRotation On
"""
DIRECTORY_LEVEL = """
<Location /x>
    WSGIScriptReloading On
    WSGIErrorOverride On
    WSGIMapHEADToGET Auto
    WSGIIgnoreActivity On
    WSGIEnableSendfile On
    WSGITrustedProxyHeaders X-Forwarded-For X-Forwarded-Proto
    WSGITrustedProxies 127.0.0.1 10.0.0.0/8
    WSGIPassApacheRequest Off
    WSGIUserAuthoritative On
    WSGIGroupAuthoritative Off
    WSGIChunkedRequest On
    WSGIPassAuthorization On
    WSGICallableObject app
</Location>
"""


DAEMON_SETTINGS = """
WSGIPythonOptimize 1
WSGIDontWriteBytecode On
WSGIPythonHashSeed 1234
WSGIPythonWarnings ignore::DeprecationWarning
WSGIPythonWarnings error::ResourceWarning
WSGIRestrictStdin On
WSGIRestrictStdout On
WSGIRestrictSignal On
WSGIDestroyInterpreter On
WSGIVerboseDebugging Off
WSGIServerMetrics On
WSGICaseSensitivity On
WSGIDaemonProcess probe processes=1 threads=2 stack-size=1048576 python-eggs=/tmp/eggs \
    send-buffer-size=32768 receive-buffer-size=49152 server-metrics=Off
WSGIScriptAlias /probe "{apps}/interpreter_probe.wsgi" process-group=probe
"""


def test_the_daemons_python_settings_reach_the_daemons_apache_starts(apache):
    # Apache writes them into the daemon configuration file; the supervisor it starts
    # re-executes itself for the optimisation level and hash seed, and the daemons apply
    # the rest (tests/integration/test_interpreter_settings.py has each one in detail).
    inst = apache(DAEMON_SETTINGS + SERVER_LEVEL + DIRECTORY_LEVEL)
    inst.start()
    wait_for_daemons(inst, 1)
    seen = get(inst, "/probe").json()
    assert seen["optimize"] == 1
    assert seen["hash_seed"] == "1234"
    assert seen["dont_write_bytecode"] is True
    assert seen["warning_filters"][:2] == [["error", "ResourceWarning"],
                                           ["ignore", "DeprecationWarning"]]
    assert "restricted" in seen["stdin"] and "restricted" in seen["stdout"]
    assert seen["signal_installed"] is False
    # the group's own options win over the server-wide defaults (WSGIServerMetrics On)
    assert seen["server_metrics"] is None
    assert seen["stack_size"] == 1048576
    assert seen["egg_cache"] == "/tmp/eggs"
    assert seen["buffers"] == [[65536, 98304]]     # the kernel doubles what is asked


def test_a_bad_daemon_setting_fails_configtest_naming_the_apache_file_and_line(apache):
    inst = apache("WSGIDaemonProcess one threads=1\nWSGIPythonOptimize 3\n")
    rc, output = inst.configtest()
    assert rc != 0
    assert "WSGIPythonOptimize" in output and "httpd.conf:" in output, output


def test_directives_without_an_effect_in_daemon_mode_pass_configtest(apache):
    inst = apache(SERVER_LEVEL + DIRECTORY_LEVEL)
    rc, output = inst.configtest()
    assert rc == 0, output


def test_each_directive_without_an_effect_says_so_once_at_startup(site):
    log = site.error_log()
    for directive, instead in [("WSGIPythonPath", "python-path= of WSGIDaemonProcess"),
                               ("WSGILazyInitialization", "never starts inside Apache"),
                               ("WSGIPy3kWarningFlag", "a Python 2 setting")]:
        lines = [line for line in log.splitlines() if f"{directive} at " in line]
        assert len(lines) == 1, (directive, lines)
        assert "accepted, with no effect" in lines[0] and instead in lines[0]
        assert "httpd.conf:" in lines[0]


def test_a_directive_set_to_what_wsgid_already_does_is_not_mentioned(site):
    assert "WSGIScriptReloading at" not in site.error_log()
    assert "WSGIPassApacheRequest" not in site.error_log()


def test_script_reloading_written_out_is_applied_without_a_notice(apache):
    # Its behaviour is in test_script_reloading.py; written out, it is simply in effect.
    inst = apache('WSGIDaemonProcess one threads=1\n'
                  'WSGIScriptAlias /app "{apps}/echo.wsgi" process-group=one\n'
                  '<Location /app>\n    WSGIScriptReloading On\n</Location>\n')
    inst.start()
    assert "WSGIScriptReloading" not in inst.error_log()
    r = requests.get(inst.url("/app/environ"), timeout=10)
    assert r.json()["mod_wsgi.script_reloading"] == "1", inst.error_log()[-2000:]


def test_pass_apache_request_on_fails_configtest_naming_the_directive_and_the_fix(apache):
    inst = apache('<Location /x>\n    WSGIPassApacheRequest On\n</Location>\n')
    rc, output = inst.configtest()
    assert rc != 0
    assert "WSGIPassApacheRequest On" in output and "embedded mode" in output
    assert "Remove the line" in output
    assert "httpd.conf" in output


@pytest.mark.parametrize("line, message", [
    ("WSGIMapHEADToGET Sometimes", "WSGIMapHEADToGET must be On, Off or Auto"),
    ("WSGILazyInitialization Maybe", "WSGILazyInitialization must be On or Off"),
    ("WSGIScriptReloading 1", "WSGIScriptReloading must be On or Off"),
    ('WSGIScriptAlias /x "{apps}/echo.wsgi" pass-authorization=yes',
     "pass-authorization=yes' must be On or Off"),
    ('WSGIScriptAlias /x "{apps}/echo.wsgi" callable-object=not-a-name',
     "callable-object=not-a-name is not a Python identifier"),
    ('WSGIScriptAlias /x "{apps}/echo.wsgi" callable-object=',
     "option 'callable-object=' is empty"),
])
def test_a_bad_value_fails_configtest_with_the_directive_and_the_rule(apache, line, message):
    inst = apache(line + "\n")
    rc, output = inst.configtest()
    assert rc != 0
    assert message in output, output


# --- values as mod_wsgi reads them ---------------------------------------------------------

def test_quoted_option_values_reach_the_daemons_without_their_quotes(site):
    # display-name='(wsgi:quoted site)' and home="{root}" in the directive
    titles = {" ".join(p.cmdline()).strip(): p for p in daemons_of(site)}
    assert "(wsgi:quoted site)" in titles, list(titles)
    assert titles["(wsgi:quoted site)"].cwd() == site.root


def test_script_alias_callable_object_option_names_the_callable(site):
    assert get(site, "/other/hello").text == "other callable\n"
    assert get(site, "/app/hello").text == "Hello, world!\n"


def test_script_alias_pass_authorization_option_passes_the_header(site):
    auth = {"Authorization": "Basic dXNlcjpwYXNz"}
    assert get(site, "/auth/environ", headers=auth).json().get("HTTP_AUTHORIZATION") \
        == "Basic dXNlcjpwYXNz"
    assert "HTTP_AUTHORIZATION" not in get(site, "/app/environ", headers=auth).json()


def test_callable_object_and_pass_authorization_work_from_htaccess(site):
    # AllowOverride FileInfo lets .htaccess set them, as in mod_wsgi.
    assert get(site, "/ht/hello").text == "other callable\n"


# --- effects of the module's own directives and options ------------------------------------

def test_error_override_answers_an_application_error_with_apaches_error_document(site):
    r = get(site, "/override/no-such-route")
    assert r.status_code == 404
    assert r.text == "wsgid-custom-404"
    assert get(site, "/app/no-such-route").text == "no route\n"    # Off elsewhere


def test_error_override_leaves_a_success_alone(site):
    r = get(site, "/override/hello")
    assert (r.status_code, r.text) == (200, "Hello, world!\n")


def head_method(site, path):
    r = requests.head(site.url(path), timeout=10)
    assert r.status_code == 200
    return r.headers["X-Request-Method"]


def test_map_head_to_get_auto_keeps_head_without_a_content_filter(site):
    assert head_method(site, "/app/method") == "HEAD"


def test_map_head_to_get_auto_sends_get_when_a_content_filter_may_need_the_body(site):
    assert head_method(site, "/deflated/method") == "GET"


def test_map_head_to_get_on_and_off(site):
    assert head_method(site, "/headget/method") == "GET"
    assert head_method(site, "/headoff/method") == "HEAD"


def test_header_buffer_size_raises_the_limit_on_a_response_head(site):
    # 70 KiB of headers: over mod_wsgi's default limit of 32 KiB, which the daemons of
    # "small" keep (a 500, as mod_wsgi answers), under header-buffer-size=131072 ("site"),
    # which the daemons and the module both honour.
    big = get(site, "/big/case/headers-70k-in-many?token=a")
    assert big.status_code == 200, site.error_log()[-2000:]
    assert len([name for name in big.headers if name.startswith("X-")]) >= 70
    assert get(site, "/small/case/headers-70k-in-many?token=b").status_code == 500


def test_response_socket_timeout_limits_a_write_to_a_client_that_stopped_reading(site):
    # Apache's Timeout is 30 s here; the group says 1 s. A client that asks for 64 MiB and
    # reads none of it fills the socket buffers, and the module gives up after about 1 s.
    with socket.create_connection(("127.0.0.1", site.port)) as client:
        client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        client.sendall(b"GET /impatient/stream?mb=64 HTTP/1.1\r\nHost: x\r\n\r\n")
        line = wait_for(lambda: next((line for line in site.error_log().splitlines()
                                      if "writing the response to the client timed out" in line),
                                     None), 15, message="the response-socket-timeout line")
    assert "(response-socket-timeout 1 s)" in line
    assert "group 'impatient'" in line


def test_a_group_of_a_virtual_host_may_be_chosen_at_server_level_for_that_host(apache):
    # mod_wsgi allows it: the server-level <Location> reaches every virtual host, and the one
    # with the group's ServerName may use the group. Another host's request is refused.
    inst = apache("""
<VirtualHost *:*>
    ServerName other.example
</VirtualHost>
<VirtualHost *:*>
    ServerName owner.example
    WSGIDaemonProcess hosted processes=1 threads=1
</VirtualHost>
WSGIScriptAlias /v "{apps}/echo.wsgi"
<Location /v>
    WSGIProcessGroup hosted
</Location>
""")
    inst.start()
    wait_for_daemons(inst, 1)
    owner = get(inst, "/v/environ", headers={"Host": "owner.example"})
    assert owner.status_code == 200, inst.error_log()[-2000:]
    assert owner.json()["mod_wsgi.process_group"] == "hosted"
    other = get(inst, "/v/environ", headers={"Host": "other.example"})
    assert other.status_code == 500
    assert "no WSGIDaemonProcess 'hosted' that this virtual host may use" in inst.error_log()


def test_ignore_activity_requests_do_not_keep_an_idle_process_alive(apache):
    # inactivity-timeout=1: counted requests (hello) keep the process; WSGIIgnoreActivity
    # requests (pid, a health check's kind) do not, so the process is recycled under them.
    inst = apache("""
WSGIDaemonProcess idle processes=1 threads=2 inactivity-timeout=1
WSGIScriptAlias /app "{apps}/echo.wsgi" process-group=idle
<Location /app/pid>
    WSGIIgnoreActivity On
</Location>
""")
    inst.start()
    wait_for_daemons(inst, 1)
    first = get(inst, "/app/pid").text
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        assert get(inst, "/app/hello").status_code == 200
        time.sleep(0.2)   # a steady trickle of counted requests, well inside the timeout
    assert get(inst, "/app/pid").text == first
    wait_for(lambda: get(inst, "/app/pid").text != first, 15, interval=0.2,
             message="an idle process polled only by WSGIIgnoreActivity requests to recycle")
    assert "inactivity_timeout" in inst.error_log() or "inactivity-timeout" in inst.error_log()


def test_a_process_that_sends_itself_sigint_is_replaced_gracefully(site):
    # mod_wsgi's documented recipe for an application that restarts its own process.
    old = int(get(site, "/restartable/pid").text)
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        busy = [pool.submit(get, site, "/restartable/hello") for _ in range(40)]
        assert int(get(site, "/restartable/restart").text) == old
        new = wait_for(lambda: (lambda pid: pid if pid != old else None)(
            int(get(site, "/restartable/pid").text)), 20, message="a new process to answer")
        assert all(f.result().status_code == 200 for f in busy)   # nothing lost meanwhile
    assert f"daemon process {old} asks to be recycled (restart_signal)" in site.error_log()
    wait_for(lambda: f"daemon process {old} exited with status 0 (stopped normally) "
                     f"(recycled: restart_signal)" in site.error_log(), 20,
             message="the old process to finish and exit")
    assert {p.pid for p in daemons_of(site)} >= {new}


MOD_WSGI_4_6_KEYS = {
    # what mod_wsgi 4.6's daemon mode gives an application, whoever sets it (module or daemon)
    "mod_wsgi.version", "mod_wsgi.process_group", "mod_wsgi.application_group",
    "mod_wsgi.callable_object", "mod_wsgi.script_reloading", "mod_wsgi.listener_host",
    "mod_wsgi.listener_port", "mod_wsgi.enable_sendfile", "mod_wsgi.ignore_activity",
    "mod_wsgi.handler_script", "mod_wsgi.request_handler", "mod_wsgi.connection_id",
    "mod_wsgi.request_id", "mod_wsgi.request_start", "mod_wsgi.queue_start",
    "mod_wsgi.daemon_start", "mod_wsgi.script_start", "mod_wsgi.thread_id",
    "mod_wsgi.thread_requests", "mod_wsgi.total_requests", "mod_wsgi.daemon_connects",
    "mod_wsgi.daemon_restarts",
}


def test_the_environ_has_every_key_of_mod_wsgi_4_6_daemon_mode(site):
    seen = get(site, "/app/environ").json()
    assert MOD_WSGI_4_6_KEYS <= set(seen), sorted(MOD_WSGI_4_6_KEYS - set(seen))
    assert seen["mod_wsgi.version"] == [4, 8, 0]         # the API level wsgid implements
    assert (seen["mod_wsgi.process_group"], seen["mod_wsgi.callable_object"],
            seen["mod_wsgi.request_handler"], seen["mod_wsgi.handler_script"]) == \
        ("site", "application", "wsgi-script", "")
    assert (seen["mod_wsgi.listener_host"], seen["mod_wsgi.listener_port"]) == \
        ("127.0.0.1", str(site.port))
    # this site says WSGIScriptReloading Off; nothing else here is on
    assert (seen["mod_wsgi.script_reloading"], seen["mod_wsgi.enable_sendfile"],
            seen["mod_wsgi.ignore_activity"]) == ("0", "0", "0")
    assert (seen["mod_wsgi.daemon_connects"], seen["mod_wsgi.daemon_restarts"]) == ("1", "0")
    assert seen["mod_wsgi.connection_id"]
    assert int(seen["mod_wsgi.daemon_start"]) <= int(seen["mod_wsgi.script_start"])
    assert seen["mod_wsgi.thread_id"] >= 1
    assert seen["mod_wsgi.thread_requests"] >= 0 and seen["mod_wsgi.total_requests"] >= 0
    again = get(site, "/app/environ").json()
    assert again["mod_wsgi.total_requests"] > seen["mod_wsgi.total_requests"]
