"""A WSGI script for the API and event tests: it subscribes to wsgid's events and records them.

The tests copy this file and replace RECORD_PATH's placeholder with a file of their own; every
event, and every call of the application, appends one JSON line there (the payload's plain
values, the sorted payload keys, the pid). Routes, by PATH_INFO:

  /hello          200 "hello\\n"
  /echo           200, the request body sent back
  /raise          raises RuntimeError("events.wsgi raised on purpose"): 500
  /wrapped        answers "original\\n", but a request_started subscriber replaces the
                  application for this path with one that answers "wrapped\\n"
  /active         200 JSON: this request's id, whether active_requests holds it (through
                  wsgid and through mod_wsgi), and whether its value is request_data()
  /api            200 JSON: the process values, the environ's mod_wsgi.* keys, process_metrics()
                  and whether `import mod_wsgi` gives the wsgid API; mod_wsgi's `apache` module
  /request-metrics  200 JSON: mod_wsgi.request_metrics()
  /slow?s=N       sleeps N seconds (default 1), then 200 "slept\\n"
anything else     404 "no route\\n"
"""

import json
import os
import sys
import threading
import time
from urllib.parse import parse_qs

import wsgid

RECORD_PATH = "@RECORD_PATH@"
_record_lock = threading.Lock()
_PLAIN = (str, int, float, bool, type(None))


def record(entry):
    entry["pid"] = os.getpid()
    line = json.dumps(entry, sort_keys=True)
    with _record_lock, open(RECORD_PATH, "a") as out:
        out.write(line + "\n")


def on_event(name, **payload):
    entry = {"event": name, "keys": sorted(payload)}
    entry.update({key: value for key, value in payload.items() if isinstance(value, _PLAIN)})
    data = payload.get("request_data")
    if isinstance(data, dict):
        entry["request_data"] = dict(data)
    info = payload.get("exception_info")
    if info:
        entry["exception"] = f"{info[0].__name__}: {info[1]}"
    environ = payload.get("request_environ")
    if environ is not None:
        entry["path"] = environ.get("PATH_INFO")
    if name == "process_stopping":
        entry["active_requests"] = sorted(wsgid.active_requests)
    record(entry)
    if name == "request_started":
        data["seen_at_start"] = True  # request_finished must see it in the same dict
        if environ.get("PATH_INFO") == "/wrapped":
            return {"application_object": wrapped}
    return None


def on_shutdown(name, **payload):
    record({"event": "shutdown_callback", "name": name,
            "shutdown_reason": payload.get("shutdown_reason")})


wsgid.subscribe_events(on_event)
wsgid.subscribe_shutdown(on_shutdown)


def text(start_response, body, status="200 OK", content_type="text/plain"):
    data = body.encode("utf-8")
    start_response(status, [("Content-Type", content_type), ("Content-Length", str(len(data)))])
    return [data]


def wrapped(environ, start_response):
    return text(start_response, "wrapped\n")


def active(environ, start_response):
    request_id = environ["mod_wsgi.request_id"]
    try:
        import mod_wsgi
        via_mod_wsgi = request_id in mod_wsgi.active_requests
    except ImportError:
        via_mod_wsgi = None
    answer = {
        "request_id": request_id,
        "wsgid.request_id": environ.get("wsgid.request_id"),
        "in_active_requests": request_id in wsgid.active_requests,
        "in_mod_wsgi_active_requests": via_mod_wsgi,
        "value_is_request_data": wsgid.active_requests.get(request_id) is wsgid.request_data(),
    }
    return text(start_response, json.dumps(answer), content_type="application/json")


def api(environ, start_response):
    try:
        import mod_wsgi
        mod_wsgi_is_wsgid = mod_wsgi is sys.modules["wsgid.api"]
        mod_wsgi_process_group = mod_wsgi.process_group
        file_wrapper = mod_wsgi.FileWrapper is environ["wsgi.file_wrapper"]
    except ImportError as exc:
        mod_wsgi_is_wsgid, mod_wsgi_process_group = f"ImportError: {exc}", None
        file_wrapper = None
    answer = {
        "process_group": wsgid.process_group,
        "application_group": wsgid.application_group,
        "maximum_processes": wsgid.maximum_processes,
        "threads_per_process": wsgid.threads_per_process,
        "mod_wsgi_is_wsgid": mod_wsgi_is_wsgid,
        "mod_wsgi_process_group": mod_wsgi_process_group,
        "mod_wsgi_file_wrapper_is_the_environs": file_wrapper,
        "environ": {key: value for key, value in environ.items()
                    if key.startswith(("mod_wsgi.", "wsgid.")) and isinstance(value, str)},
        "process_metrics": wsgid.process_metrics(),
    }
    import apache
    answer["apache"] = {name: getattr(apache, name) for name in (
        "version", "description", "mpm_name", "build_date", "maximum_processes",
        "threads_per_process")}
    return text(start_response, json.dumps(answer), content_type="application/json")


def request_metrics(environ, start_response):
    import mod_wsgi
    return text(start_response, json.dumps(mod_wsgi.request_metrics()),
                content_type="application/json")


def slow(environ, start_response):
    seconds = float(parse_qs(environ.get("QUERY_STRING", "")).get("s", ["1"])[0])
    time.sleep(seconds)
    return text(start_response, "slept\n")


def echo(environ, start_response):
    body = environ["wsgi.input"].read()
    start_response("200 OK", [("Content-Type", "application/octet-stream"),
                              ("Content-Length", str(len(body)))])
    return [body]


def raise_on_purpose(environ, start_response):
    raise RuntimeError("events.wsgi raised on purpose")


ROUTES = {
    "/hello": lambda environ, start_response: text(start_response, "hello\n"),
    "/echo": echo,
    "/raise": raise_on_purpose,
    "/wrapped": lambda environ, start_response: text(start_response, "original\n"),
    "/active": active,
    "/api": api,
    "/request-metrics": request_metrics,
    "/slow": slow,
}


def application(environ, start_response):
    path = environ.get("PATH_INFO", "")
    record({"event": "app", "path": path, "request_id": environ.get("mod_wsgi.request_id")})
    route = ROUTES.get(path)
    if route is None:
        return text(start_response, "no route\n", status="404 Not Found")
    return route(environ, start_response)
