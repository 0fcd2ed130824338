"""The in-process API through a real Apache: events, active_requests, process values, the
`mod_wsgi` alias, request ids in both logs, and queue-timeout.

Each test runs tests/apps/events.wsgi, copied into the Apache instance's directory with the path
of its record file baked in; the app appends one JSON line per event and per application call,
and the tests read that file.
"""

import json
import os
import re
import shutil
import subprocess
import threading
import time

import pytest
import requests

from tests.support.apache import APPS, shared_tmpdir, wait_for

SITE = """
WSGIDaemonProcess events processes={processes} threads={threads} {options}
WSGIScriptAlias /app "{root}/events/events.wsgi" process-group=events application-group=%{{GLOBAL}}
<Directory "{root}/events">
    Require all granted
</Directory>
LogFormat "%L %U %>s" ids
CustomLog "{root}/logs/ids_log" ids
"""


class EventsSite:
    """An Apache running a private copy of events.wsgi, and the record that copy writes."""

    def __init__(self, inst):
        self.inst = inst
        folder = os.path.join(inst.root, "events")
        os.makedirs(folder)
        os.chmod(folder, 0o755)
        self.record_path = os.path.join(folder, "record.jsonl")
        with open(self.record_path, "w"):
            pass
        os.chmod(self.record_path, 0o666)  # the daemon runs as the Apache user
        with open(os.path.join(APPS, "events.wsgi")) as source:
            script = source.read().replace("@RECORD_PATH@", self.record_path)
        with open(os.path.join(folder, "events.wsgi"), "w") as copy:
            copy.write(script)

    def url(self, path):
        return self.inst.url("/app" + path)

    def entries(self, event=None):
        with open(self.record_path) as record:
            lines = [json.loads(line) for line in record if line.strip()]
        return [e for e in lines if event is None or e["event"] == event]

    def for_request(self, request_id):
        return [e for e in self.entries() if e.get("request_id") == request_id]

    def wait_for_event(self, event, request_id, timeout=10):
        return wait_for(lambda: [e for e in self.entries(event)
                                 if e.get("request_id") == request_id], timeout,
                        message=f"event {event} of request {request_id}")[0]


def start_site(apache, processes=1, threads=4, options=""):
    inst = apache(SITE.format(processes=processes, threads=threads, options=options,
                              root="{root}"))
    site = EventsSite(inst)
    inst.start()
    return site


@pytest.fixture
def site(apache):
    return start_site(apache)


def request_id_of(site, path="/active"):
    answer = requests.get(site.url(path), timeout=10)
    assert answer.status_code == 200, site.inst.error_log()[-3000:]
    return answer.json()["request_id"]


def test_a_request_publishes_started_response_started_and_finished_in_order(site):
    body = os.urandom(300_000)    # more than the first packet: the daemon reads the rest
    answer = requests.post(site.url("/echo"), data=body, timeout=10)
    assert answer.status_code == 200 and answer.content == body
    [app_call] = [e for e in site.entries("app") if e["path"] == "/echo"]
    request_id = app_call["request_id"]
    finished = site.wait_for_event("request_finished", request_id)
    events = [e["event"] for e in site.for_request(request_id)]
    assert events == ["request_started", "app", "response_started", "request_finished"]

    started = site.for_request(request_id)[0]
    assert {"request_id", "thread_id", "request_environ", "application_object",
            "request_data", "request_start", "queue_start", "daemon_start",
            "application_start", "daemon_connects", "daemon_restarts"} <= set(started["keys"])
    # connect() attempts: more than one while the daemon was still starting
    assert started["daemon_connects"] >= 1 and started["daemon_restarts"] == 0
    assert started["path"] == "/echo" and started["thread_id"] >= 1
    # Apache stamped the request, then queued it, then the daemon picked it up.
    assert 0 < started["request_start"] <= started["queue_start"] <= started["daemon_start"] \
        <= started["application_start"] <= time.time()

    [response_started] = [e for e in site.for_request(request_id)
                          if e["event"] == "response_started"]
    assert response_started["response_status"] == "200 OK"
    assert response_started["exception_info"] is None

    assert finished["status"] == 200
    assert finished["input_length"] == 300_000 and finished["output_length"] == 300_000
    assert finished["input_reads"] >= 1 and 0 < finished["input_time"] < 10
    assert 0 <= finished["application_time"] < 10
    assert finished["cpu_user_time"] >= 0 and finished["cpu_system_time"] >= 0
    assert finished["cpu_user_time"] + finished["cpu_system_time"] <= \
        finished["application_time"] + 0.05
    assert finished["request_data"] == {"seen_at_start": True}


def test_an_exception_in_the_application_is_published_then_the_request_finishes_500(site):
    answer = requests.get(site.url("/raise"), timeout=10)
    assert answer.status_code == 500
    [app_call] = [e for e in site.entries("app") if e["path"] == "/raise"]
    request_id = app_call["request_id"]
    finished = site.wait_for_event("request_finished", request_id)
    exception = site.wait_for_event("request_exception", request_id)
    assert exception["exception"] == "RuntimeError: events.wsgi raised on purpose"
    assert {"request_id", "exception_info", "request_data"} <= set(exception["keys"])
    assert finished["status"] == 500


def test_a_request_started_subscriber_replaces_the_application(site):
    answer = requests.get(site.url("/wrapped"), timeout=10)
    assert answer.status_code == 200 and answer.text == "wrapped\n"
    # The original application never ran for it.
    assert not [e for e in site.entries("app") if e["path"] == "/wrapped"]
    assert [e for e in site.entries("request_started") if e.get("path") == "/wrapped"]


def test_active_requests_holds_the_running_request_and_request_data(site):
    answer = requests.get(site.url("/active"), timeout=10).json()
    assert answer["in_active_requests"] is True
    assert answer["value_is_request_data"] is True
    assert answer["in_mod_wsgi_active_requests"] is True, "import mod_wsgi failed in the daemon"
    finished = site.wait_for_event("request_finished", answer["request_id"])
    assert finished["request_data"] == {"seen_at_start": True}


def test_the_request_id_is_apaches_log_id_in_the_environ_and_both_logs(site):
    answer = requests.get(site.url("/active"), timeout=10).json()
    request_id = answer["request_id"]
    assert request_id and answer["wsgid.request_id"] == request_id
    ids_log = os.path.join(site.inst.root, "logs", "ids_log")
    line = wait_for(lambda: [l for l in open(ids_log).read().splitlines()
                             if l.startswith(request_id + " ")], 10,
                    message="the request in Apache's log")[0]
    assert line == f"{request_id} /app/active 200"


def test_import_mod_wsgi_is_the_wsgid_api_with_the_process_values(apache, request):
    # A mod_wsgi package on the daemons' path (the PyPI one, as mod_wsgi-express installs it)
    # does not win: as under mod_wsgi, `import mod_wsgi` is the server's own module.
    packages = shared_tmpdir()
    os.makedirs(os.path.join(packages, "mod_wsgi"))
    with open(os.path.join(packages, "mod_wsgi", "__init__.py"), "w") as f:
        f.write("raise ImportError('the PyPI mod_wsgi package was imported')\n")
    os.chmod(os.path.join(packages, "mod_wsgi"), 0o755)
    os.chmod(os.path.join(packages, "mod_wsgi", "__init__.py"), 0o644)
    request.addfinalizer(lambda: shutil.rmtree(packages, ignore_errors=True))
    site = start_site(apache, processes=2, threads=3, options=f"python-path={packages}")
    answer = requests.get(site.url("/api"), timeout=10)
    assert answer.status_code == 200, site.inst.error_log()[-3000:]
    api = answer.json()
    assert api["mod_wsgi_is_wsgid"] is True
    assert api["mod_wsgi_file_wrapper_is_the_environs"] is True
    assert api["process_group"] == "events" == api["mod_wsgi_process_group"]
    assert api["application_group"] == ""
    assert api["maximum_processes"] == 2 and api["threads_per_process"] == 3
    environ = api["environ"]
    assert environ["mod_wsgi.process_group"] == "events"
    assert environ["mod_wsgi.application_group"] == ""
    assert environ["mod_wsgi.request_id"] == environ["wsgid.request_id"] != ""
    assert environ["mod_wsgi.request_start"] == environ["wsgid.request_start"]
    assert environ["mod_wsgi.queue_start"] == environ["wsgid.queue_start"]
    assert int(environ["mod_wsgi.request_start"]) <= int(environ["mod_wsgi.queue_start"]) \
        <= int(environ["mod_wsgi.daemon_start"])
    metrics = api["process_metrics"]
    assert metrics["pid"] != os.getpid() and metrics["request_threads"] == 3
    assert metrics["active_requests"] == 1           # this request
    assert metrics["memory_rss"] > 1_000_000 and metrics["memory_max_rss"] >= \
        metrics["memory_rss"] // 2
    # CPU times count in clock ticks: a daemon forked with everything imported may not have
    # used one yet.
    assert metrics["running_time"] >= 0
    assert isinstance(metrics["cpu_user_time"], float) and metrics["cpu_user_time"] >= 0
    # mod_wsgi's apache module: the Apache in front, as `httpd -V` describes it
    about = apache_about(site.inst)
    module = api["apache"]
    assert module["version"] == list(about["version"])
    assert module["description"].startswith(f"Apache/{about['version_text']}")
    assert module["mpm_name"] == about["mpm"] and module["build_date"] == about["built"]
    # the test configuration: MaxRequestWorkers 100, ThreadsPerChild 25, ServerLimit 4
    # (tests/support/apache.py)
    assert module["threads_per_process"] == 25 and module["maximum_processes"] == 4


def apache_about(inst):
    """Version, MPM and build date, as the httpd binary itself reports them."""
    text = subprocess.run(inst.httpd_cmd("-V"), capture_output=True, text=True,
                          check=True).stdout
    version_text = re.search(r"Server version: Apache/(\d+\.\d+\.\d+)", text).group(1)
    return {"version": tuple(int(part) for part in version_text.split(".")),
            "version_text": version_text,
            "mpm": re.search(r"Server MPM:\s+(\w+)", text).group(1),
            "built": re.search(r"Server built:\s+(.+)", text).group(1).strip()}


def test_request_metrics_reports_each_sample_period(apache):
    site = start_site(apache, processes=1, threads=3)
    first = requests.get(site.url("/request-metrics"), timeout=10)
    assert first.status_code == 200 and first.json() == {}      # recording starts now
    for _ in range(5):
        assert requests.get(site.url("/hello"), timeout=10).status_code == 200
    report = requests.get(site.url("/request-metrics"), timeout=10).json()
    again = requests.get(site.url("/request-metrics"), timeout=10).json()
    # A request counts in the period in which its daemon thread finished it. mod_wsgid ends a
    # response once it has its Content-Length, so a thread can still be finishing the last
    # /hello when the report is asked for: that request then counts in the next period. Either
    # way each of the 7 finished requests (the first call's, 5 x /hello, the report's) counts
    # exactly once; the report's own request has not finished while it reports, and with 3
    # threads, one of them serving the report, at most 2 others can still be finishing.
    counted = report["request_count"]
    assert 4 <= counted <= 6
    assert counted + again["request_count"] == 7
    assert again["start_time"] == report["stop_time"]
    assert report["request_threads_maximum"] == 3
    assert 1 <= report["request_threads_active"] <= 3
    assert sum(report["request_threads_buckets"]) == counted
    for name in ("server_time", "queue_time", "daemon_time", "application_time"):
        buckets = report[f"{name}_buckets"]
        assert len(buckets) == 16 and sum(buckets) == counted, name
        assert 0 <= report[name] < 5, name
    assert report["request_throughput"] > 0 and 0 < report["capacity_utilization"] <= 1


def test_process_stopping_reaches_event_and_shutdown_subscribers_on_stop(site):
    request_id_of(site)
    pid = site.entries("app")[0]["pid"]
    site.inst.stop()
    stopping = wait_for(lambda: [e for e in site.entries("process_stopping")
                                 if e["pid"] == pid], 15, message="process_stopping")
    assert [e["shutdown_reason"] for e in stopping] == ["shutdown_signal"]
    shutdown = [e for e in site.entries("shutdown_callback") if e["pid"] == pid]
    assert shutdown == [{"event": "shutdown_callback", "name": "process_stopping",
                         "shutdown_reason": "shutdown_signal", "pid": pid}]
    # Event subscribers first, then shutdown subscribers.
    order = [e["event"] for e in site.entries() if e["pid"] == pid]
    assert order.index("process_stopping") < order.index("shutdown_callback")


def test_queue_timeout_answers_504_to_requests_that_waited_too_long(apache):
    site = start_site(apache, processes=1, threads=1, options="queue-timeout=1")
    assert requests.get(site.url("/hello"), timeout=10).status_code == 200  # loaded

    results = {}

    def fetch(name, path):
        try:
            results[name] = requests.get(site.url(path), timeout=30).status_code
        except requests.RequestException as exc:  # shown by the assertions below
            results[name] = repr(exc)

    slow = threading.Thread(target=fetch, args=("slow", "/slow?s=2.5"))
    slow.start()
    wait_for(lambda: [e for e in site.entries("app") if e["path"] == "/slow"], 10,
             message="the slow request to hold the only thread")
    queued = [threading.Thread(target=fetch, args=(f"queued-{i}", "/hello")) for i in range(3)]
    for thread in queued:
        thread.start()
    for thread in [slow] + queued:
        thread.join(30)

    log = site.inst.error_log()
    assert results["slow"] == 200, log[-3000:]
    assert [results[f"queued-{i}"] for i in range(3)] == [504, 504, 504], log[-3000:]
    # The application ran once for /hello (the warm-up) and never for the queued requests.
    assert len([e for e in site.entries("app") if e["path"] == "/hello"]) == 1
    assert log.count("queue-timeout: GET /app/hello") == 3, log[-3000:]
    # A request that does not wait is served again.
    assert requests.get(site.url("/hello"), timeout=10).status_code == 200
