"""My files: browse the project's bucket, upload, download, delete, create folders, share, preview.

- ``GET /my-files?prefix=a/b/``: folders and files (sizes, dates), breadcrumbs, upload zone (files and whole
  folders, one request per file with progress, see ``sardonyx.js``), new folder.
- ``POST /my-files/existing``: which of the keys an upload would write exist already (the page asks the user
  before replacing them: replace, skip them, or cancel).
- ``PUT /my-files/upload?key=..[&overwrite=false]``: one file's bytes as the request body (what the page's script
  sends). The body is spooled to a temporary file (bounded memory) and written to S3 only once it arrived whole:
  an interrupted upload stores nothing and leaves the previous object, if any, untouched; with ``overwrite=false``
  an existing object is kept (409). ``POST /my-files/upload`` takes a plain multipart form (pages without
  JavaScript), which replaces existing files only when its ``overwrite`` box is ticked.
- ``GET /my-files/download?key=..``: the object, streamed, as an attachment.
- ``POST /my-files/delete`` (``key`` or folder ``prefix``), ``POST /my-files/folder``.
- ``POST /my-files/share``: a share link of the chosen lifetime (``share.py``) and the direct presigned S3 URL.
- ``GET /share/<token>``: the shared file, or a clear page when the link expired or is not valid.
- ``GET /my-files/preview?key=..``: schema and first rows of a Parquet or CSV file (``preview.py``).
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import ClientDisconnect

from sardonyx.errors import BadRequest, Conflict, Forbidden, InvalidName, NotFound, UnavailableError, Violation
from sardonyx.storage import BucketBrowser, S3Credentials, validate_key
from sardonyx.web.preview import preview_kind, preview_object
from sardonyx.web.render import is_htmx, page, render_text
from sardonyx.web.routing import WebRoute, platform_of
from sardonyx.web.share import LIFETIMES, bucket_of_token, make_token, read_token

if TYPE_CHECKING:
    from sardonyx.platform import Platform

log = logging.getLogger(__name__)

router = APIRouter(route_class=WebRoute, include_in_schema=False)

SPOOL_BYTES = 8 * 1024 * 1024
"""Uploads up to this size stay in memory; larger ones are spooled to a temporary file."""


async def project_credentials(request: Request, project: str | None = None) -> S3Credentials:
    """The S3 credentials of the user's project (issued on first use, then cached by the platform).

    Raises:
        UnavailableError: the region has no S3.
    """
    platform = platform_of(request)
    if platform.credentials is None:
        raise UnavailableError("this region has no S3 storage configured")
    chosen = platform.user.project(project)
    cache: dict[str, S3Credentials] = request.app.state.__dict__.setdefault("web_s3_credentials", {})
    credentials = cache.get(chosen.id)
    if credentials is None:
        credentials = await run_in_threadpool(platform.credentials.for_project, chosen.id)
        cache[chosen.id] = credentials
    return credentials


async def project_browser(request: Request) -> BucketBrowser:
    """A bucket browser of the personal project (one boto3 client per project, kept by the app)."""
    credentials = await project_credentials(request)
    browsers: dict[str, BucketBrowser] = request.app.state.__dict__.setdefault("web_browsers", {})
    browser = browsers.get(credentials.bucket)
    if browser is None or browser.credentials != credentials:
        browser = BucketBrowser(credentials)
        browsers[credentials.bucket] = browser
    return browser


@dataclass(frozen=True)
class Crumb:
    name: str
    prefix: str


def _crumbs(bucket: str, prefix: str) -> list[Crumb]:
    crumbs = [Crumb(bucket, "")]
    current = ""
    for part in [p for p in prefix.split("/") if p]:
        current += part + "/"
        crumbs.append(Crumb(part, current))
    return crumbs


def _normal_prefix(prefix: str) -> str:
    prefix = prefix.strip()
    validate_key(prefix, allow_empty=True, what="prefix")
    return prefix if not prefix or prefix.endswith("/") else prefix + "/"


@router.get("/my-files")
async def files_page(request: Request, prefix: str = "") -> Response:
    browser = await project_browser(request)
    prefix = _normal_prefix(prefix)
    listing = await run_in_threadpool(browser.list, prefix)
    return page(
        request,
        "files.html",
        {
            "active": "files",
            "listing": listing,
            "prefix": prefix,
            "crumbs": _crumbs(browser.bucket, prefix),
            "previewable": preview_kind,
            "lifetimes": LIFETIMES,
            "parent": "/".join(prefix.rstrip("/").split("/")[:-1]) + "/" if prefix.count("/") > 1 else "",
        },
    )


def _back(prefix: str) -> RedirectResponse:
    return RedirectResponse(f"/my-files?prefix={quote(prefix)}" if prefix else "/my-files", status_code=303)


MAX_CHECKED_KEYS = 10_000
"""Most keys one ``/my-files/existing`` request may ask about."""


@router.post("/my-files/existing")
async def existing(request: Request) -> Response:
    """Which of the keys an upload is about to write exist already: ``{"keys": [...]}`` ->
    ``{"existing": [{"key", "size", "lastModified"}...]}`` (the page asks before replacing them)."""
    try:
        body = await request.json()
    except ValueError as error:
        raise BadRequest('the body must be JSON: {"keys": [...]}') from error
    keys = body.get("keys") if isinstance(body, dict) else None
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        raise BadRequest('the body must be JSON: {"keys": [...]}', violations=[Violation("keys", "a list of keys")])
    if len(keys) > MAX_CHECKED_KEYS:
        raise BadRequest(
            f"too many keys: {len(keys)}", violations=[Violation("keys", f"at most {MAX_CHECKED_KEYS} at once")]
        )
    problems = []
    for index, key in enumerate(keys):
        try:
            validate_key(key)
        except InvalidName as error:
            problems += [Violation(f"keys[{index}]", f"{key!r}: {v.reason}") for v in error.violations]
    if problems:
        raise InvalidName("invalid keys", violations=problems)
    browser = await project_browser(request)
    found = await run_in_threadpool(browser.existing, keys)
    return JSONResponse(
        {
            "existing": [
                {"key": o.key, "size": o.size, "lastModified": o.last_modified.isoformat()}
                for o in sorted(found.values(), key=lambda o: o.key)
            ]
        }
    )


def _exists_error(keys: list[str]) -> Conflict:
    names = ", ".join(keys[:5]) + (f" and {len(keys) - 5} more" if len(keys) > 5 else "")
    return Conflict(
        f"nothing was uploaded: {names} already exist{'s' if len(keys) == 1 else ''}; choose to replace existing "
        "files to overwrite them",
        violations=[Violation("key", f"{key} already exists") for key in keys],
    )


@router.put("/my-files/upload")
async def upload_raw(request: Request, key: str, overwrite: bool = True) -> Response:
    """One file's bytes as the body; written to S3 only once complete (see the module docstring). With
    ``overwrite=false`` an existing object is left as it is (409)."""
    validate_key(key)
    if key.endswith("/"):
        raise InvalidName(f"invalid key {key!r}", violations=[Violation("key", "a file name must not end with '/'")])
    browser = await project_browser(request)
    expected = request.headers.get("content-length")
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115 - closed in finally
    try:
        received = 0
        try:
            async for chunk in request.stream():
                received += len(chunk)
                spool.write(chunk)
        except ClientDisconnect:
            log.info("upload of %s interrupted after %d bytes: nothing stored", key, received)
            return JSONResponse({"stored": False, "reason": "the upload was interrupted"}, status_code=400)
        if expected is not None and expected.isdigit() and int(expected) != received:
            raise BadRequest(
                f"the upload of {key} was incomplete ({received} of {expected} bytes): nothing was stored",
                violations=[Violation("body", "incomplete")],
            )
        taken = await run_in_threadpool(browser.existing, [key]) if not overwrite else {}
        if taken:
            log.info("upload of %s refused: it exists and overwrite is off", key)
            return JSONResponse(
                {"stored": False, "exists": True, "reason": f"{key} already exists: it was not replaced"},
                status_code=409,
            )
        spool.seek(0)
        content_type = request.headers.get("x-file-type") or None
        stored = await run_in_threadpool(browser.upload, key, spool, content_type=content_type)
    finally:
        spool.close()
    return JSONResponse({"stored": True, "key": stored.key, "size": stored.size})


@router.post("/my-files/upload")
async def upload_form(request: Request) -> Response:
    """Files from a plain multipart form (``files``, ``prefix``): the page without JavaScript."""
    browser = await project_browser(request)
    # the form's files are spooled to temporary files: closed when the block ends, whatever happens
    async with request.form() as form:
        prefix_value = form.get("prefix")
        prefix = _normal_prefix(prefix_value if isinstance(prefix_value, str) else "")
        files = [item for item in form.getlist("files") if isinstance(item, UploadFile) and item.filename]
        if not files:
            raise BadRequest("choose at least one file to upload", violations=[Violation("files", "no file")])
        keys = [validate_key(prefix + (item.filename or "").replace("\\", "/").lstrip("/")) for item in files]
        if not form.get("overwrite"):
            taken = sorted(await run_in_threadpool(browser.existing, keys))
            if taken:
                raise _exists_error(taken)
        for key, item in zip(keys, files, strict=True):
            await run_in_threadpool(browser.upload, key, item.file, content_type=item.content_type)
    return _back(prefix)


@router.post("/my-files/folder")
async def create_folder(request: Request) -> Response:
    browser = await project_browser(request)
    form = await request.form()
    prefix = _normal_prefix(str(form.get("prefix") or ""))
    name = str(form.get("name") or "").strip().strip("/")
    if not name or "/" in name:
        raise BadRequest("invalid folder name", violations=[Violation("name", "a name without '/', not empty")])
    key = validate_key(f"{prefix}{name}/")
    await run_in_threadpool(browser.upload, key, b"")
    return _back(key)


@router.post("/my-files/delete")
async def delete(request: Request) -> Response:
    browser = await project_browser(request)
    form = await request.form()
    key = str(form.get("key") or "")
    folder = str(form.get("folder") or "")
    back = _normal_prefix(str(form.get("back") or ""))
    if folder:
        folder = _normal_prefix(folder)
        await run_in_threadpool(browser.delete_prefix, folder)
        # the folder itself: its marker object, or the directory entry SeaweedFS keeps once emptied
        await run_in_threadpool(browser.delete, folder)
    elif key:
        await run_in_threadpool(browser.delete, validate_key(key))
    else:
        raise BadRequest("nothing to delete", violations=[Violation("key", "required")])
    if is_htmx(request):
        return Response("", media_type="text/html")
    return _back(back)


def _filename_header(name: str) -> str:
    ascii_name = name.encode("ascii", "replace").decode().replace('"', "'")
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"


@router.get("/my-files/download")
async def download(request: Request, key: str) -> Response:
    browser = await project_browser(request)
    head = await run_in_threadpool(browser.head, key)
    chunks = await run_in_threadpool(browser.stream, key)
    return StreamingResponse(
        chunks,
        media_type=head.content_type or "application/octet-stream",
        headers={"Content-Disposition": _filename_header(head.name), "Content-Length": str(head.size)},
    )


@router.post("/my-files/share")
async def share(request: Request) -> Response:
    browser = await project_browser(request)
    form = await request.form()
    key = validate_key(str(form.get("key") or ""))
    raw = str(form.get("lifetime") or "3600")
    if not raw.isdigit():
        raise BadRequest("invalid lifetime", violations=[Violation("lifetime", "a number of seconds")])
    lifetime = int(raw)
    await run_in_threadpool(browser.head, key)  # NotFound for a missing file
    token = make_token(browser.bucket, key, lifetime, browser.credentials.secret_access_key)
    direct = await run_in_threadpool(lambda: browser.presigned_url(key, expires_seconds=lifetime))
    label = next((text for seconds, text in LIFETIMES if seconds == lifetime), f"{lifetime} seconds")
    context: dict[str, Any] = {
        "request": request,
        "key": key,
        "name": key.rsplit("/", 1)[-1],
        "share_url": f"{request.base_url}share/{token}",
        "direct_url": direct,
        "lifetime": label,
    }
    if is_htmx(request):
        return Response(render_text("share_result.html", context), media_type="text/html")
    return page(request, "share_page.html", {**context, "active": "files"})


@router.get("/share/{token}")
async def shared_file(request: Request, token: str) -> Response:
    platform: Platform = platform_of(request)
    bucket = bucket_of_token(token)
    try:
        platform.user.project(bucket)
    except Forbidden as error:
        raise NotFound("this share link is not valid: check that it was copied whole") from error
    credentials = await project_credentials(request, bucket)
    shared = read_token(token, credentials.secret_access_key)
    browser = BucketBrowser(credentials)
    try:
        head = await run_in_threadpool(browser.head, shared.key)
    except NotFound as error:
        raise NotFound(f"the shared file {shared.key.rsplit('/', 1)[-1]} no longer exists") from error
    chunks = await run_in_threadpool(browser.stream, shared.key)
    return StreamingResponse(
        chunks,
        media_type=head.content_type or "application/octet-stream",
        headers={"Content-Disposition": _filename_header(head.name), "Content-Length": str(head.size)},
    )


@router.get("/my-files/preview")
async def preview(request: Request, key: str) -> Response:
    credentials = await project_credentials(request)
    validate_key(key)
    result = await asyncio.to_thread(preview_object, credentials, key)
    folder = key.rsplit("/", 1)[0] + "/" if "/" in key else ""
    return page(
        request,
        "preview.html",
        {
            "active": "files",
            "preview": result,
            "key": key,
            "name": key.rsplit("/", 1)[-1],
            "crumbs": _crumbs(credentials.bucket, folder),
        },
    )
