"""A throwaway Dovecot 2.3 for the IMAP tests: its own config, base_dir and maildirs in a temp dir.

`DovecotServer` writes a config that reads nothing of the system's (`dovecot -c` with a
passwd-file user, maildir storage under the temp dir, IMAP on a free port), runs
`dovecot -F` as a child process, and can be stopped and started again on the same ports.
The TLS variant adds a self-signed certificate made with the `openssl` CLI, STARTTLS on
the plain port and implicit TLS on a second one. Test modules load the fixtures with
`pytest_plugins = ("tests.dovecot",)`.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from imapclient import IMAPClient  # type: ignore[import-untyped]

from tests.conftest import free_port
from triage.settings import ImapSettings

DOVECOT = "/usr/sbin/dovecot"
DOVEADM = shutil.which("doveadm") or "/usr/bin/doveadm"
USER = "monshi"
PASSWORD = "dovecot-test-password"
# What Dovecot 2.3 offers after login; a server without some of them lists the rest.
DOVECOT_CAPABILITIES = (
    "IMAP4rev1", "SASL-IR", "LOGIN-REFERRALS", "ID", "ENABLE", "IDLE", "SORT", "SORT=DISPLAY",
    "THREAD=REFERENCES", "THREAD=REFS", "THREAD=ORDEREDSUBJECT", "MULTIAPPEND", "URL-PARTIAL",
    "CATENATE", "UNSELECT", "CHILDREN", "NAMESPACE", "UIDPLUS", "LIST-EXTENDED", "I18NLEVEL=1",
    "CONDSTORE", "QRESYNC", "ESEARCH", "ESORT", "SEARCHRES", "WITHIN", "CONTEXT=SEARCH",
    "LIST-STATUS", "BINARY", "MOVE", "SNIPPET=FUZZY", "PREVIEW=FUZZY", "PREVIEW", "STATUS=SIZE",
    "SAVEDATE", "LITERAL+", "NOTIFY",
)  # fmt: skip


def mail_owner() -> tuple[int, int]:
    """Dovecot refuses to deliver as root, so as root the mail belongs to the dovecot user."""
    if os.getuid() != 0:
        return os.getuid(), os.getgid()
    entry = pwd.getpwnam("dovecot")
    return entry.pw_uid, entry.pw_gid


def _config(root: Path, port: int, tls_port: int | None, capability: str) -> str:
    if os.getuid() == 0:
        users = (
            "default_internal_user = dovecot\n"
            "default_internal_group = dovecot\n"
            "default_login_user = dovenull\n"
        )
    else:
        me = pwd.getpwuid(os.getuid()).pw_name
        users = (
            f"default_internal_user = {me}\n"
            f"default_internal_group = {me}\n"
            f"default_login_user = {me}\n"
        )
    if tls_port is None:
        tls = "ssl = no\n"
        imaps = ""
    else:
        tls = f"ssl = yes\nssl_cert = <{root}/cert.pem\nssl_key = <{root}/key.pem\n"
        imaps = f"  inet_listener imaps {{\n    port = {tls_port}\n    ssl = yes\n  }}\n"
    return (
        f"base_dir = {root}/run\n"
        f"state_dir = {root}/state\n"
        f"instance_name = monshi-test-{port}\n"
        f"log_path = {root}/dovecot.log\n"
        "protocols = imap\n"
        "listen = 127.0.0.1\n"
        f"{tls}"
        "disable_plaintext_auth = no\n"
        # XOAUTH2 against a passwd-file checks the token as the password: enough to test it.
        "auth_mechanisms = plain login xoauth2\n"
        f"{users}"
        "first_valid_uid = 1\n"
        "mail_location = maildir:~/Maildir\n"
        "shutdown_clients = yes\n"
        f"{capability}"
        "passdb {\n"
        "  driver = passwd-file\n"
        f"  args = scheme=PLAIN username_format=%u {root}/passwd\n"
        "}\n"
        "userdb {\n"
        "  driver = passwd-file\n"
        f"  args = username_format=%u {root}/passwd\n"
        "}\n"
        "service imap-login {\n"
        "  inet_listener imap {\n"
        f"    port = {port}\n"
        "  }\n"
        f"{imaps}"
        "}\n"
    )


@dataclass
class DovecotServer:
    """One Dovecot instance with one user; `start()` it, `stop()` it, start it again."""

    root: Path
    tls: bool = False
    without_capabilities: Sequence[str] = ()
    port: int = field(default_factory=free_port)
    tls_port: int | None = None
    process: subprocess.Popen[bytes] | None = None

    def __post_init__(self) -> None:
        # Under /tmp with a+x, not pytest's 0700 tmp dirs: Dovecot drops to its own users.
        self.root.mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o755)
        uid, gid = mail_owner()
        self.home.mkdir(parents=True, exist_ok=True)
        os.chown(self.home, uid, gid)
        (self.root / "passwd").write_text(
            f"{USER}:{{PLAIN}}{PASSWORD}:{uid}:{gid}::{self.home}::\n"
        )
        capability = ""
        if self.without_capabilities:
            capability = "imap_capability = " + " ".join(self._capabilities()) + "\n"
        if self.tls:
            self.tls_port = free_port()
            make_certificate(self.root)
        self.config.write_text(_config(self.root, self.port, self.tls_port, capability))

    def _capabilities(self) -> list[str]:
        return [name for name in DOVECOT_CAPABILITIES if name not in self.without_capabilities]

    @property
    def config(self) -> Path:
        return self.root / "dovecot.conf"

    @property
    def home(self) -> Path:
        return self.root / "home" / USER

    @property
    def maildir(self) -> Path:
        return self.home / "Maildir"

    @property
    def certificate(self) -> Path:
        return self.root / "cert.pem"

    # -- lifecycle -----------------------------------------------------------------

    def start(self) -> None:
        assert self.process is None or self.process.poll() is not None, "already running"
        self.process = subprocess.Popen(
            [DOVECOT, "-F", "-c", str(self.config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            # A group of its own: stop() ends the imap processes too, which outlive a
            # master stopped alone, so that a stop really cuts the clients off.
            start_new_session=True,
        )
        deadline = time.monotonic() + 10
        while True:
            if self.process.poll() is not None:
                stderr = self.process.stderr.read().decode() if self.process.stderr else ""
                raise RuntimeError(f"dovecot exited: {stderr}{self.log()}")
            if self._greets():
                return
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("dovecot did not answer within 10 s:\n" + self.log())
            time.sleep(0.05)

    def _greets(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                return sock.recv(100).startswith(b"* OK")
        except OSError:
            return False

    def stop(self) -> None:
        process = self.process
        if process is None or process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        if process.stderr:
            process.stderr.close()
        # The port is free once the master is gone; wait for it so start() binds at once.
        deadline = time.monotonic() + 5
        while self._greets() and time.monotonic() < deadline:
            time.sleep(0.05)

    def log(self) -> str:
        path = self.root / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def clear(self) -> None:
        """Forget every mailbox of the user (a fresh mailbox gets a new UIDVALIDITY)."""
        self.doveadm("kick", USER, check=False)
        shutil.rmtree(self.maildir, ignore_errors=True)

    def doveadm(self, *args: str, check: bool = True) -> str:
        result = subprocess.run(
            [DOVEADM, "-c", str(self.config), *args],
            capture_output=True,
            text=True,
            timeout=20,
        )
        if check and result.returncode != 0:
            raise RuntimeError(f"doveadm {' '.join(args)}: {result.stderr}")
        return result.stdout

    def mailbox_status(self, mailbox: str = "INBOX") -> dict[str, int]:
        """messages, uidnext, uidvalidity ... of a mailbox, from doveadm."""
        out = self.doveadm("mailbox", "status", "-u", USER, "messages uidnext uidvalidity", mailbox)
        fields = (part.partition("=") for part in out.split() if "=" in part)
        return {key: int(value) for key, _, value in fields}

    def set_uidvalidity(self, value: int, mailbox: str = "INBOX") -> None:
        self.doveadm("mailbox", "update", "-u", USER, "--uid-validity", str(value), mailbox)

    # -- clients -------------------------------------------------------------------

    def settings(self, security: str = "none", **overrides: Any) -> ImapSettings:
        port = self.tls_port if security == "tls" else self.port
        assert port is not None
        values: dict[str, Any] = {
            "host": "127.0.0.1",
            "port": port,
            "user": USER,
            "password": PASSWORD,
            "security": security,
            "ca_file": str(self.certificate) if self.tls else "",
            "leader_ttl_seconds": 2.0,
            "poll_seconds": 30.0,
        }
        values.update(overrides)
        return ImapSettings(**values)

    def env(self, **extra: str) -> dict[str, str]:
        """The IMAP_* variables for a `monshi imap` subprocess against this server."""
        return {
            "IMAP_URL": f"imap://{USER}:{PASSWORD}@127.0.0.1:{self.port}/INBOX?security=none",
            "IMAP_LEADER_TTL_SECONDS": "2",
            **extra,
        }

    def client(self) -> Any:
        client = IMAPClient("127.0.0.1", port=self.port, ssl=False, timeout=10)
        client.login(USER, PASSWORD)
        return client

    def append(
        self, *messages: bytes, folder: str = "INBOX", flags: Sequence[bytes] = ()
    ) -> list[int]:
        """APPEND each message; returns their UIDs (from APPENDUID)."""
        uids: list[int] = []
        client = self.client()
        try:
            for message in messages:
                response = client.append(folder, message, flags=tuple(flags))
                uids.append(int(response.split(b"]")[0].split()[-1]))
        finally:
            client.logout()
        return uids

    def deliver_file(self, message: bytes, name: str) -> None:
        """Put a message straight into Maildir/new, as a local delivery agent does."""
        new = self.maildir / "new"
        new.mkdir(parents=True, exist_ok=True)
        path = new / name
        path.write_bytes(message)
        uid, gid = mail_owner()
        for target in (self.maildir, new, path):
            os.chown(target, uid, gid)


def make_certificate(directory: Path) -> None:
    """A self-signed certificate for 127.0.0.1 and localhost, valid for two days."""
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
            "-keyout", str(directory / "key.pem"), "-out", str(directory / "cert.pem"),
            "-days", "2", "-subj", "/CN=localhost",
            "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )  # fmt: skip


def trusting_context(server: DovecotServer) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(server.certificate))


def _running(**options: Any) -> Iterator[DovecotServer]:
    if not Path(DOVECOT).exists():
        pytest.fail(f"{DOVECOT} is missing: apt-get install dovecot-imapd (scripts/test does)")
    root = Path(tempfile.mkdtemp(prefix="monshi-dovecot-"))
    server = DovecotServer(root, **options)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def dovecot_server() -> Iterator[DovecotServer]:
    """One plain-text Dovecot (ssl = no) for the session."""
    yield from _running()


@pytest.fixture(scope="session")
def dovecot_tls_server() -> Iterator[DovecotServer]:
    """A Dovecot with a self-signed certificate: STARTTLS on `port`, implicit TLS on `tls_port`."""
    yield from _running(tls=True)


@pytest.fixture(scope="session")
def dovecot_no_idle_server() -> Iterator[DovecotServer]:
    """A Dovecot that does not offer IDLE, for the polling fallback."""
    yield from _running(without_capabilities=("IDLE",))


def _fresh(server: DovecotServer) -> Iterator[DovecotServer]:
    if server.process is None or server.process.poll() is not None:
        server.start()  # a test that stopped it and failed before starting it again
    server.clear()
    yield server
    server.clear()


@pytest.fixture
def dovecot(dovecot_server: DovecotServer) -> Iterator[DovecotServer]:
    """The plain Dovecot with an empty mailbox, emptied again after the test."""
    yield from _fresh(dovecot_server)


@pytest.fixture
def dovecot_tls(dovecot_tls_server: DovecotServer) -> Iterator[DovecotServer]:
    yield from _fresh(dovecot_tls_server)


@pytest.fixture
def dovecot_no_idle(dovecot_no_idle_server: DovecotServer) -> Iterator[DovecotServer]:
    yield from _fresh(dovecot_no_idle_server)
