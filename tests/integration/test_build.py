"""Building and installing: the wheel carries the Apache module and the Cython core; a machine
without the Apache development files gets told what to install; `wsgid module-config` prints
lines that load this installation's module; `module-location` names it and `install-module` copies it
into a modules directory from which a real Apache then serves through it."""

import os
import subprocess
import sys
import zipfile

import requests

from tests.support.apache import REPO, shared_tmpdir


def test_build_without_apxs_names_the_package_to_install(tmp_path):
    env = dict(os.environ, PATH=str(tmp_path), APXS="")  # no apxs anywhere
    res = subprocess.run([sys.executable, "setup.py", "build_ext", "--build-temp", str(tmp_path / "t"),
                          "--build-lib", str(tmp_path / "l")],
                         cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode != 0
    assert "apache2-dev" in res.stderr and "httpd-devel" in res.stderr, res.stderr[-2000:]
    assert "apxs" in res.stderr


def test_build_with_a_wrong_apxs_names_it(tmp_path):
    env = dict(os.environ, APXS=str(tmp_path / "no-such-apxs"))
    res = subprocess.run([sys.executable, "setup.py", "build_ext", "--build-temp", str(tmp_path / "t"),
                          "--build-lib", str(tmp_path / "l")],
                         cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode != 0
    assert "no-such-apxs" in res.stderr and "apache2-dev" in res.stderr, res.stderr[-2000:]


def test_wheel_carries_the_apache_module_and_the_cython_core(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-build-isolation", "--no-deps",
                    REPO, "-w", str(tmp_path)], check=True, timeout=600)
    (wheel,) = tmp_path.glob("wsgid-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "wsgid/mod_wsgid.so" in names
    assert any(n.startswith("wsgid/_core.") and n.endswith(".so") for n in names)
    assert "wsgid/_build_info.py" in names
    assert any(n.endswith("entry_points.txt") for n in names)


def test_module_config_loads_this_installation():
    out = subprocess.run([sys.executable, "-m", "wsgid", "module-config"], check=True,
                         capture_output=True, text=True).stdout.splitlines()
    assert out[0].startswith("LoadModule wsgi_module ")
    module = out[0].split(None, 2)[2].strip('"')
    assert os.path.isfile(module) and module.endswith("mod_wsgid.so")
    assert out[1] == f'WSGIPythonExecutable "{sys.executable}"'


def test_module_location_names_this_installations_module():
    out = subprocess.run([sys.executable, "-m", "wsgid", "module-location"], check=True,
                         capture_output=True, text=True).stdout
    config = subprocess.run([sys.executable, "-m", "wsgid", "module-config"], check=True,
                            capture_output=True, text=True).stdout
    assert config.splitlines()[0] == f'LoadModule wsgi_module "{out.strip()}"'


def test_install_module_copies_the_module_and_apache_serves_through_the_copy(apache):
    modules = shared_tmpdir("wsgid-modules-")
    lines = subprocess.run([sys.executable, "-m", "wsgid", "install-module",
                            "--modules-directory", modules], check=True,
                           capture_output=True, text=True).stdout
    copy = os.path.join(modules, "mod_wsgid.so")
    assert lines.splitlines() == [f'LoadModule wsgi_module "{copy}"',
                                  f'WSGIPythonExecutable "{sys.executable}"']
    with open(copy, "rb") as installed:
        module = subprocess.run([sys.executable, "-m", "wsgid", "module-location"], check=True,
                                capture_output=True, text=True).stdout.strip()
        with open(module, "rb") as original:
            assert installed.read() == original.read()
    inst = apache(lines + """
WSGIDaemonProcess site processes=1 threads=2
WSGIScriptAlias / "{apps}/echo.wsgi" process-group=site
""", load_wsgid=False)
    inst.start()
    assert requests.get(inst.url("/hello"), timeout=10).text == "Hello, world!\n"
    assert f'"{copy}"' in open(inst.conf_path).read()
    subprocess.run(["rm", "-rf", modules], check=False)


def test_install_module_into_a_missing_directory_says_so():
    res = subprocess.run([sys.executable, "-m", "wsgid", "install-module",
                          "--modules-directory", "/nonexistent/modules"],
                         capture_output=True, text=True)
    assert res.returncode == 1
    assert "/nonexistent/modules is not a directory" in res.stderr
    assert "--modules-directory" in res.stderr
