"""Placeholder: routes for deployments are being written."""

ROUTES: list = []
