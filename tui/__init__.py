"""The Textual triage app (later issue)."""
