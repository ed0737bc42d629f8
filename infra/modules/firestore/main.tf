# The Firestore database (native mode), the composite indexes the code's queries need, and TTL
# policies that let Firestore delete finished documents by itself.

resource "google_firestore_database" "this" {
  project                           = var.project_id
  name                              = "(default)" # the clients connect to the default database
  location_id                       = var.location_id
  type                              = "FIRESTORE_NATIVE"
  concurrency_mode                  = "PESSIMISTIC" # server-side transactions take locks (grouping, claims)
  app_engine_integration_mode       = "DISABLED"
  point_in_time_recovery_enablement = "POINT_IN_TIME_RECOVERY_ENABLED" # 7 days of reads at any minute
  delete_protection_state           = "DELETE_PROTECTION_ENABLED"
  deletion_policy                   = "ABANDON" # `terraform destroy` never deletes incident history
}

resource "google_firestore_index" "this" {
  for_each = var.composite_indexes

  project     = var.project_id
  database    = google_firestore_database.this.name
  collection  = each.value.collection
  query_scope = "COLLECTION"
  api_scope   = "ANY_API"

  dynamic "fields" {
    for_each = each.value.fields
    content {
      field_path = fields.value.field
      order      = fields.value.order
    }
  }
}

# A TTL field: Firestore deletes a document (within about a day) once the timestamp in this field
# has passed. Documents without the field are kept. Single-field indexes on it are disabled: an
# index on a timestamp that only grows is a write hotspot and no query reads it.
resource "google_firestore_field" "ttl" {
  for_each = var.ttl_fields

  project    = var.project_id
  database   = google_firestore_database.this.name
  collection = each.value.collection
  field      = each.value.field

  ttl_config {}
  index_config {}
}
