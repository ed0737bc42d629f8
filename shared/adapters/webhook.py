"""Webhook notifications to status page subscribers: a JSON POST, standard library only.

Retries connection failures and 5xx/429 a few times with backoff; any other answer is final. In
production a webhook may not point inside our network (loopback, private, link-local addresses are
refused after resolving the host), so a subscriber cannot make us call internal services.
"""

from __future__ import annotations

import ipaddress
import json
import socket
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit

import tenacity

from shared.log import get_logger

log = get_logger("webhook")
TIMEOUT_SECONDS = 5.0


class WebhookError(RuntimeError):
    def __init__(self, message: str, retryable: bool):
        super().__init__(message)
        self.retryable = retryable


def internal_address(host: str) -> bool:
    """True when the host resolves to an address a public webhook must not reach."""
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False
    for info in infos:
        ip = ipaddress.ip_address(info[4][0])
        if ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_reserved or ip.is_multicast:
            return True
    return False


class WebhookSender:
    def __init__(self, allow_internal: bool, user_agent: str = "incident-status-page/1"):
        self.allow_internal = allow_internal
        self.user_agent = user_agent

    def post(self, url: str, body: dict[str, Any]) -> int:
        host = urlsplit(url).hostname or ""
        if not self.allow_internal and internal_address(host):
            raise WebhookError(f"{host} resolves to an internal address", retryable=False)
        return self._post(url, json.dumps(body, default=str).encode())

    @tenacity.retry(retry=tenacity.retry_if_exception(lambda e: isinstance(e, WebhookError) and e.retryable),
                    wait=tenacity.wait_exponential(multiplier=0.2, max=2), stop=tenacity.stop_after_attempt(3),
                    reraise=True)
    def _post(self, url: str, data: bytes) -> int:
        request = urllib.request.Request(url, data=data, method="POST", headers={  # noqa: S310 (http(s) checked)
            "Content-Type": "application/json", "User-Agent": self.user_agent})
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
                return response.status
        except urllib.error.HTTPError as exc:
            raise WebhookError(f"{url} answered {exc.code}", retryable=exc.code >= 500 or exc.code == 429) from None
        except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
            raise WebhookError(f"{url} unreachable: {exc}", retryable=True) from None
