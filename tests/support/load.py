"""A bounded closed-loop HTTP load on loopback: a few client threads, each sending its next GET
as soon as the previous one is answered, until the `with` block ends."""

import threading

import requests

from tests.support.apache import wait_for


class ClosedLoop:
    """Keeps every outcome as (status or None, body text or the error)."""

    def __init__(self, url, clients=3, new_connection_each_time=False, timeout=30):
        self.url = url
        self.answers = []     # list.append is atomic: the threads share it without a lock
        self._headers = {"Connection": "close"} if new_connection_each_time else {}
        self._timeout = timeout
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(clients)]

    def __enter__(self):
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        for thread in self._threads:
            thread.join(self._timeout + 30)

    def _run(self):
        while not self._stop.is_set():
            try:
                answer = requests.get(self.url, timeout=self._timeout, headers=self._headers)
                self.answers.append((answer.status_code, answer.text))
            except requests.RequestException as exc:
                self.answers.append((None, repr(exc)))

    def served(self):
        return sum(1 for status, _ in self.answers if status == 200)

    def failures(self):
        return [answer for answer in self.answers if answer[0] != 200]

    def wait_for_more(self, count, timeout=20):
        target = self.served() + count
        wait_for(lambda: self.served() >= target, timeout,
                 message=f"{count} more requests to be served")
