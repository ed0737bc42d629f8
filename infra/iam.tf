# Identities. Every function runs as its own service account with only what it needs; the roles
# on topics, the queue and secrets are granted on those resources (modules pubsub, tasks, secrets),
# the rest here. Each grant says why.

data "google_project" "this" {
  project_id = var.project_id
}

# Pub/Sub's service agent (created on first use otherwise): it forwards dead letters and signs
# Eventarc's push requests.
resource "google_project_service_identity" "pubsub" {
  provider = google-beta
  project  = var.project_id
  service  = "pubsub.googleapis.com"
}

resource "google_service_account" "function" {
  for_each = local.functions

  project      = var.project_id
  account_id   = "fn-${each.key}"
  display_name = "Incident function ${each.key}"
  description  = "Runtime identity of the ${each.key} function."
}

# The identity Cloud Tasks and Cloud Scheduler call the tasks function with (OIDC). The tasks
# function accepts only this identity (TASKS_SERVICE_ACCOUNT).
resource "google_service_account" "tasks_invoker" {
  project      = var.project_id
  account_id   = "incident-tasks-invoker"
  display_name = "Incident timers and reconciler"
  description  = "OIDC identity of Cloud Tasks timers and the Cloud Scheduler reconciler calling the tasks function."
}

# The identity Eventarc pushes Pub/Sub messages to the topic functions with.
resource "google_service_account" "events_invoker" {
  project      = var.project_id
  account_id   = "incident-events-invoker"
  display_name = "Incident Eventarc triggers"
  description  = "Identity of the Eventarc triggers that deliver Pub/Sub messages to the topic functions."
}

# The identity Cloud Build builds the functions' images with (instead of a default account).
resource "google_service_account" "build" {
  project      = var.project_id
  account_id   = "incident-functions-build"
  display_name = "Incident functions build"
  description  = "Cloud Build identity that builds the functions from the source archive."
}

# Firestore has no finer-grained grant than the project's database: datastore.user reads and
# writes documents (no admin, no index or database changes). Only functions that keep state.
resource "google_project_iam_member" "firestore" {
  for_each = toset([for name, access in local.function_access : name if access.firestore])

  project = var.project_id
  role    = "roles/datastore.user"
  member  = "serviceAccount:${google_service_account.function[each.key].email}"
}

# Creating a Cloud Task that carries an OIDC token of another identity needs actAs on that
# identity: functions that set timers may act as the tasks invoker, and as nothing else.
resource "google_service_account_iam_member" "enqueuers_act_as_tasks_invoker" {
  for_each = toset([for name, access in local.function_access : name if access.enqueues])

  service_account_id = google_service_account.tasks_invoker.name
  role               = "roles/iam.serviceAccountUser"
  member             = "serviceAccount:${google_service_account.function[each.key].email}"
}

# Eventarc requires its triggers' identity to hold eventReceiver (receive events; nothing else).
resource "google_project_iam_member" "events_receiver" {
  project = var.project_id
  role    = "roles/eventarc.eventReceiver"
  member  = "serviceAccount:${google_service_account.events_invoker.email}"
}

# Pub/Sub's service agent mints the OIDC tokens of Eventarc's push requests as the events invoker.
resource "google_service_account_iam_member" "pubsub_signs_as_events_invoker" {
  service_account_id = google_service_account.events_invoker.name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = "serviceAccount:${google_project_service_identity.pubsub.email}"
}

# The build identity: build logs, and pushing the built images to Artifact Registry (the
# gcf-artifacts repository Cloud Functions creates on first deploy, so project level).
resource "google_project_iam_member" "build" {
  for_each = toset(["roles/logging.logWriter", "roles/artifactregistry.writer"])

  project = var.project_id
  role    = each.key
  member  = "serviceAccount:${google_service_account.build.email}"
}

# ... and reading the source archives (that bucket only).
resource "google_storage_bucket_iam_member" "build_source" {
  bucket = var.source_bucket
  role   = "roles/storage.objectViewer"
  member = "serviceAccount:${google_service_account.build.email}"
}
