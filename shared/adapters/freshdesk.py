"""Freshdesk REST API v2: tickets, notes, public replies. Basic auth with the API key and the password `X`."""

from __future__ import annotations

from typing import Any

import requests

from shared.adapters.json_api import JsonApi


def freshdesk_base_url(domain: str) -> str:
    """`acme`, `acme.freshdesk.com` or a full URL (a test server) all name the account."""
    domain = domain.strip().rstrip("/")
    if domain.startswith(("http://", "https://")):
        return domain
    return f"https://{domain if '.' in domain else domain + '.freshdesk.com'}"


class FreshdeskClient(JsonApi):
    service = "freshdesk"

    def __init__(self, domain: str, api_key: str, **kwargs: Any):
        super().__init__(f"{freshdesk_base_url(domain)}/api/v2", {}, **kwargs)
        self.session.auth = requests.auth.HTTPBasicAuth(api_key, "X")
        self.web_base = freshdesk_base_url(domain)

    def ticket_url(self, ticket_id: int) -> str:
        return f"{self.web_base}/a/tickets/{ticket_id}"

    def create_ticket(self, body: dict[str, Any]) -> dict[str, Any]:
        return self.request("POST", "/tickets", body, ok=(201,)).json()

    def update_ticket(self, ticket_id: int, body: dict[str, Any]) -> dict[str, Any]:
        return self.request("PUT", f"/tickets/{ticket_id}", body, ok=(200,)).json()

    def add_note(self, ticket_id: int, html_body: str, private: bool = True) -> dict[str, Any]:
        return self.request("POST", f"/tickets/{ticket_id}/notes", {"body": html_body, "private": private},
                            ok=(201,)).json()

    def reply(self, ticket_id: int, html_body: str) -> dict[str, Any]:
        return self.request("POST", f"/tickets/{ticket_id}/reply", {"body": html_body}, ok=(201,)).json()

    def conversations(self, ticket_id: int, max_pages: int = 10) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        for page in range(1, max_pages + 1):
            batch = self.request("GET", f"/tickets/{ticket_id}/conversations",
                                 params={"page": page, "per_page": 100}).json()
            found.extend(batch)
            if len(batch) < 100:
                break
        return found

    def find_by_tag(self, tag: str) -> list[dict[str, Any]]:
        """Tickets carrying a tag (Freshdesk's filter query language; the query must be in double quotes)."""
        answer = self.request("GET", "/search/tickets", params={"query": f"\"tag:'{tag}'\""}).json()
        return list(answer.get("results", []))
