"""The WSGIDispatchScript of tests/integration/test_hooks.py: the query chooses the answers.

  to=NAME          process_group() returns NAME
  app=NAME         application_group() returns NAME
  callable=NAME    callable_object() returns NAME
  raise=1          process_group() raises
Without them each function returns None: the configuration's choice stands.
"""

from urllib.parse import parse_qs


def _query(environ, name):
    values = parse_qs(environ.get("QUERY_STRING", "")).get(name)
    return values[0] if values else None


def process_group(environ):
    if _query(environ, "raise") == "1":
        raise RuntimeError("process_group exploded on purpose")
    return _query(environ, "to")


def application_group(environ):
    return _query(environ, "app")


def callable_object(environ):
    return _query(environ, "callable")
