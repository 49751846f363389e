"""The toolkit: the plumbing of an exporter that knows nothing about AI code.

HTTP to an API (http/: client, deadlines, body reader, ETag cache, redaction, wait
headers, pacing, paging, streamed CSV), the hardened web server and its web config
(web/), the OTLP push on the official exporter (otlp/), the minimal metric model
(families.py), file reloading, log formatting and the process collectors.

It imports no domain module (vendors, pipeline, expose, app, cli) and not the simulator;
it may use aicode_exporter.errors, .version and the config models of config/.
tests/unit/test_layers.py holds it to that.
"""
