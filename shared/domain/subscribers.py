"""Status page subscribers: who may subscribe to what, and the tokens in their links. Pure.

An email subscriber is confirmed by the link mailed to them (double opt-in); a webhook is active at
once. A subscriber's id comes from its kind and address, so subscribing twice never makes two; the
token in confirmation and unsubscribe links is `<id>.<random secret>`, compared in constant time.
"""

from __future__ import annotations

import hmac
import re
from datetime import datetime, timedelta
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel

from shared.config.policy import StatusPage
from shared.domain.model import stable_hash

EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                   r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$")
TOKEN = re.compile(r"^(?P<id>[0-9a-f]{24})\.(?P<secret>[A-Za-z0-9_-]{20,100})$")
RESEND_AFTER = timedelta(minutes=1)


class Invalid(ValueError):
    def __init__(self, message: str, field: str):
        super().__init__(message)
        self.field = field


class Request(BaseModel):
    kind: Literal["email", "webhook"]
    address: str
    components: list[str]


def validate(page: StatusPage, email: str | None, webhook: str | None, components: list[str],
             allow_http: bool) -> Request:
    """One of email or webhook, well formed; components the page knows (none means all of them)."""
    email, webhook = (email or "").strip(), (webhook or "").strip()
    if bool(email) == bool(webhook):
        raise Invalid("give either an email address or a webhook URL", "email" if not email else "webhook")
    known = [c.id for c in page.components]
    chosen = list(dict.fromkeys(c.strip() for c in components if c.strip()))
    unknown = [c for c in chosen if c not in known]
    if unknown:
        raise Invalid(f"unknown component {unknown[0][:60]!r}; known: {', '.join(known)}", "components")
    if email:
        if len(email) > 254 or not EMAIL.match(email):
            raise Invalid("that is not an email address", "email")
        local, _, domain = email.rpartition("@")
        return Request(kind="email", address=f"{local}@{domain.lower()}", components=chosen)
    if len(webhook) > 2000:
        raise Invalid("the webhook URL is longer than 2000 characters", "webhook")
    parts = urlsplit(webhook)
    schemes = ("https", "http") if allow_http else ("https",)
    if parts.scheme not in schemes or not parts.hostname:
        raise Invalid(f"the webhook URL must be an absolute {' or '.join(schemes)} URL", "webhook")
    if parts.username or parts.password:
        raise Invalid("the webhook URL may not carry credentials", "webhook")
    if not allow_http and (parts.hostname == "localhost" or _is_ip_literal_internal(parts.hostname)):
        raise Invalid("the webhook URL may not point at an internal address", "webhook")
    return Request(kind="webhook", address=webhook, components=chosen)


def _is_ip_literal_internal(host: str) -> bool:
    import ipaddress

    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False
    return ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_reserved


def subscriber_id(kind: str, address: str) -> str:
    return stable_hash("status-subscriber", kind, address.lower(), length=24)


def token(sub_id: str, secret: str) -> str:
    return f"{sub_id}.{secret}"


def parse_token(value: str | None) -> tuple[str, str]:
    match = TOKEN.match((value or "").strip())
    if not match:
        raise Invalid("the link is not valid (its token is missing or malformed)", "token")
    return match["id"], match["secret"]


def secret_matches(stored: str | None, given: str) -> bool:
    return bool(stored) and hmac.compare_digest(stored.encode(), given.encode())


def wants(subscriber_components: list[str], update_components: list[str]) -> bool:
    """A subscriber with no chosen components hears about everything."""
    return not subscriber_components or bool(set(subscriber_components) & set(update_components)) \
        or not update_components


def may_resend(last_sent: datetime | None, now: datetime) -> bool:
    return last_sent is None or now - last_sent >= RESEND_AFTER
