"""Vendor-neutral data path: poll jobs, records, streams, state, the poller. Never imports
a vendor; vendors hand it endpoints and records."""
