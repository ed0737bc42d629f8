output "job_ids" {
  value = { for name, job in google_cloud_scheduler_job.this : name => job.id }
}
