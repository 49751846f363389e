"""The configuration, one strict pydantic style for all of it: base models (base.py),
the file and its environment overrides (file.py), teams (teams.py), OTLP (otlp.py) and
the web config (web.py). Each vendor's provider model lives in its own folder.

Nothing is imported here, so the toolkit can use base.py without loading the vendors."""
