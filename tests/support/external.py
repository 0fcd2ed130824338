"""An external-mode supervisor for tests: `wsgid supervise --config FILE` started by the test, as
systemd would, with one daemon group on a socket path fixed in FILE."""

import contextlib
import os
import pwd
import signal
import subprocess
import sys

from tests.support.apache import APACHE_USER, RUNNING_AS_ROOT, shared_tmpdir, wait_for


@contextlib.contextmanager
def external_supervisor(group, script, url="/", daemon_options="processes=1 threads=2"):
    """Run a supervisor for group `group` serving `script` at `url`; yields its Popen with
    `.sock` (the socket path) and `.config` set. On exit it is stopped with SIGTERM (if it still
    runs) and its output is in `.output`."""
    workdir = shared_tmpdir()
    sock = os.path.join(workdir, f"{group}.sock")
    conf = os.path.join(workdir, "daemons.conf")
    # The socket belongs to the Apache child user, who must be able to connect.
    owner = pwd.getpwnam(APACHE_USER) if RUNNING_AS_ROOT else pwd.getpwuid(os.getuid())
    with open(conf, "w") as f:
        f.write(f"WSGIApacheUser {owner.pw_uid} {owner.pw_gid}\n"
                f"WSGIDaemonProcess {group} {daemon_options}\n"
                f"WSGIDaemonSocket {group} {sock}\n"
                f'WSGIScriptAlias {url} "{script}" process-group={group}\n')
    sup = subprocess.Popen([sys.executable, "-m", "wsgid", "supervise", "--config", conf],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    sup.sock, sup.config, sup.output = sock, conf, b""
    try:
        wait_for(lambda: os.path.exists(sock), 15, message=f"the socket of group '{group}'")
        yield sup
    finally:
        if sup.poll() is None:
            sup.send_signal(signal.SIGTERM)
        sup.output, _ = sup.communicate(timeout=30)
