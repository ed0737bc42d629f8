"""HTTP to the incident API: URL and token from flags or the environment, errors as exit codes.

A deployed api sits behind Google identity (Cloud Run IAM): the identity token travels in
X-Serverless-Authorization, which Cloud Run checks and strips, so Authorization keeps the API token.
"""

from __future__ import annotations

import json
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

DEFAULT_URL = "http://127.0.0.1:8080/api"

# exit codes
OK, FAILED, USAGE, NOT_FOUND, AUTH, UNREACHABLE, CONFLICT = 0, 1, 2, 3, 4, 5, 6


class CliError(Exception):
    def __init__(self, message: str, code: int = FAILED):
        super().__init__(message)
        self.code = code


class Api:
    def __init__(self, url: str, token: str | None, identity_token: str | None = None, timeout: float = 30):
        self.url = url.rstrip("/")
        self.token = token
        self.identity_token = _identity(identity_token)
        self.timeout = timeout

    def request(self, method: str, path: str, body: Any = None, params: dict[str, Any] | None = None,
                raw: bool = False) -> Any:
        query = {k: v for k, v in (params or {}).items() if v is not None}
        url = f"{self.url}{path}" + (f"?{urllib.parse.urlencode(query)}" if query else "")
        headers = {"Accept": "application/json", "User-Agent": "incidentctl"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        if self.identity_token:
            headers["X-Serverless-Authorization"] = f"Bearer {self.identity_token}"
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(url, data=data, method=method, headers=headers)  # noqa: S310 (user's URL)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                payload = response.read()
        except urllib.error.HTTPError as exc:
            raise _http_error(exc, method, path) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise CliError(f"cannot reach the incident API at {self.url}: {reason}. Is the stack running "
                           "(make run), or set --url / INCIDENT_API_URL.", UNREACHABLE) from None
        if raw:
            return payload.decode()
        return json.loads(payload) if payload else None


def _http_error(exc: urllib.error.HTTPError, method: str, path: str) -> CliError:
    try:
        body = json.loads(exc.read() or b"{}")
    except ValueError:
        body = {}
    detail = body.get("detail") or body.get("error") or exc.reason
    field = f" (field {body['field']})" if body.get("field") else ""
    if exc.code == 401:
        return CliError(f"the API refused the token: {detail}. Set --token or API_TOKEN.", AUTH)
    if exc.code == 403:
        return CliError(f"not allowed: {detail}. Behind Google identity, pass --identity-token.", AUTH)
    if exc.code == 404:
        return CliError(f"{detail}", NOT_FOUND)
    if exc.code == 409:
        return CliError(f"{detail}", CONFLICT)
    if 400 <= exc.code < 500:
        return CliError(f"{method} {path}: {detail}{field}", USAGE)
    return CliError(f"{method} {path} failed with HTTP {exc.code}: {detail}", FAILED)


def _identity(value: str | None) -> str | None:
    """`auto` asks gcloud for an identity token of the signed-in account."""
    if value != "auto":
        return value or None
    try:
        out = subprocess.run(["gcloud", "auth", "print-identity-token"], capture_output=True, text=True,
                             timeout=30, check=True)
    except (OSError, subprocess.SubprocessError) as exc:
        raise CliError(f"could not get an identity token from gcloud: {exc}", AUTH) from None
    return out.stdout.strip()
