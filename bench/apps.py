"""The one WSGI application every contender runs: five routes, one per benchmark app.

Rules:
- Every contender loads this same file (copied into the run's private directory), so the work
  per request is identical; nothing here depends on wsgid, mod_wsgi or uWSGI.
- The route is the last segment of the request path, read from SCRIPT_NAME + PATH_INFO, or from
  REQUEST_URI when a proxy passes the path only there.
- Everything that can be computed once (the JSON document, the stream chunk) is computed at
  import; per request the app does what a real app of that kind does (encode the JSON, read the
  upload, run Django's request path), no more.
- The Django page is a real framework's request path: Django's WSGI handler, four of the
  middlewares a new project has, URL resolution, a view rendering a template of 30 rows. Its
  settings are made in code (no project files, no database), and Django is set up by the first
  request for it, so the other routes carry none of it.
- bench/run.py imports this file too, to know the exact bytes each route must answer with.
"""

import json

HELLO_BODY = b"Hello World!"
STREAM_CHUNK = b"s" * (64 * 1024)
STREAM_CHUNKS = 16                      # 16 x 64 KiB = 1 MiB
UPLOAD_BYTES = 16 * 1024
JSON_TARGET_BYTES = 4096


def _json_document():
    """A document of realistic shape whose encoding is 4 KB (just under 4096 bytes)."""
    items = []
    while True:
        n = len(items)
        item = {"id": n, "name": f"item-{n:04d}", "price": round(n * 1.25, 2),
                "tags": ["bench", "json", f"t{n % 7}"], "active": n % 2 == 0}
        if len(json.dumps({"items": items + [item]})) > JSON_TARGET_BYTES:
            return {"items": items}
        items.append(item)


JSON_DOCUMENT = _json_document()


def _route(environ):
    path = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
    if not path.strip("/"):
        path = environ.get("REQUEST_URI", "").split("?", 1)[0]
    return path.rstrip("/").rsplit("/", 1)[-1]


def hello(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"),
                              ("Content-Length", str(len(HELLO_BODY)))])
    return [HELLO_BODY]


def json_response(environ, start_response):
    body = json.dumps(JSON_DOCUMENT).encode()
    start_response("200 OK", [("Content-Type", "application/json"),
                              ("Content-Length", str(len(body)))])
    return [body]


def stream(environ, start_response):
    # No Content-Length: a streamed body of unknown length, as a generator yields it.
    start_response("200 OK", [("Content-Type", "application/octet-stream")])
    return (STREAM_CHUNK for _ in range(STREAM_CHUNKS))


def upload(environ, start_response):
    stream_in = environ["wsgi.input"]
    length = environ.get("CONTENT_LENGTH", "")
    received = len(stream_in.read(int(length))) if length.isdigit() else len(stream_in.read())
    body = str(received).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


DJANGO_ROWS = 30
DJANGO_TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{{ title }}</title></head>
<body><h1>{{ title }}</h1>
<table>
{% for item in items %}<tr class="{% cycle 'odd' 'even' %}"><td>{{ item.id }}</td><td>{{ item.name|title }}</td><td>{{ item.price|floatformat:2 }}</td><td>{{ item.tags|join:", " }}</td><td>{% if item.active %}yes{% else %}no{% endif %}</td></tr>
{% endfor %}</table>
<p>{{ items|length }} items</p></body></html>
"""

_django_handler = None


def django_page(environ, start_response):
    global _django_handler
    if _django_handler is None:
        _django_handler = _django_application()
    return _django_handler(environ, start_response)


def _django_application():
    import types

    import django
    from django.conf import settings
    from django.core.wsgi import get_wsgi_application
    from django.shortcuts import render
    from django.urls import path

    def page(request):
        return render(request, "page.html", {"title": "Items",
                                             "items": JSON_DOCUMENT["items"][:DJANGO_ROWS]})

    # a urlconf module made here rather than named: each server imports this file under a
    # name of its own
    urls = types.ModuleType("bench_django_urls")
    urls.urlpatterns = [path("django", page)]
    settings.configure(
        DEBUG=False, SECRET_KEY="bench-only", ALLOWED_HOSTS=["*"], USE_TZ=True,
        ROOT_URLCONF=urls,
        MIDDLEWARE=["django.middleware.security.SecurityMiddleware",
                    "django.middleware.common.CommonMiddleware",
                    "django.middleware.csrf.CsrfViewMiddleware",
                    "django.middleware.clickjacking.XFrameOptionsMiddleware"],
        TEMPLATES=[{"BACKEND": "django.template.backends.django.DjangoTemplates",
                    "OPTIONS": {"loaders": [("django.template.loaders.locmem.Loader",
                                             {"page.html": DJANGO_TEMPLATE})]}}])
    django.setup()
    return get_wsgi_application()


ROUTES = {"hello": hello, "json": json_response, "stream": stream, "upload": upload,
          "django": django_page}


def application(environ, start_response):
    handler = ROUTES.get(_route(environ))
    if handler is None:
        start_response("404 Not Found", [("Content-Type", "text/plain"), ("Content-Length", "9")])
        return [b"not found"]
    return handler(environ, start_response)
