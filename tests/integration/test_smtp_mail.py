"""The SMTP mailer against a real SMTP server (aiosmtpd) on loopback: plain, login, STARTTLS, implicit TLS."""

from __future__ import annotations

import io
import shutil
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session

from local.emulators import free_port
from shared.adapters.smtp_mail import (
    SMTP_TIMEOUT_SECONDS,
    ConsoleMailer,
    Mailer,
    MailError,
    mailer_from_url,
    parse_smtp_url,
)

pytestmark = [pytest.mark.integration,
              pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")]

SENDER = "incidents@example.com"


class Inbox:
    """An aiosmtpd handler that keeps what it receives; recipients in `refuse` get a 550."""

    def __init__(self, refuse: tuple[str, ...] = ()):
        self.refuse = refuse
        self.envelopes: list[Envelope] = []
        self.sessions: list[Session] = []

    async def handle_RCPT(self, server: Any, session: Session, envelope: Envelope, address: str,
                          rcpt_options: list[str]) -> str:
        if address in self.refuse:
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        self.envelopes.append(envelope)
        self.sessions.append(session)
        return "250 Message accepted for delivery"

    def only_message(self) -> tuple[Envelope, EmailMessage]:
        assert len(self.envelopes) == 1
        envelope = self.envelopes[0]
        return envelope, BytesParser(policy=default_policy).parsebytes(envelope.original_content)


@pytest.fixture
def server() -> Iterator[Any]:
    """Starts an aiosmtpd server on a free loopback port; returns (inbox, port)."""
    controllers: list[Controller] = []

    def start(inbox: Inbox, **smtp_parameters: Any) -> int:
        port = free_port()
        controller = Controller(inbox, hostname="127.0.0.1", port=port, **smtp_parameters)
        controller.start()
        controllers.append(controller)
        return port

    yield start
    for controller in controllers:
        controller.stop()


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (openssl CLI)."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    directory = tmp_path_factory.mktemp("tls")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    return cert, key


@pytest.fixture
def tls(certificate: tuple[Path, Path]) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """(server context, client context that trusts the test certificate)."""
    cert, key = certificate
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert, key)
    return server_context, ssl.create_default_context(cafile=str(cert))


def test_a_mail_arrives_with_subject_recipients_and_body_intact(server) -> None:
    inbox = Inbox()
    port = server(inbox)
    body = "INC-2026-0042 (critical)\nDetected: 2026-12-04 10:00:00 UTC (15:30:00 IST)\n\nLoss: ₹0, ünïcode ok\n"
    message_id = Mailer(f"smtp://127.0.0.1:{port}?from={SENDER}").send(
        ["security@wealthy.in", "cto@example.com"], "[SECURITY] INC-2026-0042 – CERT-In report due 21:30 IST", body)

    envelope, message = inbox.only_message()
    assert envelope.mail_from == SENDER
    assert envelope.rcpt_tos == ["security@wealthy.in", "cto@example.com"]
    assert message["From"] == SENDER
    assert message["To"] == "security@wealthy.in, cto@example.com"
    assert message["Subject"] == "[SECURITY] INC-2026-0042 – CERT-In report due 21:30 IST"
    assert message["Message-ID"] == message_id and message_id.endswith("@example.com>")
    assert message["Date"]
    assert message.get_content_type() == "text/plain"
    assert message.get_content().replace("\r\n", "\n") == body  # SMTP sends CRLF line ends


def test_each_mail_gets_its_own_message_id(server) -> None:
    inbox = Inbox()
    mailer = Mailer(f"smtp://127.0.0.1:{server(inbox)}?from={SENDER}")
    ids = {mailer.send(["security@wealthy.in"], f"mail {n}", "body") for n in range(3)}
    assert len(ids) == 3 and len(inbox.envelopes) == 3


def test_line_breaks_in_a_subject_cannot_add_headers(server) -> None:
    inbox = Inbox()
    port = server(inbox)
    Mailer(f"smtp://127.0.0.1:{port}?from={SENDER}").send(["security@wealthy.in"], "Title\r\nBcc: evil@example.com",
                                                           "body")
    _, message = inbox.only_message()
    assert message["Subject"] == "Title Bcc: evil@example.com"
    assert message["Bcc"] is None


def test_without_from_the_sender_is_incidents_at_this_host(server) -> None:
    inbox = Inbox()
    Mailer(f"smtp://127.0.0.1:{server(inbox)}").send(["security@wealthy.in"], "subject", "body")
    envelope, _ = inbox.only_message()
    assert envelope.mail_from == f"incidents@{socket.gethostname()}"


def authenticator(login: bytes, password: bytes):
    def check(server: Any, session: Session, envelope: Envelope, mechanism: str, auth_data: Any) -> AuthResult:
        ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (login, password)
        return AuthResult(success=ok, handled=False)

    return check


def test_login_with_user_and_password(server) -> None:
    inbox = Inbox()
    port = server(inbox, authenticator=authenticator(b"alerts", b"p@ss:w/rd"), auth_required=True,
                  auth_require_tls=False)
    Mailer(f"smtp://alerts:p%40ss%3Aw%2Frd@127.0.0.1:{port}?from={SENDER}").send(["security@wealthy.in"], "s", "b")
    envelope, message = inbox.only_message()
    assert inbox.sessions[0].authenticated
    assert message["Subject"] == "s"


def test_a_wrong_password_is_a_clear_error(server) -> None:
    inbox = Inbox()
    port = server(inbox, authenticator=authenticator(b"alerts", b"right"), auth_required=True, auth_require_tls=False)
    with pytest.raises(MailError, match=rf"smtp://127.0.0.1:{port} rejected the login of 'alerts': 535") as caught:
        Mailer(f"smtp://alerts:wrong@127.0.0.1:{port}").send(["security@wealthy.in"], "s", "b")
    assert "wrong" not in str(caught.value)  # never the password
    assert inbox.envelopes == []


def test_a_server_that_requires_a_login_is_a_clear_error_without_one(server) -> None:
    port = server(Inbox(), authenticator=authenticator(b"alerts", b"right"), auth_required=True,
                  auth_require_tls=False)
    with pytest.raises(MailError, match="530"):
        Mailer(f"smtp://127.0.0.1:{port}").send(["security@wealthy.in"], "s", "b")


def test_refused_recipients(server) -> None:
    inbox = Inbox(refuse=("nobody@example.com",))
    mailer = Mailer(f"smtp://127.0.0.1:{server(inbox)}?from={SENDER}")
    with pytest.raises(MailError, match=r"refused every recipient: nobody@example.com \(550 5.1.1 no such mailbox\)"):
        mailer.send(["nobody@example.com"], "s", "b")
    # Some accepted: the mail went out, so no error (a retry would send it twice to the others).
    mailer.send(["nobody@example.com", "security@wealthy.in"], "s", "b")
    envelope, _ = inbox.only_message()
    assert envelope.rcpt_tos == ["security@wealthy.in"]


def test_starttls_is_used_when_the_server_offers_it(server, tls) -> None:
    server_context, client_context = tls
    inbox = Inbox()
    port = server(inbox, tls_context=server_context, require_starttls=True)
    Mailer(f"smtp://127.0.0.1:{port}?from={SENDER}", tls_context=client_context).send(["security@wealthy.in"], "s", "b")
    assert inbox.sessions[0].ssl is not None
    # The certificate is verified: an untrusted one fails instead of silently sending in clear.
    with pytest.raises(MailError, match="CERTIFICATE_VERIFY_FAILED"):
        Mailer(f"smtp://127.0.0.1:{port}").send(["security@wealthy.in"], "s", "b")


def test_implicit_tls_with_smtps(server, tls) -> None:
    server_context, client_context = tls
    inbox = Inbox()
    # aiosmtpd only counts STARTTLS as TLS for AUTH, so it must be told AUTH is fine here.
    port = server(inbox, ssl_context=server_context, authenticator=authenticator(b"alerts", b"pw"),
                  auth_required=True, auth_require_tls=False)
    Mailer(f"smtps://alerts:pw@127.0.0.1:{port}?from={SENDER}", tls_context=client_context).send(
        ["security@wealthy.in"], "over TLS", "b")
    _, message = inbox.only_message()
    assert message["Subject"] == "over TLS"
    assert inbox.sessions[0].authenticated


def test_a_closed_port_raises_within_the_timeout() -> None:
    port = free_port()  # nothing listens there
    started = time.monotonic()
    with pytest.raises(MailError, match=rf"sending mail via smtp://127.0.0.1:{port} failed: ConnectionRefusedError"):
        Mailer(f"smtp://127.0.0.1:{port}").send(["security@wealthy.in"], "s", "b")
    assert time.monotonic() - started < SMTP_TIMEOUT_SECONDS


def test_a_server_that_never_answers_times_out() -> None:
    with socket.socket() as silent:  # accepts connections (backlog) but never greets
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        port = silent.getsockname()[1]
        started = time.monotonic()
        with pytest.raises(MailError, match="failed: (TimeoutError|SMTPServerDisconnected)"):
            Mailer(f"smtp://127.0.0.1:{port}", timeout=0.5).send(["security@wealthy.in"], "s", "b")
        assert time.monotonic() - started < 5


# ---- configuration and the console ------------------------------------------------------------------------------

@pytest.mark.parametrize(("url", "host", "port", "tls", "user", "password", "sender"), [
    ("smtp://mail.example.com", "mail.example.com", 25, False, None, None, None),
    ("smtp://relay:587?from=alerts@example.com", "relay", 587, False, None, None, "alerts@example.com"),
    ("smtps://u%40x.in:p%3Aw@smtp.example.com", "smtp.example.com", 465, True, "u@x.in", "p:w", None),
    ("smtp://user:@[::1]:2525", "::1", 2525, False, "user", "", None),
])
def test_smtp_urls(url: str, host: str, port: int, tls: bool, user: str | None, password: str | None,
                   sender: str | None) -> None:
    config = parse_smtp_url(url)
    assert (config.host, config.port, config.implicit_tls, config.username, config.password) == (
        host, port, tls, user, password)
    assert config.sender == (sender or f"incidents@{socket.gethostname()}")
    assert "p:w" not in repr(config)


@pytest.mark.parametrize(("url", "problem"), [
    ("http://mail.example.com", "smtp:// or smtps://"),
    ("smtp://", "no host"),
    ("smtp://mail:notaport", "invalid port"),
    ("smtp://mail?from=nobody", "not an email address"),
    ("smtp://mail?sender=a@b.c", "unknown parameters: sender"),
])
def test_bad_smtp_urls(url: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        parse_smtp_url(url)


def test_the_factory_picks_the_console_without_a_url() -> None:
    assert isinstance(mailer_from_url(None), ConsoleMailer)
    assert isinstance(mailer_from_url("  "), ConsoleMailer)
    mailer = mailer_from_url("smtp://127.0.0.1:2525?from=incidents@example.com")
    assert isinstance(mailer, Mailer) and mailer.timeout == SMTP_TIMEOUT_SECONDS == 10


def test_the_console_mailer_prints_readable_mail() -> None:
    out = io.StringIO()
    message_id = ConsoleMailer(out, sender=SENDER).send(["security@wealthy.in"], "Subject line", "Line 1\nLine 2")
    assert out.getvalue() == (f"[mail {message_id}]\n  From: {SENDER}\n  To: security@wealthy.in\n"
                              "  Subject: Subject line\n  |\n  | Line 1\n  | Line 2\n")
    with pytest.raises(ValueError, match="at least one recipient"):
        ConsoleMailer(out).send([], "s", "b")
