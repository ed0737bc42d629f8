output "function_urls" {
  description = "Each function's URL (Cloud Run's deterministic URL, the one the functions are configured with)."
  value       = local.function_urls
}

output "function_uris_reported" {
  description = "The URL Cloud Run reports for each function (another name for the same service)."
  value       = { for name, fn in module.functions : name => fn.uri }
}

output "webhook_urls" {
  description = "Paste into the monitoring tools; each needs the INGEST_TOKEN (see infra/README.md)."
  value = {
    grafana              = "${local.function_urls["ingest"]}/grafana"
    alertmanager         = "${local.function_urls["ingest"]}/alertmanager"
    vmalert_notifier_url = "${local.function_urls["ingest"]}/alertmanager" # it posts to <url>/api/v2/alerts
    uptime_kuma          = "${local.function_urls["ingest"]}/uptime-kuma"
    otel_endpoint        = "${local.function_urls["ingest"]}/otel" # otlphttp `endpoint`; it posts to /v1/logs
    otel_logs            = "${local.function_urls["ingest"]}/otel/v1/logs"
    generic              = "${local.function_urls["ingest"]}/generic"
  }
}

output "slack_urls" {
  description = "The Slack app's Interactivity request URL, the /incident slash command URL and the Events API request URL."
  value = {
    interactivity_request_url = "${local.function_urls["slack"]}/interactions"
    slash_command_url         = "${local.function_urls["slack"]}/commands"
    events_request_url        = "${local.function_urls["slack"]}/events"
  }
}

output "partner_webhook_urls" {
  description = "Freshdesk automation rule webhook (send FRESHDESK_WEBHOOK_SECRET as X-Webhook-Token) and Freshchat webhook URLs."
  value = {
    freshdesk = "${local.function_urls["partners"]}/freshdesk"
    freshchat = "${local.function_urls["partners"]}/freshchat"
  }
}

output "api_urls" {
  description = "The REST API (callers need roles/run.invoker via api_invokers and the API_TOKEN)."
  value = {
    incidents = "${local.function_urls["api"]}/incidents"
    openapi   = "${local.function_urls["api"]}/openapi.json"
  }
}

output "source_archive" {
  description = "The archive deployed now: note it before deploying another, to roll back to it."
  value       = "gs://${var.source_bucket}/${var.source_archive}"
}

output "service_accounts" {
  description = "Each function's runtime identity, and the invoker identities."
  value = merge(
    { for name, sa in google_service_account.function : name => sa.email },
    {
      tasks_invoker  = google_service_account.tasks_invoker.email
      events_invoker = google_service_account.events_invoker.email
      build          = google_service_account.build.email
    },
  )
}

output "secrets_to_set" {
  description = "Secrets that need a value (gcloud secrets versions add NAME --data-file=-) before the functions deploy."
  value       = concat(local.required_secrets, tolist(var.optional_secrets))
}

output "dead_letter_setup" {
  description = "Run once after each apply that creates or changes a topic function's trigger: attaches the dead-letter topic to the Eventarc subscriptions (Eventarc owns them, Terraform cannot)."
  value = join("\n", flatten([
    for name, fn in local.functions : [
      "SUB=$(gcloud eventarc triggers describe ${basename(module.functions[name].eventarc_trigger)} --project=${var.project_id} --location=${var.region} --format='value(transport.pubsub.subscription)')",
      "gcloud pubsub subscriptions update \"$SUB\" --dead-letter-topic=${module.pubsub.dead_letter_topic_ids[fn.topic]} --max-delivery-attempts=10",
      "gcloud pubsub subscriptions add-iam-policy-binding \"$SUB\" --member=serviceAccount:${google_project_service_identity.pubsub.email} --role=roles/pubsub.subscriber",
    ] if fn.trigger == "topic"
  ]))
}
