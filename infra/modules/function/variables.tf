variable "project_id" {
  type = string
}

variable "project_number" {
  description = "The project's number (secret references use it)."
  type        = string
}

variable "region" {
  type = string
}

variable "name" {
  description = "Function name (shared/topology.py Function.name); also its Cloud Run service name."
  type        = string
}

variable "entry_point" {
  description = "Name exported by the archive's main.py (Function.entry_point)."
  type        = string
}

variable "description" {
  type    = string
  default = ""
}

variable "trigger" {
  description = "http, or topic (Eventarc on a Pub/Sub topic)."
  type        = string
  validation {
    condition     = contains(["http", "topic"], var.trigger)
    error_message = "trigger must be http or topic."
  }
}

variable "topic_id" {
  description = "projects/<p>/topics/<t> for a topic function."
  type        = string
  default     = null
}

variable "source_bucket" {
  type = string
}

variable "source_object" {
  type = string
}

variable "build_service_account_id" {
  description = "projects/<p>/serviceAccounts/<email> that Cloud Build runs the build as."
  type        = string
}

variable "service_account_email" {
  description = "The function's own runtime identity."
  type        = string
}

variable "event_trigger_service_account_email" {
  description = "Identity Eventarc invokes a topic function with."
  type        = string
  default     = null
}

variable "memory" {
  type    = string
  default = "512Mi"
}

variable "cpu" {
  type    = string
  default = "1"
}

variable "timeout_seconds" {
  type    = number
  default = 60
}

variable "min_instances" {
  type    = number
  default = 0
}

variable "max_instances" {
  type    = number
  default = 10
}

variable "concurrency" {
  type    = number
  default = 10
}

variable "environment" {
  description = "Plain environment variables."
  type        = map(string)
  default     = {}
}

variable "secrets" {
  description = "Environment variable name => Secret Manager secret id (latest version)."
  type        = map(string)
  default     = {}
}

variable "public" {
  description = "Let anyone invoke it (allUsers). Only for functions that authenticate requests themselves."
  type        = bool
  default     = false
}

variable "invokers" {
  description = "Members given roles/run.invoker (never allUsers or allAuthenticatedUsers: use public)."
  type        = list(string)
  default     = []
  validation {
    condition     = alltrue([for m in var.invokers : can(regex("^(serviceAccount|user|group|domain):", m))])
    error_message = "invokers must be serviceAccount:, user:, group: or domain: members (public is a separate flag)."
  }
}

variable "labels" {
  type    = map(string)
  default = {}
}
