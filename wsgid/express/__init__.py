"""The express launcher: `wsgid start-server` and `wsgid setup-server`.

One command gives a complete Apache httpd in front of a WSGI script: it lays out a server root
(httpd.conf, apachectl, logs, daemon sockets), then runs Apache in the foreground until Ctrl-C.
The files read top-down:

    cli.py        click commands, built from the option table
    settings.py   the option table and the resolution of defaults into ServerSettings
    serverroot.py the server root on disk: directories, checks, generated files
    render.py     httpd.conf and apachectl from the templates in templates/
    runner.py     Apache as a child process: signal forwarding, exit status, nothing left behind
    welcome.wsgi  the page served when no script is given
"""
