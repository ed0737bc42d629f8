"""Create the topics, push subscriptions and queues that production has (shared.topology)."""

from __future__ import annotations

import contextlib

from google.api_core import exceptions as gexc

from shared import topology


def create_all(project: str, region: str, push_base_url: str) -> None:
    create_topics_and_subscriptions(project, push_base_url)
    create_queues(project, region)


def create_topics_and_subscriptions(project: str, push_base_url: str) -> None:
    """Push subscriptions deliver to the function's URL exactly as Eventarc would (raw push -> CloudEvent)."""
    from google.cloud import pubsub_v1

    publisher = pubsub_v1.PublisherClient()
    subscriber = pubsub_v1.SubscriberClient()
    for topic in topology.TOPICS:
        with contextlib.suppress(gexc.AlreadyExists):
            publisher.create_topic(name=publisher.topic_path(project, topic))
    for fn in topology.FUNCTIONS:
        if fn.trigger != "topic":
            continue
        endpoint = f"{push_base_url.rstrip('/')}/{fn.name}/projects/{project}/topics/{fn.topic}"
        path = subscriber.subscription_path(project, topology.subscription_name(fn))
        request = {
            "name": path,
            "topic": publisher.topic_path(project, fn.topic),
            "push_config": {"push_endpoint": endpoint},
            "ack_deadline_seconds": 60,
            "retry_policy": {"minimum_backoff": {"seconds": 1}, "maximum_backoff": {"seconds": 60}},
        }
        try:
            subscriber.create_subscription(request=request)
        except gexc.AlreadyExists:
            subscriber.modify_push_config(request={"subscription": path, "push_config": {"push_endpoint": endpoint}})
    subscriber.close()


def create_queues(project: str, region: str) -> None:
    from shared import bootstrap

    scheduler = bootstrap.scheduler()
    client = scheduler.client
    parent = f"projects/{project}/locations/{region}"
    existing = {q.name for q in client.list_queues(parent=parent)}
    for queue in topology.QUEUES:
        name = scheduler.queue_path(queue)
        if name not in existing:
            with contextlib.suppress(gexc.AlreadyExists):
                client.create_queue(parent=parent, queue={"name": name})
