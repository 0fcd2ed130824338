"""`python manage.py runwsgid [start-server options]`: the project behind Apache, through wsgid.

What the settings imply, given to start-server before the user's own options (so that an
option given on the command line wins, click keeping the last value):
- the application: WSGI_APPLICATION (`mysite.wsgi.application`) as `--application-type
  module` with `--callable-object`, imported in the daemons from the project directory
  (BASE_DIR, else the current directory), which is also their working directory;
- static files: STATIC_URL aliased to STATIC_ROOT, so that Apache serves them, unless
  WhiteNoise's middleware is in MIDDLEWARE (or MIDDLEWARE_CLASSES): then Django serves them.
  A STATIC_URL on another host (`https://cdn...`) is not aliased.
Argument parsing is start-server's own (run_from_argv), so `runwsgid --help` shows its options.
"""

from __future__ import annotations

import os
import sys

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

WHITENOISE_MIDDLEWARE = "whitenoise.middleware.WhiteNoiseMiddleware"


def uses_whitenoise(django_settings) -> bool:
    middleware = getattr(django_settings, "MIDDLEWARE", None) or \
        getattr(django_settings, "MIDDLEWARE_CLASSES", None) or ()
    return WHITENOISE_MIDDLEWARE in middleware


def project_directory(django_settings) -> str:
    base_dir = getattr(django_settings, "BASE_DIR", None)
    return os.path.abspath(str(base_dir)) if base_dir else os.getcwd()


def static_alias(django_settings) -> list:
    """`--url-alias STATIC_URL STATIC_ROOT` when Apache should serve the static files."""
    static_url = getattr(django_settings, "STATIC_URL", None)
    static_root = getattr(django_settings, "STATIC_ROOT", None)
    if not static_url or not static_root or uses_whitenoise(django_settings):
        return []
    if "//" in static_url:           # on another host: nothing for this server to serve
        return []
    static_root = str(static_root)
    if not os.path.isdir(static_root):
        raise CommandError(f"STATIC_ROOT {static_root} does not exist: run `python manage.py "
                           "collectstatic` first, so that Apache can serve the static files.")
    return ["--url-alias", "/" + static_url.strip("/"), static_root]


def start_server_arguments(django_settings, user_arguments) -> list:
    application = getattr(django_settings, "WSGI_APPLICATION", None)
    if not application or "." not in application:
        raise CommandError("WSGI_APPLICATION is not set: set it to the dotted path of the "
                           "project's WSGI application, such as mysite.wsgi.application.")
    module, callable_object = application.rsplit(".", 1)
    return [module, "--application-type", "module", "--callable-object", callable_object,
            "--working-directory", project_directory(django_settings),
            *static_alias(django_settings), *user_arguments]


class Command(BaseCommand):
    help = ("Serve this project with Apache httpd and wsgid daemon processes "
            "(`wsgid start-server` options; --help lists them).")

    def run_from_argv(self, argv):
        from wsgid.express.cli import start_server

        prog_name = f"{os.path.basename(argv[0])} {argv[1]}"
        try:
            arguments = start_server_arguments(settings, argv[2:])
        except CommandError as exc:
            self.stderr.write(f"CommandError: {exc}")
            sys.exit(1)
        start_server.main(args=arguments, prog_name=prog_name)

    def handle(self, *args, **options):
        # Reached only through call_command(); a command line goes through run_from_argv().
        raise CommandError("runwsgid runs from the command line: python manage.py runwsgid")
