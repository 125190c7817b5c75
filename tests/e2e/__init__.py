"""End-to-end tests against a real tracing backend (Arize Phoenix); see README.md."""
