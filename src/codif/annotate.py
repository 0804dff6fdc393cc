"""Continuous annotation with Label Studio (``codif annotate push`` / ``pull``), as Insee runs its campaigns
(CODIF-APE-REFERENCE.md section 7).

``push`` samples distinct descriptions among the recent predictions of the business logs (uniformly, with a seed:
the same command picks the same forms), leaves out those already in the project, and imports them as Label
Studio tasks, each with the model's top-1 code as a pre-annotation the annotator confirms or corrects. ``pull``
exports the annotated tasks back as a CSV that ``codif evaluate --data`` and ``codif data build --expert`` read
(``text, type_form, nature, surface, event, cj, label`` plus the model's answer), so that the live model is
measured on what experts said, and the next training learns from it.

Label Studio 1.23 refuses its legacy API tokens: the client logs in with the account's e-mail and password
through the login form, as a browser does, and keeps the session cookie.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import httpx

from codif.errors import CodifDataError
from codif.monitor import Window
from sardonyx.errors import UnavailableError, Violation

LABEL_CONFIG: Final = """<View>
  <Header value="NAF rév. 2 subclass of this activity (e.g. 4791A; XXXXX when it cannot be coded)"/>
  <Text name="text" value="$text"/>
  <Text name="side" value="$side"/>
  <TextArea name="code" toName="text" maxSubmissions="1" required="true" placeholder="4791A"/>
</View>"""
EXPORT_COLUMNS: Final = (
    "text", "type_form", "nature", "surface", "event", "cj", "label", "model_code", "ic", "task_id", "annotated_at"
)  # fmt: skip
_TOKEN: Final = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
SIDE_FIELDS: Final = ("type_form", "nature", "surface", "event", "cj")


class LabelStudioError(UnavailableError):
    """Label Studio cannot be reached, refuses the account, or answers an error."""

    reason = "codif-label-studio"
    title = "Label Studio error"


@dataclass
class LabelStudio:
    """A logged-in session on the Label Studio at ``url``.

    Raises:
        LabelStudioError: at construction, when Label Studio cannot be reached or refuses the e-mail and password.
    """

    url: str
    email: str
    password: str
    transport: httpx.BaseTransport | None = None

    def __post_init__(self) -> None:
        self.url = self.url.rstrip("/")
        self._http = httpx.Client(
            base_url=self.url, trust_env=False, follow_redirects=True, timeout=60, transport=self.transport
        )
        try:
            form = self._http.get("/user/login/")
            token = _TOKEN.search(form.text)
            self._http.post(
                "/user/login/",
                data={"email": self.email, "password": self.password, "csrfmiddlewaretoken": token[1] if token else ""},
                headers={"Referer": f"{self.url}/user/login/"},
            )
            whoami = self._http.get("/api/current-user/whoami")
        except httpx.HTTPError as exc:
            self._http.close()
            raise LabelStudioError(f"cannot reach Label Studio at {self.url}: {exc}") from None
        if whoami.status_code != 200:
            self._http.close()
            raise LabelStudioError(f"Label Studio at {self.url} refused {self.email}: wrong e-mail or password")

    def close(self) -> None:
        self._http.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            answer = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise LabelStudioError(f"Label Studio at {self.url}: {method} {path}: {exc}") from None
        if answer.status_code >= 400:
            raise LabelStudioError(
                f"Label Studio at {self.url}: {method} {path} answered {answer.status_code}: {answer.text[:300]}"
            )
        return answer.json()

    def project(self, title: str, *, create: bool) -> int:
        """The id of the project named ``title`` (created with :data:`LABEL_CONFIG` when ``create``).

        Raises:
            LabelStudioError: no such project and ``create`` is false.
        """
        listing = self._call("GET", "/api/projects", params={"title": title, "page_size": 1000})
        for project in listing.get("results", listing) if isinstance(listing, dict) else listing:
            if project.get("title") == title:
                return int(project["id"])
        if not create:
            raise LabelStudioError(f"Label Studio at {self.url} has no project named {title!r}")
        created = self._call("POST", "/api/projects", json={"title": title, "label_config": LABEL_CONFIG})
        return int(created["id"])

    def task_texts(self, project: int) -> set[str]:
        """The ``text`` of every task of ``project`` (normalised as :func:`_key` does)."""
        texts: set[str] = set()
        page = 1
        while True:
            answer = self._call("GET", "/api/tasks", params={"project": project, "page": page, "page_size": 500})
            tasks = answer.get("tasks", [])
            texts.update(_key(str(task["data"].get("text", ""))) for task in tasks)
            if len(texts) >= int(answer.get("total", 0)) or not tasks:
                return texts
            page += 1

    def import_tasks(self, project: int, tasks: Sequence[dict[str, Any]]) -> int:
        """Import ``tasks``; how many Label Studio created."""
        if not tasks:
            return 0
        answer = self._call("POST", f"/api/projects/{project}/import", json=list(tasks))
        return int(answer.get("task_count", len(tasks)))

    def export(self, project: int) -> list[dict[str, Any]]:
        """Every task of ``project`` with its annotations (Label Studio's JSON export)."""
        answer = self._call("GET", f"/api/projects/{project}/export", params={"exportType": "JSON"})
        return list(answer)


def _key(text: str) -> str:
    return " ".join(text.lower().split())


def sample_tasks(connection: Any, window: Window, size: int, seed: int) -> list[dict[str, Any]]:
    """Up to ``size`` distinct descriptions (the latest form of each) predicted in ``window``, as Label Studio tasks
    with the model's top-1 code as a pre-annotation. Deterministic for a given ``seed``."""
    rows = connection.execute(
        """SELECT description, type_form, nature, surface, event, cj, code, ic, model_version FROM (
               SELECT *, row_number() OVER (PARTITION BY lower(trim(description)) ORDER BY day DESC) AS latest
               FROM predictions WHERE day BETWEEN ? AND ? AND trim(description) <> '')
           WHERE latest = 1 ORDER BY hash(lower(trim(description)) || CAST(? AS VARCHAR)) LIMIT ?""",
        [window.start, window.end, seed, size],
    ).fetchall()
    tasks = []
    for description, type_form, nature, surface, event, cj, code, ic, version in rows:
        side = dict(zip(SIDE_FIELDS, (type_form, nature, surface, event, cj), strict=True))
        data = {"text": description, **{k: v or "" for k, v in side.items()}}
        data["side"] = " · ".join(f"{k} {v}" for k, v in side.items() if v) or "no side field"
        data |= {"model_code": code or "", "ic": ic, "model_version": version}
        task: dict[str, Any] = {"data": data}
        if code:
            value = {"text": [code]}
            result = [{"from_name": "code", "to_name": "text", "type": "textarea", "value": value}]
            task["predictions"] = [{"model_version": str(version), "score": ic, "result": result}]
        tasks.append(task)
    return tasks


def push(studio: LabelStudio, project: str, tasks: Sequence[dict[str, Any]]) -> tuple[int, int]:
    """Import the ``tasks`` whose text is not in ``project`` yet (created if needed): (imported, already there)."""
    project_id = studio.project(project, create=True)
    known = studio.task_texts(project_id)
    fresh = [t for t in tasks if _key(str(t["data"]["text"])) not in known]
    return studio.import_tasks(project_id, fresh), len(tasks) - len(fresh)


def annotated_rows(export: Sequence[dict[str, Any]], valid: set[str]) -> tuple[list[dict[str, Any]], list[Violation]]:
    """One CSV row per task with a (non-cancelled) annotation, its latest; codes outside ``valid`` are reported.

    Codes are read as annotators type them (``47.91a`` -> ``4791A``).
    """
    rows: list[dict[str, Any]] = []
    problems: list[Violation] = []
    for task in export:
        annotations = [a for a in task.get("annotations", []) if not a.get("was_cancelled")]
        if not annotations:
            continue
        latest = max(annotations, key=lambda a: str(a.get("updated_at") or a.get("created_at") or ""))
        texts = [
            text
            for item in latest.get("result", [])
            if item.get("from_name") == "code"
            for text in item.get("value", {}).get("text", [])
        ]
        code = re.sub(r"[\s.]", "", texts[0]).upper() if texts else ""
        if code not in valid:
            problems.append(Violation(f"task {task.get('id')}", f"code {code or '(empty)'!r} is not a NAF subclass"))
            continue
        data = task.get("data", {})
        rows.append(
            {
                **{field: data.get(field, "") for field in ("text", *SIDE_FIELDS)},
                "label": code,
                "model_code": data.get("model_code", ""),
                "ic": data.get("ic", ""),
                "task_id": task.get("id"),
                "annotated_at": latest.get("updated_at") or latest.get("created_at") or "",
            }
        )
    return rows, problems


def write_rows(rows: Sequence[dict[str, Any]], target: Path) -> None:
    """Write the annotated rows as CSV (``EXPORT_COLUMNS``). Raises :class:`CodifDataError` when it cannot."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=EXPORT_COLUMNS)
            writer.writeheader()
            writer.writerows(rows)
    except OSError as exc:
        raise CodifDataError(f"cannot write {target}: {exc}") from None
