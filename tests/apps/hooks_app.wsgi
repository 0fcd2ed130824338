"""The application behind the hooks of tests/integration/test_hooks.py: it tells, as JSON, who
Apache says the user is and where the request ran (process group, application group, and which
of its two callables was called)."""

import json


def _answer(environ, start_response, callable_name):
    body = json.dumps({
        "callable": callable_name,
        "remote_user": environ.get("REMOTE_USER"),
        "auth_type": environ.get("AUTH_TYPE"),
        "process_group": environ["mod_wsgi.process_group"],
        "application_group": environ["mod_wsgi.application_group"],
    }).encode()
    start_response("200 OK", [("Content-Type", "application/json"),
                              ("Content-Length", str(len(body)))])
    return [body]


def application(environ, start_response):
    return _answer(environ, start_response, "application")


def alternate(environ, start_response):
    return _answer(environ, start_response, "alternate")
