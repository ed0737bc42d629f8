# The topics between functions, each with a dead-letter topic and a subscription that keeps what
# lands there (7 days) so nothing undeliverable is lost silently: the monitoring module alerts on
# its backlog.
#
# Eventarc creates and owns the push subscription of each topic function, so the dead-letter
# policy is attached to those subscriptions after apply (the root output `dead_letter_setup`
# prints the gcloud commands; infra/README.md explains).

resource "google_pubsub_topic" "topic" {
  #checkov:skip=CKV_GCP_83:Google-managed encryption at rest. Messages are transient (a day at most on the topic) and the same data is in Firestore under Google-managed keys; a customer-managed key would add a dependency whose disabling or loss stops incident paging.
  for_each = toset(var.topics)

  project                    = var.project_id
  name                       = each.key
  labels                     = var.labels
  message_retention_duration = var.topic_retention # lets a fixed function replay the last day (seek)

  message_storage_policy {
    allowed_persistence_regions = [var.region]
  }
}

resource "google_pubsub_topic" "dead_letter" {
  #checkov:skip=CKV_GCP_83:Google-managed encryption at rest. Messages are transient (a day at most on the topic) and the same data is in Firestore under Google-managed keys; a customer-managed key would add a dependency whose disabling or loss stops incident paging.
  for_each = toset(var.topics)

  project = var.project_id
  name    = "${each.key}-dead-letter"
  labels  = var.labels

  message_storage_policy {
    allowed_persistence_regions = [var.region]
  }
}

resource "google_pubsub_subscription" "dead_letter" {
  for_each = toset(var.topics)

  project                    = var.project_id
  name                       = "${each.key}-dead-letter"
  topic                      = google_pubsub_topic.dead_letter[each.key].id
  labels                     = var.labels
  ack_deadline_seconds       = 60
  message_retention_duration = "604800s" # the maximum: time to look at and replay each message

  expiration_policy {
    ttl = "" # never expires, however long nothing arrives
  }
}

# Pub/Sub forwards a message that exhausted its delivery attempts as its own service agent.
resource "google_pubsub_topic_iam_member" "dead_letter_publisher" {
  for_each = toset(var.topics)

  project = var.project_id
  topic   = google_pubsub_topic.dead_letter[each.key].name
  role    = "roles/pubsub.publisher"
  member  = "serviceAccount:${var.pubsub_service_agent_email}"
}

# The functions that publish to each topic (see the root's function_access for why each does).
resource "google_pubsub_topic_iam_member" "publisher" {
  for_each = {
    for pair in flatten([
      for topic, members in var.publishers : [for member in members : { topic = topic, member = member }]
    ]) : "${pair.topic} ${pair.member}" => pair
  }

  project = var.project_id
  topic   = google_pubsub_topic.topic[each.value.topic].name
  role    = "roles/pubsub.publisher"
  member  = each.value.member
}
