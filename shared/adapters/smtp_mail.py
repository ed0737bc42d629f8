"""Mail through SMTP (the security mailbox, CERT-In reports), with the standard library only.

SMTP_URL selects the server:
  smtp://[user:pass@]host[:port][?from=alerts@example.com]   plain SMTP (port 25 by default); STARTTLS is
                                                              used when the server offers it, never forced
  smtps://[user:pass@]host[:port][?from=...]                  implicit TLS (port 465 by default)
User and password are percent-decoded (write @ as %40). Without `from` the sender is incidents@<this host>.
Without SMTP_URL, ConsoleMailer prints each mail to stderr (local development).
A failed send raises MailError; the caller retries (the send is not retried here).
"""

from __future__ import annotations

import smtplib
import socket
import ssl
import sys
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any, Protocol
from urllib.parse import parse_qs, unquote, urlsplit

from shared.log import get_logger

log = get_logger("mail")

SMTP_TIMEOUT_SECONDS = 10.0
_DEFAULT_PORTS = {"smtp": 25, "smtps": 465}


class MailError(RuntimeError):
    """The mail was not accepted by the server; nothing was sent (or the server's answer is unknown)."""


class Sender(Protocol):
    def send(self, to: list[str], subject: str, body: str) -> str: ...


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    implicit_tls: bool
    sender: str
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    @property
    def where(self) -> str:
        """The server, for messages and logs (never the credentials)."""
        return f"{'smtps' if self.implicit_tls else 'smtp'}://{self.host}:{self.port}"


def parse_smtp_url(url: str) -> SmtpConfig:
    """`smtp://[user:pass@]host[:port][?from=addr]` or `smtps://...`; ValueError when it is not one."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise ValueError(f"SMTP_URL must start with smtp:// or smtps://, not {parts.scheme or url!r}")
    if not parts.hostname:
        raise ValueError("SMTP_URL has no host")
    try:
        port = parts.port or _DEFAULT_PORTS[scheme]
    except ValueError as exc:
        raise ValueError(f"SMTP_URL has an invalid port: {exc}") from None
    query = parse_qs(parts.query)
    unknown = set(query) - {"from"}
    if unknown:
        raise ValueError(f"SMTP_URL has unknown parameters: {', '.join(sorted(unknown))}")
    sender = query.get("from", [""])[-1].strip() or f"incidents@{socket.gethostname() or 'localhost'}"
    if "@" not in sender or any(c in sender for c in "\r\n "):
        raise ValueError(f"SMTP_URL from={sender!r} is not an email address")
    username = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password is not None else None
    return SmtpConfig(host=parts.hostname, port=port, implicit_tls=scheme == "smtps", sender=sender,
                      username=username, password=password)


def build_message(sender: str, to: list[str], subject: str, body: str) -> EmailMessage:
    """A plain-text UTF-8 mail with Date and a fresh Message-ID."""
    recipients = [address.strip() for address in to if address and address.strip()]
    if not recipients:
        raise ValueError("a mail needs at least one recipient")
    message = EmailMessage()
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Subject"] = " ".join(subject.split())  # a header cannot hold line breaks
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    message.set_content(body)
    return message


class Mailer:
    """Sends each mail over a fresh connection (Cloud Functions keep no idle sockets)."""

    def __init__(self, url: str, *, timeout: float = SMTP_TIMEOUT_SECONDS,
                 tls_context: ssl.SSLContext | None = None):
        self.config = parse_smtp_url(url)
        self.timeout = timeout
        self.tls_context = tls_context or ssl.create_default_context()

    def send(self, to: list[str], subject: str, body: str) -> str:
        """Hands the mail to the server; returns its Message-ID. Raises MailError on any failure."""
        cfg = self.config
        message = build_message(cfg.sender, to, subject, body)
        try:
            smtp = self._connect()
            try:
                smtp.ehlo()
                if not cfg.implicit_tls and smtp.has_extn("starttls"):
                    smtp.starttls(context=self.tls_context)
                    smtp.ehlo()
                if cfg.username is not None:
                    smtp.login(cfg.username, cfg.password or "")
                refused = smtp.send_message(message)
            finally:
                _hang_up(smtp)  # once the server took the mail, a failing QUIT must not make the caller resend
        except smtplib.SMTPRecipientsRefused as exc:
            raise MailError(f"{cfg.where} refused every recipient: {_refusals(exc.recipients)}") from exc
        except smtplib.SMTPAuthenticationError as exc:
            raise MailError(f"{cfg.where} rejected the login of {cfg.username!r}: {_reply(exc)}") from exc
        except smtplib.SMTPResponseException as exc:
            raise MailError(f"sending mail via {cfg.where} failed: {_reply(exc)}") from exc
        except (smtplib.SMTPException, OSError) as exc:  # refused, timed out, TLS, DNS, dropped connection
            raise MailError(f"sending mail via {cfg.where} failed: {type(exc).__name__}: {exc}") from exc
        if refused:  # some accepted: sending again would duplicate their copy, so only warn
            log.warning("some recipients were refused", extra={"refused": _refusals(refused),
                                                                "message_id": message["Message-ID"]})
        return str(message["Message-ID"])

    def _connect(self) -> smtplib.SMTP:
        cfg = self.config
        local = socket.gethostname() or "localhost"  # not getfqdn(): a reverse lookup can hang
        if cfg.implicit_tls:
            return smtplib.SMTP_SSL(cfg.host, cfg.port, local_hostname=local, timeout=self.timeout,
                                    context=self.tls_context)
        return smtplib.SMTP(cfg.host, cfg.port, local_hostname=local, timeout=self.timeout)


class ConsoleMailer:
    """Without SMTP_URL, mails are printed in readable form (local development)."""

    def __init__(self, stream: Any = None, sender: str | None = None):
        self.stream = stream or sys.stderr
        self.sender = sender or f"incidents@{socket.gethostname() or 'localhost'}"

    def send(self, to: list[str], subject: str, body: str) -> str:
        message = build_message(self.sender, to, subject, body)
        lines = [f"[mail {message['Message-ID']}]", f"  From: {message['From']}", f"  To: {message['To']}",
                 f"  Subject: {message['Subject']}", "  |", *("  | " + line for line in body.splitlines())]
        print("\n".join(lines), file=self.stream, flush=True)
        return str(message["Message-ID"])


def mailer_from_url(url: str | None) -> Mailer | ConsoleMailer:
    """SMTP when a URL is given (SMTP_URL), the console otherwise."""
    if url is None or not url.strip():
        return ConsoleMailer()
    return Mailer(url)


def _hang_up(smtp: smtplib.SMTP) -> None:
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()


def _reply(exc: smtplib.SMTPResponseException) -> str:
    text = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
    return f"{exc.smtp_code} {text}"


def _refusals(refused: dict[str, Any]) -> str:
    parts = []
    for address, answer in refused.items():
        code, text = answer if isinstance(answer, tuple) else (None, answer)
        text = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
        parts.append(f"{address} ({code} {text})" if code is not None else f"{address} ({text})")
    return ", ".join(parts)
