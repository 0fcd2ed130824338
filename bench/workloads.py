"""The five benchmark workloads: which URL, which method, and the exact bytes a correct answer has.

Rules:
- The expected body of each workload is computed by calling bench/apps.py in this process, so a
  contender that answers fast but wrong is caught by the check before it is measured.
- The static-file ceiling serves the same bytes from files written here; the upload workload has
  no static equivalent.
"""

import io
import os
import shutil
import tempfile
from dataclasses import dataclass

import apps
from apache import private_dir


@dataclass(frozen=True)
class Workload:
    name: str            # the route in apps.py, the static file name, the key in --apps
    title: str
    upload_bytes: int = 0

    @property
    def path(self):
        return "/" + self.name

    @property
    def method(self):
        return "POST" if self.upload_bytes else "GET"

    @property
    def has_static_twin(self):
        return not self.upload_bytes

    def upload_body(self):
        return b"u" * self.upload_bytes

    def expected_body(self):
        """The bytes bench/apps.py answers this workload with, computed in-process."""
        body = self.upload_body()
        environ = {"REQUEST_METHOD": self.method, "SCRIPT_NAME": "", "PATH_INFO": self.path,
                   "CONTENT_LENGTH": str(len(body)) if body else "",
                   "wsgi.input": io.BytesIO(body), "wsgi.errors": io.StringIO(),
                   "wsgi.url_scheme": "http", "SERVER_NAME": "localhost",
                   "SERVER_PORT": "80", "HTTP_HOST": "localhost"}
        statuses = []
        chunks = apps.application(environ, lambda status, headers: statuses.append(status))
        try:
            data = b"".join(chunks)
        finally:
            getattr(chunks, "close", lambda: None)()     # as a server would (Django's signals)
        if statuses != ["200 OK"]:
            raise RuntimeError(f"bench/apps.py answers {self.path} with {statuses}, not 200 OK")
        return data


WORKLOADS = (
    Workload("hello", "hello world (GET, 12 B)"),
    Workload("json", "4 KB JSON (GET, json.dumps per request)"),
    Workload("stream", "1 MiB streamed in 64 KiB chunks (GET)"),
    Workload("upload", "16 KiB upload echoed as its length (POST)", upload_bytes=apps.UPLOAD_BYTES),
    Workload("django", f"Django page (template of {apps.DJANGO_ROWS} rows, 4 middlewares)"),
)


def by_names(names):
    known = {w.name: w for w in WORKLOADS}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise SystemExit(f"--apps: unknown app(s) {', '.join(unknown)}; "
                         f"choose from {', '.join(known)}")
    return [known[n] for n in names]


def write_static_files(directory):
    """The files the static ceiling serves: same names as the routes, same bytes."""
    os.makedirs(directory, exist_ok=True)
    os.chmod(directory, 0o755)
    for workload in WORKLOADS:
        if workload.has_static_twin:
            path = os.path.join(directory, workload.name)
            with open(path, "wb") as f:
                f.write(workload.expected_body())
            os.chmod(path, 0o644)


def prepare_run_dir(prefix):
    """A new private directory under /tmp for one run, with a copy of apps.py that the Apache
    child user can read whatever the checkout's mode, and the static files. Returns
    (run_dir, app_file, static_dir); the caller removes run_dir."""
    run_dir = private_dir(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    app_dir = private_dir(os.path.join(run_dir, "app"))
    app_file = os.path.join(app_dir, "apps.py")
    shutil.copyfile(apps.__file__, app_file)
    os.chmod(app_file, 0o644)
    static_dir = os.path.join(run_dir, "static")
    write_static_files(static_dir)
    return run_dir, app_file, static_dir
