output "name" {
  value = google_cloudfunctions2_function.this.name
}

output "uri" {
  description = "The URL Cloud Run reports for the function's service."
  value       = google_cloudfunctions2_function.this.service_config[0].uri
}

output "eventarc_trigger" {
  description = "projects/<p>/locations/<r>/triggers/<t> for a topic function, else null."
  value       = var.trigger == "topic" ? google_cloudfunctions2_function.this.event_trigger[0].trigger : null
}
