variable "project_id" {
  type = string
}

variable "region" {
  description = "The only region messages are stored in."
  type        = string
}

variable "topics" {
  description = "Topic names (shared/topology.py TOPICS)."
  type        = list(string)
}

variable "publishers" {
  description = "Topic => members that may publish to it."
  type        = map(list(string))
  default     = {}
}

variable "pubsub_service_agent_email" {
  description = "service-<project number>@gcp-sa-pubsub.iam.gserviceaccount.com"
  type        = string
}

variable "topic_retention" {
  type    = string
  default = "86400s"
}

variable "labels" {
  type    = map(string)
  default = {}
}
