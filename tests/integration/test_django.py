"""`python manage.py runwsgid` serving a real Django project (from `django-admin startproject`).

Static files are served by Apache (STATIC_URL aliased to STATIC_ROOT) unless WhiteNoise's
middleware is in MIDDLEWARE; the two are told apart by what only each can do: Django without
WhiteNoise (DEBUG off) serves no static file at all, and WhiteNoise adds its `Cache-Control:
max-age=60, public`, which Apache's file handler does not send.
"""

import os
import signal
import subprocess
import sys

import psutil
import pytest
import requests

from tests.support.apache import free_port, process_tree, shared_tmpdir, wait_for
from tests.support.express import START_TIMEOUT, STOP_TIMEOUT, is_alive


SETTINGS_TAIL = """
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1"]
INSTALLED_APPS += ["wsgid.django"]
STATIC_ROOT = BASE_DIR / "collected"
STATICFILES_DIRS = [BASE_DIR / "assets"]
"""
WHITENOISE_TAIL = """
MIDDLEWARE.insert(1, "whitenoise.middleware.WhiteNoiseMiddleware")
"""
URLS_TAIL = """
from django.http import HttpResponse
urlpatterns.append(path("hello/", lambda request: HttpResponse("hello from django")))
"""


class DjangoProject:
    def __init__(self, *, whitenoise):
        self.top = shared_tmpdir("wsgid-django-")
        self.directory = os.path.join(self.top, "mysite")
        self.port = free_port()
        self.proc = None
        self.known_pids = set()
        os.makedirs(self.directory)
        self.manage(["startproject"], django_admin=True)
        self.append("mysite/settings.py", SETTINGS_TAIL + (WHITENOISE_TAIL if whitenoise else ""))
        self.append("mysite/urls.py", URLS_TAIL)
        self.append("assets/site.css", "body { margin: 0; }\n")
        self.append("extra.txt", "an explicit alias\n")
        self.manage(["collectstatic", "--noinput"])
        subprocess.run(["chmod", "-R", "a+rX", self.top], check=True)

    def append(self, name, text):
        path = os.path.join(self.directory, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "a") as f:
            f.write(text)

    def manage(self, args, django_admin=False):
        if django_admin:
            command = [sys.executable, "-m", "django", *args, "mysite", self.directory]
        else:
            command = [sys.executable, "manage.py", *args]
        subprocess.run(command, cwd=self.directory, check=True, capture_output=True)

    def runwsgid(self, *args):
        self.output_path = os.path.join(self.top, "output")
        with open(self.output_path, "wb") as output:
            self.proc = subprocess.Popen(
                [sys.executable, "manage.py", "runwsgid", "--port", str(self.port),
                 "--server-root", os.path.join(self.top, "root"), "--isatty", *args],
                cwd=self.directory, stdin=subprocess.DEVNULL, stdout=output,
                stderr=subprocess.STDOUT, start_new_session=True)

    def output(self):
        with open(self.output_path, errors="replace") as f:
            return f.read()

    def get(self, path):
        assert self.proc.poll() is None, self.output()
        try:
            return requests.get(f"http://127.0.0.1:{self.port}{path}", timeout=10)
        except requests.ConnectionError:
            return None

    def remember_processes(self):
        self.known_pids.update(p.pid for p in process_tree(self.proc.pid))

    def cleanup(self):
        if self.proc is not None and self.proc.poll() is None:
            self.remember_processes()
            os.killpg(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                pass
        for pid in self.known_pids:
            if is_alive(pid):
                psutil.Process(pid).kill()
        subprocess.run(["rm", "-rf", self.top], check=False)


@pytest.fixture
def django_project():
    made = []

    def make(**kw):
        project = DjangoProject(**kw)
        made.append(project)
        return project

    yield make
    for project in made:
        project.cleanup()


@pytest.mark.parametrize("whitenoise", [False, True], ids=["apache-static", "whitenoise"])
def test_runwsgid_serves_the_project_and_its_static_files(django_project, whitenoise):
    project = django_project(whitenoise=whitenoise)
    project.runwsgid("--url-alias", "/extra.txt", os.path.join(project.directory, "extra.txt"))
    hello = wait_for(lambda: project.get("/hello/"), START_TIMEOUT, interval=0.1,
                     message="runwsgid to answer")
    project.remember_processes()
    assert hello.status_code == 200 and hello.text == "hello from django", project.output()
    assert "mysite.wsgi:application (module)" in project.output()

    css = project.get("/static/site.css")
    assert css.status_code == 200 and css.text == "body { margin: 0; }\n"
    if whitenoise:
        assert css.headers.get("Cache-Control") == "max-age=60, public"
    else:
        assert "Cache-Control" not in css.headers          # Apache's file handler
    extra = project.get("/extra.txt")
    assert extra.status_code == 200 and extra.text == "an explicit alias\n"

    os.killpg(project.proc.pid, signal.SIGINT)
    assert project.proc.wait(timeout=STOP_TIMEOUT) == 0
    wait_for(lambda: not [pid for pid in project.known_pids if is_alive(pid)], STOP_TIMEOUT,
             message="every process to exit")
