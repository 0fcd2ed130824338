"""Where the installed parts of wsgid are: the Apache module, the interpreter, the Apache binary.

The build (setup.py) records the Apache that mod_wsgid.so was compiled for in
wsgid/_build_info.py; everything that needs to find Apache at run time asks this module.
"""

import os
import shutil
import sys

PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


class NotBuilt(RuntimeError):
    """wsgid was imported from a tree in which mod_wsgid.so has not been built."""


def module_path():
    """The mod_wsgid.so that belongs to this installation of wsgid."""
    path = os.path.join(PACKAGE_DIR, "mod_wsgid.so")
    if not os.path.isfile(path):
        raise NotBuilt(f"{path} does not exist: build wsgid first (pip install . or make build).")
    return path


def documentation_directory():
    """wsgid's documentation (docs/*.md): beside the package in a source checkout, as the
    README installs wsgid, else where a wheel installs it (PREFIX/share/doc/wsgid, setup.py's
    data_files); None when neither holds it."""
    for candidate in (os.path.join(os.path.dirname(PACKAGE_DIR), "docs"),
                      os.path.join(sys.prefix, "share", "doc", "wsgid")):
        if os.path.isfile(os.path.join(candidate, "design.md")):
            return candidate
    return None


def python_executable():
    """The interpreter Apache must run the supervisor with: the one wsgid is installed in."""
    return sys.executable


def build_info():
    try:
        from wsgid import _build_info
    except ImportError as exc:
        raise NotBuilt("wsgid/_build_info.py is missing: build wsgid first (pip install . or make build).") from exc
    return _build_info


def httpd_binary():
    """The Apache httpd executable mod_wsgid.so was built for (apache2 on Debian, httpd elsewhere)."""
    info = build_info()
    return os.path.join(info.SBINDIR, info.TARGET)


def apache_modules_dir():
    """Where that Apache keeps its loadable modules (mod_mpm_event.so and friends)."""
    return build_info().LIBEXECDIR


def install_module(modules_directory=None):
    """Copy mod_wsgid.so into `modules_directory` (default: Apache's) and return the copy's path.

    The copy is written beside the target under a temporary name and renamed over it, so an
    Apache that starts meanwhile loads either the old module or the new one, never half a file.
    """
    directory = os.path.abspath(modules_directory or apache_modules_dir())
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"{directory} is not a directory")
    target = os.path.join(directory, "mod_wsgid.so")
    partial = target + ".partial"
    shutil.copyfile(module_path(), partial)
    os.chmod(partial, 0o644)
    os.replace(partial, target)
    return target
