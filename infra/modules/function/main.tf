# One Cloud Function (2nd gen) built from the shared source archive, and who may invoke it.
#
# HTTP functions answer on their own URL; topic functions get an Eventarc trigger on their Pub/Sub
# topic and are retried until they succeed (handlers are idempotent; undecodable messages are
# acknowledged by the code, so only real failures are retried).

resource "google_cloudfunctions2_function" "this" {
  #checkov:skip=CKV_GCP_124:HTTP functions take requests from outside Google Cloud (monitoring webhooks, Slack, API users) and from Cloud Tasks/Scheduler; internal-only ingress would need a load balancer in front. Topic functions are internal-only, and each HTTP function authenticates every request (IAM OIDC, or token/signature in code for the public ones).
  project     = var.project_id
  location    = var.region
  name        = var.name
  description = var.description
  labels      = merge(var.labels, { function = var.name })

  build_config {
    runtime         = "python311"
    entry_point     = var.entry_point
    service_account = var.build_service_account_id

    source {
      storage_source {
        bucket = var.source_bucket
        object = var.source_object
      }
    }
  }

  service_config {
    service_account_email            = var.service_account_email
    available_memory                 = var.memory
    available_cpu                    = var.cpu
    timeout_seconds                  = var.timeout_seconds
    min_instance_count               = var.min_instances
    max_instance_count               = var.max_instances
    max_instance_request_concurrency = var.concurrency
    all_traffic_on_latest_revision   = true
    # Eventarc's Pub/Sub pushes from this project count as internal traffic: topic functions take
    # nothing else. HTTP functions are reached from outside (webhooks, Slack, Cloud Tasks, people).
    ingress_settings      = var.trigger == "topic" ? "ALLOW_INTERNAL_ONLY" : "ALLOW_ALL"
    environment_variables = var.environment

    dynamic "secret_environment_variables" {
      for_each = var.secrets
      content {
        key        = secret_environment_variables.key
        project_id = var.project_number # the form the API prefers for secret references
        secret     = secret_environment_variables.value
        version    = "latest"
      }
    }
  }

  dynamic "event_trigger" {
    for_each = var.trigger == "topic" ? [var.topic_id] : []
    content {
      trigger_region        = var.region
      event_type            = "google.cloud.pubsub.topic.v1.messagePublished"
      pubsub_topic          = event_trigger.value
      retry_policy          = "RETRY_POLICY_RETRY"
      service_account_email = var.event_trigger_service_account_email
    }
  }

  lifecycle {
    precondition {
      condition     = var.trigger == "http" || (var.topic_id != null && var.event_trigger_service_account_email != null)
      error_message = "A topic function needs topic_id and event_trigger_service_account_email."
    }
  }
}

# Public functions check their own credentials (bearer token, Slack signature): the platform lets
# anyone reach them. Only shared/topology.py's public functions set var.public.
resource "google_cloud_run_service_iam_member" "public" {
  #checkov:skip=CKV_GCP_102:Only for shared/topology.py's public functions (ingest, slack): monitoring tools and Slack cannot present a Google identity, so the code checks a bearer token, Grafana HMAC or Slack signature on every request (401 otherwise).
  count = var.public ? 1 : 0

  project  = var.project_id
  location = var.region
  service  = google_cloudfunctions2_function.this.name
  role     = "roles/run.invoker"
  member   = "allUsers"
}

# Everyone else is named: the Cloud Tasks/Scheduler identity, the Eventarc trigger identity, API users.
resource "google_cloud_run_service_iam_member" "invoker" {
  for_each = toset(var.invokers)

  project  = var.project_id
  location = var.region
  service  = google_cloudfunctions2_function.this.name
  role     = "roles/run.invoker"
  member   = each.value
}
