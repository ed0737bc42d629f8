variable "project_id" {
  description = "The Google Cloud project to deploy into."
  type        = string
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id must be a project id (6-30 lowercase letters, digits and hyphens)."
  }
}

variable "region" {
  description = "Region of every regional resource: functions, queue, scheduler, Firestore, secrets, topic storage."
  type        = string
  default     = "asia-south1"
  validation {
    condition     = contains(["asia-south1", "asia-south2"], var.region)
    error_message = "region must be asia-south1 (Mumbai) or asia-south2 (Delhi): incident data stays in India."
  }
}

variable "source_bucket" {
  description = "Existing GCS bucket holding the source archives that `make package` builds (see README)."
  type        = string
  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$", var.source_bucket))
    error_message = "source_bucket must be a bucket name, without gs://."
  }
}

variable "source_archive" {
  description = "Object name of the archive to deploy: incident-functions-<12 hex>.zip, as `make package` prints it."
  type        = string
  validation {
    condition     = can(regex("^incident-functions-[0-9a-f]{12}\\.zip$", var.source_archive))
    error_message = "source_archive must be the file name `make package` prints: incident-functions-<12 hex>.zip."
  }
}

variable "alert_email" {
  description = "Email address notified by the system's own alert policies (empty: none)."
  type        = string
  default     = ""
  validation {
    condition     = var.alert_email == "" || can(regex("^[^@\\s]+@[^@\\s]+$", var.alert_email))
    error_message = "alert_email must be an email address or empty."
  }
}

variable "notification_channels" {
  description = "Existing Cloud Monitoring notification channels (projects/<p>/notificationChannels/<id>) for the alert policies."
  type        = list(string)
  default     = []
}

variable "api_invokers" {
  description = "Who may call the api function (user:, group:, serviceAccount: or domain: members). They also need the API_TOKEN."
  type        = list(string)
  default     = []
  validation {
    condition     = alltrue([for m in var.api_invokers : can(regex("^(serviceAccount|user|group|domain):", m))])
    error_message = "api_invokers must be user:, group:, serviceAccount: or domain: members; the API is never public."
  }
}

variable "optional_secrets" {
  description = "Optional secrets to wire into the functions; each must have a version first. GRAFANA_HMAC_SECRET makes ingest require Grafana's signature; SMTP_URL sends mail (security mailbox, CERT-In) instead of logging it; FRESHDESK_WEBHOOK_SECRET lets Freshdesk's webhook in; FRESHDESK_API_KEY and PLANE_API_KEY keep tickets and work items."
  type        = set(string)
  default     = []
  validation {
    condition = alltrue([for s in var.optional_secrets : contains(
    ["GRAFANA_HMAC_SECRET", "SMTP_URL", "FRESHDESK_API_KEY", "FRESHDESK_WEBHOOK_SECRET", "PLANE_API_KEY"], s)])
    error_message = "optional_secrets may hold GRAFANA_HMAC_SECRET, SMTP_URL, FRESHDESK_API_KEY, FRESHDESK_WEBHOOK_SECRET and PLANE_API_KEY."
  }
}

variable "freshdesk_domain" {
  description = "The Freshdesk account (acme.freshdesk.com) whose tickets track incidents; empty to keep no tickets."
  type        = string
  default     = ""
  validation {
    condition     = var.freshdesk_domain == "" || can(regex("^[a-z0-9-]+(\\.[a-z0-9-]+)+$", var.freshdesk_domain))
    error_message = "freshdesk_domain is a host name such as acme.freshdesk.com (no scheme, no path)."
  }
}

variable "freshchat_public_key" {
  description = "The RSA public key from Freshchat's webhook settings (PEM); empty refuses Freshchat webhooks."
  type        = string
  default     = ""
}

variable "plane_api_url" {
  description = "Plane's API base (https://api.plane.so or a self-hosted instance); empty to create no work items."
  type        = string
  default     = ""
  validation {
    condition     = var.plane_api_url == "" || can(regex("^https://", var.plane_api_url))
    error_message = "plane_api_url must be an https:// URL."
  }
}

variable "min_instances" {
  description = "Warm instances per function (others scale from zero). Slack wants an answer within 3 s; webhooks should not wait for a cold start."
  type        = map(number)
  default     = { ingest = 1, slack = 1 }
}

variable "max_instances" {
  description = "Overrides of each function's maximum instance count (see functions.tf for the defaults)."
  type        = map(number)
  default     = {}
}

variable "log_level" {
  description = "LOG_LEVEL of every function."
  type        = string
  default     = "INFO"
  validation {
    condition     = contains(["DEBUG", "INFO", "WARNING", "ERROR"], var.log_level)
    error_message = "log_level must be DEBUG, INFO, WARNING or ERROR."
  }
}

variable "reconcile_schedule" {
  description = "Cron schedule of the reconciler (finds escalation steps, events and pages whose timer or message was lost)."
  type        = string
  default     = "*/5 * * * *"
}

variable "digest_schedule" {
  description = "Cron schedule (UTC) of the weekly incident digest; the default is Monday 09:00 IST."
  type        = string
  default     = "30 3 * * 1"
}

variable "labels" {
  description = "Extra labels on every resource."
  type        = map(string)
  default     = {}
}
