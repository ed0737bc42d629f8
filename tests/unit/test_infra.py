"""infra/ (Terraform) against shared/topology.py and the code that will run on it.

Every .tf file is parsed with python-hcl2 (no provider, no network): every function is deployed
with its entry point and trigger, every topic and queue exists, every secret the code reads is in
Secret Manager and wired to the functions that read it, only the public functions are public, each
function has its own identity, the queries have their indexes, and `terraform fmt` is clean.
"""

from __future__ import annotations

import ast
import functools
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from local import package
from shared import topology

hcl2 = pytest.importorskip("hcl2", reason="python-hcl2 is a dev dependency: pip install -e '.[dev]'")

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
CODE_DIRS = (ROOT / "shared", ROOT / "functions")

# Environment variables the code reads that hold credentials (Secret Manager in production).
# A name read by the code that looks like one (…TOKEN, …SECRET, …API_KEY, …PASSWORD) counts too.
KNOWN_SECRETS = {"INGEST_TOKEN", "API_TOKEN", "SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "GRAFANA_HMAC_SECRET",
                 "SMTP_URL", "FRESHDESK_API_KEY", "FRESHDESK_WEBHOOK_SECRET", "PLANE_API_KEY"}
SECRET_NAME = re.compile(r"(TOKEN|SECRET|API_KEY|PASSWORD)$")
# Plain variables infra sets on every function (locals.common_environment in infra/functions.tf).
WIRED_PLAIN = {"GOOGLE_CLOUD_PROJECT", "REGION", "LOG_LEVEL", "TASKS_SERVICE_ACCOUNT", "FRESHDESK_DOMAIN",
               "FRESHCHAT_PUBLIC_KEY", "PLANE_API_URL"}
# Plain variables the code reads that production deliberately leaves unset, and why.
NOT_SET_IN_PRODUCTION = {
    "GCP_PROJECT": "alternative to GOOGLE_CLOUD_PROJECT, which is set",
    "FUNCTION_REGION": "alternative to REGION, which is set",
    "PUBLIC_BASE_URL": "local only: every function has its own URL, set as <NAME>_URL",
    "PORT": "set by the platform",
    "SLACK_API_URL": "tests only: points slack_sdk at a fake",
    "CLOUD_TASKS_EMULATOR_HOST": "emulators only",
    "FIRESTORE_EMULATOR_HOST": "emulators only",
    "PUBSUB_EMULATOR_HOST": "emulators only",
    "INCIDENT_CONFIG": "the archive's config/policy.yaml is the default path",
    "MAX_BODY_BYTES": "code default",
    "PUBLISH_TIMEOUT_SECONDS": "code default",
    "ALERT_EXPIRY_GRACE_SECONDS": "code default",
    "INCIDENT_ENV": "production checks already apply where no emulator is configured; tests set it to force them",
    "STATUS_CACHE_SECONDS": "code default (2 s per instance; the CDN caches 30 s)",
}
ENV_READ = re.compile(r"""(?:_env|os\.environ\.get|os\.getenv|os\.environ\[)\(?\s*["']([A-Z][A-Z0-9_]*)["']""")


# ---- parsing ------------------------------------------------------------------------------------


def _clean(value: Any) -> Any:
    """python-hcl2 keeps quotes on strings and labels and adds __meta__ keys: strip both."""
    if isinstance(value, dict):
        return {_clean(k): _clean(v) for k, v in value.items() if not (isinstance(k, str) and k.startswith("__"))}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    return value


@functools.cache
def parsed() -> dict[Path, dict[str, Any]]:
    files = sorted(INFRA.rglob("*.tf"))
    assert files, "infra/ has no Terraform files"
    out = {}
    for path in files:
        with path.open() as handle:
            out[path] = _clean(hcl2.load(handle))
    return out


def root_files() -> dict[Path, dict[str, Any]]:
    return {p: d for p, d in parsed().items() if p.parent == INFRA}


def module_files(name: str) -> dict[Path, dict[str, Any]]:
    return {p: d for p, d in parsed().items() if p.parent == INFRA / "modules" / name}


def blocks(docs: dict[Path, dict[str, Any]], kind: str) -> dict[str, Any]:
    """Labelled blocks (module, variable, output) by label."""
    out: dict[str, Any] = {}
    for doc in docs.values():
        for item in doc.get(kind, []):
            for label, body in item.items():
                assert label not in out, f"{kind} {label} declared twice"
                out[label] = body
    return out


def resources(docs: dict[Path, dict[str, Any]]) -> dict[tuple[str, str], Any]:
    out: dict[tuple[str, str], Any] = {}
    for doc in docs.values():
        for item in doc.get("resource", []):
            for rtype, named in item.items():
                for name, body in named.items():
                    out[(rtype, name)] = body
    return out


@functools.cache
def root_locals() -> dict[str, Any]:
    out: dict[str, Any] = {}
    for doc in root_files().values():
        for item in doc.get("locals", []):
            for key, value in item.items():
                assert key not in out, f"local {key} declared twice"
                out[key] = value
    return out


def dynamic(body: dict[str, Any], name: str) -> dict[str, Any]:
    found = [d[name] for d in body.get("dynamic", []) if name in d]
    assert len(found) == 1, f"expected one dynamic {name!r} block"
    return found[0]


def one(block_list: list[dict[str, Any]]) -> dict[str, Any]:
    assert isinstance(block_list, list) and len(block_list) == 1
    return block_list[0]


def walk_strings(value: Any):
    if isinstance(value, dict):
        for k, v in value.items():
            yield from walk_strings(k)
            yield from walk_strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from walk_strings(v)
    elif isinstance(value, str):
        yield value


# ---- what the code reads and does ----------------------------------------------------------------


@functools.cache
def env_reads() -> dict[str, set[str]]:
    """Environment variable name => files (relative) of shared/ and functions/ that read it."""
    out: dict[str, set[str]] = {}
    for base in CODE_DIRS:
        for path in base.rglob("*.py"):
            for name in ENV_READ.findall(path.read_text()):
                out.setdefault(name, set()).add(path.relative_to(ROOT).as_posix())
    return out


def is_secret(name: str) -> bool:
    return name in KNOWN_SECRETS or bool(SECRET_NAME.search(name))


@functools.cache
def settings_env() -> dict[str, str]:
    """Settings attribute => the environment variable it is read from first (shared/settings.py)."""
    source = (ROOT / "shared" / "settings.py").read_text()
    return {attr: env for attr, env in re.findall(r"(\w+)=_env\(\"([A-Z0-9_]+)\"\)", source)}


@functools.cache
def builder_attrs() -> dict[str, set[str]]:
    """shared/bootstrap.py builder => the settings attributes it reads (chat() reads slack_bot_token, ...)."""
    tree = ast.parse((ROOT / "shared" / "bootstrap.py").read_text())
    attrs = set(settings_env())
    return {node.name: {n.attr for n in ast.walk(node) if isinstance(n, ast.Attribute) and n.attr in attrs}
            for node in tree.body if isinstance(node, ast.FunctionDef)}


def function_source(fn: topology.Function) -> str:
    return (ROOT / "functions" / f"{fn.entry_point}.py").read_text()


def secrets_used_by(fn: topology.Function) -> set[str]:
    """Secrets a function's module reads: settings attributes it uses, directly or through bootstrap builders."""
    source = function_source(fn)
    attrs = {a for a in settings_env() if re.search(rf"\.{a}\b", source)}
    for builder in set(re.findall(r"bootstrap\.(\w+)\(\)", source)):
        attrs |= builder_attrs().get(builder, set())
    return {settings_env()[a] for a in attrs if is_secret(settings_env()[a])}


# ---- functions ------------------------------------------------------------------------------------


def deployed() -> dict[str, dict[str, Any]]:
    return root_locals()["functions"]


def test_every_topology_function_is_deployed_with_its_entry_point_and_trigger():
    functions = deployed()
    assert set(functions) == {fn.name for fn in topology.FUNCTIONS}, "infra/functions.tf and shared/topology.py differ"
    for fn in topology.FUNCTIONS:
        spec = functions[fn.name]
        assert spec["entry_point"] == fn.entry_point, fn.name
        assert spec["trigger"] == fn.trigger, fn.name
        assert spec["topic"] == fn.topic, f"{fn.name}: topic functions have an event trigger on their topic"
        assert spec["public"] is fn.public, fn.name


def test_the_function_module_is_called_once_per_function_with_its_settings():
    call = blocks(root_files(), "module")["functions"]
    assert call["source"] == "./modules/function"
    assert call["for_each"] == "${local.functions}"
    assert call["name"] == "${each.key}"
    assert call["entry_point"] == "${each.value.entry_point}"
    assert call["trigger"] == "${each.value.trigger}"
    assert call["topic_id"] == "${each.value.topic == null ? null : module.pubsub.topic_ids[each.value.topic]}"
    assert call["public"] == "${each.value.public}"
    assert call["source_object"] == "${var.source_archive}"
    assert call["service_account_email"] == "${google_service_account.function[each.key].email}"


def test_the_module_deploys_a_2nd_gen_python_function_with_an_eventarc_trigger_for_topics():
    res = resources(module_files("function"))
    function = res[("google_cloudfunctions2_function", "this")]
    build = one(function["build_config"])
    assert build["runtime"] == "python311"
    assert build["entry_point"] == "${var.entry_point}"
    storage = one(one(build["source"])["storage_source"])
    assert storage == {"bucket": "${var.source_bucket}", "object": "${var.source_object}"}
    service = one(function["service_config"])
    for key in ("available_memory", "timeout_seconds", "min_instance_count", "max_instance_count",
                "max_instance_request_concurrency", "service_account_email", "environment_variables"):
        assert key in service, key
    secret_env = dynamic(service, "secret_environment_variables")
    assert secret_env["for_each"] == "${var.secrets}"
    trigger = dynamic(function, "event_trigger")
    assert trigger["for_each"] == '${var.trigger == "topic" ? [var.topic_id] : []}'
    content = one(trigger["content"])
    assert content["event_type"] == "google.cloud.pubsub.topic.v1.messagePublished"
    assert content["pubsub_topic"] == "${event_trigger.value}"
    assert content["retry_policy"] == "RETRY_POLICY_RETRY"
    assert content["service_account_email"] == "${var.event_trigger_service_account_email}"


def test_every_topic_and_queue_the_code_uses_exists():
    assert set(root_locals()["topics"]) == set(topology.TOPICS)
    assert {fn.topic for fn in topology.FUNCTIONS if fn.topic} <= set(root_locals()["topics"])
    pubsub = blocks(root_files(), "module")["pubsub"]
    assert pubsub["topics"] == "${local.topics}"
    tasks = blocks(root_files(), "module")["tasks"]
    assert set(tasks["queues"]) == set(topology.QUEUES)
    for queue in tasks["queues"].values():
        assert queue["max_dispatches_per_second"] > 0 and queue["max_concurrent_dispatches"] > 0
        assert queue["max_retry_duration"] and queue["max_backoff"]
    # the topics and queues the code names (outside the topology itself) are the ones declared
    code = "\n".join(p.read_text() for base in CODE_DIRS for p in base.rglob("*.py") if p.name != "topology.py")
    used = {getattr(topology, name) for name in set(re.findall(r"\b((?:TOPIC|QUEUE)_[A-Z_]+)\b", code))}
    assert used, "the scan found no topic or queue constant in the code"
    assert used <= set(root_locals()["topics"]) | set(tasks["queues"])


def test_every_topic_has_a_dead_letter_topic_and_a_subscription_on_it():
    res = resources(module_files("pubsub"))
    for key in (("google_pubsub_topic", "topic"), ("google_pubsub_topic", "dead_letter"),
                ("google_pubsub_subscription", "dead_letter")):
        assert res[key]["for_each"] == "${toset(var.topics)}", key
    sub = res[("google_pubsub_subscription", "dead_letter")]
    assert sub["topic"] == "${google_pubsub_topic.dead_letter[each.key].id}"
    assert res[("google_pubsub_topic_iam_member", "dead_letter_publisher")]["role"] == "roles/pubsub.publisher"
    assert "dead_letter_setup" in blocks(root_files(), "output")


# ---- secrets and environment ------------------------------------------------------------------------


def test_every_variable_the_code_reads_is_wired_or_deliberately_unset():
    locals_ = root_locals()
    secrets = set(locals_["required_secrets"]) | set(locals_["optional_secrets"]) | set(locals_["future_secrets"])
    wired = {s for names in locals_["function_secrets"].values() for s in names}
    plain = set(re.findall(r"\b([A-Z][A-Z0-9_]+) = ", locals_["common_environment"]))
    problems = []
    for name, files in sorted(env_reads().items()):
        where = ", ".join(sorted(files))
        if is_secret(name):
            if name not in secrets:
                problems.append(f"{name} ({where}) is a secret but not in Secret Manager (infra/functions.tf)")
            elif name not in wired:
                problems.append(f"{name} ({where}) is in Secret Manager but wired to no function")
        elif name in WIRED_PLAIN:
            if name not in plain:
                problems.append(f"{name} ({where}) is not in locals.common_environment")
        elif name not in NOT_SET_IN_PRODUCTION:
            problems.append(f"{name} ({where}) is read by the code: wire it in infra/ or list it in this test")
    assert not problems, "\n".join(problems)
    assert "local.function_url_environment" in locals_["common_environment"], "functions need <NAME>_URL"


def test_function_urls_are_set_as_name_url_for_every_function():
    expression = root_locals()["function_url_environment"]
    assert "local.function_urls" in expression and '_URL"' in expression and 'replace(name, "-", "_")' in expression
    # shared/settings.Settings.function_url reads exactly this name
    source = (ROOT / "shared" / "settings.py").read_text()
    assert "f\"{function.upper().replace('-', '_')}_URL\"" in source


def test_each_function_gets_exactly_the_secrets_its_code_uses():
    wiring = root_locals()["function_secrets"]
    assert set(wiring) == {fn.name for fn in topology.FUNCTIONS}
    for fn in topology.FUNCTIONS:
        assert set(wiring[fn.name]) == secrets_used_by(fn), fn.name
    call = blocks(root_files(), "module")["functions"]
    assert call["secrets"] == "${{for s in local.wired_secrets[each.key] : s => module.secrets.secret_ids[s]}}"


def test_secrets_are_in_secret_manager_without_versions_and_readable_by_their_functions():
    locals_ = root_locals()
    assert set(locals_["required_secrets"]).isdisjoint(locals_["optional_secrets"])
    res = resources(module_files("secrets"))
    assert res[("google_secret_manager_secret", "this")]["for_each"] == "${toset(var.secret_ids)}"
    assert res[("google_secret_manager_secret_iam_member", "accessor")]["role"] == "roles/secretmanager.secretAccessor"
    every = resources(parsed())
    assert not [key for key in every if key[0] == "google_secret_manager_secret_version"], "values stay out of state"
    optional = blocks(root_files(), "variable")["optional_secrets"]
    assert set(re.findall(r'"([A-Z_]+)"', one(optional["validation"])["condition"])) == set(
        locals_["optional_secrets"])


def test_no_emulator_or_local_only_variable_is_set_in_production():
    for path, doc in parsed().items():
        for text in walk_strings(doc):
            for name in ("EMULATOR_HOST", "PUBLIC_BASE_URL", "SLACK_API_URL"):
                assert name not in text, f"{path.relative_to(ROOT)} sets {name}"


# ---- access --------------------------------------------------------------------------------------


def test_only_the_public_functions_of_the_topology_are_public():
    public = {fn.name for fn in topology.FUNCTIONS if fn.public}
    assert public == {"ingest", "slack", "partners", "status"}
    assert {name for name, spec in deployed().items() if spec["public"] is True} == public
    everyone = ("allUsers", "allAuthenticatedUsers")
    hits = [(path, text) for path, doc in parsed().items() for text in walk_strings(doc)
            if text in everyone or any(f'"{m}"' in text for m in everyone)]  # a member, not prose
    assert [(p.relative_to(INFRA).as_posix(), t) for p, t in hits] == [("modules/function/main.tf", "allUsers")]
    member = resources(module_files("function"))[("google_cloud_run_service_iam_member", "public")]
    assert member["count"] == "${var.public ? 1 : 0}" and member["member"] == "allUsers"
    invokers = root_locals()["function_invokers"]
    for name in public:
        assert invokers[name] == [], f"{name} is public; it names no invokers"


def test_private_functions_are_invoked_only_by_named_identities():
    invokers = root_locals()["function_invokers"]
    assert set(invokers) == {fn.name for fn in topology.FUNCTIONS}
    assert invokers["api"] == "${var.api_invokers}"
    assert invokers["tasks"] == ["serviceAccount:${google_service_account.tasks_invoker.email}"]
    for fn in topology.FUNCTIONS:
        if fn.trigger == "topic":
            assert invokers[fn.name] == ["serviceAccount:${google_service_account.events_invoker.email}"], fn.name
    variable = blocks(module_files("function"), "variable")["invokers"]
    assert "serviceAccount|user|group|domain" in one(variable["validation"])["condition"]
    api = blocks(root_files(), "variable")["api_invokers"]
    assert "serviceAccount|user|group|domain" in one(api["validation"])["condition"]


def test_each_function_has_its_own_service_account():
    accounts = resources(root_files())[("google_service_account", "function")]
    assert accounts["for_each"] == "${local.functions}"
    assert accounts["account_id"] == "fn-${each.key}"
    for fn in topology.FUNCTIONS:
        assert re.fullmatch(r"[a-z][a-z0-9-]{4,28}[a-z0-9]", f"fn-{fn.name}"), f"fn-{fn.name} is not a valid account id"


def test_each_function_may_do_what_its_code_does_and_no_more():
    access = root_locals()["function_access"]
    assert set(access) == {fn.name for fn in topology.FUNCTIONS}
    constants = {name: value for name, value in vars(topology).items() if name.startswith("TOPIC_")}
    for fn in topology.FUNCTIONS:
        source, grant = function_source(fn), access[fn.name]
        assert grant["firestore"] is ("bootstrap.store()" in source), f"{fn.name}: Firestore access"
        enqueues = bool(re.search(r"bootstrap\.scheduler\(\)|schedule_alert_expiry", source))
        assert grant["enqueues"] is enqueues, f"{fn.name}: Cloud Tasks access"
        assert bool(grant["publishes"]) is ("bootstrap.publisher()" in source), f"{fn.name}: Pub/Sub access"
        named = {value for name, value in constants.items() if re.search(rf"\b{name}\b", source)}
        assert named <= set(grant["publishes"]), f"{fn.name} publishes to {named}"
        assert set(grant["publishes"]) <= set(topology.TOPICS)


# ---- region, providers, schedules, data ------------------------------------------------------------


def test_region_is_validated_to_the_two_indian_regions():
    region = blocks(root_files(), "variable")["region"]
    assert region["default"] == "asia-south1"
    condition = one(region["validation"])["condition"]
    assert "var.region" in condition
    assert set(re.findall(r'"([a-z0-9-]+)"', condition)) == {"asia-south1", "asia-south2"}


def test_providers_and_terraform_are_pinned():
    terraform = one(root_files()[INFRA / "versions.tf"]["terraform"])
    assert terraform["required_version"] == ">= 1.5"
    providers = one(terraform["required_providers"])
    assert providers["google"] == {"source": "hashicorp/google", "version": "~> 6.0"}
    assert providers["google-beta"] == {"source": "hashicorp/google-beta", "version": "~> 6.0"}
    for module in (INFRA / "modules").iterdir():
        pins = one(one(parsed()[module / "versions.tf"]["terraform"])["required_providers"])
        assert pins["google"]["version"] == "~> 6.0", module.name


def test_the_reconciler_runs_every_five_minutes_with_oidc():
    schedule = blocks(root_files(), "variable")["reconcile_schedule"]
    assert schedule["default"] == "*/5 * * * *"
    job = blocks(root_files(), "module")["scheduler"]["jobs"]["incident-reconcile"]
    assert job["schedule"] == "${var.reconcile_schedule}"
    assert job["uri"] == '${local.function_urls["tasks"]}/reconcile'
    assert job["service_account_email"] == "${google_service_account.tasks_invoker.email}"
    target = one(resources(module_files("scheduler"))[("google_cloud_scheduler_job", "this")]["http_target"])
    assert target["http_method"] == "POST"
    assert one(target["oidc_token"])["audience"] == "${each.value.uri}"
    assert "reconcile" in (ROOT / "functions" / "tasks.py").read_text()


def _queries() -> list[tuple[str, str, list[tuple[str, str]], list[str]]]:
    """(method, collection, [(field, op)], [order_by fields]) for each chained query in firestore_store.py."""
    tree = ast.parse((ROOT / "shared" / "adapters" / "firestore_store.py").read_text())
    found = []
    for method in (n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)):
        for stmt in (s for s in ast.walk(method) if isinstance(s, ast.Assign)):
            calls = [c for c in ast.walk(stmt.value) if isinstance(c, ast.Call)]
            collection = [c.args[0].value for c in calls if isinstance(c.func, ast.Attribute)
                          and c.func.attr == "collection" and c.args and isinstance(c.args[0], ast.Constant)]
            filters = [(c.args[0].value, c.args[1].value) for c in calls
                       if getattr(c.func, "attr", None) == "FieldFilter" and len(c.args) >= 2
                       and all(isinstance(a, ast.Constant) for a in c.args[:2])]
            orders = [c.args[0].value for c in calls if getattr(c.func, "attr", None) == "order_by"
                      and c.args and isinstance(c.args[0], ast.Constant)]
            if len(collection) == 1 and filters:
                found.append((method.name, collection[0], filters, orders))
    return found


def test_every_query_that_needs_a_composite_index_has_one():
    locals_ = root_locals()
    declared = {(spec["collection"], tuple(f["field"] for f in spec["fields"]))
                for spec in locals_["query_indexes"].values()}
    queries = _queries()
    assert len(queries) >= 5, "the query scan found too little: has firestore_store.py changed shape?"
    for method, collection, filters, orders in queries:
        equality = [f for f, op in filters if op == "=="]
        ranged = [f for f, op in filters if op != "=="] + [o for o in orders if o not in equality]
        fields = list(dict.fromkeys(equality + ranged))
        if len(fields) < 2 or not ranged:
            continue  # one field, or equalities only: single-field indexes serve it
        wanted = [(c, f) for c, f in declared if c == collection and set(f) == set(fields)
                  and list(f[-len(set(ranged)):]) == list(dict.fromkeys(ranged))]
        assert wanted, f"{method}: no composite index on {collection} ({', '.join(fields)})"
    # list_incidents filters on any of status/severity/type and orders by created_at, number (desc)
    source = (ROOT / "shared" / "adapters" / "firestore_store.py").read_text()
    assert '(("status", status), ("severity", severity), ("type", type))' in source
    fields = ("status", "severity", "type")
    every_combination = {tuple(f for i, f in enumerate(fields) if mask >> i & 1) for mask in range(8)}
    assert {tuple(c) for c in locals_["incident_list_filters"]} == every_combination
    expression = locals_["firestore_indexes"]
    assert "local.query_indexes" in expression and "local.incident_list_filters" in expression
    assert '[{field = "created_at", order = "DESCENDING"}, {field = "number", order = "DESCENDING"}]' in expression


def test_firestore_is_native_with_recovery_protection_and_ttl():
    database = resources(module_files("firestore"))[("google_firestore_database", "this")]
    assert database["type"] == "FIRESTORE_NATIVE"
    assert database["point_in_time_recovery_enablement"] == "POINT_IN_TIME_RECOVERY_ENABLED"
    assert database["delete_protection_state"] == "DELETE_PROTECTION_ENABLED"
    ttl = blocks(root_files(), "module")["firestore"]["ttl_fields"]
    assert {(v["collection"], v["field"]) for v in ttl.values()} == {("claims", "expire_at"), ("outbox", "expire_at")}
    field = resources(module_files("firestore"))[("google_firestore_field", "ttl")]
    assert field["ttl_config"] == [{}]


def test_monitoring_watches_errors_dead_letters_and_late_escalation():
    res = resources(module_files("monitoring"))
    assert "severity>=ERROR" in res[("google_logging_metric", "function_errors")]["filter"]
    assert 'jsonPayload.message="reconciler caught up"' in res[("google_logging_metric", "reconciler_caught_up")][
        "filter"]
    assert 'log.warning("reconciler caught up"' in (ROOT / "shared" / "handlers" / "escalation.py").read_text()
    dead = one(one(res[("google_monitoring_alert_policy", "dead_letter_backlog")]["conditions"])[
        "condition_threshold"])
    assert "num_undelivered_messages" in dead["filter"]
    call = blocks(root_files(), "module")["monitoring"]
    assert call["dead_letter_subscriptions"] == "${values(module.pubsub.dead_letter_subscriptions)}"
    assert call["function_names"] == "${keys(local.functions)}"


def test_outputs_name_every_webhook_and_slack_url_the_code_serves():
    outputs = blocks(root_files(), "output")
    webhooks = outputs["webhook_urls"]["value"]
    assert {"grafana", "alertmanager", "uptime_kuma", "otel_endpoint", "generic"} <= set(webhooks)
    tree = ast.parse((ROOT / "functions" / "ingest.py").read_text())
    routes = next(ast.literal_eval(n.value) for n in tree.body if isinstance(n, ast.Assign)
                  and getattr(n.targets[0], "id", "") == "ROUTES")
    prefix = '${local.function_urls["ingest"]}'
    for name, url in webhooks.items():
        assert url.startswith(prefix), name
        path = url[len(prefix):]
        assert path in routes or any(r.startswith(path + "/") for r in routes), f"{name}: no ingest route {path}"
    slack = outputs["slack_urls"]["value"]
    slack_source = (ROOT / "functions" / "slack.py").read_text()
    for url in slack.values():
        assert f'"{url.rsplit("}", 1)[-1]}"' in slack_source, url


def test_the_example_variables_name_an_archive_the_packager_would_build():
    example = (INFRA / "terraform.tfvars.example").read_text()
    archive = re.search(r'source_archive\s*=\s*"([^"]+)"', example)[1]
    assert re.fullmatch(rf"{package.ARCHIVE_PREFIX}[0-9a-f]{{{package.HASH_CHARS}}}\.zip", archive)
    validation = one(blocks(root_files(), "variable")["source_archive"]["validation"])["condition"]
    assert f"{package.ARCHIVE_PREFIX}[0-9a-f]{{{package.HASH_CHARS}}}" in validation


def test_the_slack_manifest_has_the_scopes_and_the_three_urls():
    manifest = yaml.safe_load((INFRA / "slack-app-manifest.yaml").read_text())
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    assert {"chat:write", "im:write", "channels:manage", "commands", "users:read"} <= scopes
    commands = manifest["features"]["slash_commands"]
    assert [c["command"] for c in commands] == ["/incident"]
    assert commands[0]["url"].endswith("/commands")
    assert manifest["settings"]["interactivity"]["request_url"].endswith("/interactions")
    assert manifest["settings"]["event_subscriptions"]["request_url"].endswith("/events")
    assert manifest["settings"]["event_subscriptions"]["bot_events"] == ["reaction_added"]
    assert {"reactions:read", "channels:history"} <= scopes


def test_every_checkov_skip_says_why():
    for path in INFRA.rglob("*.tf"):
        for line in path.read_text().splitlines():
            if "checkov:skip=" in line:
                assert re.search(r"checkov:skip=CKV\w*_\d+:\s*\S.{20,}", line), f"{path.name}: {line.strip()}"


def test_terraform_fmt_is_clean():
    binary = shutil.which("terraform")
    if binary is None:
        pytest.skip("terraform is not installed: `terraform fmt -check -recursive infra` not run")
    result = subprocess.run([binary, "fmt", "-check", "-recursive", "-no-color", str(INFRA)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, f"run `terraform fmt -recursive infra`; differs:\n{result.stdout}"
