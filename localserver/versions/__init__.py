"""The Appwrite versions the local server emulates: profiles (facts by name), model shapes, and the filter chain.

Handlers speak the newest models (Cloud 2.5 / SDK 27); `chain.middleware` converts requests and responses
for the server's version and the client's `X-Appwrite-Response-Format`, one filter per version step.
"""

from __future__ import annotations

from localserver.versions.profiles import APPWRITE_VERSIONS, PROFILES, ServerProfile, profile_for

__all__ = ["APPWRITE_VERSIONS", "PROFILES", "ServerProfile", "profile_for"]
