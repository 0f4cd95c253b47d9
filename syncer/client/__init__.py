"""The Appwrite Functions client: the only part of fnsync that speaks HTTP to Appwrite.

    async with AppwriteClient(endpoint, project, api_key) as client:
        fn = await client.get_function("hello")

Public names live here; the modules behind them (`http`, `errors`, `retry`, `query`, `upload`, `models`, `version`, `capabilities`) are
implementation detail except `models`, `errors`, `version` and `capabilities`, which callers may import directly.
"""

from syncer.client.errors import (
    AppwriteConnectionError,
    AppwriteError,
    AppwriteProtocolError,
    AppwriteResponseError,
    BuildWaitTimeout,
    RateLimit,
    UnsupportedServerVersion,
    is_already_exists,
    is_duplicate_of_own_create,
    is_not_found,
    is_transient,
)
from syncer.client.capabilities import Capabilities
from syncer.client.http import AppwriteClient, ClientStats
from syncer.client.models import FunctionSettings, UploadProgress
from syncer.client.query import Query
from syncer.client.retry import RetryPolicy, Safety
from syncer.client.upload import CHUNK_SIZE
from syncer.client.version import MINIMUM_VERSION, ServerVersion

__all__ = [
    "CHUNK_SIZE",
    "MINIMUM_VERSION",
    "AppwriteClient",
    "AppwriteConnectionError",
    "AppwriteError",
    "AppwriteProtocolError",
    "AppwriteResponseError",
    "BuildWaitTimeout",
    "Capabilities",
    "ClientStats",
    "FunctionSettings",
    "Query",
    "RateLimit",
    "RetryPolicy",
    "Safety",
    "ServerVersion",
    "UnsupportedServerVersion",
    "UploadProgress",
    "is_already_exists",
    "is_duplicate_of_own_create",
    "is_not_found",
    "is_transient",
]
