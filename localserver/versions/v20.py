"""V20: clients older than format 1.8.0 on 1.8+ servers. Nothing for functions (it converts document
`select` queries), kept so the chain has every step (appwrite/appwrite@1.9.6 {Request,Response}/Filters/V20.php)."""

from __future__ import annotations

from localserver.versions.base import Filter


class V20(Filter):
    name = "V20"
    threshold = "1.8.0"
