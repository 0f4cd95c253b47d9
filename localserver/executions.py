"""Placeholder: routes for executions are being written."""

ROUTES: list = []
