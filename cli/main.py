"""incidentctl: list, show, declare, ack, assign, resolve, note, change, rca, metrics, digest.

Exit codes: 0 done, 1 failed, 2 bad usage or refused input, 3 not found, 4 authentication,
5 API unreachable, 6 conflict (not possible in the current state).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from cli.client import DEFAULT_URL, USAGE, Api, CliError
from cli.render import Painter, seconds, short_time, table, use_colour


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="incidentctl", description="The incident API from a terminal.",
                                epilog="URL and token also come from INCIDENT_API_URL and API_TOKEN; "
                                       "INCIDENT_IDENTITY_TOKEN (or 'auto' for gcloud) for a deployed API.")
    p.add_argument("--url", default=os.environ.get("INCIDENT_API_URL", DEFAULT_URL),
                   help=f"API base URL (default {DEFAULT_URL})")
    p.add_argument("--token", default=os.environ.get("API_TOKEN"), help="API token (API_TOKEN)")
    p.add_argument("--identity-token", default=os.environ.get("INCIDENT_IDENTITY_TOKEN"),
                   help="Google identity token for an API behind Cloud Run IAM, or 'auto' (gcloud)")
    p.add_argument("--json", action="store_true", help="print the API's JSON")
    p.add_argument("--no-color", action="store_true", help="no colours (also NO_COLOR)")
    actor = os.environ.get("INCIDENT_ACTOR") or os.environ.get("USER") or "incidentctl"
    sub = p.add_subparsers(dest="command", required=True, metavar="command")

    s = sub.add_parser("list", help="incidents, newest first")
    s.add_argument("--status", choices=["open", "acknowledged", "resolved"])
    s.add_argument("--severity", choices=["critical", "high", "medium", "low"])
    s.add_argument("--type")
    s.add_argument("--limit", type=int, default=50)

    s = sub.add_parser("show", help="one incident with its timeline")
    s.add_argument("incident")
    s.add_argument("--timeline", type=int, default=200, help="entries of the timeline to show")

    s = sub.add_parser("declare", help="report an incident by hand")
    s.add_argument("title")
    s.add_argument("--description", default="")
    s.add_argument("--severity", choices=["critical", "high", "medium", "low"])
    s.add_argument("--type")
    s.add_argument("--service")
    s.add_argument("--reporter", default=actor)

    for name, help_text in (("ack", "acknowledge (stops the escalation)"), ("escalate", "escalate now")):
        s = sub.add_parser(name, help=help_text)
        s.add_argument("incident")
        s.add_argument("--actor", default=actor)

    s = sub.add_parser("assign", help="make someone the owner")
    s.add_argument("incident")
    s.add_argument("owner", help="person id, email or Slack user id")
    s.add_argument("--actor", default=actor)

    s = sub.add_parser("resolve", help="resolve with a summary")
    s.add_argument("incident")
    s.add_argument("--summary", help="what was wrong and what fixed it (required)")
    s.add_argument("--actor", default=actor)

    for name, help_text in (("note", "add a note to the timeline"), ("change", "record an emergency change")):
        s = sub.add_parser(name, help=help_text)
        s.add_argument("incident")
        s.add_argument("text")
        s.add_argument("--actor", default=actor)

    s = sub.add_parser("rca", help="root cause analyses")
    rca = s.add_subparsers(dest="rca_command", required=True, metavar="rca-command")
    r = rca.add_parser("list", help="the RCA repository, newest first")
    r.add_argument("--severity", choices=["critical", "high", "medium", "low"])
    r.add_argument("--status", choices=["draft", "in_review", "published"])
    r.add_argument("--since", help="YYYY-MM-DD")
    r.add_argument("--until", help="YYYY-MM-DD")
    r = rca.add_parser("show", help="one RCA")
    r.add_argument("rca")
    r = rca.add_parser("export", help="an RCA as Markdown")
    r.add_argument("rca")
    r.add_argument("-o", "--output", help="write to this file (default: standard output)")
    r = rca.add_parser("import", help="import a historical RCA from a JSON file")
    r.add_argument("file")

    s = sub.add_parser("metrics", help="MTTA, MTTM, MTTR, breaches, incidents, pages")
    s.add_argument("--since", help="YYYY-MM-DD or ISO time (default: 30 days ago)")
    s.add_argument("--until", help="YYYY-MM-DD or ISO time (default: now)")

    sub.add_parser("digest", help="post the weekly digest to Slack now")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(hoist_global_options(list(sys.argv[1:] if argv is None else argv)))
    paint = Painter(use_colour(sys.stdout, args.no_color))
    api = None
    try:
        api = Api(args.url, args.token, args.identity_token)
        return COMMANDS[args.command](api, args, paint)
    except CliError as exc:
        err = Painter(use_colour(sys.stderr, args.no_color))
        print(f"{err('incidentctl:', '31')} {exc}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        return 130


def hoist_global_options(argv: list[str]) -> list[str]:
    """Global options are accepted anywhere (`incidentctl list --json`), so move them before the command."""
    front, rest, i = [], [], 0
    while i < len(argv):
        arg = argv[i]
        if arg in ("--json", "--no-color"):
            front.append(arg)
        elif arg in ("--url", "--token", "--identity-token") and i + 1 < len(argv):
            front += [arg, argv[i + 1]]
            i += 1
        elif arg.split("=", 1)[0] in ("--url", "--token", "--identity-token"):
            front.append(arg)
        else:
            rest.append(arg)
        i += 1
    return front + rest


def out(args: argparse.Namespace, data: Any, text: str) -> int:
    print(json.dumps(data, indent=2, ensure_ascii=False) if args.json else text)
    return 0


# ---- incidents ------------------------------------------------------------------------------------


def cmd_list(api: Api, args, paint: Painter) -> int:
    data = api.request("GET", "/incidents", params={"status": args.status, "severity": args.severity,
                                                    "type": args.type, "limit": args.limit})
    incidents = data["incidents"]
    if args.json:
        return out(args, incidents, "")
    if not incidents:
        print("No incidents.")
        return 0
    rows = [[(i["id"], paint.bold(i["id"])), (i["severity"], paint.severity(i["severity"])),
             (i["status"], paint.status(i["status"])), (i.get("owner") or "-",) * 2,
             (short_time(i["created_at"]),) * 2, (i["title"],) * 2] for i in incidents]
    print(table(["ID", "SEVERITY", "STATUS", "OWNER", "OPENED (UTC)", "TITLE"], rows, paint))
    if data.get("next_cursor"):
        print("… more; raise --limit (at most 200)")
    return 0


def cmd_show(api: Api, args, paint: Painter) -> int:
    detail = api.request("GET", f"/incidents/{args.incident}")
    if args.json:
        return out(args, detail, "")
    i = detail["incident"]
    lines = [f"{paint.bold(i['id'])}  {i['title']}",
             f"severity {paint.severity(i['severity'])}  status {paint.status(i['status'])}  "
             f"type {i['type']}  service {i.get('service') or '-'}  owner {i.get('owner') or '-'}",
             f"detected {short_time(i['detected_at'])}  acknowledged {short_time(i.get('acknowledged_at'))}  "
             f"mitigated {short_time(i.get('mitigated_at'))}  resolved {short_time(i.get('resolved_at'))} (UTC)",
             f"alerts {detail['alerts_firing']} firing of {detail['alerts_total']}"]
    if i.get("resolution_summary"):
        lines.append(f"resolution: {i['resolution_summary']}")
    review = i.get("review")
    if review and review.get("required"):
        held = (f"held {short_time(review['held_at'])} by {review['held_by']}" if review.get("held_at")
                else paint("MISSED", "1;31") if review.get("missed_at") else "pending")
        lines.append(f"post-incident review due {short_time(review['due_at'])}: {held}; RCA {review['rca_id']}")
    for change in (review or {}).get("changes", []):
        reviewed = "reviewed" if change.get("reviewed_at") else f"review {short_time(change['review_at'])}"
        lines.append(f"emergency change {change['id']}: {change['text']} ({reviewed})")
    timeline = api.request("GET", f"/incidents/{args.incident}/timeline", params={"limit": args.timeline})
    lines += ["", paint.bold("Timeline (UTC)")]
    rows = [[(short_time(e["at"]),) * 2, (e["kind"], paint(e["kind"], "2")), (e["actor"],) * 2, (e["text"],) * 2]
            for e in timeline["entries"]]
    lines.append(table(["TIME", "KIND", "WHO", "WHAT"], rows, paint, max_width=90))
    if timeline.get("next_cursor"):
        lines.append("… more entries; use --timeline N (up to 1000)")
    print("\n".join(lines))
    return 0


def cmd_declare(api: Api, args, paint: Painter) -> int:
    body = {"title": args.title, "description": args.description, "severity": args.severity, "type": args.type,
            "service": args.service, "reporter": args.reporter}
    detail = api.request("POST", "/incidents", {k: v for k, v in body.items() if v is not None})
    i = detail["incident"]
    return out(args, detail, f"Declared {paint.bold(i['id'])} [{paint.severity(i['severity'])}] {i['title']}")


def _action(api: Api, args, paint: Painter, action: str, body: dict[str, Any], verb: str) -> int:
    detail = api.request("POST", f"/incidents/{args.incident}/{action}", {"actor": args.actor, **body})
    i = detail["incident"]
    return out(args, detail, f"{verb} {paint.bold(i['id'])}: status {paint.status(i['status'])}, "
                             f"owner {i.get('owner') or '-'}")


def cmd_ack(api, args, paint):
    return _action(api, args, paint, "acknowledge", {}, "Acknowledged")


def cmd_escalate(api, args, paint):
    return _action(api, args, paint, "escalate", {}, "Escalated")


def cmd_assign(api, args, paint):
    return _action(api, args, paint, "assign", {"owner": args.owner}, "Assigned")


def cmd_resolve(api, args, paint):
    if not (args.summary or "").strip():
        raise CliError("resolving needs a summary: --summary 'what was wrong and what fixed it'", USAGE)
    code = _action(api, args, paint, "resolve", {"summary": args.summary}, "Resolved")
    return code


def cmd_note(api, args, paint):
    detail = api.request("POST", f"/incidents/{args.incident}/notes", {"actor": args.actor, "text": args.text})
    return out(args, detail, f"Noted on {args.incident}")


def cmd_change(api, args, paint):
    detail = api.request("POST", f"/incidents/{args.incident}/changes", {"actor": args.actor, "text": args.text})
    change = detail["incident"]["review"]["changes"][-1]
    return out(args, detail, f"Emergency change {change['id']} recorded on {args.incident}; stakeholder review "
                             f"due {short_time(change['review_at'])} UTC")


# ---- RCAs -----------------------------------------------------------------------------------------


def cmd_rca(api: Api, args, paint: Painter) -> int:
    if args.rca_command == "list":
        data = api.request("GET", "/rcas", params={"severity": args.severity, "status": args.status,
                                                   "since": args.since, "until": args.until, "limit": 200})
        if args.json:
            return out(args, data["rcas"], "")
        if not data["rcas"]:
            print("No RCAs.")
            return 0
        rows = [[(r["date"],) * 2, (r["title"], paint.bold(r["title"])),
                 (r["severity"].capitalize(), paint.severity(r["severity"].capitalize())),
                 (r["status"], paint.status(r["status"])), (r["id"],) * 2] for r in data["rcas"]]
        print(table(["DATE", "INCIDENT", "SEVERITY", "STATUS", "ID"], rows, paint))
        return 0
    if args.rca_command == "show":
        rca = api.request("GET", f"/rcas/{args.rca}")
        if args.json:
            return out(args, rca, "")
        print(api.request("GET", f"/rcas/{args.rca}.md", raw=True), end="")
        return 0
    if args.rca_command == "export":
        markdown = api.request("GET", f"/rcas/{args.rca}.md", raw=True)
        if args.output:
            Path(args.output).write_text(markdown)
            print(f"Wrote {args.output}", file=sys.stderr)
        else:
            print(markdown, end="")
        return 0
    try:
        body = json.loads(Path(args.file).read_text())
    except (OSError, ValueError) as exc:
        raise CliError(f"cannot read {args.file}: {exc}", USAGE) from None
    rca = api.request("POST", "/rcas/import", body)
    return out(args, rca, f"Imported {rca['id']} ({rca['date']}, {rca['title']}, {rca['severity']})")


# ---- metrics --------------------------------------------------------------------------------------


def cmd_metrics(api: Api, args, paint: Painter) -> int:
    data = api.request("GET", "/metrics", params={"since": args.since, "until": args.until})
    if args.json:
        return out(args, data, "")
    m = data["metrics"]
    lines = [paint.bold(f"Incidents {short_time(m['since'])} – {short_time(m['until'])} UTC: {m['incidents']}")
             + f" ({m['open']} open, {m['resolved']} resolved)"]
    lines.append("  ".join(f"{paint.severity(k)} {v}" for k, v in m["by_severity"].items()))
    rows = [[(name,) * 2, (str(m[key]["count"]),) * 2, (seconds(m[key]["median_seconds"]),) * 2,
             (seconds(m[key]["mean_seconds"]),) * 2]
            for name, key in (("MTTA", "time_to_acknowledge"), ("MTTM", "time_to_mitigate"),
                              ("MTTR", "time_to_resolve"))]
    lines += ["", table(["", "N", "MEDIAN", "MEAN"], rows, paint)]
    lines.append(f"\nResponse-target breaches: {m['response_breaches']}"
                 + (f" ({', '.join(m['breached_incidents'][:10])})" if m["breached_incidents"] else ""))
    for title, key in (("By type", "by_type"), ("By service", "by_service")):
        if m[key]:
            lines.append(f"{title}: " + ", ".join(f"{k} {v}" for k, v in m[key].items()))
    if m["pages_per_person"]:
        lines.append("Pages: " + ", ".join(f"{p['name']} {p['pages']}" for p in m["pages_per_person"]))
    rows = [[(w["start"][:10],) * 2, (str(w["incidents"]),) * 2, (seconds(w["mtta_median_seconds"]),) * 2,
             (seconds(w["mttr_median_seconds"]),) * 2] for w in data["weeks"]]
    lines += ["", table(["WEEK OF", "INCIDENTS", "MTTA (MEDIAN)", "MTTR (MEDIAN)"], rows, paint)]
    print("\n".join(lines))
    return 0


def cmd_digest(api: Api, args, paint: Painter) -> int:
    data = api.request("POST", "/digest", {})
    return out(args, data, f"Digest posted to {data.get('channel')} ({data.get('incidents')} incidents)")


COMMANDS = {"list": cmd_list, "show": cmd_show, "declare": cmd_declare, "ack": cmd_ack, "escalate": cmd_escalate,
            "assign": cmd_assign, "resolve": cmd_resolve, "note": cmd_note, "change": cmd_change, "rca": cmd_rca,
            "metrics": cmd_metrics, "digest": cmd_digest}
