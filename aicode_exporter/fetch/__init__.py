"""HTTP to any vendor: client, pacing, paging, streamed CSV. Names no vendor and imports
nothing above it."""
