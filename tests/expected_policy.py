"""What the written company policy says, as the tests expect the default policy file to encode it."""

# The people each level of each escalation path pages, in order (placeholder person ids of config/policy.yaml).
PATHS = {
    "system_alert": [["devops-1", "devops-2"], ["cto"], ["pm"]],
    "partner_technical": [["support-1"], ["pm"], ["cto"]],
    "partner_technical_pst": [["pst-1"], ["support-1"], ["pm"], ["cto"]],
    "system_security": [["cto"], ["ceo"]],
    "partner_security": [["support-1"], ["cto"]],
    "partner_security_pst": [["pst-1"], ["support-1"], ["cto"]],
    "development_blocker": [["team-lead", "engineer-1", "engineer-2", "pm"], ["cto"], ["ceo"]],
    "bug_report": [["team-lead", "engineer-1", "engineer-2"], ["pm"], ["cto"]],
}
