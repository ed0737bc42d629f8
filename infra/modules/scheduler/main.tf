# Cloud Scheduler jobs: HTTP POSTs with an OIDC token of a named service account.

resource "google_cloud_scheduler_job" "this" {
  for_each = var.jobs

  project          = var.project_id
  region           = var.region
  name             = each.key
  description      = each.value.description
  schedule         = each.value.schedule
  time_zone        = var.time_zone
  attempt_deadline = each.value.attempt_deadline

  retry_config {
    retry_count          = each.value.retry_count
    min_backoff_duration = "10s"
    max_backoff_duration = "60s"
  }

  http_target {
    http_method = "POST"
    uri         = each.value.uri
    body        = base64encode(each.value.body)
    headers     = { "Content-Type" = "application/json" }

    oidc_token {
      service_account_email = each.value.service_account_email
      audience              = each.value.uri # what functions/tasks.py expects: function URL + path
    }
  }
}
