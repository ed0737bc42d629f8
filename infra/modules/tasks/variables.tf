variable "project_id" {
  type = string
}

variable "region" {
  type = string
}

variable "queues" {
  description = "Queue name (shared/topology.py QUEUES) => rate limits and retries."
  type = map(object({
    max_dispatches_per_second = number
    max_concurrent_dispatches = number
    max_attempts              = number
    max_retry_duration        = string
    min_backoff               = string
    max_backoff               = string
    max_doublings             = number
    log_sampling_ratio        = number
  }))
}

variable "enqueuers" {
  description = "Members that may create tasks in every queue."
  type        = list(string)
  default     = []
}
