output "topic_ids" {
  description = "Topic name => projects/<p>/topics/<t>."
  value       = { for name, topic in google_pubsub_topic.topic : name => topic.id }
}

output "dead_letter_topic_ids" {
  description = "Topic name => its dead-letter topic id."
  value       = { for name, topic in google_pubsub_topic.dead_letter : name => topic.id }
}

output "dead_letter_subscriptions" {
  description = "Topic name => the subscription holding its dead letters."
  value       = { for name, sub in google_pubsub_subscription.dead_letter : name => sub.name }
}
