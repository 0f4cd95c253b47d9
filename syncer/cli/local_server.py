"""`fnsync local-server`: run the embedded Appwrite-compatible Functions server in the foreground.

The command itself is defined next to the server (`localserver.__main__`) so that
`python -m localserver` offers exactly the same flags; the CLI only registers it.
"""

from __future__ import annotations

from localserver.__main__ import local_server

__all__ = ["local_server"]
