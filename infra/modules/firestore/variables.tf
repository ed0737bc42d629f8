variable "project_id" {
  type = string
}

variable "location_id" {
  description = "Firestore location (the deployment's region)."
  type        = string
}

variable "composite_indexes" {
  description = "Name => collection and ordered fields (order ASCENDING or DESCENDING)."
  type = map(object({
    collection = string
    fields     = list(object({ field = string, order = string }))
  }))
}

variable "ttl_fields" {
  description = "Name => collection and the timestamp field whose time deletes the document."
  type        = map(object({ collection = string, field = string }))
  default     = {}
}
