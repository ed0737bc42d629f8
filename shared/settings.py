"""Settings from the environment, read when first asked for (never at import).

Secrets only ever come from here (Secret Manager sets them as environment variables in
production); the policy file never holds one.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache


@dataclass(frozen=True)
class Settings:
    project: str
    region: str
    base_url: str
    ingest_token: str | None
    api_token: str | None
    slack_bot_token: str | None
    slack_signing_secret: str | None
    slack_api_url: str | None
    grafana_hmac_secret: str | None
    smtp_url: str | None
    tasks_emulator_host: str | None
    tasks_service_account: str | None
    freshdesk_domain: str | None
    freshdesk_api_key: str | None
    freshdesk_webhook_secret: str | None
    freshchat_public_key: str | None
    plane_api_url: str | None
    plane_api_key: str | None
    max_body_bytes: int
    publish_timeout: float
    alert_expiry_grace: float

    @property
    def local(self) -> bool:
        """True on the emulators: production-only checks (OIDC identity) are skipped.

        INCIDENT_ENV=production forces the production checks even there (tests of those checks).
        """
        if os.environ.get("INCIDENT_ENV") == "production":
            return False
        return bool(os.environ.get("FIRESTORE_EMULATOR_HOST") or self.tasks_emulator_host)

    def function_url(self, function: str) -> str:
        """Where a function is reached: locally all are mounted under one base URL."""
        override = os.environ.get(f"{function.upper().replace('-', '_')}_URL")
        return (override or f"{self.base_url.rstrip('/')}/{function}").rstrip("/")


def _env(name: str) -> str | None:
    value = os.environ.get(name, "").strip()
    return value or None


@cache
def settings() -> Settings:
    return Settings(
        project=_env("GOOGLE_CLOUD_PROJECT") or _env("GCP_PROJECT") or "local-incidents",
        region=_env("FUNCTION_REGION") or _env("REGION") or "asia-south1",
        base_url=_env("PUBLIC_BASE_URL") or f"http://127.0.0.1:{_env('PORT') or '8080'}",
        ingest_token=_env("INGEST_TOKEN"),
        api_token=_env("API_TOKEN"),
        slack_bot_token=_env("SLACK_BOT_TOKEN"),
        slack_signing_secret=_env("SLACK_SIGNING_SECRET"),
        slack_api_url=_env("SLACK_API_URL"),
        grafana_hmac_secret=_env("GRAFANA_HMAC_SECRET"),
        smtp_url=_env("SMTP_URL"),
        tasks_emulator_host=_env("CLOUD_TASKS_EMULATOR_HOST"),
        tasks_service_account=_env("TASKS_SERVICE_ACCOUNT"),
        freshdesk_domain=_env("FRESHDESK_DOMAIN"),
        freshdesk_api_key=_env("FRESHDESK_API_KEY"),
        freshdesk_webhook_secret=_env("FRESHDESK_WEBHOOK_SECRET"),
        freshchat_public_key=_env("FRESHCHAT_PUBLIC_KEY"),
        plane_api_url=_env("PLANE_API_URL"),
        plane_api_key=_env("PLANE_API_KEY"),
        max_body_bytes=int(_env("MAX_BODY_BYTES") or 1_048_576),
        publish_timeout=float(_env("PUBLISH_TIMEOUT_SECONDS") or 10),
        alert_expiry_grace=float(_env("ALERT_EXPIRY_GRACE_SECONDS") or 30),
    )


def reload_settings() -> Settings:
    """For tests and the local stack, after they change the environment."""
    settings.cache_clear()
    return settings()
