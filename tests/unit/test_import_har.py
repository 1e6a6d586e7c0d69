"""`harness import har`: a HAR becomes a journey module that compiles, passes ruff, writes no
secret, reuses response values through j.vars, and is the same bytes every time."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from harness.cli import main
from harness.errors import UsageError
from harness.importers.har_code import import_har
from harness.targets import Target

BASE = "http://shop.test:8000"
SECRET_COOKIE = "sid=SESSION-SECRET-123456"
API_KEY = "KEY-0123456789abcdef"
EMAIL = "jo.doe+w0@example.test"
PASSWORD = "S3cret!Password"


def entry(
    t: float,
    method: str,
    url: str,
    status: int = 200,
    *,
    kind: str = "fetch",
    mime: str = "application/json",
    body: Any = None,
    form: str | None = None,
    headers: dict[str, str] | None = None,
    response: Any = None,
    response_headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    post: dict[str, Any] | None = None
    if form is not None:
        post = {"mimeType": "application/x-www-form-urlencoded", "text": form}
    elif body is not None:
        post = {"mimeType": "application/json", "text": json.dumps(body)}
    content: dict[str, Any] = {"size": -1, "mimeType": mime}
    if response is not None:
        content["text"] = response if isinstance(response, str) else json.dumps(response)
    request: dict[str, Any] = {
        "method": method,
        "url": url,
        "headers": [{"name": k, "value": v} for k, v in (headers or {}).items()],
    }
    if post:
        request["postData"] = post
    return {
        "startedDateTime": f"2026-12-07T10:00:{t:06.3f}Z",
        "time": 20,
        "_resourceType": kind,
        "request": request,
        "response": {
            "status": status,
            "headers": [{"name": k, "value": v} for k, v in (response_headers or {}).items()],
            "content": content,
        },
    }


def shop_har() -> dict[str, Any]:
    page = '<html><form><input type="hidden" name="csrf" value="CSRF-TOKEN-0123456789"></form>'
    entries = [
        entry(0, "GET", f"{BASE}/", kind="document", mime="text/html", response="<html>"),
        entry(0.1, "GET", f"{BASE}/static/app.css", kind="stylesheet", mime="text/css"),
        entry(0.2, "GET", "https://cdn.example.net/lib.js", kind="script"),
        entry(0.3, "POST", "https://analytics.example.org/collect", 204, body={"e": 1}),
        entry(2.5, "GET", f"{BASE}/signup", kind="document", mime="text/html", response=page),
        entry(
            4.0,
            "POST",
            f"{BASE}/signup",
            303,
            kind="document",
            mime="x-unknown",
            form=f"name=Jo+Doe&email={EMAIL.replace('+', '%2B')}&password={PASSWORD}"
            "&csrf=CSRF-TOKEN-0123456789",
            headers={"Cookie": SECRET_COOKIE, "User-Agent": "Chrome"},
            response_headers={"Location": "/", "Set-Cookie": SECRET_COOKIE},
        ),
        entry(4.05, "GET", f"{BASE}/", kind="document", mime="text/html", response="<html>"),
        entry(
            6.0,
            "POST",
            f"{BASE}/api/v1/tokens",
            body={"email": EMAIL, "password": PASSWORD},
            response={"token": "TOKEN-abcdef0123456789"},
        ),
        entry(
            6.1,
            "GET",
            f"{BASE}/api/v1/products?limit=20&q=mug",
            headers={"Authorization": "Bearer TOKEN-abcdef0123456789", "X-Api-Key": API_KEY},
            response={"items": [{"id": 41, "name": "Mug"}]},
        ),
        entry(6.2, "POST", f"{BASE}/api/v1/cart/items", 201, body={"product_id": 41}),
        entry(6.3, "POST", f"{BASE}/api/v1/orders", 201, body={"card": {"number": "4111"}}),
        entry(6.4, "GET", f"{BASE}/orders/7", kind="document", mime="text/html", response="<p>"),
    ]
    return {"log": {"version": "1.2", "entries": entries}}


@pytest.fixture
def har(tmp_path: Path) -> Path:
    path = tmp_path / "shop.har"
    path.write_text(json.dumps(shop_har()))
    return path


def test_the_module_replays_the_recording_with_its_values_kept_apart(har: Path) -> None:
    source = import_har(har, name="shop_visit").source
    compile(source, "shop_visit.py", "exec")
    for secret in (SECRET_COOKIE, API_KEY, EMAIL, PASSWORD, "Jo Doe", "TOKEN-abcdef"):
        assert secret not in source
    assert '"email": j.user.email' in source and '"password": j.user.password' in source
    assert '"X-Api-Key"' not in source and "os.environ['HAR_X_API_KEY']" in source
    assert "j.vars['tokens_token'] = r.json()['token']" in source
    assert "f\"Bearer {j.vars['tokens_token']}\"" in source
    assert "j.vars['products_id'] = r.json()['items'][0]['id']" in source
    assert "json={\"product_id\": j.vars['products_id']}" in source
    assert "j.vars['signup_csrf'] = hidden(r.text, 'csrf')" in source
    assert "j.vars['orders_id'] = r.json()['id']" in source  # its answer was not recorded
    assert "page(j, f\"/orders/{j.vars['orders_id']}\")" in source
    assert 'params={"limit": "20", "q": "mug"}' in source
    assert "follow_redirects=True" in source  # the 303 and its GET are one request
    assert source.count("with j.step(") == 5
    assert 'j.think("2.5s")' in source  # the gap from the first page to the sign-up page
    assert "analytics.example.org" in source  # named as left out, in the docstring
    assert "lib.js" not in source and "app.css" not in source
    assert "routes=" in source and '"GET /orders/{id}"' in source


def test_the_module_passes_ruff(har: Path, tmp_path: Path) -> None:
    ruff = shutil.which("ruff") or str(Path(__file__).parents[2] / ".venv/bin/ruff")
    if not Path(ruff).exists():
        ruff = "/work/main/.venv/bin/ruff"
    out = tmp_path / "shop_visit.py"
    out.write_text(import_har(har, name="shop_visit").source)
    done = subprocess.run([ruff, "check", str(out)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout


def test_the_same_har_gives_the_same_bytes(har: Path) -> None:
    assert import_har(har, name="v").source == import_har(har, name="v").source


def test_kept_statics_and_third_parties_on_request(har: Path) -> None:
    source = import_har(har, name="v", keep_static=True, keep_third_party=True).source
    assert "app.css" in source and "https://analytics.example.org/collect" in source


def test_touchpoints_come_from_the_target_bases(har: Path) -> None:
    target = Target(name="t", web=f"{BASE}/", api=f"{BASE}/api/v1", mobile=f"{BASE}/m")
    source = import_har(har, name="v", target=target).source
    assert 'j.api.post("/tokens"' in source
    elsewhere = Target(name="t", web="http://other.test/", api="http://other.test/api", mobile="x")
    with pytest.raises(UsageError, match="nothing"):
        import_har(har, name="v", target=elsewhere)


@pytest.mark.parametrize(
    ("content", "says"),
    [
        ("{not json", "not JSON"),
        ('{"log": {}}', "no log.entries"),
        ('{"log": {"entries": [{"request": {}}]}}', "entry 1 of 1"),
        ('{"log": {"entries": []}}', "no requests"),
    ],
)
def test_a_malformed_har_is_one_paragraph_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, says: str
) -> None:
    bad = tmp_path / "bad.har"
    bad.write_text(content)
    assert main(["import", "har", str(bad), "-o", str(tmp_path / "x.py")]) == 2
    err = capsys.readouterr().err
    assert says in err and err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "x.py").exists()


def test_the_command_writes_the_module(har: Path, tmp_path: Path) -> None:
    out = tmp_path / "visit.py"
    assert main(["import", "har", str(har), "--name", "visit", "-o", str(out)]) == 0
    assert "def visit(j):" in out.read_text()
    assert main(["import", "har", str(har), "--name", "bad-name", "-o", str(out)]) == 2
