output "alert_policies" {
  value = {
    function_errors     = google_monitoring_alert_policy.function_errors.name
    dead_letter_backlog = google_monitoring_alert_policy.dead_letter_backlog.name
    escalation_overdue  = google_monitoring_alert_policy.escalation_overdue.name
  }
}

output "notification_channels" {
  value = local.channels
}
