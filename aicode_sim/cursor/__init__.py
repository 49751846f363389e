"""Simulated Cursor AI Code Tracking API."""
