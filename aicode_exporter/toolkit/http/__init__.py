"""HTTP to any API: the client and what it is built from (deadlines, the body reader,
the ETag cache, redaction, wait headers, pacing, auth), the page loop and streamed CSV."""
