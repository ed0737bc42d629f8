# Every function of shared/topology.py, what it reads and what it may do.
# tests/unit/test_infra.py checks these maps against the topology and the code.

locals {
  labels = merge(var.labels, { app = "incident-management", managed-by = "terraform" })

  # name => entry point (Function.entry_point), trigger, topic, public, and sizing. Functions run
  # many requests per instance (the code is thread-safe: clients are built once per instance), so
  # each has one vCPU and a request concurrency; topic functions are retried by Eventarc.
  functions = {
    ingest = {
      entry_point = "ingest", trigger = "http", topic = null, public = true
      description = "Monitoring webhooks in; normalised alerts onto the alerts topic."
      memory      = "512Mi", timeout = 60, concurrency = 40, max_instances = 20
    }
    slack = {
      entry_point = "slack", trigger = "http", topic = null, public = true
      description = "Slack interactivity and the /incident slash command (signed requests)."
      memory      = "512Mi", timeout = 30, concurrency = 20, max_instances = 10
    }
    api = {
      entry_point = "api", trigger = "http", topic = null, public = false
      description = "REST API for people and scripts (Google identity and API token)."
      memory      = "512Mi", timeout = 60, concurrency = 20, max_instances = 5
    }
    tasks = {
      entry_point = "tasks", trigger = "http", topic = null, public = false
      description = "Cloud Tasks and Cloud Scheduler callbacks: timers and the reconciler."
      memory      = "512Mi", timeout = 300, concurrency = 20, max_instances = 10
    }
    classify = {
      entry_point = "classify", trigger = "topic", topic = "alerts", public = false
      description = "Classifies alerts and groups them into incidents."
      memory      = "512Mi", timeout = 120, concurrency = 10, max_instances = 20
    }
    notify = {
      entry_point = "notify", trigger = "topic", topic = "incident-events", public = false
      description = "Posts and updates the incident message in Slack."
      memory      = "512Mi", timeout = 120, concurrency = 10, max_instances = 10
    }
    escalate = {
      entry_point = "escalate", trigger = "topic", topic = "incident-events", public = false
      description = "Delivers pages and keeps the next escalation timer set."
      memory      = "512Mi", timeout = 120, concurrency = 10, max_instances = 10
    }
    commands = {
      entry_point = "commands", trigger = "topic", topic = "commands", public = false
      description = "Applies commands from Slack: acknowledge, assign, severity, resolve, escalate."
      memory      = "512Mi", timeout = 120, concurrency = 10, max_instances = 5
    }
    cert-in = {
      entry_point = "cert_in", trigger = "topic", topic = "incident-events", public = false
      description = "CERT-In clock: the security mailbox, CERT-In pages and the next deadline's timer."
      memory      = "512Mi", timeout = 120, concurrency = 5, max_instances = 5
    }
    partners = {
      entry_point = "partners", trigger = "http", topic = null, public = true
      description = "Freshdesk and Freshchat webhooks in; partner reports become incidents."
      memory      = "512Mi", timeout = 60, concurrency = 20, max_instances = 5
    }
    freshdesk-sync = {
      entry_point = "freshdesk_sync", trigger = "topic", topic = "incident-events", public = false
      description = "Keeps the Freshdesk ticket, the PST's update reminders and Plane work items in step."
      memory      = "512Mi", timeout = 120, concurrency = 5, max_instances = 5
    }
    status = {
      entry_point = "status", trigger = "http", topic = null, public = true
      description = "Public status page: HTML, Statuspage v2 JSON, Atom feed, subscriptions."
      memory      = "512Mi", timeout = 30, concurrency = 80, max_instances = 20
    }
    status-update = {
      entry_point = "status_update", trigger = "topic", topic = "incident-events", public = false
      description = "Keeps the public status page in step with incidents; notifies subscribers."
      memory      = "512Mi", timeout = 300, concurrency = 5, max_instances = 5
    }
  }

  # Secret Manager secrets each function reads as environment variables (shared/settings.py).
  function_secrets = {
    ingest         = ["INGEST_TOKEN", "GRAFANA_HMAC_SECRET"]                               # webhook bearer token; Grafana's HMAC (optional)
    slack          = ["SLACK_SIGNING_SECRET", "SLACK_BOT_TOKEN", "SMTP_URL"]               # verifies Slack; modals; CERT-In steps mail
    api            = ["API_TOKEN", "SLACK_BOT_TOKEN", "SMTP_URL", "PLANE_API_KEY"]         # API token; Slack, mail; Plane work items
    tasks          = ["SLACK_BOT_TOKEN", "SMTP_URL", "FRESHDESK_API_KEY", "PLANE_API_KEY"] # timers page and mail; reconciler syncs
    classify       = []
    notify         = ["SLACK_BOT_TOKEN"]
    escalate       = ["SLACK_BOT_TOKEN"]
    commands       = ["SLACK_BOT_TOKEN"]
    cert-in        = ["SLACK_BOT_TOKEN", "SMTP_URL"]                           # security mailbox mail, CERT-In pages
    partners       = ["FRESHDESK_WEBHOOK_SECRET"]                              # Freshdesk's shared webhook secret (Freshchat's key is public)
    freshdesk-sync = ["SLACK_BOT_TOKEN", "FRESHDESK_API_KEY", "PLANE_API_KEY"] # PST reminders; tickets; work items
    status         = ["SMTP_URL"]                                              # subscription confirmations
    status-update  = ["SMTP_URL"]                                              # update emails to subscribers
  }
  required_secrets = ["INGEST_TOKEN", "API_TOKEN", "SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET"]
  # Partners, Freshdesk and Plane are optional: without them incidents and paging work, tickets and work items wait.
  optional_secrets = ["GRAFANA_HMAC_SECRET", "SMTP_URL", "FRESHDESK_API_KEY", "FRESHDESK_WEBHOOK_SECRET", "PLANE_API_KEY"]
  future_secrets   = []
  secrets          = concat(local.required_secrets, local.optional_secrets, local.future_secrets)
  # Optional secrets are wired only once listed in var.optional_secrets (a wired secret needs a version).
  wired_secrets = {
    for name, names in local.function_secrets :
    name => [for s in names : s if contains(local.required_secrets, s) || contains(var.optional_secrets, s)]
  }

  # What each function's own service account may do, and why (least privilege, resource-level grants).
  #   publishes: topics it publishes to (roles/pubsub.publisher on those topics);
  #   firestore: reads and writes incident state (roles/datastore.user);
  #   enqueues:  sets timers (roles/cloudtasks.enqueuer on the queue, and actAs the tasks invoker SA
  #              whose OIDC token the tasks carry).
  function_access = {
    ingest         = { publishes = ["alerts"], firestore = false, enqueues = false }                    # stateless: alerts onto the topic
    slack          = { publishes = ["commands", "incident-events"], firestore = true, enqueues = true } # commands; declared incidents; CERT-In timers
    api            = { publishes = ["incident-events"], firestore = true, enqueues = true }             # reports and actions
    tasks          = { publishes = ["incident-events"], firestore = true, enqueues = true }             # timers fire, reconciler
    classify       = { publishes = ["incident-events"], firestore = true, enqueues = true }             # incidents; alert expiry timers
    notify         = { publishes = [], firestore = true, enqueues = false }                             # Slack message state
    escalate       = { publishes = [], firestore = true, enqueues = true }                              # pages; next step timer
    commands       = { publishes = ["incident-events"], firestore = true, enqueues = true }             # changes re-plan timers
    cert-in        = { publishes = [], firestore = true, enqueues = true }                              # deadline timers
    partners       = { publishes = ["incident-events"], firestore = true, enqueues = false }            # partner incidents
    freshdesk-sync = { publishes = [], firestore = true, enqueues = true }                              # PST reminder timers
    status         = { publishes = [], firestore = true, enqueues = false }                             # reads the page, keeps subscribers
    status-update  = { publishes = ["incident-events"], firestore = true, enqueues = false }            # writes the page and its events
  }

  # Who may invoke each function besides allUsers on the public ones.
  function_invokers = {
    ingest         = []
    slack          = []
    api            = var.api_invokers
    tasks          = ["serviceAccount:${google_service_account.tasks_invoker.email}"] # Cloud Tasks and Cloud Scheduler
    classify       = ["serviceAccount:${google_service_account.events_invoker.email}"]
    notify         = ["serviceAccount:${google_service_account.events_invoker.email}"]
    escalate       = ["serviceAccount:${google_service_account.events_invoker.email}"]
    commands       = ["serviceAccount:${google_service_account.events_invoker.email}"]
    cert-in        = ["serviceAccount:${google_service_account.events_invoker.email}"]
    partners       = []
    freshdesk-sync = ["serviceAccount:${google_service_account.events_invoker.email}"]
    status         = []
    status-update  = ["serviceAccount:${google_service_account.events_invoker.email}"]
  }

  # Each function's URL, known before it exists: Cloud Run's deterministic URL
  # https://<service>-<project number>.<region>.run.app. Functions reach each other through
  # shared/settings.Settings.function_url, which reads <NAME>_URL; the tasks function checks that a
  # callback's OIDC audience is TASKS_URL + path, and Cloud Tasks and Scheduler use the same URLs.
  function_urls = {
    for name, fn in local.functions : name => "https://${name}-${data.google_project.this.number}.${var.region}.run.app"
  }
  function_url_environment = {
    for name, url in local.function_urls : "${upper(replace(name, "-", "_"))}_URL" => url
  }

  # Plain environment of every function (shared/settings.py). PUBLIC_BASE_URL is not set: functions
  # have separate URLs (the <NAME>_URL variables above). Emulator variables are never set here.
  common_environment = merge(local.function_url_environment, {
    GOOGLE_CLOUD_PROJECT  = var.project_id
    REGION                = var.region
    LOG_LEVEL             = var.log_level
    TASKS_SERVICE_ACCOUNT = google_service_account.tasks_invoker.email # identity of timer and reconciler callbacks
    FRESHDESK_DOMAIN      = var.freshdesk_domain                       # e.g. acme.freshdesk.com; empty: tickets are not kept
    FRESHCHAT_PUBLIC_KEY  = var.freshchat_public_key                   # verifies Freshchat's RSA signatures; empty: refused
    PLANE_API_URL         = var.plane_api_url                          # e.g. https://api.plane.so; empty: work items wait
  })
}

module "functions" {
  source   = "./modules/function"
  for_each = local.functions

  project_id               = var.project_id
  project_number           = data.google_project.this.number
  region                   = var.region
  name                     = each.key
  entry_point              = each.value.entry_point
  description              = each.value.description
  trigger                  = each.value.trigger
  topic_id                 = each.value.topic == null ? null : module.pubsub.topic_ids[each.value.topic]
  source_bucket            = var.source_bucket
  source_object            = var.source_archive
  build_service_account_id = google_service_account.build.id
  service_account_email    = google_service_account.function[each.key].email

  event_trigger_service_account_email = each.value.trigger == "topic" ? google_service_account.events_invoker.email : null

  memory          = each.value.memory
  cpu             = "1"
  timeout_seconds = each.value.timeout
  concurrency     = each.value.concurrency
  min_instances   = lookup(var.min_instances, each.key, 0)
  max_instances   = lookup(var.max_instances, each.key, each.value.max_instances)

  # THREADS: functions-framework's gunicorn threads, one per concurrent request.
  environment = merge(local.common_environment, { THREADS = tostring(each.value.concurrency) })
  secrets     = { for s in local.wired_secrets[each.key] : s => module.secrets.secret_ids[s] }

  public   = each.value.public
  invokers = local.function_invokers[each.key]
  labels   = local.labels

  # Grants first: a deploy checks secret access, and the first requests need the rest.
  depends_on = [
    module.secrets,
    module.firestore,
    google_project_iam_member.firestore,
    google_project_iam_member.build,
    google_storage_bucket_iam_member.build_source,
    google_project_iam_member.events_receiver,
  ]
}
