"""The HTTP side of an exporter: the hardened server, content negotiation, the landing
page shell, and the web config applied (TLS, basic auth)."""
