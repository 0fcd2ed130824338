"""wsgid: run Python WSGI applications behind Apache httpd in daemon process groups.

The Apache module (mod_wsgid.so, built from cmodule/) proxies each request over a unix socket to
daemon processes that this package's supervisor forks and manages. See docs/ for the design.
"""

__version__ = "0.1.0"
