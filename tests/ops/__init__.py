"""The operations bundle (dashboards, rules, Kubernetes, compose, Prometheus): all slow."""
