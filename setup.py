"""Build wsgid: the Cython core (wsgid._core) and the Apache module (mod_wsgid.so).

The Apache module is compiled with apxs, Apache's own extension tool, so that it gets exactly the
flags of the Apache it will be loaded into. apxs comes from the APXS environment variable, else
from PATH. Without apxs or the Apache headers the build stops with a message saying what to
install: mod_wsgid is not optional, a wsgid without it cannot serve anything.
"""

import glob
import os
import shutil
import subprocess
import sys
import tempfile

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))

MISSING_APACHE_SDK = """
wsgid needs the Apache httpd development files to build its Apache module (mod_wsgid.so):
the apxs tool and the httpd headers. {problem}
Install them, then run the installation again:
    Debian, Ubuntu:        apt-get install apache2-dev
    RHEL, Fedora, CentOS:  dnf install httpd-devel
or point the APXS environment variable at the apxs of the Apache you will use.
"""


class ApacheSdkMissing(SystemExit):
    """Raised at build time when apxs or the Apache headers cannot be found."""

    def __init__(self, problem):
        super().__init__(MISSING_APACHE_SDK.format(problem=problem))


def find_apxs():
    """The apxs to build with: $APXS, else apxs or apxs2 on PATH."""
    named = os.environ.get("APXS")
    if named:
        if not (os.path.isfile(named) and os.access(named, os.X_OK)):
            raise ApacheSdkMissing(f"APXS={named} is not an executable file.")
        return named
    for name in ("apxs", "apxs2"):
        found = shutil.which(name)
        if found:
            return found
    raise ApacheSdkMissing("No apxs was found on PATH and APXS is not set.")


def apxs_query(apxs, name):
    out = subprocess.run([apxs, "-q", name], check=True, capture_output=True, text=True)
    return out.stdout.strip()


def apache_build_info(apxs):
    """What wsgid needs to know at run time about the Apache it was built for."""
    info = {"apxs": apxs}
    for key in ("INCLUDEDIR", "SBINDIR", "TARGET", "LIBEXECDIR", "SYSCONFDIR"):
        info[key.lower()] = apxs_query(apxs, key)
    if not os.path.isfile(os.path.join(info["includedir"], "httpd.h")):
        raise ApacheSdkMissing(f"apxs ({apxs}) names {info['includedir']} for the headers, "
                               "but httpd.h is not there.")
    return info


def build_apache_module(apxs, dest_dir):
    """Compile cmodule/*.c with apxs in a scratch directory; copy mod_wsgid.so to dest_dir."""
    sources = sorted(glob.glob(os.path.join(HERE, "cmodule", "*.c")))
    headers = glob.glob(os.path.join(HERE, "cmodule", "*.h"))
    if not sources:
        raise SystemExit("cmodule/ has no C sources: the checkout is incomplete.")
    with tempfile.TemporaryDirectory(prefix="wsgid-apxs-") as scratch:
        for path in sources + headers:
            shutil.copy(path, scratch)
        names = [os.path.basename(p) for p in sources]
        cmd = [apxs, "-c", "-Wc,-Wall", "-Wc,-Wextra", "-Wc,-std=gnu99", "-o", "mod_wsgid.so"] + names
        result = subprocess.run(cmd, cwd=scratch, capture_output=True, text=True)
        if result.returncode != 0:
            sys.stderr.write(result.stdout + result.stderr)
            raise SystemExit("apxs failed to compile mod_wsgid.so (see the compiler output above).")
        built = os.path.join(scratch, ".libs", "mod_wsgid.so")
        os.makedirs(dest_dir, exist_ok=True)
        shutil.copy(built, os.path.join(dest_dir, "mod_wsgid.so"))


def write_build_info(info, dest_dir):
    lines = ['"""Generated at build time by setup.py: the Apache that mod_wsgid.so was built for."""', ""]
    lines += [f"{key.upper()} = {value!r}" for key, value in sorted(info.items())]
    with open(os.path.join(dest_dir, "_build_info.py"), "w") as f:
        f.write("\n".join(lines) + "\n")


class BuildWithApacheModule(build_ext):
    """build_ext that also builds mod_wsgid.so next to the Python package."""

    def run(self):
        apxs = find_apxs()
        info = apache_build_info(apxs)
        super().run()
        package_dir = os.path.join(HERE, "wsgid") if self.inplace else os.path.join(self.build_lib, "wsgid")
        build_apache_module(apxs, package_dir)
        write_build_info(info, package_dir)


def extensions():
    from Cython.Build import cythonize

    # The wire core is written in Cython; the request path is plain Python (request_path.py)
    # that Cython compiles with the types of request_path.pxd.
    modules = [Extension("wsgid._core", ["wsgid/_core.pyx"]),
               Extension("wsgid.request_path", ["wsgid/request_path.py"])]
    return cythonize(modules, language_level=3,
                     compiler_directives={"boundscheck": False, "wraparound": False})


# The documentation, for `wsgid start-server --enable-docs` (wsgid/paths.py finds it).
DOCUMENTATION = ("share/doc/wsgid", sorted(glob.glob("docs/*.md")))

setup(ext_modules=extensions(), cmdclass={"build_ext": BuildWithApacheModule},
      data_files=[DOCUMENTATION])
