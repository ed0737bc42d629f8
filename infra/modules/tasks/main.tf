# Cloud Tasks queues for timers (escalation steps, alert expiries, CERT-In deadlines). Each task
# calls the tasks function with an OIDC token; the callback re-reads state, so a retried or
# duplicated task does nothing twice, and the reconciler finds any task that was lost for good.

resource "google_cloud_tasks_queue" "this" {
  for_each = var.queues

  project  = var.project_id
  location = var.region
  name     = each.key

  rate_limits {
    max_dispatches_per_second = each.value.max_dispatches_per_second
    max_concurrent_dispatches = each.value.max_concurrent_dispatches
  }

  retry_config {
    max_attempts       = each.value.max_attempts
    max_retry_duration = each.value.max_retry_duration
    min_backoff        = each.value.min_backoff
    max_backoff        = each.value.max_backoff
    max_doublings      = each.value.max_doublings
  }

  stackdriver_logging_config {
    sampling_ratio = each.value.log_sampling_ratio
  }
}

# Functions that set timers create tasks in the queue (roles/cloudtasks.enqueuer on this queue only).
resource "google_cloud_tasks_queue_iam_member" "enqueuer" {
  for_each = {
    for pair in flatten([
      for queue in keys(var.queues) : [for member in var.enqueuers : { queue = queue, member = member }]
    ]) : "${pair.queue} ${pair.member}" => pair
  }

  project  = var.project_id
  location = var.region
  name     = google_cloud_tasks_queue.this[each.value.queue].name
  role     = "roles/cloudtasks.enqueuer"
  member   = each.value.member
}
