"""Fixtures: the real `openice` binary, one server per storage backend, accounts made with
the CLI, and SDK clients for both signature versions.

Environment:
  OPENICE_BIN                 the binary (default <repo>/target/debug/openice, built if missing)
  OPENICE_TEST_DATABASE_URL   postgres://… of a server where fresh databases may be created;
                              enables the "postgres" backend
  OPENICE_REQUIRE_POSTGRES=1  fail (instead of skip) when OPENICE_TEST_DATABASE_URL is unset
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from icehelpers import SIGNATURES, Api, Creds
from mediafiles import Library, MediaFiles, make_media_files

REPO = Path(__file__).resolve().parent.parent
DEFAULT_KEY_ID = "LTAIconformance0default"
DEFAULT_SECRET = "conformance-default-secret-0123"

# The SDK talks to 127.0.0.1 only; never through a proxy from the environment.
for _var in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
    os.environ.pop(_var, None)


def _clean_env(**extra: str) -> dict:
    """The environment for the binary: no OPENICE_* settings leak in from the caller."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENICE_")}
    env.update(extra)
    return env


@pytest.fixture(scope="session")
def openice_bin() -> str:
    path = os.environ.get("OPENICE_BIN")
    if path:
        assert Path(path).is_file(), f"OPENICE_BIN={path} does not exist"
        return path
    path = REPO / "target" / "debug" / "openice"
    if not path.is_file():
        subprocess.run(["cargo", "build"], cwd=REPO, check=True)
    assert path.is_file(), f"{path} was not built"
    return str(path)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(
        self,
        binary: str,
        backend: str,
        data_dir: Path,
        database_url: str | None,
        serve_args: tuple[str, ...] = (),
        name: str | None = None,
    ):
        self.binary = binary
        self.backend = backend
        self.data_dir = data_dir
        self.database_url = database_url
        self.serve_args = list(serve_args)  # extra `openice serve` flags
        self.port = _free_port()
        self.endpoint = f"127.0.0.1:{self.port}"
        self.default = Creds(DEFAULT_KEY_ID, DEFAULT_SECRET)
        self.log_path = data_dir.parent / f"openice-{name or backend}.log"
        self.proc: subprocess.Popen | None = None

    def store_args(self) -> list[str]:
        args = ["--data-dir", str(self.data_dir)]
        if self.database_url:
            args += ["--database-url", self.database_url]
        return args

    def start(self) -> None:
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [self.binary, "serve", "--listen", self.endpoint, *self.store_args(), *self.serve_args],
            env=_clean_env(OPENICE_ACCESS_KEY_ID=DEFAULT_KEY_ID, OPENICE_ACCESS_KEY_SECRET=DEFAULT_SECRET),
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"openice exited with {self.proc.returncode}:\n{self.log_text()}")
            try:
                with urllib.request.urlopen(f"http://{self.endpoint}/healthz", timeout=2) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"openice did not become healthy:\n{self.log_text()}")
            time.sleep(0.05)

    def stop(self) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("openice did not stop within 30 s of SIGTERM")
        finally:
            self.log.close()

    def kill(self) -> None:
        """SIGKILL: no graceful shutdown, nothing flushed by the server itself."""
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(timeout=30)
        self.log.close()

    def restart(self) -> None:
        """Starts the binary again on the same store (on a new port)."""
        assert self.proc is None or self.proc.poll() is not None
        self.port = _free_port()
        self.endpoint = f"127.0.0.1:{self.port}"
        self.start()

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def cli(self, *args: str) -> str:
        """Runs `openice <args> --data-dir … [--database-url …]` against this server's store."""
        p = subprocess.run(
            [self.binary, *args, *self.store_args()],
            env=_clean_env(),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert p.returncode == 0, f"openice {' '.join(args)} failed ({p.returncode}): {p.stderr}"
        return p.stdout

    def put_media(self, src: Path | str, url: str, account: str | None = None) -> dict:
        """`openice media put SRC oss://bucket/key [--account ID]`: copies a file into the
        store's local object storage; answers {"InputURL", "FileSize"}."""
        args = ["media", "put", str(src), url]
        if account:
            args += ["--account", account]
        return json.loads(self.cli(*args))

    def object_path(self, bucket: str, key: str) -> Path:
        """Where the store keeps oss://bucket/key."""
        return self.data_dir / "buckets" / bucket / key

    def create_account(self, name: str | None = None) -> Creds:
        out = self.cli("account", "create", name or f"acct-{secrets.token_hex(4)}")
        doc = json.loads(out)
        assert set(doc) == {"AccountId", "AccessKeyId", "AccessKeySecret"}, doc
        assert isinstance(doc["AccountId"], str) and len(doc["AccountId"]) == 16 and doc["AccountId"].isdigit()
        return Creds(doc["AccessKeyId"], doc["AccessKeySecret"], doc["AccountId"])


def _postgres_url() -> str:
    url = os.environ.get("OPENICE_TEST_DATABASE_URL")
    if url:
        return url
    if os.environ.get("OPENICE_REQUIRE_POSTGRES") == "1":
        pytest.fail("OPENICE_REQUIRE_POSTGRES=1 but OPENICE_TEST_DATABASE_URL is not set")
    pytest.skip("OPENICE_TEST_DATABASE_URL is not set")


def _create_database() -> tuple[str, str, str]:
    """A fresh PostgreSQL database: (its URL, its name, the admin URL)."""
    import psycopg

    admin_url = _postgres_url()
    dbname = f"openice_c_{secrets.token_hex(6)}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{dbname}"')
    parts = urlsplit(admin_url)
    return urlunsplit(parts._replace(path="/" + dbname)), dbname, admin_url


def _drop_database(admin_url: str, dbname: str) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def server(request, openice_bin, tmp_path_factory):
    backend = request.param
    database_url = None
    dbname = None
    admin_url = None
    if backend == "postgres":
        database_url, dbname, admin_url = _create_database()
    base = tmp_path_factory.mktemp(f"openice-{backend}")
    data_dir = base / "data"
    data_dir.mkdir()
    srv = Server(openice_bin, backend, data_dir, database_url)
    try:
        srv.start()
        yield srv
        rc = srv.stop()
        assert rc == 0, f"openice exited with {rc} after SIGTERM:\n{srv.log_text()}"
    finally:
        if srv.proc is not None and srv.proc.poll() is None:
            srv.proc.kill()
            srv.proc.wait()
        if dbname:
            _drop_database(admin_url, dbname)


@pytest.fixture
def make_server(server, openice_bin, tmp_path_factory):
    """make_server(*serve_args) → a dedicated, started Server on a brand-new store of the
    session server's backend (its own data dir; for postgres its own database). Stopped
    and cleaned up after the test; kill()/restart() keep the same store."""
    made: list[tuple[Server, str | None, str | None]] = []

    def make(*serve_args: str) -> Server:
        database_url = dbname = admin_url = None
        if server.backend == "postgres":
            database_url, dbname, admin_url = _create_database()
        base = tmp_path_factory.mktemp(f"openice-dedicated-{server.backend}")
        data_dir = base / "data"
        data_dir.mkdir()
        srv = Server(openice_bin, server.backend, data_dir, database_url, tuple(serve_args), name="dedicated")
        made.append((srv, dbname, admin_url))
        srv.start()
        return srv

    yield make
    for srv, dbname, admin_url in made:
        if srv.proc is not None and srv.proc.poll() is None:
            srv.proc.kill()
            srv.proc.wait()
            srv.log.close()
        if dbname:
            _drop_database(admin_url, dbname)


@pytest.fixture(params=SIGNATURES)
def sig(request) -> str:
    return request.param


@pytest.fixture
def make_api(server, sig):
    """make_api(creds=None, **config) → an Api for the parametrised signature version."""

    def make(creds: Creds | None = None, **config) -> Api:
        return Api(server.endpoint, creds or server.default, sig, **config)

    return make


@pytest.fixture
def api(make_api) -> Api:
    """The default account's client."""
    return make_api()


@pytest.fixture
def fresh(server, make_api) -> Api:
    """A client of a brand-new account: its searches see only what the test creates."""
    return make_api(server.create_account())


@pytest.fixture(scope="session")
def media_files(tmp_path_factory) -> MediaFiles:
    """Real media made with ffmpeg once per session (see mediafiles.py)."""
    return make_media_files(tmp_path_factory.mktemp("media"))


@pytest.fixture
def lib(server, fresh, media_files) -> Library:
    """A brand-new account's media library (its own bucket, files put with the CLI), with
    a client of the parametrised signature version."""
    return Library(server, fresh, media_files)


@pytest.fixture
def lib_v3(server, media_files) -> Library:
    """Like `lib`, signing with v3 only: for tests whose parameters need no second look at
    the v2 canonicalisation (keeps the suite fast)."""
    return Library(server, Api(server.endpoint, server.create_account(), "v3"), media_files)
