# Alerting on the incident system itself: it must not fail silently while it is the thing that
# tells people about failures. Three policies:
#   - function errors: any log line at ERROR or above from a function (5xx answers, crashes);
#   - dead-letter backlog: messages a function could not process after every retry;
#   - escalation overdue: the reconciler found an escalation step, event or page whose timer or
#     message was lost ("reconciler caught up" from the tasks function) and did it late.

locals {
  channels = concat(var.notification_channels, google_monitoring_notification_channel.email[*].name)
  services = join(" OR ", [for name in var.function_names : "\"${name}\""])
}

resource "google_monitoring_notification_channel" "email" {
  count = var.alert_email == "" ? 0 : 1

  project      = var.project_id
  display_name = "Incident system alerts (${var.alert_email})"
  type         = "email"
  labels       = { email_address = var.alert_email }
}

resource "google_logging_metric" "function_errors" {
  project = var.project_id
  name    = "incident_function_errors"
  filter  = <<-EOT
    resource.type="cloud_run_revision"
    resource.labels.service_name=(${local.services})
    severity>=ERROR
  EOT

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"
    labels {
      key         = "service_name"
      value_type  = "STRING"
      description = "The function that logged the error."
    }
  }
  label_extractors = { service_name = "EXTRACT(resource.labels.service_name)" }
}

resource "google_logging_metric" "reconciler_caught_up" {
  project = var.project_id
  name    = "incident_reconciler_caught_up"
  filter  = <<-EOT
    resource.type="cloud_run_revision"
    resource.labels.service_name="${var.reconciler_function}"
    jsonPayload.message="reconciler caught up"
  EOT

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"
  }
}

resource "google_monitoring_alert_policy" "function_errors" {
  project               = var.project_id
  display_name          = "Incident system: function errors"
  combiner              = "OR"
  severity              = "ERROR"
  notification_channels = local.channels

  conditions {
    display_name = "Log lines at ERROR or above, per function"
    condition_threshold {
      filter          = "resource.type = \"cloud_run_revision\" AND metric.type = \"logging.googleapis.com/user/${google_logging_metric.function_errors.name}\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"
      aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["metric.label.service_name"]
      }
      trigger {
        count = 1
      }
    }
  }

  alert_strategy {
    auto_close = "86400s"
  }

  documentation {
    mime_type = "text/markdown"
    content   = "A function of the incident system logged an error. Open Logs Explorer with `resource.type=\"cloud_run_revision\" severity>=ERROR` and the function named in the alert. 5xx answers make senders retry (nothing is lost); a crash loop or a persistent publish failure needs a person."
  }
}

resource "google_monitoring_alert_policy" "dead_letter_backlog" {
  project               = var.project_id
  display_name          = "Incident system: dead-lettered messages"
  combiner              = "OR"
  severity              = "CRITICAL"
  notification_channels = local.channels

  conditions {
    display_name = "Undelivered messages on a dead-letter subscription"
    condition_threshold {
      filter          = "resource.type = \"pubsub_subscription\" AND metric.type = \"pubsub.googleapis.com/subscription/num_undelivered_messages\" AND resource.label.subscription_id = one_of(${join(", ", [for s in var.dead_letter_subscriptions : "\"${s}\""])})"
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "60s"
      aggregations {
        alignment_period     = "60s"
        per_series_aligner   = "ALIGN_MAX"
        cross_series_reducer = "REDUCE_MAX"
        group_by_fields      = ["resource.label.subscription_id"]
      }
      trigger {
        count = 1
      }
    }
  }

  alert_strategy {
    auto_close = "86400s"
  }

  documentation {
    mime_type = "text/markdown"
    content   = "A function failed a message on every delivery attempt and Pub/Sub moved it to the dead-letter topic: an alert, incident event or Slack command was not processed. Pull it from the subscription named in the alert (`gcloud pubsub subscriptions pull SUB --limit 10`), fix the cause, then republish it to the original topic."
  }
}

resource "google_monitoring_alert_policy" "escalation_overdue" {
  project               = var.project_id
  display_name          = "Incident system: escalation work was overdue"
  combiner              = "OR"
  severity              = "WARNING"
  notification_channels = local.channels

  conditions {
    display_name = "Reconciler caught up lost work"
    condition_threshold {
      filter          = "resource.type = \"cloud_run_revision\" AND metric.type = \"logging.googleapis.com/user/${google_logging_metric.reconciler_caught_up.name}\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"
      aggregations {
        alignment_period     = "600s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
      }
      trigger {
        count = 1
      }
    }
  }

  alert_strategy {
    auto_close = "86400s"
  }

  documentation {
    mime_type = "text/markdown"
    content   = "The reconciler (Cloud Scheduler, every 5 minutes) found escalation steps past due, unpublished incident events or unsent pages, and did them late: a Cloud Task or Pub/Sub message was lost or failed. Look at the tasks function's logs around the alert (`jsonPayload.message=\"reconciler caught up\"` has the counts) and at the incident-timers queue."
  }
}
