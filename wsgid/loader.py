"""Which WSGI script serves a request, and loading it the way mod_wsgi does.

Rules:
- Only configured scripts load. The packet's SCRIPT_FILENAME selects among the scripts configured
  for this process group: a file target of a WSGIScriptAlias, a file whose real path lies
  inside a directory target, or, for a WSGIScriptAliasMatch target with $N, a file whose path
  has the target's form and whose real path (symlinks resolved) lies inside the target's
  directory, or a file inside a handler directory (WSGIScriptDirectory: AddHandler/SetHandler
  wsgi-script with ExecCGI). Anything else is refused (ScriptRefused, a 404). What is loaded is
  the configured path (file targets) or the checked real path (directory and $N targets), never
  a spelling taken from the packet. wsgid.handler_script selects among the group's
  WSGIHandlerScript scripts the same way (it names one, or the request is refused); that script
  then serves SCRIPT_FILENAME, whatever that file is, through handle_request() (or, where the
  script defines none, its `application`, as mod_wsgi-express's --add-handler scripts may).
- A request without a script choice gets the group's one script. That is a request with no
  SCRIPT_FILENAME, or one that is not an absolute path: stock uwsgi front ends send none
  (nginx) or the proxy URL (Apache's mod_proxy_uwsgi sends 'proxy:uwsgi://...').
- One module per (script path, application group): the application group '' (%{GLOBAL}, the
  default) and every other name get their own loaded copy. The module is named
  '_wsgid_<md5>' (like mod_wsgi's '_mod_wsgi_<md5>'), has __file__ set, runs with its own
  globals and is registered in sys.modules while it exists. The md5 is CPython's builtin one,
  not hashlib's: a daemon process loads no OpenSSL for naming modules (bench/README.md, Memory).
- Loading is lazy (the first request that needs a script loads it) and thread-safe: one lock per
  (path, application group), so other scripts keep serving while one loads. A script that fails
  to load is not remembered; the next request tries again.
- WSGIImportScript scripts are loaded by preload(), in file order, before the process accepts
  requests, under the same (path, application group) key a request for that script would use:
  a preloaded WSGIScriptAlias target is not loaded again by its first request. Being an import
  script does not make a file servable: the allowlist above is the aliases' alone. A service
  group (threads=0) preloads nothing: its import scripts are what wsgid/service.py runs.
- Only file-target matches are remembered per SCRIPT_FILENAME spelling (a bounded dict): their
  answer depends on the spelling alone (normpath equal to a configured target), never on the
  file system. Directory and $N targets, and a file target reached through a symlink, are
  checked against the file system on every request, so a file replaced by a symlink later
  cannot escape.
- The callable is named by wsgid.callable_object, else the alias's callable-object=, else
  WSGICallableObject, else 'application', and must be a Python identifier.
- With WSGICaseSensitivity Off the file system is taken to ignore case, as mod_wsgi documents
  it: the path is lowercased where it names a loaded copy (the module name and the cache key),
  so two spellings of one file share one module.
- Script reloading (WSGIScriptReloading On, mod_wsgi's default): a loaded script keeps the
  mtime its file had (`__mtime__`, microseconds, as mod_wsgi keeps it). A request whose packet
  reports another one (wsgid.script_mtime, from Apache's stat of the file) makes the loader
  look at the file itself (the packet may be older than the process: a request Apache read
  before the change, reaching a process started after it); if the file's mtime is not the
  loaded one either, ScriptChanged is raised instead of running the old code, and
  connection.py decides what happens then. A file that cannot be stat()ed counts as changed,
  as in mod_wsgi.
- script-user= / script-group= (check_script_owner): a WSGI or hook script whose file, or
  whose directory, has another owner (group), or that someone besides them may write, is
  refused with ScriptForbidden (403), as mod_wsgi's check of the handler script does.
"""

import grp
import logging
import os
import pwd
import stat
import sys
import threading
import types

from wsgid import api
from wsgid.config import DEFAULT_CALLABLE, HandlerScript, is_callable_name

try:
    # CPython's own md5, the same digest without hashlib: hashlib loads OpenSSL's libcrypto,
    # about 3.5 MiB of RSS in every daemon process for one digest per loaded script.
    from _md5 import md5 as _md5
except ImportError:     # a Python built without it
    from hashlib import md5 as _md5

log = logging.getLogger("wsgid.loader")

# How many SCRIPT_FILENAME spellings of file targets are remembered; past it, new ones are not.
SPELLING_CACHE_SIZE = 256
GLOBAL_APPLICATION_GROUP = "%{GLOBAL}"


class ScriptError(Exception):
    """No application for this request. str(e) is the log line; `status` the HTTP answer."""

    status = 500


class ScriptForbidden(ScriptError):
    """script-user= / script-group= refuse the script (mod_wsgi's 403)."""

    status = 403


class ScriptRefused(ScriptError):
    """SCRIPT_FILENAME names no script configured for this process group."""

    status = 404


class NoDefaultScript(ScriptError):
    """The request chose no script and the group has no single script to fall back on."""


class ScriptLoadError(ScriptError):
    """The script could not be read, compiled or executed; __cause__ is the original error."""


class ScriptChanged(Exception):
    """The script file has changed since this process loaded it. `application` is the callable
    of the version that is loaded."""

    def __init__(self, path, application):
        super().__init__(f"{path} changed since this process loaded it")
        self.path = path
        self.application = application


class CallableNotFound(ScriptError):
    """The script has no callable of the requested name, or the name is not an identifier."""


def module_name(path, application_group, case_sensitive=True):
    """The sys.modules name of one loaded copy of a script."""
    if not case_sensitive:
        path = path.lower()
    key = path if application_group == "" else f"{application_group}\0{path}"
    digest = _md5(key.encode("utf-8", "surrogateescape"), usedforsecurity=False)
    return "_wsgid_" + digest.hexdigest()


def application_group_name(configured, environ):
    """The application group an alias asks for, expanded for a request, '' meaning the main
    (%{GLOBAL}) copy. mod_wsgid sends the expanded name itself (wsgid.application_group); this
    is for front ends that do not."""
    if configured in (None, "", GLOBAL_APPLICATION_GROUP):
        return ""
    server = environ.get("SERVER_NAME", "")
    if environ.get("SERVER_PORT", "80") not in ("80", "443"):
        server += ":" + environ["SERVER_PORT"]
    if configured == "%{SERVER}":
        return server
    if configured == "%{RESOURCE}":
        return server + "|" + environ.get("SCRIPT_NAME", "")
    if configured.startswith("%{ENV:") and configured.endswith("}"):
        return environ.get(configured[6:-1], "")
    return configured


class ScriptLoader:
    """Resolves requests to configured scripts of one process group and loads them."""

    def __init__(self, config, group_name):
        self.group_name = group_name
        self.default_callable = getattr(config, "callable_object", None) or DEFAULT_CALLABLE
        self.aliases = list(config.scripts_for_group(group_name))
        self.import_scripts = list(config.import_scripts_for(group_name))
        self.handler_scripts = {script.path: script
                                for script in config.handler_scripts_for(group_name)}
        group = config.groups.get(group_name)
        self.service_group = group is not None and group.options["threads"] == 0
        self.case_sensitive = config.server.case_sensitivity
        options = group.options if group is not None else {}
        self.script_user = options.get("script-user")
        self.script_group = options.get("script-group")
        self.file_aliases = {os.path.normpath(a.target): a for a in self.aliases
                             if not a.is_dir and a.target_paths is None}
        for alias in list(self.file_aliases.values()):
            if alias.extra_path_info:
                # The target as written (FILE/EXTRA) names the same script.
                self.file_aliases.setdefault(
                    os.path.normpath(alias.target + alias.extra_path_info), alias)
        self.dir_aliases = [a for a in self.aliases if a.is_dir]
        self.substituted_aliases = [a for a in self.aliases if a.target_paths is not None]
        self._file_alias_spellings = {}  # SCRIPT_FILENAME -> (alias.target, alias)
        self._modules = {}
        self._mtime_texts = {}   # module name -> its __mtime__ as the packet writes it
        self._locks = {}
        self._locks_guard = threading.Lock()

    def preload(self):
        """Load this group's WSGIImportScript scripts, in file order; return their modules.

        Called before the process accepts requests. A service group (threads=0) loads nothing
        here: running its scripts is service.run()'s job. Raises ScriptLoadError.
        """
        if self.service_group:
            return []
        return [self.load_import_script(script) for script in self.import_scripts]

    def load_import_script(self, script):
        """The module of one WSGIImportScript (a config.ImportScript), loading it on first use.

        It is the module a request for the same script and application group gets.
        """
        return self.load(self._path_as_requests_name_it(script.path),
                         application_group_name(script.application_group, {}))

    # -- which script -------------------------------------------------------------------------

    def resolve(self, environ):
        """(path to load, application group) for a request; raises ScriptError."""
        path, group, _ = self._resolve(environ)
        return path, group

    def _resolve(self, environ):
        handler = environ.get("wsgid.handler_script")
        requested = environ.get("SCRIPT_FILENAME", "")
        if handler is not None:
            # WSGIHandlerScript: the script serves SCRIPT_FILENAME, whatever that file is
            path, alias = self._handler_script(handler)
            environ["mod_wsgi.handler_script"] = path
        elif requested.startswith("/"):
            path, alias = self._configured_script(requested)
        else:
            path, alias = self._default_script()
        if "wsgid.application_group" in environ:
            group = environ["wsgid.application_group"]
        else:
            group = application_group_name(alias.application_group, environ)
        return path, group, alias

    def _handler_script(self, path):
        script = self.handler_scripts.get(path)
        if script is None:
            raise ScriptRefused(
                f"refused handler script {path!r}: no WSGIHandlerScript of process group "
                f"'{self.group_name}' names it")
        return script.path, script

    def _match_alias(self, requested):
        """(path to load, alias) if `requested` is a script configured for this group, else
        None. The path is the alias target's spelling (file targets) or the real path."""
        match = self._file_alias_spellings.get(requested)
        if match is not None:
            return match
        alias = self.file_aliases.get(os.path.normpath(requested))
        if alias is not None:
            match = alias.target, alias
            if len(self._file_alias_spellings) < SPELLING_CACHE_SIZE:
                self._file_alias_spellings[requested] = match
            return match
        real = os.path.realpath(requested)
        for alias in self._distinct_file_aliases():
            if real == os.path.realpath(alias.target):
                return alias.target, alias
        for alias in self.dir_aliases:
            if _inside(real, alias.target) and os.path.isfile(real):
                return real, alias
        spelled = os.path.normpath(requested)
        for alias in self.substituted_aliases:
            if (alias.target_paths.fullmatch(spelled) and _inside(real, alias.target_dir)
                    and os.path.isfile(real)):
                return real, alias
        return None

    def _distinct_file_aliases(self):
        # An alias with extra_path_info is in file_aliases under two spellings.
        return list({id(alias): alias for alias in self.file_aliases.values()}.values())

    def _path_as_requests_name_it(self, path):
        match = self._match_alias(path)
        return match[0] if match is not None else path

    def _configured_script(self, requested):
        # No file name holds a NUL (the file system calls would raise ValueError).
        match = self._match_alias(requested) if "\x00" not in requested else None
        if match is not None:
            return match
        raise ScriptRefused(
            f"refused SCRIPT_FILENAME {requested!r}: it is not a WSGI script configured for "
            f"process group '{self.group_name}' (a WSGIScriptAlias target, a file inside a "
            f"directory target, or a script in a <Directory> where AddHandler/SetHandler "
            f"wsgi-script and Options ExecCGI apply)")

    def _default_script(self):
        files = self._distinct_file_aliases()
        # the directories of handler-mapped scripts name no one script
        aliases = [a for a in self.aliases if not a.is_handler_directory]
        if len(aliases) == 1 and len(files) == 1:
            return files[0].target, files[0]
        configured = ", ".join(a.target for a in aliases) or "none"
        raise NoDefaultScript(
            f"the request names no WSGI script (no SCRIPT_FILENAME, as from a stock uwsgi "
            f"front end) and process group '{self.group_name}' has no single script to serve "
            f"it: it needs exactly one WSGIScriptAlias with a file target, it has: {configured}")

    # -- loading ------------------------------------------------------------------------------

    def application_for(self, environ):
        """The WSGI callable that serves this request; raises ScriptError."""
        path, group, alias = self._resolve(environ)
        if self.script_user is not None or self.script_group is not None:
            self.check_script_owner(path)   # (not called at all without them: the hot path)
        name = (environ.get("wsgid.callable_object") or alias.callable_object
                or self.default_callable)
        environ["mod_wsgi.callable_object"] = name
        if not is_callable_name(name):
            raise CallableNotFound(
                f"WSGI callable name {name!r} for {path} is not a Python identifier "
                f"(check WSGICallableObject)")
        module = self.load(path, group)
        application = getattr(module, name, None)
        if application is None and isinstance(alias, HandlerScript) \
                and name == alias.callable_object:
            # A handler script that defines a WSGI application instead of handle_request, as
            # mod_wsgi-express's --add-handler scripts may (its resource handler takes either).
            application = getattr(module, DEFAULT_CALLABLE, None)
        if application is None:
            raise CallableNotFound(
                f"WSGI script {path} defines no callable named '{name}': define it, or name "
                f"the right one with WSGICallableObject")
        if not callable(application):
            raise CallableNotFound(
                f"'{name}' in WSGI script {path} is a {type(application).__name__}, "
                f"not a callable")
        if self._stale(path, module, environ.get("wsgid.script_mtime")):
            raise ScriptChanged(path, application)
        return application

    def _stale(self, path, module, reported_mtime):
        """Has the file of the loaded `module` changed? Only asked of the file system when the
        packet reports another mtime (wsgid.script_mtime; None: reloading is off)."""
        return (reported_mtime is not None
                and reported_mtime != self._mtime_texts.get(module.__name__)
                and _changed_on_disk(path, module))

    def check_script_owner(self, path):
        """Refuse the script (ScriptForbidden) unless script-user= / script-group= allow it:
        mod_wsgi's rules, for the file and then its directory."""
        if self.script_user is None and self.script_group is None:
            return
        directory = os.path.dirname(path) or "/"
        for what, where in (("WSGI script file", path),
                            ("parent directory of WSGI script file", directory)):
            try:
                info = os.stat(where)
            except OSError as exc:
                raise ScriptForbidden(f"refused {path}: cannot stat the {what} {where} "
                                      f"({exc.strerror})") from None
            if self.script_user is not None:
                if info.st_uid != self.script_user:
                    raise ScriptForbidden(
                        f"refused {path}: the owner of the {what} is {_user(info.st_uid)}, "
                        f"not script-user={_user(self.script_user)}")
                if info.st_mode & stat.S_IWGRP:
                    raise ScriptForbidden(f"refused {path}: the {what} is writable by its "
                                          "group (script-user= allows only its owner)")
            elif info.st_gid != self.script_group:
                raise ScriptForbidden(
                    f"refused {path}: the group of the {what} is {_group(info.st_gid)}, "
                    f"not script-group={_group(self.script_group)}")
            if info.st_mode & stat.S_IWOTH:
                raise ScriptForbidden(f"refused {path}: the {what} is writable by everyone")

    def load(self, path, application_group):
        """The module of `path` for `application_group`, loading it on first use."""
        key = (path if self.case_sensitive else path.lower(), application_group)
        module = self._modules.get(key)
        if module is not None:
            return module
        with self._lock_for(key):
            module = self._modules.get(key)
            if module is None:
                module = self._execute(key, path, application_group)
        return module

    def load_current(self, path, application_group, reported_mtime):
        """load(), for a hook script: one whose file changed since it was loaded (the packet's
        wsgid.script_mtime says so, and the file agrees) is loaded again in place, as mod_wsgi
        reloads a hook script under WSGIScriptReloading."""
        module = self.load(path, application_group)
        if not self._stale(path, module, reported_mtime):
            return module
        key = (path if self.case_sensitive else path.lower(), application_group)
        with self._lock_for(key):
            if self._modules.get(key) is not module:
                return self._modules[key]     # another thread has loaded it again already
            fresh = self._execute(key, path, application_group)
        log.info("%s changed since it was loaded: loaded it again", path)
        return fresh

    def _execute(self, key, path, application_group):
        """Run the script for `key` and remember it (under the key's lock)."""
        # What the script subscribes or looks up at import belongs to its application group's
        # API state, also when it is preloaded outside any request.
        with api.application_group_context(application_group):
            module = execute_script(path, module_name(path, application_group,
                                                      self.case_sensitive))
        self._mtime_texts[module.__name__] = str(module.__mtime__)
        self._modules[key] = module
        return module

    def loaded(self):
        """{(path, application group): module} of what is loaded now."""
        return dict(self._modules)

    def _lock_for(self, key):
        with self._locks_guard:
            return self._locks.setdefault(key, threading.Lock())


def _user(uid):
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"#{uid}"


def _group(gid):
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return f"#{gid}"


def _changed_on_disk(path, module):
    """Is the file at `path` not the version `module` was loaded from (by its mtime)?"""
    try:
        return os.stat(path).st_mtime_ns // 1000 != module.__mtime__
    except OSError:
        return True


def _inside(real, directory):
    """Is the real path `real` strictly inside `directory` (whose symlinks are resolved too)?"""
    directory = os.path.realpath(directory)
    return real != directory and os.path.commonpath([real, directory]) == directory


def execute_script(path, name):
    """Run the script file at `path` as a new module called `name`; raises ScriptLoadError."""
    try:
        with open(path, "rb") as script:
            mtime = os.fstat(script.fileno()).st_mtime_ns // 1000   # as Apache's finfo.mtime
            source = script.read()
        code = compile(source, path, "exec", dont_inherit=True)
    except OSError as exc:
        raise ScriptLoadError(f"cannot read WSGI script {path}: {exc.strerror}") from exc
    except (SyntaxError, ValueError) as exc:
        raise ScriptLoadError(f"cannot compile WSGI script {path}: {exc}") from exc
    module = types.ModuleType(name)
    module.__file__ = path
    module.__mtime__ = mtime
    sys.modules[name] = module
    try:
        exec(code, module.__dict__)
    except (Exception, SystemExit) as exc:
        sys.modules.pop(name, None)
        raise ScriptLoadError(
            f"WSGI script {path} raised {type(exc).__name__} while loading") from exc
    return module
