"""The one place where real clients are built: lazily, once per instance, never at import.

A function pays the import cost only of the clients it uses (Firestore alone is ~0.45 s of a
cold start), so every import of a Google or Slack library happens inside these builders.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import wraps
from typing import TYPE_CHECKING, TypeVar

from shared.settings import settings

T = TypeVar("T")
_building = threading.RLock()


def cache(builder: Callable[[], T]) -> Callable[[], T]:
    """Build once per instance, even when the first requests arrive together on several threads
    (two clients would mean two sets of in-process locks, and contended transactions)."""
    built: list[T] = []

    @wraps(builder)
    def get() -> T:
        if not built:
            with _building:
                if not built:
                    built.append(builder())
        return built[0]

    get.cache_clear = built.clear  # type: ignore[attr-defined]
    return get


if TYPE_CHECKING:
    from shared.adapters.cloud_tasks import CloudTasksScheduler
    from shared.adapters.firestore_store import FirestoreStore
    from shared.adapters.freshdesk import FreshdeskClient
    from shared.adapters.plane import PlaneClient
    from shared.adapters.pubsub_publisher import PubSubPublisher
    from shared.domain.ports import Chat


@cache
def store() -> FirestoreStore:
    from google.cloud import firestore

    from shared.adapters.firestore_store import FirestoreStore

    return FirestoreStore(firestore.Client(project=settings().project))


@cache
def publisher() -> PubSubPublisher:
    from google.cloud import pubsub_v1

    from shared.adapters.pubsub_publisher import PubSubPublisher

    batch = pubsub_v1.types.BatchSettings(max_latency=0.005, max_messages=100)
    return PubSubPublisher(pubsub_v1.PublisherClient(batch_settings=batch), settings().project,
                           settings().publish_timeout)


@cache
def scheduler() -> CloudTasksScheduler:
    from google.cloud import tasks_v2

    from shared.adapters.cloud_tasks import CloudTasksScheduler

    cfg = settings()
    if cfg.tasks_emulator_host:
        import grpc
        from google.cloud.tasks_v2.services.cloud_tasks.transports import CloudTasksGrpcTransport

        channel = grpc.insecure_channel(cfg.tasks_emulator_host)
        client = tasks_v2.CloudTasksClient(transport=CloudTasksGrpcTransport(channel=channel))
    else:
        client = tasks_v2.CloudTasksClient()
    return CloudTasksScheduler(client, cfg.project, cfg.region, cfg.tasks_service_account)


@cache
def chat() -> Chat:
    cfg = settings()
    if not cfg.slack_bot_token:
        from shared.adapters.slack_chat import ConsoleChat

        return ConsoleChat()
    from shared.adapters.slack_chat import SlackChat, slack_client

    return SlackChat(slack_client(cfg.slack_bot_token, cfg.slack_api_url))


@cache
def mailer():
    from shared.adapters.smtp_mail import mailer_from_url

    return mailer_from_url(settings().smtp_url)


@cache
def ticketing() -> FreshdeskClient | None:
    """None when FRESHDESK_DOMAIN or FRESHDESK_API_KEY is not set: incidents go on, tickets wait."""
    cfg = settings()
    if not (cfg.freshdesk_domain and cfg.freshdesk_api_key):
        return None
    from shared.adapters.freshdesk import FreshdeskClient

    return FreshdeskClient(cfg.freshdesk_domain, cfg.freshdesk_api_key)


@cache
def tracker() -> PlaneClient | None:
    """None when PLANE_API_URL or PLANE_API_KEY is not set: follow-ups are kept, work items wait."""
    cfg = settings()
    if not (cfg.plane_api_url and cfg.plane_api_key):
        return None
    from shared.adapters.plane import PlaneClient

    return PlaneClient(cfg.plane_api_url, cfg.plane_api_key)


@cache
def webhooks():
    """Status page webhook notifications; internal addresses are allowed only on the emulators."""
    from shared.adapters.webhook import WebhookSender

    return WebhookSender(allow_internal=settings().local)


def reset() -> None:
    """Forget built clients (tests that change the environment)."""
    for builder in (store, publisher, scheduler, chat, mailer, ticketing, tracker, webhooks, resolution_store):
        builder.cache_clear()


@cache
def resolution_store():
    """RCAs, review and metrics queries; shares the incident store's Firestore client."""
    from shared.adapters.firestore_resolution import ResolutionStore

    return ResolutionStore(store().db)
