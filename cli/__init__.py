"""`incidentctl`: the incident API from a terminal (tables and colours on a tty, JSON with --json)."""
