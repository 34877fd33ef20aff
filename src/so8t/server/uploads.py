"""Reading the Ask form (prompt + images) from a multipart body, entirely in memory.

Starlette's own form parsing spools any file over 1 MiB to a temporary file on disk; an image the user asked
about must never be written anywhere, so the parser here keeps every part in memory. That is safe because the
whole body is already capped at ServerLimits.max_request_bytes by BodySizeLimit.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import HTTPException
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from so8t.server.limits import ServerLimits


class RequestTooLarge(HTTPException):
    def __init__(self, limits: ServerLimits) -> None:
        super().__init__(413, f"the request body is larger than the {limits.describe_request_limit()} upload limit")


class BodySizeLimit:
    """ASGI middleware: a body over the limit (declared or counted) fails while the route reads it.

    Raising inside `receive` lets the app's own error handlers answer (an HTML page or JSON that names the
    limit), which Starlette's body-limit middleware does not allow: it replaces the response with plain text.
    """

    def __init__(self, app: ASGIApp, limits: ServerLimits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        declared_too_large = declared.isdigit() and int(declared) > self.limits.max_request_bytes
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            if declared_too_large:
                raise RequestTooLarge(self.limits)
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limits.max_request_bytes:
                    raise RequestTooLarge(self.limits)
            return message

        await self.app(scope, limited_receive, send)


@dataclass
class AskForm:
    """The fields of an Ask submission: the prompt, the images' bytes, and any other text fields (csrf_token)."""

    prompt: str
    images: list[bytes]
    fields: dict[str, str] = field(default_factory=dict)


async def read_ask_form(request: Request, limits: ServerLimits) -> AskForm:
    """Parse `prompt` and `images` (any number of file parts) and check them against the limits."""
    content_type = request.headers.get("content-type", "")
    if not content_type.lower().startswith("multipart/form-data"):
        raise HTTPException(
            415, f"send the prompt and images as multipart/form-data (fields 'prompt' and 'images'); got {content_type or 'no Content-Type'}"
        )
    parser = MultiPartParser(request.headers, request.stream(), max_part_size=4 * limits.max_prompt_chars + 1024)
    parser.spool_max_size = limits.max_request_bytes + 1  # never rolls over to disk: the body is capped below this
    try:
        form = await parser.parse()
    except MultiPartException as exc:
        raise HTTPException(400, f"malformed multipart body: {exc.message}") from exc
    try:
        fields: dict[str, str] = {}
        uploads: list[UploadFile] = []
        for name, value in form.multi_items():
            if name == "images":
                if not isinstance(value, UploadFile):
                    raise HTTPException(422, "'images' must be file parts (with a filename), not text fields")
                uploads.append(value)
            elif isinstance(value, str):
                fields.setdefault(name, value)
            else:
                raise HTTPException(422, f"unexpected file in field {name!r}; images go in the 'images' field")
        images = []
        for position, upload in enumerate(uploads, start=1):
            data = await upload.read()
            if not data and not upload.filename:
                continue  # a browser's file input with nothing chosen sends one empty, unnamed part
            if not data:
                raise HTTPException(422, f"image {position} ({upload.filename}) is empty")
            images.append(data)
    finally:
        await form.close()
    prompt = fields.pop("prompt", "")
    check_ask(prompt, len(images), limits)
    return AskForm(prompt=prompt, images=images, fields=fields)


def check_ask(prompt: str, image_count: int, limits: ServerLimits) -> None:
    """The checks every way of asking shares (the form, the multipart API, chat completions)."""
    try:
        prompt.encode("utf-8")
    except UnicodeEncodeError as exc:  # JSON can carry lone surrogates ("\ud800"), which no store can keep
        raise HTTPException(422, f"the prompt is not valid Unicode text ({exc.reason} at index {exc.start})") from exc
    if len(prompt) > limits.max_prompt_chars:
        raise HTTPException(422, f"the prompt has {len(prompt)} characters; the limit is {limits.max_prompt_chars}")
    if image_count > limits.max_images:
        raise HTTPException(422, f"{image_count} images sent; at most {limits.max_images} per request")
    if not prompt.strip():
        raise HTTPException(422, "the prompt is empty: say what you want to know (about the images, if you send any)")
