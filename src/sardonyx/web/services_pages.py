"""My services: cards with live status (server-sent events, no polling in the page), actions, logs.

- ``GET /my-services``: one card per service of the personal project (oldest first): status chip, progress while
  starting, open, copy password, post-install notes, suspend/resume, rename, delete (confirmed); failed services
  stay with their reason; "delete all".
- ``GET /my-services/events?known=a,b``: one SSE stream per page: every lifecycle event of the project and the
  start-up progress of starting services, each sent as the re-rendered card (``event: service-<id>``; ``new`` for
  a service the page does not show yet). htmx's SSE extension swaps them in.
- ``GET /my-services/<id>``: the service page: card, values, equivalent commands, logs followed over SSE
  (``/my-services/<id>/logs/stream``), ``/my-services/<id>/logs.txt`` for the whole log.
- ``POST /my-services/<id>/{suspend,resume,rename,delete}``, ``POST /my-services/delete-all``: answer the
  updated card (htmx) or redirect to the list (plain forms).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shlex
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, RedirectResponse, Response, StreamingResponse
from markupsafe import escape

from sardonyx.errors import BadRequest, NotFound, SardonyxError, Violation
from sardonyx.runtimes.base import ProgressEvent, ServiceStatus
from sardonyx.web.render import is_htmx, page, render_text
from sardonyx.web.routing import WebRoute, platform_of

if TYPE_CHECKING:
    from sardonyx.platform import Platform
    from sardonyx.services import ServiceView

log = logging.getLogger(__name__)

router = APIRouter(route_class=WebRoute, include_in_schema=False)

KEEPALIVE_SECONDS = 15.0
STARTING = frozenset({ServiceStatus.PENDING, ServiceStatus.STARTING})


@dataclass(frozen=True)
class Card:
    """What a service card shows: the service and its latest start-up progress (None when not starting)."""

    service: ServiceView
    progress: ProgressEvent | None = None


def card_html(card: Card, request: Request) -> str:
    return render_text("service_card.html", {"card": card, "svc": card.service, "request": request})


def sse_frame(event: str, html: str) -> str:
    """One SSE message whose data is ``html`` (one ``data:`` line per line of it)."""
    lines = html.splitlines() or [""]
    return f"event: {event}\n" + "".join(f"data: {line}\n" for line in lines) + "\n"


async def _cards(platform: Platform) -> list[Card]:
    user = platform.user
    cards = []
    for view in await platform.manager.list_services(user):
        try:
            cards.append(Card(await platform.manager.get(user, view.id)))
        except NotFound:
            continue
    return cards


@router.get("/my-services")
async def services_page(request: Request, launched: str = "") -> Response:
    platform = platform_of(request)
    cards = await _cards(platform)
    return page(
        request,
        "services.html",
        {"active": "services", "cards": cards, "launched": launched, "known": ",".join(c.service.id for c in cards)},
    )


async def _progress_pump(platform: Platform, service_id: str, queue: asyncio.Queue[tuple[str, Any]]) -> None:
    try:
        stream = await platform.manager.progress(platform.user, service_id)
        async for event in stream:
            await queue.put(("progress", (service_id, event)))
    except NotFound:
        return
    except Exception:  # a broken progress stream must not end the page's stream
        log.exception("progress stream of %s failed", service_id)


async def _event_pump(platform: Platform, queue: asyncio.Queue[tuple[str, Any]]) -> None:
    stream = await platform.manager.events(platform.user, history=1)
    async for event in stream:
        await queue.put(("event", event))


async def service_stream(request: Request, platform: Platform, known: set[str]) -> AsyncIterator[str]:
    """The page's SSE stream (see the module docstring); ends when the client goes away."""
    queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue(1000)
    tasks: dict[str, asyncio.Task[None]] = {}
    latest: dict[str, ProgressEvent] = {}
    events = asyncio.ensure_future(_event_pump(platform, queue))

    def follow(service_id: str) -> None:
        task = tasks.get(service_id)
        if task is None or task.done():
            tasks[service_id] = asyncio.ensure_future(_progress_pump(platform, service_id, queue))

    async def render(service_id: str) -> str:
        try:
            view = await platform.manager.get(platform.user, service_id)
        except NotFound:
            known.discard(service_id)
            latest.pop(service_id, None)
            return sse_frame(f"service-{service_id}", "")
        if view.status in STARTING:
            follow(service_id)
        else:
            latest.pop(service_id, None)
        html = card_html(Card(view, latest.get(service_id) if view.status in STARTING else None), request)
        if service_id not in known:
            known.add(service_id)
            return sse_frame("new", html)
        return sse_frame(f"service-{service_id}", html)

    try:
        yield ": stream open\n\n"
        for service_id in list(known):
            with contextlib.suppress(NotFound):
                view = await platform.manager.get(platform.user, service_id, notes=False)
                if view.status in STARTING:
                    follow(service_id)
        while True:
            try:
                kind, item = await asyncio.wait_for(queue.get(), KEEPALIVE_SECONDS)
            except TimeoutError:
                if await request.is_disconnected():
                    return
                yield ": keep-alive\n\n"
                continue
            if kind == "event":
                yield await render(item.service_id)
            else:
                service_id, progress = item
                latest[service_id] = progress
                yield await render(service_id)
    finally:
        events.cancel()
        for task in tasks.values():
            task.cancel()
        for task in [events, *tasks.values()]:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


def _sse(stream: AsyncIterator[str]) -> StreamingResponse:
    return StreamingResponse(
        stream, media_type="text/event-stream", headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    )


@router.get("/my-services/events")
async def services_events(request: Request, known: str = "") -> StreamingResponse:
    platform = platform_of(request)
    ids = {part for part in known.split(",") if part}
    return _sse(service_stream(request, platform, ids))


async def _answer(request: Request, platform: Platform, service_id: str) -> Response:
    """The updated card for htmx, else back to the list."""
    if not is_htmx(request):
        return RedirectResponse("/my-services", status_code=303)
    try:
        view = await platform.manager.get(platform.user, service_id)
    except NotFound:
        return Response("", media_type="text/html")
    return Response(card_html(Card(view), request), media_type="text/html")


@router.post("/my-services/{service_id}/suspend")
async def suspend(request: Request, service_id: str) -> Response:
    platform = platform_of(request)
    await platform.manager.suspend(platform.user, service_id)
    return await _answer(request, platform, service_id)


@router.post("/my-services/{service_id}/resume")
async def resume(request: Request, service_id: str) -> Response:
    platform = platform_of(request)
    await platform.manager.resume(platform.user, service_id)
    return await _answer(request, platform, service_id)


@router.post("/my-services/{service_id}/rename")
async def rename(request: Request, service_id: str) -> Response:
    platform = platform_of(request)
    form = await request.form()
    name = form.get("friendly_name")
    if not isinstance(name, str):
        raise BadRequest("a friendly name is required", violations=[Violation("friendly_name", "required")])
    await platform.manager.rename(platform.user, service_id, name)
    return await _answer(request, platform, service_id)


@router.post("/my-services/{service_id}/delete")
async def delete(request: Request, service_id: str) -> Response:
    platform = platform_of(request)
    await platform.manager.delete(platform.user, service_id, wait=False)
    return await _answer(request, platform, service_id)


@router.post("/my-services/delete-all")
async def delete_all(request: Request) -> Response:
    platform = platform_of(request)
    for view in await platform.manager.list_services(platform.user):
        if view.status is not ServiceStatus.DELETING:
            with contextlib.suppress(NotFound):
                await platform.manager.delete(platform.user, view.id, wait=False)
    if not is_htmx(request):
        return RedirectResponse("/my-services", status_code=303)
    cards = await _cards(platform)
    return Response(render_text("services_grid.html", {"cards": cards, "request": request}), media_type="text/html")


# ------------------------------------------------------------------------------------------------ one service


def _cli_commands(view: ServiceView) -> str:
    sid = shlex.quote(view.id)
    verbs = ["logs {} --follow", "suspend {}", "resume {}", "delete {}"]
    return "\n".join("sardonyx " + verb.format(sid) for verb in verbs)


@router.get("/my-services/{service_id}")
async def service_page(request: Request, service_id: str) -> Response:
    from sardonyx.services import flatten_values

    platform = platform_of(request)
    view = await platform.manager.get(platform.user, service_id)
    return page(
        request,
        "service.html",
        {
            "active": "services",
            "card": Card(view),
            "svc": view,
            "values": sorted(flatten_values(view.values).items()),
            "cli": _cli_commands(view),
            "helm": await platform.manager.commands(platform.user, service_id),
            "helm_clear": await platform.manager.commands(platform.user, service_id, reveal=True),
        },
    )


async def _log_stream(request: Request, platform: Platform, service_id: str) -> AsyncIterator[str]:
    lines = await platform.manager.logs(platform.user, service_id, follow=True, tail=1000)
    queue: asyncio.Queue[str | None] = asyncio.Queue(10_000)

    async def pump() -> None:
        try:
            async for line in lines:
                await queue.put(line)
        finally:
            await queue.put(None)

    task = asyncio.ensure_future(pump())
    try:
        yield ": stream open\n\n"
        while True:
            try:
                first = await asyncio.wait_for(queue.get(), KEEPALIVE_SECONDS)
            except TimeoutError:
                if await request.is_disconnected():
                    return
                yield ": keep-alive\n\n"
                continue
            if first is None:
                yield sse_frame("end", "")
                return
            batch = [first]
            while not queue.empty() and len(batch) < 500:
                item = queue.get_nowait()
                if item is None:
                    queue.put_nowait(None)
                    break
                batch.append(item)
            text = "".join(str(escape(line.rstrip("\n"))) + "\n" for line in batch)
            yield sse_frame("line", f"<span>{text}</span>")
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task


@router.get("/my-services/{service_id}/logs/stream")
async def logs_stream(request: Request, service_id: str) -> StreamingResponse:
    platform = platform_of(request)
    await platform.manager.get(platform.user, service_id, notes=False)  # NotFound before the stream opens
    return _sse(_log_stream(request, platform, service_id))


@router.get("/my-services/{service_id}/logs.txt")
async def logs_text(request: Request, service_id: str) -> Response:
    platform = platform_of(request)
    lines = await platform.manager.logs(platform.user, service_id, follow=False)
    text = "".join([line if line.endswith("\n") else line + "\n" async for line in lines])
    return PlainTextResponse(text, headers={"Content-Disposition": f'attachment; filename="{service_id}.log"'})


__all__ = ["Card", "SardonyxError", "router", "service_stream", "sse_frame"]
