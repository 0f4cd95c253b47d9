"""An Appwrite-compatible Functions API server (Appwrite 1.6.2) that runs on one machine with no setup.

It imports nothing from `syncer` or `webhook`: it is a server in its own right.
"""

from localserver.app import create_app
from localserver.config import ServerConfig

__all__ = ["ServerConfig", "create_app"]
