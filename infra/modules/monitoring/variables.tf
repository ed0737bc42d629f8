variable "project_id" {
  type = string
}

variable "function_names" {
  description = "Cloud Run service names of the functions whose errors are counted."
  type        = list(string)
}

variable "reconciler_function" {
  description = "The function that runs the reconciler."
  type        = string
  default     = "tasks"
}

variable "dead_letter_subscriptions" {
  description = "Subscription ids on the dead-letter topics."
  type        = list(string)
}

variable "alert_email" {
  description = "An email address to notify (empty: none created)."
  type        = string
  default     = ""
}

variable "notification_channels" {
  description = "Existing notification channel names (projects/<p>/notificationChannels/<id>)."
  type        = list(string)
  default     = []
}
