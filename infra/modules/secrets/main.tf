# Secret Manager secrets: the containers only. Values are added out of band with
# `gcloud secrets versions add` (infra/README.md), so no secret value is ever in Terraform state.

resource "google_secret_manager_secret" "this" {
  for_each = toset(var.secret_ids)

  project   = var.project_id
  secret_id = each.key
  labels    = var.labels

  replication {
    user_managed {
      replicas {
        location = var.region # stored in the deployment's region only
      }
    }
  }
}

# Each function reads the secrets it uses when an instance starts (secret environment variables):
# roles/secretmanager.secretAccessor on that secret only.
resource "google_secret_manager_secret_iam_member" "accessor" {
  for_each = {
    for pair in flatten([
      for secret, members in var.accessors : [for member in members : { secret = secret, member = member }]
    ]) : "${pair.secret} ${pair.member}" => pair
  }

  project   = var.project_id
  secret_id = google_secret_manager_secret.this[each.value.secret].secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = each.value.member
}
