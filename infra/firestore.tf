# Firestore: the database, the composite indexes the queries of shared/adapters/firestore_store.py
# need, and TTL policies. tests/unit/test_infra.py derives the queries from the code and checks
# each one that needs a composite index has it here.

locals {
  # list_incidents: any combination of status/severity/type ==, ordered by created_at desc, number
  # desc. One index per combination, so no query depends on Firestore merging indexes.
  incident_list_filters = [
    [],
    ["status"],
    ["severity"],
    ["type"],
    ["status", "severity"],
    ["status", "type"],
    ["severity", "type"],
    ["status", "severity", "type"],
  ]

  # The other queries that filter or order on more than one field.
  query_indexes = {
    # overdue_escalations: status == open, next_escalation_at <= now, order by next_escalation_at.
    incidents-status-next-escalation = {
      collection = "incidents"
      fields     = [{ field = "status", order = "ASCENDING" }, { field = "next_escalation_at", order = "ASCENDING" }]
    }
    # stale_outbox_incidents: published == false, at <= t.
    outbox-published-at = {
      collection = "outbox"
      fields     = [{ field = "published", order = "ASCENDING" }, { field = "at", order = "ASCENDING" }]
    }
    # pending_events: incident_id ==, published == false (equalities only: would also work by merging).
    outbox-incident-published = {
      collection = "outbox"
      fields     = [{ field = "incident_id", order = "ASCENDING" }, { field = "published", order = "ASCENDING" }]
    }
    # stale_page_incidents: status == pending, created_at <= t.
    pages-status-created = {
      collection = "pages"
      fields     = [{ field = "status", order = "ASCENDING" }, { field = "created_at", order = "ASCENDING" }]
    }
    # pending_pages: incident_id ==, status == pending (equalities only: would also work by merging).
    pages-incident-status = {
      collection = "pages"
      fields     = [{ field = "incident_id", order = "ASCENDING" }, { field = "status", order = "ASCENDING" }]
    }
  }

  # list_rcas (shared/adapters/firestore_resolution.py): any combination of severity/status ==, optional
  # date range, ordered by date desc, id desc: the RCA repository table, newest first.
  rca_list_filters = [[], ["severity"], ["status"], ["severity", "status"]]
  rca_indexes = {
    for filters in local.rca_list_filters : join("-", concat(["rcas"], filters, ["by-date"])) => {
      collection = "rcas"
      fields = concat(
        [for f in filters : { field = f, order = "ASCENDING" }],
        [{ field = "date", order = "DESCENDING" }, { field = "id", order = "DESCENDING" }],
      )
    }
  }

  firestore_indexes = merge(local.query_indexes, local.rca_indexes, {
    for filters in local.incident_list_filters : join("-", concat(["incidents"], filters, ["by-created"])) => {
      collection = "incidents"
      fields = concat(
        [for f in filters : { field = f, order = "ASCENDING" }],
        [{ field = "created_at", order = "DESCENDING" }, { field = "number", order = "DESCENDING" }],
      )
    }
  })
}

module "firestore" {
  source = "./modules/firestore"

  project_id        = var.project_id
  location_id       = var.region
  composite_indexes = local.firestore_indexes

  # Firestore deletes a document once its expire_at has passed. The code writes expire_at on a
  # claim when it completes (30 days on) and on an outbox event when it is published (7 days on);
  # documents without expire_at (pending work) are kept.
  ttl_fields = {
    claims-expire-at = { collection = "claims", field = "expire_at" }
    outbox-expire-at = { collection = "outbox", field = "expire_at" }
  }
}
