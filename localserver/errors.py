"""Appwrite's error envelope: every failure leaves the server as `{message, code, type, version}`.

Handlers raise `AppwriteError(type, message, code)`. One app-level handler turns it, Litestar's own
HTTP exceptions (route not found, method not allowed, body too large, bad params) and any crash into
the same JSON shape with Appwrite's no-cache headers, so clients see one error format.
"""

from __future__ import annotations

import logging

from litestar import Request, Response
from litestar.exceptions import HTTPException, NotFoundException, ValidationException

logger = logging.getLogger("localserver")

SERVER_VERSION = "1.6.2"

NO_CACHE_HEADERS = {
    "Cache-Control": "no-cache, no-store, must-revalidate",
    "Expires": "0",
    "Pragma": "no-cache",
}

# Default messages for the types we emit, as Appwrite's config/errors.php words them.
DEFAULT_MESSAGES: dict[str, tuple[int, str]] = {
    "general_argument_invalid": (400, "The request contains one or more invalid arguments. Please refer to the endpoint documentation."),
    "general_query_invalid": (400, "The query's syntax is invalid. Please check the query and try again."),
    "general_cursor_not_found": (400, "The cursor is invalid. This can happen if the item represented by the cursor has been deleted."),
    "general_route_not_found": (404, "The requested route was not found. Please refer to the API docs and try again."),
    "general_unauthorized_scope": (401, "The current user or API key does not have the required scopes to access the requested resource."),
    "general_bad_request": (400, "There was an error processing your request. Please check the inputs and try again."),
    "general_server_error": (500, "An internal server error occurred."),
    "general_not_implemented": (501, "This method was not fully implemented yet. If you believe this is a mistake, please upgrade your Appwrite server version."),
    "general_rate_limit_exceeded": (429, "Rate limit for the current endpoint has been exceeded. Please try again after some time."),
    "project_key_expired": (401, "The project key has expired. Please generate a new key using the Appwrite console."),
    "user_unauthorized": (401, "The current user is not authorized to perform the requested action."),
    "project_not_found": (404, "Project with the requested ID could not be found. Please check the value of the X-Appwrite-Project header to ensure the correct project ID is being used."),
    "function_already_exists": (409, "Function with the requested ID already exists. Try again with a different ID or use ID.unique() to generate a unique ID."),
    "variable_cannot_unset_secret": (400, "Secret variables cannot be marked as non-secret. Please recreate the variable if this is your intention."),
    "document_already_exists": (409, "Document with the requested ID already exists. Try again with a different ID or use ID.unique() to generate a unique ID."),
    "function_not_found": (404, "Function with the requested ID could not be found."),
    "function_runtime_unsupported": (404, 'The requested runtime "%s" is either inactive or unsupported. Please check the value of the _APP_FUNCTIONS_RUNTIMES environment variable.'),
    "function_entrypoint_missing": (404, "Entrypoint for your Appwrite Function is missing. Please specify it when making deployment or update the entrypoint under your function's \"Settings\" > \"Configuration\" > \"Entrypoint\"."),
    "function_synchronous_timeout": (408, "Synchronous function execution timed out. Use asynchronous execution instead, or ensure the execution duration doesn't exceed 30 seconds."),
    "deployment_not_found": (404, "Deployment with the requested ID could not be found."),
    "build_not_found": (404, "Build with the requested ID could not be found."),
    "build_not_ready": (400, "Build with the requested ID is building and not ready for execution."),
    "build_in_progress": (400, "Build with the requested ID is already in progress. Please wait before you can retry."),
    "build_already_completed": (400, "Build with the requested ID is already completed and cannot be canceled."),
    "execution_not_found": (404, "Execution with the requested ID could not be found."),
    "execution_in_progress": (400, "Can't delete ongoing execution. Please wait for execution to finish before deleting it."),
    "variable_not_found": (404, "Variable with the requested ID could not be found."),
    "variable_already_exists": (409, "Variable with the same ID already exists in this project. Try again with a different ID."),
    "storage_file_empty": (400, "Empty file passed to the endpoint."),
    "storage_file_type_unsupported": (400, "The given file extension is not supported."),
    "storage_invalid_file_size": (400, "The file size is either not valid or exceeds the maximum allowed size. Please check the file or the value of the _APP_STORAGE_LIMIT environment variable."),
    "storage_invalid_file": (403, "The uploaded file is invalid. Please check the file and try again."),
    "storage_invalid_content_range": (400, "The content range is invalid. Please check the value of the Content-Range header."),
    "storage_invalid_range": (416, "The requested range is not satisfiable. Please check the value of the Range header."),
}

# Status codes Appwrite passes through; anything else becomes a 500.
WHITELISTED_CODES = {400, 401, 402, 403, 404, 408, 409, 412, 416, 429, 451, 501, 503}


class AppwriteError(Exception):
    """An error response in Appwrite's shape. `message` defaults to Appwrite's text for `type`."""

    def __init__(self, type: str, message: str | None = None, code: int | None = None, headers: dict[str, str] | None = None) -> None:
        default_code, default_message = DEFAULT_MESSAGES.get(type, (500, "Server Error"))
        self.type = type
        self.headers = dict(headers or {})
        self.code = code if code is not None else default_code
        self.message = message if message is not None else default_message
        super().__init__(self.message)


def invalid_param(param: str, description: str) -> AppwriteError:
    """The framework's message for a parameter that fails its validator."""
    return AppwriteError("general_argument_invalid", f"Invalid `{param}` param: {description}")


def missing_param(param: str) -> AppwriteError:
    return AppwriteError("general_argument_invalid", f'Param "{param}" is not optional.')


def error_response(error: AppwriteError, headers: dict[str, str] | None = None, version: str = SERVER_VERSION) -> Response:
    code = error.code if error.code in WHITELISTED_CODES else 500
    body = {"message": error.message, "code": code, "type": error.type, "version": version}
    return Response(content=body, status_code=code, headers={**NO_CACHE_HEADERS, **(headers or {})}, media_type="application/json")


def handle_exception(request: Request, exc: Exception) -> Response:
    """The one exception handler: everything leaves as Appwrite's envelope, with the version the server reports."""
    ctx = getattr(request.app.state, "ctx", None)
    version = str(getattr(getattr(ctx, "config", None), "version", SERVER_VERSION))

    def respond(error: AppwriteError) -> Response:
        return error_response(error, headers=error.headers, version=version)

    if isinstance(exc, AppwriteError):
        return respond(exc)
    if isinstance(exc, NotFoundException) and getattr(exc, "detail", "") in ("Not Found", "", None):
        return respond(AppwriteError("general_route_not_found"))
    if isinstance(exc, ValidationException):
        return respond(AppwriteError("general_argument_invalid", _validation_message(exc)))
    if isinstance(exc, HTTPException):
        if exc.status_code == 404:
            return respond(AppwriteError("general_route_not_found"))
        if exc.status_code == 405:
            return respond(AppwriteError("general_route_not_found", code=404))
        if exc.status_code == 413:
            return respond(AppwriteError("storage_invalid_file_size"))
        return respond(AppwriteError("general_bad_request", str(exc.detail), code=exc.status_code))
    logger.exception("unhandled error on %s %s", request.method, request.url.path)
    return respond(AppwriteError("general_server_error"))


def _validation_message(exc: ValidationException) -> str:
    extra = exc.extra if isinstance(exc.extra, list) else []
    for item in extra:
        if isinstance(item, dict) and item.get("key"):
            return f"Invalid `{item['key']}` param: {item.get('message', 'invalid value')}"
    return f"Invalid request: {exc.detail}"
