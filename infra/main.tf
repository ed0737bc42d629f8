# Incident management on Cloud Functions (2nd gen), Firestore, Pub/Sub, Cloud Tasks and Cloud
# Scheduler. The functions are in functions.tf, identities in iam.tf; infra/README.md deploys it.

locals {
  # shared/topology.py TOPICS; the queues are in module "tasks" below.
  topics = ["alerts", "incident-events", "commands"]
}

module "secrets" {
  source = "./modules/secrets"

  project_id = var.project_id
  region     = var.region
  secret_ids = local.secrets
  labels     = local.labels
  accessors = {
    for s in local.secrets : s => [
      for name, wired in local.wired_secrets : "serviceAccount:${google_service_account.function[name].email}"
      if contains(wired, s)
    ]
  }
}

module "pubsub" {
  source = "./modules/pubsub"

  project_id                 = var.project_id
  region                     = var.region
  topics                     = local.topics
  pubsub_service_agent_email = google_project_service_identity.pubsub.email
  labels                     = local.labels
  publishers = {
    for topic in local.topics : topic => [
      for name, access in local.function_access : "serviceAccount:${google_service_account.function[name].email}"
      if contains(access.publishes, topic)
    ]
  }
}

module "tasks" {
  source = "./modules/tasks"

  project_id = var.project_id
  region     = var.region
  queues = {
    # Escalation steps, alert expiries and CERT-In deadlines. Retried with backoff for a day;
    # past that the reconciler (every 5 minutes) has long caught the step up.
    incident-timers = {
      max_dispatches_per_second = 50
      max_concurrent_dispatches = 100
      max_attempts              = -1 # unlimited within max_retry_duration
      max_retry_duration        = "86400s"
      min_backoff               = "5s"
      max_backoff               = "300s"
      max_doublings             = 5
      log_sampling_ratio        = 1.0 # every attempt logged: timers are few and each one matters
    }
  }
  enqueuers = [
    for name, access in local.function_access : "serviceAccount:${google_service_account.function[name].email}"
    if access.enqueues
  ]
}

module "scheduler" {
  source = "./modules/scheduler"

  project_id = var.project_id
  region     = var.region
  jobs = {
    # The reconciler: overdue escalation steps, unpublished events and unsent pages whose timer or
    # message was lost. POST <tasks URL>/reconcile with an OIDC token of the tasks invoker.
    incident-reconcile = {
      description           = "Catches up escalation work whose timer or message was lost."
      schedule              = var.reconcile_schedule
      uri                   = "${local.function_urls["tasks"]}/reconcile"
      body                  = "{}"
      service_account_email = google_service_account.tasks_invoker.email
      attempt_deadline      = "320s" # the tasks function's timeout, and some
      retry_count           = 1      # the next run is 5 minutes away
    }
    # The weekly digest: last week's metrics and a chart of incidents and MTTA/MTTR per week, to Slack.
    # Posted once per ISO week however often the job is retried (claim digest:<year>-W<week>).
    incident-digest = {
      description           = "Posts the weekly incident metrics digest to Slack."
      schedule              = var.digest_schedule
      uri                   = "${local.function_urls["tasks"]}/digest"
      body                  = "{}"
      service_account_email = google_service_account.tasks_invoker.email
      attempt_deadline      = "320s"
      retry_count           = 3
    }
  }
  depends_on = [module.functions]
}

module "monitoring" {
  source = "./modules/monitoring"

  project_id                = var.project_id
  function_names            = keys(local.functions)
  reconciler_function       = "tasks"
  dead_letter_subscriptions = values(module.pubsub.dead_letter_subscriptions)
  alert_email               = var.alert_email
  notification_channels     = var.notification_channels
}
