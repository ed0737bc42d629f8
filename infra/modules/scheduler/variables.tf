variable "project_id" {
  type = string
}

variable "region" {
  type = string
}

variable "time_zone" {
  type    = string
  default = "Etc/UTC"
}

variable "jobs" {
  description = "Job name => schedule (cron) and the HTTP call it makes."
  type = map(object({
    description           = string
    schedule              = string
    uri                   = string
    body                  = string
    service_account_email = string
    attempt_deadline      = string
    retry_count           = number
  }))
}
