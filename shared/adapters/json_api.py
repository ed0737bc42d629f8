"""A small JSON-over-HTTPS client for SaaS APIs (Freshdesk, Plane): timeouts, retries, honest errors.

Transient failures (connection errors, 5xx, 429) are retried a few times with tenacity; a 429 waits the
Retry-After the server asked for, unless that is longer than `max_wait`, in which case the caller gets
`Unavailable(retry_after)` at once and schedules its own retry (a Cloud Function must not sleep a minute).
Other 4xx answers are `Rejected`: retrying would be refused again.
"""

from __future__ import annotations

import json
from typing import Any

import requests
import tenacity

from shared.log import get_logger

log = get_logger("json_api")


class ApiError(Exception):
    def __init__(self, service: str, message: str, status: int | None = None):
        super().__init__(f"{service}: {message}")
        self.service, self.status = service, status


class Unavailable(ApiError):
    """Down, overloaded or rate limited: try again later (after `retry_after` seconds when known)."""

    def __init__(self, service: str, message: str, status: int | None = None, retry_after: float | None = None):
        super().__init__(service, message, status)
        self.retry_after = retry_after


class Rejected(ApiError):
    """The API refused the request (4xx): a bug or a configuration problem, not a passing outage."""

    def __init__(self, service: str, message: str, status: int, body: Any = None):
        super().__init__(service, message, status)
        self.body = body


class JsonApi:
    service = "api"

    def __init__(self, base_url: str, headers: dict[str, str], *, timeout: float = 10.0, attempts: int = 4,
                 max_wait: float = 10.0, backoff: float = 0.5, session: requests.Session | None = None):
        self.base_url = base_url.rstrip("/")
        self.session = session or requests.Session()
        self.session.headers.update({"Accept": "application/json", **headers})
        self.timeout, self.attempts, self.max_wait, self.backoff = timeout, attempts, max_wait, backoff

    def request(self, method: str, path: str, body: Any = None, params: dict[str, Any] | None = None,
                ok: tuple[int, ...] = (200, 201)) -> requests.Response:
        """The response for a status in `ok` (callers may list 409 and the like); otherwise an ApiError."""
        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception(self._worth_retrying),
            stop=tenacity.stop_after_attempt(self.attempts),
            wait=self._wait, reraise=True)
        return retrying(self._once, method, path, body, params, ok)

    def _once(self, method: str, path: str, body: Any, params: dict[str, Any] | None,
              ok: tuple[int, ...]) -> requests.Response:
        url = f"{self.base_url}{path}"
        try:
            response = self.session.request(method, url, params=params, timeout=self.timeout,
                                            data=None if body is None else json.dumps(body),
                                            headers={"Content-Type": "application/json"} if body is not None else None)
        except requests.RequestException as exc:
            raise Unavailable(self.service, f"{method} {path}: {type(exc).__name__}: {exc}") from exc
        if response.status_code in ok:
            return response
        detail = response.text[:500]
        if response.status_code == 429:
            raise Unavailable(self.service, f"{method} {path}: rate limited", 429,
                              _retry_after(response.headers.get("Retry-After")))
        if response.status_code >= 500 or response.status_code == 408:
            raise Unavailable(self.service, f"{method} {path}: HTTP {response.status_code} {detail}",
                              response.status_code, _retry_after(response.headers.get("Retry-After")))
        try:
            parsed = response.json()
        except ValueError:
            parsed = detail
        raise Rejected(self.service, f"{method} {path}: HTTP {response.status_code} {detail}", response.status_code,
                       parsed)

    def _worth_retrying(self, exc: BaseException) -> bool:
        if not isinstance(exc, Unavailable):
            return False
        return exc.retry_after is None or exc.retry_after <= self.max_wait

    def _wait(self, state: tenacity.RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, Unavailable) and exc.retry_after is not None:
            log.warning("rate limited, waiting", extra={"service": self.service, "seconds": exc.retry_after})
            return exc.retry_after
        return min(self.backoff * 2 ** (state.attempt_number - 1), self.max_wait)


def _retry_after(value: str | None) -> float | None:
    """Seconds (both Freshdesk and Plane send a number); an HTTP date is treated as one minute."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return 60.0
