"""Placeholder: routes for variables are being written."""

ROUTES: list = []
