"""The hook script of tests/integration/test_hooks.py: every function mod_wsgi's access, auth and
group hooks call, each doing what the request asks, so that one script covers every outcome.

allow_access: the query's `access=` chooses: allow (the default; True only for a loopback
host), deny, decline, raise, wrong-type. With `trace=1` each function writes one line to
wsgi.errors saying where it ran: "hook FUNCTION ran in PROCESS-GROUP/APPLICATION-GROUP".

Users (password "secret" for spy, "pw" for the others):
  spy          exists; member of secret-agents
  outsider     exists; member of no group
  renamed      exists; check_password answers with another name, "canonical-user"
  boom         check_password, get_realm_hash and groups_for_user raise
  group-boom   exists; groups_for_user raises
  wrong-type   check_password returns 1, get_realm_hash 42, groups_for_user "a-string"
  anyone else  does not exist
"""

import hashlib
from urllib.parse import parse_qs

PASSWORDS = {"spy": "secret", "outsider": "pw", "renamed": "pw", "group-boom": "pw"}
GROUPS = {"spy": ["secret-agents", "staff"], "outsider": [], "renamed": ["staff"]}


def _trace(environ, function):
    if parse_qs(environ.get("QUERY_STRING", "")).get("trace") == ["1"]:
        environ["wsgi.errors"].write(
            f"hook {function} ran in {environ['mod_wsgi.process_group']}/"
            f"{environ['mod_wsgi.application_group']}\n")
        environ["wsgi.errors"].flush()


def allow_access(environ, host):
    _trace(environ, "allow_access")
    verdict = parse_qs(environ.get("QUERY_STRING", "")).get("access", ["allow"])[0]
    if verdict == "allow":
        return host in ("127.0.0.1", "localhost", "::1")
    if verdict == "deny":
        return False
    if verdict == "decline":
        return None
    if verdict == "raise":
        raise RuntimeError("allow_access exploded on purpose")
    return "yes"


def check_password(environ, user, password):
    _trace(environ, "check_password")
    if user == "boom":
        raise RuntimeError("check_password exploded on purpose")
    if user == "wrong-type":
        return 1
    if user not in PASSWORDS:
        return None
    if password != PASSWORDS[user]:
        return False
    return "canonical-user" if user == "renamed" else True


def get_realm_hash(environ, user, realm):
    _trace(environ, "get_realm_hash")
    if user == "boom":
        raise RuntimeError("get_realm_hash exploded on purpose")
    if user == "wrong-type":
        return 42
    if user not in PASSWORDS:
        return None
    return hashlib.md5(f"{user}:{realm}:{PASSWORDS[user]}".encode()).hexdigest()


def groups_for_user(environ, user):
    _trace(environ, "groups_for_user")
    if user == "group-boom":
        raise RuntimeError("groups_for_user exploded on purpose")
    if user == "wrong-type":
        return "a-string"
    return GROUPS.get(user, [])
