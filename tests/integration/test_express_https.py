"""start-server's HTTPS and host-name options through a real Apache, with certificates that
openssl makes for the test and curl and requests as the clients: TLS answered, HTTP/2, the HTTPS
redirect and HSTS, mod_ssl's variables, name-based hosting (other names refused, the www.
redirect, aliases, --allow-localhost) and client certificates required under one URL.
"""

import json
import os
import subprocess

import pytest
import requests

from tests.support.apache import free_port, shared_tmpdir, wait_for

pytestmark = pytest.mark.apache

# Reports what the application sees of the connection.
ENVIRON_SCRIPT = """\
import json

KEYS = ("wsgi.url_scheme", "HTTPS", "HTTP_HOST", "SSL_PROTOCOL", "SSL_CLIENT_S_DN_CN",
        "SERVER_PROTOCOL")


def application(environ, start_response):
    body = json.dumps({key: environ.get(key) for key in KEYS}).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]
"""

NAMES = ("localhost", "www.example.test", "example.test", "a.alias.test")


class Certificates:
    """A CA, a server certificate it signed for NAMES and 127.0.0.1, and a client's."""

    def __init__(self):
        self.dir = shared_tmpdir("wsgid-tls-")
        self.ca, self.ca_key = self.path("ca.crt"), self.path("ca.key")
        self.openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                     "-subj", "/CN=wsgid test CA", "-keyout", self.ca_key, "-out", self.ca)
        self.server = self.signed("server", "localhost", "subjectAltName=" + ",".join(
            [f"DNS:{name}" for name in NAMES] + ["IP:127.0.0.1"]))
        self.client = self.signed("client", "test client", None)

    def path(self, name):
        return os.path.join(self.dir, name)

    def openssl(self, *args):
        subprocess.run(["openssl", *args], check=True, capture_output=True)

    def signed(self, stem, common_name, extension):
        key, request, certificate = (self.path(f"{stem}.{ext}") for ext in ("key", "csr", "crt"))
        self.openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={common_name}",
                     "-keyout", key, "-out", request)
        extra = []
        if extension:
            with open(self.path(f"{stem}.ext"), "w") as f:
                f.write(extension + "\n")
            extra = ["-extfile", self.path(f"{stem}.ext")]
        self.openssl("x509", "-req", "-in", request, "-CA", self.ca, "-CAkey", self.ca_key,
                     "-CAcreateserial", "-days", "2", "-out", certificate, *extra)
        return self.path(stem)   # the stem: STEM.crt and STEM.key


@pytest.fixture(scope="module")
def certificates():
    made = Certificates()
    yield made
    subprocess.run(["rm", "-rf", made.dir], check=False)


def first_answer(server, host=None):
    """The first answer of start-server's Apache on its HTTP port (whatever its status), as
    soon as it answers."""
    headers = {"Host": host} if host else {}

    def answer():
        if server.proc.poll() is not None:
            raise AssertionError(f"start-server exited\n{server.diagnostics()}")
        try:
            return [requests.get(server.url("/"), headers=headers, allow_redirects=False,
                                 timeout=10)]
        except requests.ConnectionError:
            return None
    return wait_for(answer, 30, interval=0.1, message="start-server to answer")[0]


def curl(*args):
    """curl's answer: (status, the HTTP version it spoke, the body)."""
    done = subprocess.run(["curl", "-s", "-S", "-o", "-", "-w", "\n%{http_code} %{http_version}",
                           *args], capture_output=True, text=True, timeout=30)
    body, _, last = done.stdout.rpartition("\n")
    status, version = last.split()
    return int(status), version, body


def test_https_with_http2_the_redirect_hsts_and_mod_ssls_variables(express, write_script,
                                                                  certificates):
    server = express(["--https-port", str(https_port := free_port()),
                      "--ssl-certificate", certificates.server, "--https-only",
                      "--hsts-policy", "max-age=600", "--ssl-environment", "--http2"],
                     script=write_script(ENVIRON_SCRIPT, "environ.wsgi"))
    # plain HTTP answers with the redirect
    assert first_answer(server).status_code == 302, server.diagnostics()
    plain = requests.get(server.url("/path?q=1"), allow_redirects=False, timeout=10)
    assert plain.status_code == 302
    assert plain.headers["Location"] == f"https://127.0.0.1:{https_port}/path?q=1"
    # HTTPS, checked against the test's CA, with mod_ssl's variables and HSTS
    answer = requests.get(f"https://localhost:{https_port}/", verify=certificates.ca,
                          timeout=10)
    assert answer.status_code == 200
    assert answer.headers["Strict-Transport-Security"] == "max-age=600"
    seen = answer.json()
    assert (seen["wsgi.url_scheme"], seen["HTTPS"]) == ("https", "on")
    assert seen["SSL_PROTOCOL"].startswith("TLSv1")
    # HTTP/2 over TLS, as curl negotiates it
    status, version, body = curl("--http2", "--cacert", certificates.ca,
                                 f"https://localhost:{https_port}/")
    assert (status, version) == (200, "2")
    assert json.loads(body)["SERVER_PROTOCOL"] == "HTTP/2.0"


def test_server_name_aliases_www_redirect_and_client_certificates(express, write_script,
                                                                  certificates):
    https_port = free_port()
    server = express(["--server-name", "www.example.test", "--server-alias", "*.alias.test",
                      "--https-port", str(https_port),
                      "--ssl-certificate-file", certificates.server + ".crt",
                      "--ssl-certificate-key-file", certificates.server + ".key",
                      "--ssl-ca-certificate-file", certificates.ca,
                      "--ssl-certificate-chain-file", certificates.ca,
                      "--ssl-verify-client", "/secure", "--ssl-environment"],
                     script=write_script(ENVIRON_SCRIPT, "environ.wsgi"))
    port = server.port

    def over_http(host):
        return requests.get(server.url("/"), headers={"Host": host}, allow_redirects=False,
                            timeout=10)

    # the default host refuses every other name, 127.0.0.1 too
    assert first_answer(server).status_code == 403, server.diagnostics()
    assert over_http(f"www.example.test:{port}").json()["HTTP_HOST"] == \
        f"www.example.test:{port}"
    assert over_http("b.alias.test").status_code == 200
    assert over_http("other.test").status_code == 403          # not a name of this server
    assert over_http("127.0.0.1").status_code == 403
    parent = over_http("example.test")
    assert parent.status_code == 301
    assert parent.headers["Location"] == f"http://www.example.test:{port}/"

    def over_https(path, *client):
        return curl("--resolve", f"www.example.test:{https_port}:127.0.0.1",
                    "--cacert", certificates.ca, *client,
                    f"https://www.example.test:{https_port}{path}")

    status, _, body = over_https("/")
    assert status == 200 and json.loads(body)["SSL_CLIENT_S_DN_CN"] is None
    # --ssl-certificate-chain-file: the server sends the CA's certificate after its own
    shown = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{https_port}",
                            "-servername", "www.example.test", "-showcerts"],
                           input="", capture_output=True, text=True, timeout=30).stdout
    assert shown.count("-----BEGIN CERTIFICATE-----") == 2, shown
    assert "wsgid test CA" in shown.split("-----END CERTIFICATE-----")[1]
    # under /secure a client certificate signed by the CA is required
    assert over_https("/secure")[0] in (0, 403)            # refused without one
    status, _, body = over_https("/secure", "--cert", certificates.client + ".crt",
                                 "--key", certificates.client + ".key")
    assert status == 200 and json.loads(body)["SSL_CLIENT_S_DN_CN"] == "test client"


def test_allow_localhost_serves_local_clients_whatever_name_they_ask(express, write_script):
    server = express(["--server-name", "www.example.test", "--allow-localhost"],
                     script=write_script(ENVIRON_SCRIPT, "environ.wsgi"))
    answer = first_answer(server)
    assert answer.status_code == 200, server.diagnostics()
    assert answer.json()["HTTP_HOST"] == f"127.0.0.1:{server.port}"
    # a client elsewhere asking for another name would get 403 (Require local)
