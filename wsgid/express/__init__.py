"""The express launcher: `wsgid start-server` and `wsgid setup-server`.

One command gives a complete Apache httpd in front of a WSGI script: it lays out a server root
(httpd.conf, apachectl, logs, daemon sockets), then runs Apache in the foreground until Ctrl-C.
The files read top-down:

    cli.py        click commands, built from the option table; --help grouped by heading
    settings.py   the option table (daemon options come from wsgid/options.py's)
    resolve.py    option values -> ServerSettings: defaults worked out, combinations checked
    serverroot.py the server root on disk: directories, checks, generated files
    render.py     httpd.conf, apachectl, module.wsgi and mime.types (templates in templates/)
    runner.py     Apache in the foreground: as a child with signal forwarding (isatty), or in
                  start-server's place (exec)
    welcome.wsgi  the page served when no script is given
"""
