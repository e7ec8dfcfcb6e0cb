"""Friction log (issue 20): report what went wrong on a page (with an optional screenshot), list reports with
their status, and "fix this", which files a pipeline task with the report as its context."""

import base64
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from orchestrator.config import Settings
from orchestrator.main import create_app

sys.path.insert(0, str(Path(__file__).parent))
from test_pipeline_support import ADMIN

PNG = "data:image/png;base64," + base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 64).decode()


@pytest.fixture
def api(settings: Settings) -> Iterator[TestClient]:
    without_workers = settings.pipeline.model_copy(update={"workers_enabled": False})
    with TestClient(create_app(settings.model_copy(update={"pipeline": without_workers}))) as client:
        yield client


def _key(client: TestClient, name: str) -> dict[str, str]:
    created = client.post("/api/v1/keys", json={"name": name}, headers=ADMIN)
    return {"Authorization": f"Bearer {created.json()['key']}"}


def test_a_report_with_a_screenshot_is_listed_without_it_and_read_with_it(api: TestClient) -> None:
    body = {"text": "The save button does nothing", "page": "/settings", "screenshot": PNG}
    created = api.post("/api/v1/friction", json=body, headers=ADMIN)
    assert created.status_code == 201, created.text
    report = created.json()
    assert (report["status"], report["has_screenshot"], report["screenshot"]) == ("open", True, None)

    listed = api.get("/api/v1/friction?status=open", headers=ADMIN).json()
    assert [(r["id"], r["screenshot"]) for r in listed] == [(report["id"], None)]
    assert api.get("/api/v1/friction?status=fixed", headers=ADMIN).json() == []
    one = api.get(f"/api/v1/friction/{report['id']}", headers=ADMIN).json()
    assert one["screenshot"] == PNG and one["page"] == "/settings"

    dismissed = api.patch(f"/api/v1/friction/{report['id']}", json={"status": "dismissed"}, headers=ADMIN)
    assert dismissed.status_code == 200 and dismissed.json()["status"] == "dismissed"
    assert api.delete(f"/api/v1/friction/{report['id']}", headers=ADMIN).status_code == 204
    assert api.get(f"/api/v1/friction/{report['id']}", headers=ADMIN).status_code == 404


def test_a_screenshot_that_is_not_an_image_data_url_is_422(api: TestClient) -> None:
    body = {"text": "broken", "screenshot": "javascript:alert(1)"}
    response = api.post("/api/v1/friction", json=body, headers=ADMIN)
    assert response.status_code == 422 and "screenshot" in response.text


def test_fix_this_files_a_pipeline_task_with_the_report_and_marks_it_fixing(api: TestClient) -> None:
    report = api.post(
        "/api/v1/friction", json={"text": "Chart legend overlaps the axis", "page": "/usage"}, headers=ADMIN
    ).json()
    fixed = api.post(f"/api/v1/friction/{report['id']}/fix", headers=ADMIN)
    assert fixed.status_code == 202, fixed.text
    assert fixed.json()["status"] == "fixing"
    task = api.get(f"/api/v1/pipeline/tasks/{fixed.json()['task_id']}", headers=ADMIN).json()
    assert "Chart legend overlaps the axis" in task["goal"] and "/usage" in task["goal"]
    assert task["tags"] == ["friction"] and task["metadata"]["friction_report_id"] == report["id"]

    again = api.post(f"/api/v1/friction/{report['id']}/fix", headers=ADMIN)
    assert again.status_code == 409 and fixed.json()["task_id"] in again.json()["detail"]


def test_an_api_key_sees_and_fixes_only_its_own_reports(api: TestClient) -> None:
    mine, other = _key(api, "reporter"), _key(api, "bystander")
    report = api.post("/api/v1/friction", json={"text": "mine"}, headers=mine).json()
    assert report["owner"].startswith("key:")
    assert api.get("/api/v1/friction", headers=other).json() == []
    assert api.get(f"/api/v1/friction/{report['id']}", headers=other).status_code == 404
    assert api.post(f"/api/v1/friction/{report['id']}/fix", headers=other).status_code == 404
    assert [r["id"] for r in api.get("/api/v1/friction", headers=ADMIN).json()] == [report["id"]]
    assert api.post("/api/v1/friction", json={"text": "anonymous"}).status_code == 401
