variable "project_id" {
  type = string
}

variable "region" {
  description = "The one region secret payloads are replicated to."
  type        = string
}

variable "secret_ids" {
  description = "Secret ids; each is also the environment variable name the code reads."
  type        = list(string)
}

variable "accessors" {
  description = "Secret id => members that may read its versions."
  type        = map(list(string))
  default     = {}
}

variable "labels" {
  type    = map(string)
  default = {}
}
