output "secret_ids" {
  description = "Name => secret id (the names are the ids)."
  value       = { for name, secret in google_secret_manager_secret.this : name => secret.secret_id }
}
