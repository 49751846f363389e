"""Simulated Qoder Teams OpenAPI: AI Code Metrics and AI Code Tracking."""
