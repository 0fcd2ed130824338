"""wsgid: run Python WSGI applications behind Apache httpd in daemon process groups.

The Apache module (mod_wsgid.so, built from cmodule/) proxies each request over a unix socket to
daemon processes that this package's supervisor forks and manages. See docs/ for the design.

Inside a daemon process the package is also the in-process API (mod_wsgi 4.6's names:
`wsgid.subscribe_events`, `wsgid.request_data()`, `wsgid.process_group`, ...; docs/api.md).
Those names are looked up in wsgid.api on every access, so `wsgid.process_group` is the current
value, and importing wsgid does not import the API until a name is used.
"""

__version__ = "0.1.0"

_API_NAMES = frozenset({
    "subscribe_events", "subscribe_shutdown", "active_requests", "request_data",
    "process_group", "application_group", "maximum_processes", "threads_per_process",
    "process_metrics", "server_metrics", "request_metrics", "event_callbacks",
    "shutdown_callbacks",
    "FileWrapper",
})


def __getattr__(name):
    if name in _API_NAMES:
        from wsgid import api

        return getattr(api, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | _API_NAMES)
