output "queue_ids" {
  value = { for name, queue in google_cloud_tasks_queue.this : name => queue.id }
}
