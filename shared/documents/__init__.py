"""Documents rendered from the models (CERT-In report drafts and the compliance record): pure, templates only."""
