"""wsgid.api in the test process: event dispatch, request scopes, process values, the mod_wsgi
alias and process_metrics(). The request path's use of it is in tests/integration/."""

import logging
import os
import sys
import threading

import pytest

import wsgid
from wsgid import api

LOGGER = "wsgid.api"


@pytest.fixture(autouse=True)
def fresh_api(monkeypatch, caplog):
    """Every test starts from a freshly initialised process state, and leaves no alias."""
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    monkeypatch.setattr(api, "process_group", None)
    monkeypatch.setattr(api, "maximum_processes", None)
    monkeypatch.setattr(api, "threads_per_process", None)
    previous = {name: sys.modules.get(name) for name in ("mod_wsgi", "apache")}
    api.init_process("unit", 2, 4)
    yield
    api.init_process(None, None, None)
    for name, module in previous.items():
        if module is None:
            sys.modules.pop(name, None)
        else:
            sys.modules[name] = module


def environ_for(path="/x", **extra):
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": path, "REQUEST_URI": path,
               "wsgid.request_start": "1700000000000000", "wsgid.queue_start": "1700000000250000"}
    environ.update(extra)
    return environ


def run_request(request_id, application_group="", application=None, environ=None):
    """Begin a request, start it, finish it; return (the application to call, its scope)."""
    scope = api.begin_request(request_id, application_group, environ or environ_for(), 1700000000.5)
    try:
        chosen = scope.request_started(application or (lambda e, s: []))
        scope.response_started("200 OK", [("Content-Type", "text/plain")], None)
        scope.request_finished(200, 3, 2, 0.0005, 5, 1, 0.001)
    finally:
        api.end_request(scope)
    return chosen, scope


def subscriber_log():
    received = []

    def subscriber(name, **payload):
        received.append((name, payload))

    return received, subscriber


# -- dispatch -----------------------------------------------------------------------------------

def test_subscribers_run_in_subscription_order_and_returned_dicts_reach_later_ones():
    calls = []

    def first(name, **payload):
        calls.append(("first", name))
        return {"added_by_first": 1}

    def second(name, **payload):
        calls.append(("second", name, payload.get("added_by_first")))

    assert api.subscribe_events(first) is first  # usable as a decorator
    api.subscribe_events(second)
    run_request("r1")
    assert calls == [("first", "request_started"), ("second", "request_started", 1),
                     ("first", "response_started"), ("second", "response_started", 1),
                     ("first", "request_finished"), ("second", "request_finished", 1)]


def test_a_subscriber_that_raises_is_logged_and_the_next_one_still_runs(caplog):
    received, recorder = subscriber_log()

    def broken(name, **payload):
        raise ValueError("subscriber broke on purpose")

    api.subscribe_events(broken)
    api.subscribe_events(recorder)
    run_request("r1")
    assert [name for name, _ in received] == ["request_started", "response_started",
                                              "request_finished"]
    errors = [r for r in caplog.records if r.name == LOGGER]
    assert len(errors) == 3
    assert "'request_started'" in errors[0].getMessage() and "broken" in errors[0].getMessage()
    assert "\n" not in errors[0].getMessage()
    assert isinstance(errors[0].exc_info[1], ValueError)


def test_subscribe_needs_a_callable():
    with pytest.raises(TypeError):
        api.subscribe_events("not callable")
    with pytest.raises(TypeError):
        api.subscribe_shutdown(None)


def test_request_started_can_replace_the_application_object():
    def original(environ, start_response):
        return []

    def wrapper(environ, start_response):
        return []

    seen = []
    api.subscribe_events(lambda name, **p: {"application_object": wrapper}
                         if name == "request_started" else None)
    api.subscribe_events(lambda name, **p: seen.append(p.get("application_object")))
    chosen, _ = run_request("r1", application=original)
    assert chosen is wrapper
    assert seen[0] is wrapper  # later subscribers see the replacement


def test_a_replacement_that_is_not_callable_is_refused_with_a_log_line(caplog):
    def original(environ, start_response):
        return []

    api.subscribe_events(lambda name, **p: {"application_object": 42}
                         if name == "request_started" else None)
    chosen, _ = run_request("r1", application=original)
    assert chosen is original
    assert any("not callable" in r.getMessage() for r in caplog.records if r.name == LOGGER)


def test_without_subscribers_the_application_is_returned_unchanged():
    def original(environ, start_response):
        return []

    chosen, scope = run_request("r1", application=original)
    assert chosen is original and scope.cpu_start is None


def test_request_payloads_have_mod_wsgis_keys_and_values():
    received, recorder = subscriber_log()
    api.subscribe_events(recorder)
    environ = environ_for("/p", **{"mod_wsgi.daemon_connects": "2",
                                   "mod_wsgi.daemon_restarts": "1"})
    run_request("r9", environ=environ)
    (_, started), (_, response), (_, finished) = received
    assert started["request_id"] == "r9" and started["request_environ"] is environ
    assert started["request_start"] == 1700000000.0 and started["queue_start"] == 1700000000.25
    assert started["daemon_start"] == 1700000000.5 and started["thread_id"] >= 1
    assert started["request_data"] is finished["request_data"]
    assert started["daemon_connects"] == 2 and started["daemon_restarts"] == 1
    assert response == {"request_id": "r9", "response_status": "200 OK",
                        "response_headers": [("Content-Type", "text/plain")],
                        "exception_info": None, "request_data": started["request_data"]}
    assert finished["status"] == 200 and finished["input_length"] == 3
    assert finished["input_reads"] == 2 and finished["input_time"] == 0.0005
    assert finished["output_length"] == 5 and finished["output_writes"] == 1
    assert finished["application_finish"] >= finished["application_start"]
    assert finished["application_time"] == pytest.approx(
        finished["application_finish"] - finished["application_start"])
    assert finished["cpu_user_time"] >= 0 and finished["cpu_system_time"] >= 0


def test_request_exception_carries_the_exception_info():
    received, recorder = subscriber_log()
    api.subscribe_events(recorder)
    scope = api.begin_request("r1", "", environ_for(), 0.0)
    try:
        raise KeyError("k")
    except KeyError as exc:
        scope.request_exception(exc)
        error = exc
    finally:
        api.end_request(scope)
    [(name, payload)] = received
    assert name == "request_exception"
    assert payload["exception_info"][0] is KeyError and payload["exception_info"][1] is error
    assert payload["exception_info"][2] is error.__traceback__


def test_missing_times_are_zero_as_in_mod_wsgi():
    received, recorder = subscriber_log()
    api.subscribe_events(recorder)
    run_request("r1", environ={"PATH_INFO": "/", "wsgid.queue_start": "12x"})
    started = received[0][1]
    assert started["request_start"] == 0.0 and started["queue_start"] == 0.0
    assert started["daemon_connects"] == 0 and started["daemon_restarts"] == 0


# -- request_data and active_requests ------------------------------------------------------------

def test_request_data_and_active_requests_live_exactly_as_long_as_the_request():
    with pytest.raises(RuntimeError, match="no active request"):
        api.request_data()
    assert "r1" not in api.active_requests
    scope = api.begin_request("r1", "", environ_for(), 0.0)
    try:
        data = api.request_data()
        assert api.active_requests["r1"] is data is scope.data
        assert wsgid.request_data() is data and wsgid.active_requests["r1"] is data

        other_thread = []

        def look():
            try:
                api.request_data()
            except RuntimeError:
                other_thread.append(("RuntimeError", "r1" in api.active_requests))
        thread = threading.Thread(target=look)
        thread.start()
        thread.join()
        # Another thread has no request of its own, but sees this one in active_requests.
        assert other_thread == [("RuntimeError", True)]
    finally:
        api.end_request(scope)
    assert "r1" not in api.active_requests
    with pytest.raises(RuntimeError):
        api.request_data()


def test_application_groups_have_their_own_subscribers_and_active_requests():
    received_global, global_subscriber = subscriber_log()
    received_other, other_subscriber = subscriber_log()
    api.subscribe_events(global_subscriber)
    with api.application_group_context("other"):
        assert api.application_group == "other"
        api.subscribe_events(other_subscriber)
    assert api.application_group == ""

    scope = api.begin_request("r-other", "other", environ_for(), 0.0)
    try:
        assert api.application_group == "other" == wsgid.application_group
        assert "r-other" in api.active_requests
        scope.request_started(lambda e, s: [])
    finally:
        api.end_request(scope)
    assert "r-other" not in api.active_requests
    assert [name for name, _ in received_other] == ["request_started"]
    assert received_global == []


# -- process values, the alias, process_stopping ---------------------------------------------------

def test_init_process_sets_the_values_that_the_package_forwards():
    api.init_process("grp", 3, 7)
    assert (api.process_group, api.maximum_processes, api.threads_per_process) == ("grp", 3, 7)
    assert (wsgid.process_group, wsgid.maximum_processes, wsgid.threads_per_process) == \
        ("grp", 3, 7)
    assert wsgid.application_group == ""
    with pytest.raises(AttributeError):
        wsgid.no_such_name


def test_init_process_installs_the_mod_wsgi_alias(monkeypatch):
    sys.modules.pop("mod_wsgi", None)
    api.init_process("grp", 1, 1)
    import mod_wsgi
    assert mod_wsgi is api
    assert mod_wsgi.process_group == "grp" and mod_wsgi.version == (4, 8, 0)


def test_the_alias_wins_over_a_mod_wsgi_package_on_the_path(tmp_path, monkeypatch):
    # The PyPI mod_wsgi package installed beside the application, as mod_wsgi-express is.
    package = tmp_path / "mod_wsgi"
    package.mkdir()
    (package / "__init__.py").write_text("FROM_PYPI = True\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("mod_wsgi", None)
    api.init_process("grp", 1, 1)
    import mod_wsgi
    assert mod_wsgi is api and not hasattr(mod_wsgi, "FROM_PYPI")


def test_process_stopping_goes_to_event_then_shutdown_subscribers_once(caplog):
    calls = []
    api.subscribe_shutdown(lambda name, **p: calls.append(("shutdown", name, p)))
    api.subscribe_events(lambda name, **p: calls.append(("event", name, p)))
    scope = api.begin_request("still-running", "", environ_for(), 0.0)
    try:
        api.subscribe_events(lambda name, **p: calls.append(
            ("active", sorted(api.active_requests))))
        assert api.emit_process_stopping("request_timeout") is True
        assert api.emit_process_stopping("shutdown_signal") is False  # at most once
    finally:
        api.end_request(scope)
    assert calls == [
        ("event", "process_stopping", {"shutdown_reason": "request_timeout"}),
        ("active", ["still-running"]),  # delivered while the request is still active
        ("shutdown", "process_stopping", {"shutdown_reason": "request_timeout"}),
    ]


def test_process_stopping_reaches_every_application_group_and_never_raises(caplog):
    calls = []

    def exits(name, **payload):
        raise SystemExit(3)

    api.subscribe_events(exits)
    with api.application_group_context("other"):
        api.subscribe_shutdown(lambda name, **p: calls.append(api.application_group))
    assert api.emit_process_stopping("maximum_requests") is True
    assert calls == ["other"]
    assert any("process_stopping" in r.getMessage() for r in caplog.records
               if r.name == LOGGER)


def test_emit_process_stopping_survives_a_keyboard_interrupt_in_a_subscriber(caplog):
    def interrupted(name, **payload):
        raise KeyboardInterrupt

    api.subscribe_events(interrupted)
    assert api.emit_process_stopping("shutdown_signal") is True


# -- process_metrics ------------------------------------------------------------------------------

def test_process_metrics_counts_requests_and_reports_the_process():
    before = api.process_metrics()
    assert before["request_count"] == 0 and before["active_requests"] == 0
    assert before["request_threads"] == 4
    scope = api.begin_request("r1", "", environ_for(), 0.0)
    try:
        during = api.process_metrics()
        assert during["active_requests"] == 1
    finally:
        api.end_request(scope)
    after = api.process_metrics()
    assert after["request_count"] == 1 and after["active_requests"] == 0
    assert after["request_busy_time"] > 0
    assert after["threads"] == [{"thread_id": scope.thread_id, "request_count": 1}]
    assert after["pid"] == os.getpid()
    assert after["memory_rss"] > 0 and after["memory_max_rss"] >= after["memory_rss"] // 2
    assert after["current_time"] >= after["restart_time"]
    assert set(after) >= {"cpu_user_time", "cpu_system_time", "running_time"}
    assert api.server_metrics() is None


# -- request_metrics(), server_metrics(), the apache module ---------------------------------------

def test_buckets_double_from_5ms_and_keep_mod_wsgis_length():
    assert [api.bucket_index(d) for d in (0.0, 0.005, 0.0051, 0.01, 0.02, 40.96, 41.0, 1e9)] == \
        [0, 0, 1, 1, 2, 13, 14, 14]
    assert api.BUCKET_COUNT == 16


def test_request_metrics_starts_recording_at_its_first_call_then_reports_each_period():
    run_request("before")                       # not recorded: nobody asked yet
    assert api.request_metrics() == {}
    # request start, queue start (250 ms later) and daemon start (250 ms after that)
    environ = environ_for()
    run_request("r1", environ=environ)
    _, scope = run_request("r2", environ=environ)
    report = api.request_metrics()
    assert report["request_count"] == 2 and report["pid"] == os.getpid()
    assert report["stop_time"] - report["start_time"] == pytest.approx(report["sample_period"])
    assert report["request_throughput"] == pytest.approx(2 / report["sample_period"])
    assert report["server_time"] == pytest.approx(0.25)
    assert report["queue_time"] == pytest.approx(0.25)
    assert report["server_time_buckets"][api.bucket_index(0.25)] == 2
    assert report["queue_time_buckets"][api.bucket_index(0.25)] == 2
    # the daemon start was long before the application started: the last bucket
    assert report["daemon_time_buckets"][14] == 2
    assert sum(report["application_time_buckets"]) == 2
    assert report["request_threads_maximum"] == 4 and report["request_threads_started"] == 1
    assert report["request_threads_active"] == 1
    # by thread number (this test thread's, which earlier tests may have numbered already)
    expected = [0] * max(4, scope.thread_id)
    expected[scope.thread_id - 1] = 2
    assert report["request_threads_buckets"] == expected
    assert 0 <= report["capacity_utilization"] <= 1
    assert report["cpu_user_time"] >= 0 and report["memory_rss"] > 0
    # the next period starts empty
    quiet = api.request_metrics()
    assert quiet["request_count"] == 0 and quiet["server_time"] == 0.0
    assert sum(quiet["application_time_buckets"]) == 0


def test_server_metrics_gives_every_request_thread_the_scoreboard_keys(monkeypatch):
    api.init_process("unit", 2, 3, server_metrics=True)
    environ = environ_for("/page?x=1", REQUEST_URI="/page?x=1", SERVER_PROTOCOL="HTTP/1.1",
                          REMOTE_ADDR="192.0.2.7", SERVER_NAME="shop.example")
    _, scope = run_request("r1", environ=environ)
    metrics = api.server_metrics()
    assert (metrics["server_limit"], metrics["thread_limit"]) == (2, 3)
    [process] = metrics["processes"]
    assert process["pid"] == os.getpid()
    first, *idle = process["workers"]
    assert first["thread_num"] == scope.thread_id and first["status"] == "_"
    assert first["access_count"] == 1 and first["bytes_served"] == 5
    assert first["client"] == "192.0.2.7" and first["vhost"] == "shop.example"
    assert first["request"] == "GET /page?x=1 HTTP/1.1"
    assert first["stop_time"] >= first["start_time"] > 0 and first["last_used"] == first["stop_time"]
    assert [worker["status"] for worker in idle] == ["_", "_"]
    assert [worker["thread_num"] for worker in idle] == [scope.thread_id + 1, scope.thread_id + 2]


def test_the_apache_module_has_mod_wsgis_names():
    from wsgid.config import ApacheServer
    server = ApacheServer("Apache/2.4.57 (Debian)", (2, 4, 57), "event", "2023-10-21T13:41:49",
                          16, 25)
    api.init_process("grp", 1, 1, apache=server)
    import apache
    assert (apache.version, apache.description, apache.mpm_name, apache.build_date,
            apache.maximum_processes, apache.threads_per_process) == \
        ((2, 4, 57), "Apache/2.4.57 (Debian)", "event", "2023-10-21T13:41:49", 16, 25)
    api.init_process("grp", 1, 1)      # external mode: no Apache is known
    import apache
    assert apache.version is None and apache.mpm_name is None
