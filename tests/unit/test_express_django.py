"""runwsgid's reading of Django settings into start-server arguments (plain objects as settings)."""

from types import SimpleNamespace

import pytest


from django.core.management.base import CommandError  # noqa: E402

from wsgid.django.management.commands.runwsgid import start_server_arguments  # noqa: E402


def project(tmp_path, **overrides):
    (tmp_path / "collected").mkdir(exist_ok=True)
    values = dict(WSGI_APPLICATION="mysite.wsgi.application", BASE_DIR=tmp_path,
                  STATIC_URL="/static/", STATIC_ROOT=tmp_path / "collected",
                  MIDDLEWARE=["django.middleware.security.SecurityMiddleware"])
    values.update(overrides)
    return SimpleNamespace(**values)


def test_the_application_and_the_static_alias(tmp_path):
    arguments = start_server_arguments(project(tmp_path), ["--port", "9000"])
    assert arguments == ["mysite.wsgi", "--application-type", "module", "--callable-object",
                         "application", "--working-directory", str(tmp_path),
                         "--url-alias", "/static", str(tmp_path / "collected"),
                         "--port", "9000"]


@pytest.mark.parametrize("setting", ["MIDDLEWARE", "MIDDLEWARE_CLASSES"])
def test_whitenoise_serves_static_files_itself(tmp_path, setting):
    overrides = {"MIDDLEWARE": None, setting: ["whitenoise.middleware.WhiteNoiseMiddleware"]}
    settings = project(tmp_path, **overrides)
    assert "--url-alias" not in start_server_arguments(settings, [])


def test_static_url_on_another_host_is_not_aliased(tmp_path):
    settings = project(tmp_path, STATIC_URL="https://cdn.example.com/static/")
    assert "--url-alias" not in start_server_arguments(settings, [])


def test_missing_static_root_says_to_run_collectstatic(tmp_path):
    with pytest.raises(CommandError, match="collectstatic"):
        start_server_arguments(project(tmp_path, STATIC_ROOT=tmp_path / "missing"), [])


def test_missing_wsgi_application_is_refused(tmp_path):
    with pytest.raises(CommandError, match="WSGI_APPLICATION"):
        start_server_arguments(project(tmp_path, WSGI_APPLICATION=None), [])
