"""The generated httpd.conf and module script for given settings (text only; no Apache)."""

import os

import pytest

from wsgid.express.render import (COMPRESSED_TYPES, UnsafePath, option_value, option_word,
                                  render_httpd_conf, render_mime_types, render_module_script,
                                  rewrite_path)
from wsgid.express.resolve import ServerSettings, ServiceScript, UrlAlias
from wsgid.express.serverroot import ServerRoot

BASE = dict(script="/srv/app/app.wsgi", application_type="script",
            callable_object="application", host="127.0.0.1", port=8000, processes=2,
            threads=5, server_root="/tmp/root", socket_directory="/tmp/root", user=None,
            group=None, log_level="warn", working_directory="/srv/app",
            python_path=("/srv/app", "/srv/lib"), daemon_options=(("request-timeout", 60.0),))


def conf(**changes):
    settings = ServerSettings(**{**BASE, **changes})
    root = ServerRoot(settings.server_root, settings.socket_directory)
    return render_httpd_conf(settings, root, command="start-server", httpd="/usr/sbin/httpd",
                             modules_dir="/nonexistent/modules", wsgid_module="/w/mod_wsgid.so",
                             python_executable="/venv/bin/python")


def test_the_daemon_group_carries_home_python_path_and_limits():
    text = conf(daemon_options=(("maximum-requests", 2), ("request-timeout", 0.5),
                                ("locale", "de_DE.UTF-8"), ("lang", "de DE"),
                                ("queue-timeout", 45.0)), server_metrics=True)
    assert ('"home=/srv/app" "python-path=/srv/app:/srv/lib" \\\n'
            '    maximum-requests=2 request-timeout=0.5 locale=de_DE.UTF-8 "lang=de DE" \\\n'
            "    queue-timeout=45 server-metrics=On") in text
    assert "WSGICallableObject application" in text
    assert "WSGISocketRotation Off" in text


def test_plain_config_has_no_static_files_compression_or_access_log():
    text = conf()
    for absent in ("RewriteEngine", "DEFLATE", "CustomLog", "TypesConfig", "service:"):
        assert absent not in text


def test_compress_responses_lists_every_type():
    assert "AddOutputFilterByType DEFLATE " + " ".join(COMPRESSED_TYPES) in conf(
        compress_responses=True)


def test_static_files_are_rewritten_before_the_script_alias():
    text = conf(document_root="/srv/htdocs",
                url_aliases=(UrlAlias("/static", "/srv/st$atic", True),
                             UrlAlias("/robots.txt", "/srv/robots.txt", False)))
    assert 'RewriteRule "^/static(/.*)?$" "/srv/st\\$atic$1" [L]' in text
    assert 'RewriteRule "^/robots\\.txt$" "/srv/robots.txt" [L]' in text
    assert 'RewriteCond "/srv/htdocs$1" -f' in text
    assert 'DocumentRoot "/srv/htdocs"' in text
    # Aliases come first: they win over a same-named file in the document root.
    assert text.index("/robots.txt") < text.index("RewriteCond")


def test_rewrite_path_keeps_dollar_and_percent_literal():
    assert rewrite_path("/a$1/%{X}") == "/a\\$1/\\%{X}"


def test_service_scripts_get_threads_0_groups_with_an_import_script():
    text = conf(service_scripts=(ServiceScript("tasks", "/srv/app/tasks.py"),))
    assert ("WSGIDaemonProcess service:tasks threads=0 \"home=/srv/app\" "
            "\"python-path=/srv/app:/srv/lib\"") in text
    assert ('WSGIImportScript "/srv/app/tasks.py" process-group=service:tasks '
            "application-group=%{GLOBAL}") in text


def test_module_type_serves_the_generated_script_in_the_server_root():
    text = conf(application_type="module", script="mysite.wsgi", callable_object="app")
    assert 'WSGIScriptAlias / "/tmp/root/module.wsgi"' in text
    assert "WSGICallableObject app" in text
    settings = ServerSettings(**{**BASE, "application_type": "module", "script": "mysite.wsgi",
                                 "callable_object": "app"})
    assert "from mysite.wsgi import app" in render_module_script(settings, command="x")


def test_log_to_terminal():
    text = conf(log_to_terminal=True, access_log=True)
    assert 'ErrorLog "/dev/stderr"' in text and 'CustomLog "/dev/stdout" common' in text
    text = conf(access_log=True)
    assert f'CustomLog "{os.path.join("/tmp/root", "access_log")}" common' in text


def test_socket_prefix_follows_the_socket_directory():
    assert 'WSGISocketPrefix "/tmp/s/wsgi"' in conf(socket_directory="/tmp/s")


def test_option_values_are_written_as_wsgidaemonprocess_reads_them():
    assert [option_value(v) for v in (60.0, 0.25, 3, 1e6)] == ["60", "0.25", "3", "1000000"]


def test_mime_types_name_the_common_static_types():
    lines = dict(line.split(" ", 1) for line in render_mime_types().splitlines())
    assert "css" in lines["text/css"].split() and "png" in lines["image/png"].split()


def test_a_daemon_option_value_that_httpd_conf_cannot_hold_is_refused():
    assert option_word("lang", "de DE") == '"lang=de DE"'
    with pytest.raises(UnsafePath, match="lang="):
        option_word("lang", 'de"DE')


def test_apache_is_sized_by_mod_wsgi_express_rules():
    # 2 x 5 daemon threads: 10 + max(10, 15) = 25 clients, children of 12 threads (25 / 2)
    text = conf()
    for line in ("StartServers 1", "ServerLimit 3", "ThreadLimit 12", "ThreadsPerChild 12",
                 "MaxRequestWorkers 36", "MinSpareThreads 12", "MaxSpareThreads 24",
                 "ListenBacklog 500"):
        assert f"\n{line}\n" in text, line
    # --max-clients 100: children of 16 threads (100 / 6), 7 of them
    text = conf(max_clients=100, initial_workers=0.5, maximum_spare_workers=1.0)
    for line in ("StartServers 3", "ServerLimit 7", "ThreadsPerChild 16",
                 "MaxRequestWorkers 112", "MinSpareThreads 48", "MaxSpareThreads 112"):
        assert f"\n{line}\n" in text, line
    # never fewer clients than daemon threads
    assert "\nMaxRequestWorkers 10\n" in conf(max_clients=1, processes=1, threads=10)


def test_client_protection_lines():
    text = conf(request_read_timeout="header=15-30,MinRate=500 body=15,MinRate=500")
    for line in ("Timeout 60", "KeepAlive On", "KeepAliveTimeout 2", "LimitRequestBody 10485760",
                 "RequestReadTimeout header=15-30,MinRate=500 body=15,MinRate=500"):
        assert f"\n{line}\n" in text, line
    quiet = conf(keep_alive_timeout=0, limit_request_body=0, timeout=120.0)
    assert "\nKeepAlive Off\n" in quiet and "\nLimitRequestBody 0\n" in quiet
    assert "\nTimeout 120\n" in quiet and "RequestReadTimeout" not in quiet


def test_request_handling_and_logging_lines():
    text = conf(chunked_request=True, error_override=True, map_head_to_get="Off",
                error_documents=((404, "not here"),), trusted_proxy_headers=("X-Real-IP",),
                trusted_proxies=("10.0.0.0/8",), setenv=(("MODE", 'a "quoted" \\ value'),),
                passenv=("HOME",), verbose_debugging=True, server_status=True,
                error_log_format=r"[%{u}t] [client\ %a] %M", access_log=True,
                access_log_format='%h "%r"')
    for line in ("WSGIMapHEADToGET Off", "WSGIChunkedRequest On", "WSGIErrorOverride On",
                 "WSGITrustedProxyHeaders X-Real-IP", "WSGITrustedProxies 10.0.0.0/8",
                 "WSGIVerboseDebugging On", 'ErrorDocument 404 "not here"',
                 r'SetEnv MODE "a \"quoted\" \\ value"', "PassEnv HOME", "ExtendedStatus On",
                 "    SetHandler server-status", r'ErrorLogFormat "[%{u}t] [client\\ %a] %M"',
                 r'LogFormat "%h \"%r\"" custom'):
        assert f"\n{line}\n" in text, line
    assert "CustomLog" in text and text.split("CustomLog", 1)[1].split("\n")[0].endswith(
        " custom")


def test_debug_mode_serves_the_application_through_debug_wsgi_with_the_terminal():
    from wsgid.express.resolve import Debugging
    text = conf(debugging=Debugging(debugger=True))
    alias = 'WSGIScriptAlias / "/tmp/root/debug.wsgi" process-group=localhost:8000'
    preload = 'WSGIImportScript "/tmp/root/debug.wsgi" process-group=localhost:8000'
    assert alias in text and preload in text and "\nWSGIRestrictStdin Off\n" in text
    # the real script's directory and the server root's (debug.wsgi) are both granted
    assert '<Directory "/srv/app">' in text and '<Directory "/tmp/root">' in text
    plain = conf()
    assert "debug.wsgi" not in plain and "WSGIRestrictStdin" not in plain


def test_a_service_log_file_is_the_service_groups_error_log():
    service = ServiceScript("tasks", "/srv/tasks.py", log_file="tasks.log")
    text = conf(service_scripts=(service,))
    assert "WSGIDaemonProcess service:tasks threads=0 error-log=/tmp/root/tasks.log " in text
    rotated = conf(service_scripts=(service,), rotate_logs=True,
                   rotatelogs_executable="/usr/bin/rotatelogs", max_log_size=5)
    assert ('"error-log=|/usr/bin/rotatelogs /tmp/root/tasks.log.%Y-%m-%d-%H_%M_%S 5M"'
            in rotated)
