"""Placeholder: routes for functions are being written."""

ROUTES: list = []
