"""Hook calls: a daemon runs the access, authentication, authorization and dispatch scripts for
mod_wsgid (docs/protocol.md, "Hook calls"), since wsgid has no Python inside Apache.

Rules:
- Only configured scripts run. The packet's wsgid.hook_script must be (after os.path.normpath)
  the path of a script that the configuration names with the directive of the hook
  (WSGIAccessScript for allow_access, ...) and allows for this group (no process-group=, or
  this one). What is loaded is the configured path string, through the group's ScriptLoader:
  the same module, one per (script, application group), that a WSGI request for that file gets.
- answer(environ) returns the complete answer, `HTTP/1.1 200 OK` with a Wsgid-Hook-Result header,
  the value headers and Content-Length: 0; it never raises and never touches a socket. The head
  goes through core.encode_head, the check that application heads get: a value it refuses is an
  `error` result like a wrong type.
- Every `error` result is one log line (with the traceback, for an exception) naming the
  directive, the script, the function and the request. The password is in no log line and not
  in the environ the script gets.
- WSGIScriptReloading: a script whose file changed since it was loaded (the packet's
  wsgid.script_mtime) is loaded again in place before the call (ScriptLoader.load_current), as
  mod_wsgi reloads a hook script; the process is not replaced for it.
- The user, password, realm and host arguments are the packet's bytes decoded as UTF-8, and a
  user name that check_password returns goes back UTF-8 encoded: mod_wsgi passes and takes them
  so. The environ and the other returned values are latin-1, as packet variables and header
  values are.
"""

import io
import logging
import os

from wsgid.core import HeadError, encode_head
from wsgid.loader import ScriptError
from wsgid.core import describe_request

log = logging.getLogger("wsgid.hooks")

RESULT_HEADER = "Wsgid-Hook-Result"

# hook -> (the directive that configures its scripts, its arguments after environ as packet keys)
HOOKS = {
    "allow_access": ("WSGIAccessScript", ("wsgid.hook_host",)),
    "check_password": ("WSGIAuthUserScript", ("wsgid.hook_user", "wsgid.hook_password")),
    "get_realm_hash": ("WSGIAuthUserScript", ("wsgid.hook_user", "wsgid.hook_realm")),
    "groups_for_user": ("WSGIAuthGroupScript", ("wsgid.hook_user",)),
    "dispatch": ("WSGIDispatchScript", ()),
}

# The functions of a dispatch script, each optional, and the header of each one's answer.
DISPATCH_FUNCTIONS = (
    ("process_group", "Wsgid-Hook-Process-Group"),
    ("application_group", "Wsgid-Hook-Application-Group"),
    ("callable_object", "Wsgid-Hook-Callable-Object"),
)

# What an argument is called in a log line; the value itself is never shown.
_ARGUMENT_NAMES = {
    "wsgid.hook_host": "host",
    "wsgid.hook_user": "user name",
    "wsgid.hook_password": "password",
    "wsgid.hook_realm": "realm",
}


# The hook directives an .htaccess file may hold (AllowOverride AuthConfig, as in mod_wsgi).
HTACCESS_DIRECTIVES = frozenset({"WSGIAccessScript", "WSGIAuthUserScript", "WSGIAuthGroupScript"})


class HookFailed(Exception):
    """The call gives the `error` result. str(e) says why, for the log line; __cause__ is the
    exception of the script, when there is one (its traceback is logged)."""


class HookRunner:
    """Answers the hook calls that reach the daemon processes of one group."""

    def __init__(self, config, group_name, loader):
        self.group_name = group_name
        self.loader = loader
        self.all_scripts = list(config.hook_scripts)
        # directive -> {normalized path: the path as configured}
        self.allowed = {}
        for script in config.hook_scripts_for(group_name):
            self.allowed.setdefault(script.directive, {}).setdefault(
                os.path.normpath(script.path), script.path)
        self.hook_directories = [os.path.realpath(path) for path in config.hook_directories]

    def answer(self, environ):
        """The complete answer to the hook call whose packet variables are `environ`."""
        hook = environ.get("wsgid.hook", "")
        directive, _ = HOOKS.get(hook, ("hook call", ()))
        script = environ.get("wsgid.hook_script", "")
        try:
            headers = self._run(hook, environ)
            return encode_head("200 OK", headers + [("Content-Length", "0")])
        except HookFailed as failure:
            cause = failure.__cause__
            log.error("%s %s: %s for %s; answered error", directive, script or "(none)", failure,
                      describe_request(environ), exc_info=cause)
        except Exception:  # a bug of ours: still one answer and one log line
            log.exception("%s %s: answering %s() failed for %s; answered error", directive,
                          script or "(none)", hook, describe_request(environ))
        return error_answer()

    def _run(self, hook, environ):
        if hook not in HOOKS:
            raise HookFailed(f"unknown hook {hook!r} in wsgid.hook; the hooks are "
                             + ", ".join(HOOKS))
        directive, argument_keys = HOOKS[hook]
        path = self.configured_path(hook, environ.get("wsgid.hook_script", ""))
        arguments = [hook_argument(environ, key, hook) for key in argument_keys]
        application_group = environ.get("wsgid.application_group", "")
        try:
            self.loader.check_script_owner(path)
            module = self.loader.load_current(path, application_group,
                                              environ.get("wsgid.script_mtime"))
        except ScriptError as exc:
            raise HookFailed(f"cannot run {hook}(): {exc}") from exc.__cause__
        hook_environ = self.hook_environ(environ, application_group)
        if hook == "dispatch":
            return dispatch(module, hook_environ)
        function = getattr(module, hook, None)
        if function is None:
            raise HookFailed(f"the script defines no {hook}() function, which {directive} "
                             "needs")
        if not callable(function):
            raise HookFailed(f"{hook} in the script is a {type(function).__name__}, not a "
                             "function")
        result = call(function, hook, hook_environ, *arguments)
        return RESULTS[hook](result)

    def configured_path(self, hook, requested):
        """The configured spelling of the script the packet names; HookFailed, saying what
        would allow it, when it is not one this group may run for `hook`."""
        directive = HOOKS[hook][0]
        if not requested:
            raise HookFailed(f"the {hook}() call names no script (wsgid.hook_script)")
        wanted = os.path.normpath(requested)
        path = self.allowed.get(directive, {}).get(wanted)
        if path is not None:
            return path
        if directive in HTACCESS_DIRECTIVES and "\x00" not in wanted:
            # named in an .htaccess file, which may name scripts inside its own directory tree
            # (no file name holds a NUL: realpath() would raise)
            real = os.path.realpath(wanted)
            if os.path.isfile(real) and any(
                    os.path.commonpath([real, directory]) == directory
                    for directory in self.hook_directories):
                return real
        elsewhere = [s for s in self.all_scripts if os.path.normpath(s.path) == wanted]
        same_directive = [s for s in elsewhere if s.directive == directive]
        if same_directive:
            groups = ", ".join(sorted({s.process_group for s in same_directive}))
            why = (f"it is configured with {directive} process-group={groups}, so only that "
                   f"group may run it, not '{self.group_name}'")
        elif elsewhere:
            why = (f"it is configured as {elsewhere[0].directive}, not as {directive}, which "
                   f"{hook}() needs")
        else:
            why = f"no {directive} names it"
        if directive in HTACCESS_DIRECTIVES:
            why += " (in .htaccess: it must lie inside a <Directory> whose AllowOverride " \
                   "allows AuthConfig)"
        raise HookFailed(f"refused {hook}(): {why}; a line `{directive} {requested}` without "
                         f"process-group= or with process-group={self.group_name} would allow it")

    def hook_environ(self, environ, application_group):
        """What the script's functions get as environ: the packet's variables without the
        wsgid.hook* keys (the password is one), and no request body."""
        hook_environ = {key: value for key, value in environ.items()
                        if not key.startswith("wsgid.hook")}
        hook_environ.pop("CONTENT_LENGTH", None)  # no body follows a hook packet
        hook_environ["wsgi.input"] = io.BytesIO()
        hook_environ["mod_wsgi.process_group"] = self.group_name
        hook_environ["mod_wsgi.application_group"] = application_group
        hook_environ["mod_wsgi.request_id"] = (environ.get("mod_wsgi.request_id")
                                               or environ.get("wsgid.request_id", ""))
        return hook_environ


def describe_hook_call(environ):
    """'check_password() hook call for GET /path (request id)': how log lines name a call."""
    hook = environ.get("wsgid.hook", "")
    name = f"{hook}()" if hook in HOOKS else f"unknown ({hook!r})"
    return f"{name} hook call for {describe_request(environ)}"


def error_answer():
    return encode_head("200 OK", [(RESULT_HEADER, "error"), ("Content-Length", "0")])


def hook_argument(environ, key, hook):
    """An argument of the function from the packet: UTF-8 text, as mod_wsgi passes it.
    The host may be missing (None, as mod_wsgi passes an unknown host); the others may not."""
    value = environ.get(key)
    what = _ARGUMENT_NAMES[key]
    if value is None:
        if key == "wsgid.hook_host":
            return None
        raise HookFailed(f"the {hook}() call has no {what} ({key})")
    try:
        # Packet variables arrive as latin-1 text, which gives back the bytes Apache sent.
        return value.encode("latin-1").decode("utf-8")
    except UnicodeError:
        raise HookFailed(f"the {what} that the client sent is not UTF-8 text, which {hook}() "
                         "needs") from None


def call(function, name, *arguments):
    try:
        return function(*arguments)
    except (Exception, SystemExit) as exc:
        raise HookFailed(f"{name}() raised {type(exc).__name__}") from exc


def header_value(function, header, value, what):
    """`value` as the text of header `header`: str as it is, bytes decoded latin-1; it must be
    a value that encode_head accepts."""
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    elif not isinstance(value, str):
        raise HookFailed(f"{function}() returned {what} of type {type(value).__name__}")
    try:
        encode_head("200 OK", [(header, value)])
    except HeadError:
        problem = ("characters outside latin-1" if any(ord(ch) > 0xFF for ch in value)
                   else "control characters")
        raise HookFailed(f"{function}() returned {what} with {problem}, which cannot be "
                         "sent to Apache") from None
    return value


# -- what each function's return value means ---------------------------------------------------

def allow_access_result(result):
    if result is None:
        return [(RESULT_HEADER, "decline")]
    if result is True or result is False:
        return [(RESULT_HEADER, "allow" if result else "deny")]
    raise HookFailed("allow_access() must return True, False or None, not a "
                     f"{type(result).__name__}")


def check_password_result(result):
    if result is None:
        return [(RESULT_HEADER, "not-found")]
    if result is True or result is False:
        return [(RESULT_HEADER, "granted" if result else "denied")]
    if isinstance(result, str):
        if not result:
            raise HookFailed("check_password() returned an empty user name; it must return "
                             "True, False, None or a non-empty user name")
        try:
            # Apache records the name as mod_wsgi gives it: its UTF-8 bytes.
            user = result.encode("utf-8").decode("latin-1")
        except UnicodeEncodeError:
            raise HookFailed("check_password() returned a user name that is not valid "
                             "Unicode text (lone surrogates)") from None
        return [(RESULT_HEADER, "granted"),
                ("Wsgid-Hook-User", header_value("check_password", "Wsgid-Hook-User", user,
                                                 "a user name"))]
    raise HookFailed("check_password() must return True, False, None or a user name (str), "
                     f"not a {type(result).__name__}")


def get_realm_hash_result(result):
    if result is None:
        return [(RESULT_HEADER, "not-found")]
    if isinstance(result, (str, bytes)):
        return [(RESULT_HEADER, "found"),
                ("Wsgid-Hook-Hash", header_value("get_realm_hash", "Wsgid-Hook-Hash", result,
                                                 "a hash"))]
    raise HookFailed("get_realm_hash() must return None or the hash as str or bytes, not a "
                     f"{type(result).__name__}")


def groups_for_user_result(result):
    if isinstance(result, (str, bytes)):
        raise HookFailed(f"groups_for_user() returned one {type(result).__name__}; it must "
                         "return an iterable of group names, e.g. a list")
    try:
        groups = iter(result)
    except TypeError:
        raise HookFailed("groups_for_user() must return an iterable of group names (str or "
                         f"bytes), not a {type(result).__name__}") from None
    headers = [(RESULT_HEADER, "groups")]
    try:
        for group in groups:
            if not isinstance(group, (str, bytes)):
                raise HookFailed("groups_for_user() must return group names as str or bytes, "
                                 f"not {type(group).__name__}")
            headers.append(("Wsgid-Hook-Group", header_value(
                "groups_for_user", "Wsgid-Hook-Group", group, "a group name")))
    except HookFailed:
        raise
    except (Exception, SystemExit) as exc:
        raise HookFailed("iterating the groups that groups_for_user() returned raised "
                         f"{type(exc).__name__}") from exc
    return headers


def dispatch(module, environ):
    """Call each dispatch function the script defines, in DISPATCH_FUNCTIONS order, with the
    same environ; a name (str or bytes, as mod_wsgi takes) becomes its header, None none."""
    headers = [(RESULT_HEADER, "dispatch")]
    for name, header in DISPATCH_FUNCTIONS:
        function = getattr(module, name, None)
        if function is None:
            continue
        if not callable(function):
            raise HookFailed(f"{name} in the dispatch script is a {type(function).__name__}, "
                             "not a function")
        result = call(function, name, environ)
        if result is None:
            continue
        if not isinstance(result, (str, bytes)):
            raise HookFailed(f"{name}() must return a name (str) or None, not a "
                             f"{type(result).__name__}")
        headers.append((header, header_value(name, header, result, "a name")))
    return headers


RESULTS = {
    "allow_access": allow_access_result,
    "check_password": check_password_result,
    "get_realm_hash": get_realm_hash_result,
    "groups_for_user": groups_for_user_result,
}
