"""Real mod_wsgi configurations (tests/data/mod_wsgi_configs) made runnable in a sandbox.

Each corpus file is an Apache configuration as a public project ships or generates it. To run
it through `httpd -t`, or start Apache on it, without touching the machine, `build(name)` makes
a fresh directory with `tests.support.apache.shared_tmpdir()` (mode 0755, so that the Apache
child user can traverse it) and rewrites the text mechanically, by these rules and no others:

Paths
- A filesystem path is an argument that the directive reads as one: the target of
  WSGIScriptAlias / WSGIScriptAliasMatch / Alias / AliasMatch / ScriptAlias; the script of
  WSGIImportScript, WSGIAuthUserScript, WSGIAuthGroupScript, WSGIAccessScript,
  WSGIDispatchScript; DocumentRoot; the path of <Directory>; ErrorLog, CustomLog, TransferLog;
  WSGISocketPrefix, WSGIPythonHome, WSGIPythonPath, WSGIPythonEggs; Include, IncludeOptional;
  and the WSGIDaemonProcess options home=, python-home=, python-path=, python-eggs=, chroot=.
  URL arguments (the first argument of an alias, <Location>, redirects, rewrite rules) and
  anything else are left as written.
- Such a path, when absolute, moves under the sandbox: /X becomes SANDBOX/X. Left where they are:
  `/` itself (as in `<Directory />`), Apache's and the system's own files (under
  /usr/lib/apache2/, /etc/mime.types, /dev/null). A log written to /dev/stdout or /dev/stderr
  goes to SANDBOX/logs/stdout.log instead (Apache runs detached here, with no terminal).
  Relative paths (`WSGISocketPrefix run/wsgi`, `ErrorLog logs/error_log`) stay relative to the
  ServerRoot, which is the sandbox.
- Made in the sandbox: a small hello-world WSGI script (also defining check_password,
  groups_for_user and allow_access, so that it serves as an auth/access script too) wherever a
  WSGIScriptAlias, a WSGIScriptAliasMatch without `$N`, an import/auth/access/dispatch script, or
  an Alias whose URL or target is under `SetHandler wsgi-script` names a file (a trailing `/` on
  such a file, as Review Board writes it, is dropped); directories for <Directory>, DocumentRoot,
  home=, python-path=, python-eggs=, WSGIPythonPath, WSGIPythonEggs, the parent of every log
  file and of an absolute WSGISocketPrefix; and, for python-home= and WSGIPythonHome, a virtual
  environment (`venv --without-pip`) of the Python that runs the tests, which is what wsgid
  requires of python-home.
- As on Debian, APACHE_LOG_DIR is defined (as SANDBOX/logs) and TypesConfig names
  /etc/mime.types.
- The Debian apache2.conf grants (`Require all granted` for /usr/share and /var/www) are added,
  moved under the sandbox, as a Debian install would have them.

Users and groups
- user=, group= and socket-user= name accounts of the machine that ran the project, which do not
  exist here: a name (or #id) that this machine does not know maps to www-data. When the tests do
  not run as root, every user=/group= maps to the current user and group instead (switching
  user needs root).
- The harness owns ServerRoot, PidFile, User and Group (tests.support.apache writes them):
  those lines in a corpus file are commented out.

Ports and addresses
- Every port named by a Listen or a <VirtualHost> address maps to a free loopback port
  (tests.support.apache.free_port()), the same original port to the same new one. Listen lines
  become `Listen 127.0.0.1:NEW` (a protocol argument such as `https` is kept); a <VirtualHost>
  address keeps `*` or `_default_`, and an IP address becomes 127.0.0.1. A <VirtualHost> port
  that no Listen in the file opens (the distribution's ports.conf would) gets a Listen line.
- TLS is kept, not dropped: every SSLCertificateFile, SSLCertificateChainFile and
  SSLCACertificateFile names a self-signed certificate the harness makes with
  `openssl req -x509`, and SSLCertificateKeyFile its key; mod_ssl is loaded.

Modules
- A LoadModule line for mod_wsgi (wsgi_module) is replaced, where it stands, by the output of
  `wsgid module-config` (inside an <IfModule> too): that is the port the project promises. A file
  without one gets those lines ahead of its text, as a distribution's wsgi.load would.
- Other LoadModule lines load Debian's copy (/usr/lib/apache2/modules/<file>) of the module they
  name; one that Debian does not ship (or builds into httpd) is commented out, as is one the
  base configuration already loads.
- The modules a default Debian apache2 install enables are loaded (DEBIAN_DEFAULT_MODULES),
  plus the stock modules the text's directives need (DIRECTIVE_MODULES).
- Directives of third-party modules that Debian's apache2 package does not ship (mod_auth_gssapi,
  mod_lookup_identity, mod_xsendfile, mod_auth_openidc, mod_intercept_form_submit, mod_rpaf) are
  commented out: no test here can exercise them.

Every rewritten line keeps its layout (continuation lines included); a commented-out line starts
with `#[sandbox]`.
"""

import functools
import grp
import os
import pwd
import re
import shutil
import subprocess
import sys

from tests.support.apache import (
    APACHE_USER, RUNNING_AS_ROOT, ApacheInstance, free_port, module_config, shared_tmpdir)
from wsgid import paths

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CORPUS = os.path.join(REPO, "tests", "data", "mod_wsgi_configs")

DEBIAN_DEFAULT_MODULES = (
    "access_compat", "alias", "auth_basic", "authn_core", "authn_file", "authz_host",
    "authz_user", "autoindex", "deflate", "dir", "env", "filter", "mime", "negotiation",
    "reqtimeout", "setenvif", "status",
)

# Directive name prefix (lower case) -> the stock modules it needs beyond the default set.
DIRECTIVE_MODULES = {
    "ssl": ("socache_shmcb", "ssl"),
    "rewrite": ("rewrite",),
    "header": ("headers",),
    "requestheader": ("headers",),
    "expires": ("expires",),
    "proxy": ("proxy", "proxy_http"),
    "session": ("session", "session_cookie"),
    "protocols": ("http2",),
    "authgroupfile": ("authz_groupfile",),
}

THIRD_PARTY_PREFIXES = ("gssapi", "lookupuserbycertificate", "xsendfile", "oidc",
                        "interceptform", "rpaf")

KEPT_PATHS = ("/usr/lib/apache2/", "/etc/mime.types", "/dev/null")
STD_STREAMS = ("/dev/stdout", "/dev/stderr")

# Directive (lower case) -> (index of its path argument, kind). Kinds: "script" (a WSGI script
# file to create), "file", "dir", "log", "alias" (target of an alias), "socket", "venv",
# "pathlist", "include".
PATH_ARGS = {
    "wsgiscriptalias": (1, "script"),
    "wsgiscriptaliasmatch": (1, "script-match"),
    "alias": (1, "alias"),
    "aliasmatch": (1, "alias-match"),
    "scriptalias": (1, "alias"),
    "scriptaliasmatch": (1, "alias-match"),
    "wsgiimportscript": (0, "script"),
    "wsgiauthuserscript": (0, "script"),
    "wsgiauthgroupscript": (0, "script"),
    "wsgiaccessscript": (0, "script"),
    "wsgidispatchscript": (0, "script"),
    "documentroot": (0, "dir"),
    "errorlog": (0, "log"),
    "customlog": (0, "log"),
    "transferlog": (0, "log"),
    "wsgisocketprefix": (0, "socket"),
    "wsgipythonhome": (0, "venv"),
    "wsgipythonpath": (0, "pathlist"),
    "wsgipythoneggs": (0, "dir"),
    "include": (0, "include"),
    "includeoptional": (0, "include"),
}
OPTION_PATHS = {"home": "dir", "python-home": "venv", "python-path": "pathlist",
                "python-eggs": "dir", "chroot": "dir"}
USER_OPTIONS = ("user", "socket-user")
GROUP_OPTIONS = ("group",)
SSL_CERT_DIRECTIVES = ("sslcertificatefile", "sslcertificatechainfile", "sslcacertificatefile")
HARNESS_OWNED = ("serverroot", "pidfile", "user", "group")

HELLO = '''\
# Written by the wsgid test harness (tests/support/real_configs.py).
BODY = b"hello from %(rel)s\\n"


def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"),
                              ("Content-Length", str(len(BODY)))])
    return [BODY]


def check_password(environ, user, password):
    return None


def groups_for_user(environ, user):
    return []


def allow_access(environ, host):
    return True
'''

# A token: a double-quoted string, or a run of anything but blanks and double quotes. Blanks
# include a backslash-newline (Apache's line continuation), so layout survives a rewrite.
TOKEN = re.compile(r'"((?:[^"\\\n]|\\.)*)"|((?:[^\s"\\]|\\(?!\n).)+)')


def names():
    """Every corpus file's short name, sorted."""
    return sorted(n[:-5] for n in os.listdir(CORPUS) if n.endswith(".conf"))


def corpus_text(name):
    with open(os.path.join(CORPUS, name + ".conf"), encoding="utf-8") as f:
        return f.read()


def hello_body(script_path, root):
    """What the harness's hello script at script_path answers."""
    return "hello from %s\n" % os.path.relpath(script_path, root)


class Token:
    def __init__(self, m):
        self.start, self.end = m.span()
        self.quoted = m.group(1) is not None
        self.value = m.group(1) if self.quoted else m.group(2)


class Route:
    """A URL the configuration hands to a WSGI script: where it listens and what answers."""

    def __init__(self, port, url, script):
        self.port, self.url, self.script = port, url, script

    def __repr__(self):
        return f"Route(port={self.port}, url={self.url!r}, script={self.script!r})"


class Sandbox:
    """One corpus configuration rewritten into a fresh directory; see the module docstring."""

    def __init__(self, name, module_lines=None):
        """module_lines: what replaces mod_wsgi's LoadModule; `wsgid module-config` by default
        (tools/check_corpus_with_mod_wsgi gives the real mod_wsgi's lines instead)."""
        self.name = name
        self._module_lines = module_lines
        self.root = shared_tmpdir(prefix="wsgid-rc-")
        self.ports = {}           # original port (str) -> new port (int)
        self.listened = set()     # original ports a Listen line opens
        self.modules = set()      # extra stock modules to load
        self.loaded_inline = set()  # modules the text's own LoadModule lines load
        self.routes = []          # Route for every WSGIScriptAlias / wsgi-script Alias
        self.tls_ports = set()    # new ports of virtual hosts with SSLEngine on
        self.wsgi_loaded_inline = False
        self._cert = None
        self._handler_locations = []    # URL prefixes under SetHandler wsgi-script
        self._handler_dirs = []         # sandbox dirs under SetHandler wsgi-script
        self._aliases = []              # (port, url, sandbox target)
        self._scripts = set()
        self.text = self._debian_grants() + self._rewrite(corpus_text(name))
        self._finish_aliases()
        self.instance = ApacheInstance(self.text, extra_modules=self._module_list(),
                                       load_wsgid=False, root=self.root)

    # --- the rules ------------------------------------------------------------------------
    def moved(self, path):
        if not path.startswith("/") or path == "/" or path.startswith(KEPT_PATHS):
            return path
        if path in STD_STREAMS:
            return os.path.join(self.root, "logs", "stdout.log")
        return self.root + path

    def _mkdir(self, path):
        os.makedirs(path, mode=0o755, exist_ok=True)
        # makedirs' mode is masked by the umask; the child user must traverse every level.
        p = path
        while p.startswith(self.root) and p != self.root:
            os.chmod(p, 0o755)
            p = os.path.dirname(p)

    def _abs(self, path):
        return path if path.startswith("/") else os.path.join(self.root, path)

    def _script(self, path):
        path = path.rstrip("/")
        full = self._abs(path)
        if full not in self._scripts:
            self._scripts.add(full)
            self._mkdir(os.path.dirname(full))
            with open(full, "w") as f:
                f.write(HELLO % {"rel": os.path.relpath(full, self.root)})
            os.chmod(full, 0o644)
        return full

    def _venv(self, path):
        full = self._abs(path)
        if not os.path.exists(os.path.join(full, "pyvenv.cfg")):
            self._mkdir(os.path.dirname(full))
            subprocess.run([sys.executable, "-m", "venv", "--without-pip", full], check=True,
                           capture_output=True, timeout=120)
            for dirpath, dirnames, _ in os.walk(full):
                for d in dirnames:
                    os.chmod(os.path.join(dirpath, d), 0o755)
            os.chmod(full, 0o755)

    def _prepare(self, kind, new):
        if kind in ("dir", "pathlist"):
            for p in new.split(":") if kind == "pathlist" else [new]:
                if p.startswith(self.root):
                    self._mkdir(p)
        elif kind == "venv":
            if new.startswith(self.root):
                self._venv(new)
        elif kind in ("log", "socket"):
            if new.startswith(self.root) or not new.startswith("/"):
                self._mkdir(os.path.dirname(self._abs(new)))
        elif kind == "include":
            if new.startswith(self.root):
                self._mkdir(os.path.dirname(new))

    def _map_user(self, value, option):
        if not RUNNING_AS_ROOT:
            return (pwd.getpwuid(os.getuid()).pw_name if option != "group"
                    else grp.getgrgid(os.getgid()).gr_name)
        lookup = grp.getgrnam if option == "group" else pwd.getpwnam
        by_id = grp.getgrgid if option == "group" else pwd.getpwuid
        try:
            if value.startswith("#"):
                by_id(int(value[1:]))
            else:
                lookup(value)
            return value
        except (KeyError, ValueError):
            return APACHE_USER

    def _port(self, port):
        if port not in self.ports:
            self.ports[port] = free_port()
        return self.ports[port]

    def certificate(self):
        """(certificate, key) made once for this sandbox with `openssl req -x509`."""
        if self._cert is None:
            d = os.path.join(self.root, "tls")
            self._mkdir(d)
            cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
            subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                            "-days", "2", "-subj", "/CN=127.0.0.1", "-keyout", key,
                            "-out", cert], check=True, capture_output=True, timeout=60)
            os.chmod(key, 0o644)
            self._cert = (cert, key)
        return self._cert

    # --- the rewrite ----------------------------------------------------------------------
    def _rewrite(self, text):
        out = []
        blocks = []       # stack of (tag lower, args)
        vhost_port = None
        wsgid_lines = (self._module_lines or _module_config()).rstrip("\n")
        for line in _logical_lines(text):
            stripped = line.lstrip()
            if not stripped or stripped.startswith("#"):
                out.append(line)
                continue
            tokens = [Token(m) for m in TOKEN.finditer(line)]
            head = tokens[0].value
            if head.startswith("</"):
                tag = head[2:].rstrip(">").lower()
                while blocks:
                    popped = blocks.pop()
                    if popped[0] == tag:
                        break
                if tag == "virtualhost":
                    vhost_port = None
                out.append(line)
                continue
            if head.startswith("<"):
                tag = head[1:].rstrip(">").lower()
                line, port = self._open_block(tag, line, tokens)
                blocks.append((tag, [t.value.rstrip(">") for t in tokens[1:]]))
                if tag == "virtualhost":
                    vhost_port = port
                out.append(line)
                continue
            directive = head.lower()
            self._need_modules(directive, tokens)
            if directive.startswith(THIRD_PARTY_PREFIXES):
                out.append(_comment(line))
                continue
            if directive in HARNESS_OWNED:
                out.append(_comment(line))
                continue
            if directive == "loadmodule":
                out.append(self._load_module(line, tokens, wsgid_lines))
                continue
            if directive == "listen":
                out.append(self._listen(line, tokens))
                continue
            if directive == "sethandler" and len(tokens) > 1 and \
                    tokens[1].value.lower() == "wsgi-script":
                self._note_handler(blocks)
            if directive == "sslengine" and vhost_port is not None and len(tokens) > 1 and \
                    tokens[1].value.lower() == "on":
                self.tls_ports.add(vhost_port)
            if directive in SSL_CERT_DIRECTIVES or directive == "sslcertificatekeyfile":
                cert, key = self.certificate()
                new = key if directive == "sslcertificatekeyfile" else cert
                out.append(_replace(line, [(tokens[1], new)]))
                continue
            edits = []
            if directive in PATH_ARGS:
                edits += self._path_edits(directive, tokens, vhost_port, blocks)
            if directive == "wsgidaemonprocess":
                edits += self._option_edits(tokens)
            out.append(_replace(line, edits) if edits else line)
        text = "".join(out)
        missing = sorted((p for p in self.ports if p not in self.listened), key=int)
        head = "".join(f"Listen 127.0.0.1:{self.ports[p]}\n" for p in missing)
        if not self.wsgi_loaded_inline:
            head = wsgid_lines + "\n" + head
        # Debian's envvars and mods-enabled/mime.conf, which every Debian site relies on.
        debian = (f'Define APACHE_LOG_DIR "{self.root}/logs"\n'
                  "<IfModule mime_module>\n    TypesConfig /etc/mime.types\n</IfModule>\n")
        return debian + head + text

    def _open_block(self, tag, line, tokens):
        if tag == "directory" and len(tokens) > 1:
            raw = tokens[1].value.rstrip(">")
            new = self.moved(raw)
            if new != raw:
                self._prepare("dir", new)
                return _replace(line, [(tokens[1], new, raw)]), None
        if tag != "virtualhost":
            return line, None
        edits, port = [], None
        for t in tokens[1:]:
            addr = t.value.rstrip(">")
            host, sep, p = addr.rpartition(":")
            if not sep or not p.isdigit():
                continue
            new_port = self._port(p)
            port = port or new_port
            if host not in ("*", "_default_"):
                host = "127.0.0.1"
            edits.append((t, f"{host}:{new_port}", addr))
        return _replace(line, edits), port

    def _listen(self, line, tokens):
        addr = tokens[1].value
        p = addr.rpartition(":")[2]
        self.listened.add(p)
        return _replace(line, [(tokens[1], f"127.0.0.1:{self._port(p)}")])

    def _load_module(self, line, tokens, wsgid_lines):
        module = tokens[1].value
        if module == "wsgi_module":
            self.wsgi_loaded_inline = True
            indent = line[:len(line) - len(line.lstrip())]
            return "".join(indent + ln + "\n" for ln in wsgid_lines.split("\n"))
        debian = os.path.join(paths.apache_modules_dir(), os.path.basename(tokens[2].value))
        if module in ("mpm_event_module", "authz_core_module") or not os.path.exists(debian):
            return _comment(line)
        name = module[:-len("_module")]
        self.loaded_inline.add(name)
        return _replace(line, [(tokens[2], debian)])

    def _need_modules(self, directive, tokens):
        for prefix, mods in DIRECTIVE_MODULES.items():
            if directive.startswith(prefix):
                self.modules.update(mods)
        if directive == "require" and len(tokens) > 1 and tokens[1].value.lower() == "group":
            self.modules.add("authz_groupfile")

    def _module_list(self):
        return sorted((set(DEBIAN_DEFAULT_MODULES) | self.modules) - self.loaded_inline)

    def _note_handler(self, blocks):
        for tag, args in reversed(blocks):
            if tag == "location" and args:
                self._handler_locations.append(args[0])
                return
            if tag == "directory" and args:
                self._handler_dirs.append(self.moved(args[0]).rstrip("/"))
                return

    def _path_edits(self, directive, tokens, vhost_port, blocks):
        index, kind = PATH_ARGS[directive]
        args = tokens[1:]
        if len(args) <= index:
            return []
        tok = args[index]
        raw = tok.value
        if kind == "log" and (raw.startswith("|") or raw.startswith("syslog")):
            return []
        new = self.moved(raw)
        if kind == "script":
            full = self._script(new)
            if directive == "wsgiscriptalias":
                self.routes.append(Route(vhost_port, args[0].value, full))
        elif kind == "script-match":
            if "$" not in new:
                self._script(new)
        elif kind == "alias":
            self._aliases.append((vhost_port, args[0].value, new))
        elif kind == "pathlist":
            new = ":".join(self.moved(p) for p in raw.split(":"))
            self._prepare(kind, new)
        elif kind not in ("alias-match",):
            self._prepare(kind, new)
        return [(tok, new)] if new != raw else []

    def _option_edits(self, tokens):
        edits = []
        for i, tok in enumerate(tokens[2:], start=2):
            key, eq, value = tok.value.partition("=")
            if not eq or tok.quoted:
                continue
            quoted_next = (value == "" and i + 1 < len(tokens) and tokens[i + 1].quoted
                           and tokens[i + 1].start == tok.end)
            target, raw = (tokens[i + 1], tokens[i + 1].value) if quoted_next else (tok, value)
            if key.lower() in OPTION_PATHS:
                kind = OPTION_PATHS[key.lower()]
                if kind == "pathlist":
                    new = ":".join(self.moved(p) for p in raw.split(":"))
                else:
                    new = self.moved(raw)
                self._prepare(kind, new)
            elif key.lower() in USER_OPTIONS + GROUP_OPTIONS:
                new = self._map_user(raw, "group" if key.lower() in GROUP_OPTIONS else "user")
            else:
                continue
            if new != raw:
                edits.append((target, new) if quoted_next else (tok, f"{key}={new}"))
        return edits

    def _finish_aliases(self):
        for port, url, target in self._aliases:
            under_location = any(url.rstrip("/") == loc.rstrip("/") or
                                 url.startswith(loc.rstrip("/") + "/")
                                 for loc in self._handler_locations)
            under_dir = any(target.startswith(d + "/") for d in self._handler_dirs)
            if (under_location or under_dir) and not target.endswith("/"):
                self.routes.append(Route(port, url, self._script(target)))

    def _debian_grants(self):
        for d in ("/usr/share", "/var/www"):
            self._mkdir(self.root + d)
        return "".join(f'<Directory "{self.root}{d}">\n    Require all granted\n</Directory>\n'
                       for d in ("/usr/share", "/var/www"))

    # --- using it -------------------------------------------------------------------------
    def route(self, url):
        """The route that serves `url` (the longest matching WSGIScriptAlias/Alias prefix)."""
        best = None
        for r in self.routes:
            prefix = r.url.rstrip("/")
            if url == r.url or url.startswith(prefix + "/") or prefix == "":
                if best is None or len(prefix) > len(best.url.rstrip("/")):
                    best = r
        return best

    def port_for(self, route):
        return route.port if route.port is not None else self.instance.port

    def logs(self, limit=4000):
        """The tail of every error log in the sandbox, for failure messages."""
        parts = []
        for dirpath, _, files in os.walk(self.root):
            for f in files:
                if "error" in f or f == "stdout.log":
                    p = os.path.join(dirpath, f)
                    with open(p, errors="replace") as fh:
                        tail = fh.read()[-limit:]
                    parts.append(f"--- {os.path.relpath(p, self.root)} ---\n{tail}")
        return "\n".join(parts)

    def cleanup(self):
        self.instance.cleanup()
        shutil.rmtree(self.root, ignore_errors=True)


def build(name, module_lines=None):
    return Sandbox(name, module_lines=module_lines)


@functools.lru_cache(maxsize=None)
def _module_config():
    """`wsgid module-config`, run once per test process (its output does not change)."""
    return module_config()


def _logical_lines(text):
    """Physical lines, with each backslash-continued run joined into one string (kept verbatim)."""
    lines, cur = [], ""
    for physical in text.splitlines(keepends=True):
        cur += physical
        if physical.rstrip("\n").endswith("\\"):
            continue
        lines.append(cur)
        cur = ""
    if cur:
        lines.append(cur)
    return lines


def _comment(line):
    return "".join("#[sandbox] " + ln for ln in line.splitlines(keepends=True))


def _replace(line, edits):
    """Replace tokens in line: edits are (token, new text[, raw value]) in any order."""
    for edit in sorted(edits, key=lambda e: e[0].start, reverse=True):
        tok, new = edit[0], edit[1]
        if len(edit) == 3 and edit[2] != tok.value:
            # The token carries a trailing '>' (as in <VirtualHost *:80>): keep it.
            new = new + tok.value[len(edit[2]):]
        text = f'"{new}"' if tok.quoted else new
        line = line[:tok.start] + text + line[tok.end:]
    return line
