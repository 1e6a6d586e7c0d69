"""The Argo Rollouts and Flagger examples: valid YAML with the fields their CRDs require, and a
harness command line the harness itself parses."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.cli import _parser

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _load(path: str) -> dict[str, Any]:
    (document,) = list(yaml.safe_load_all((EXAMPLES / path).read_text(encoding="utf-8")))
    assert isinstance(document, dict)
    return document


def _parses(argv: list[str]) -> None:
    """The harness's own parser accepts `argv` (without the leading `harness`)."""
    try:
        _parser().parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on a bad flag
        pytest.fail(f"harness {' '.join(argv)}: not a valid command line (exit {exc.code})")


def test_argo_analysis_template_is_a_job_running_a_rehearsal() -> None:
    template = _load("argo-rollouts/analysis-template.yaml")
    assert template["apiVersion"] == "argoproj.io/v1alpha1"
    assert template["kind"] == "AnalysisTemplate"
    declared = {arg["name"] for arg in template["spec"]["args"]}
    (metric,) = template["spec"]["metrics"]
    assert metric["name"] and metric["failureLimit"] == 0
    job = metric["provider"]["job"]["spec"]
    pod = job["template"]["spec"]
    assert pod["restartPolicy"] == "Never" and job["backoffLimit"] == 0
    (container,) = pod["containers"]
    command = container["command"]
    used = {m for part in command for m in re.findall(r"\{\{args\.([\w-]+)\}\}", part)}
    assert used <= declared, f"undeclared args: {used - declared}"
    assert command[:2] == ["harness", "rehearse"]
    _parses([re.sub(r"\{\{args\.[\w-]+\}\}", "http://x.svc", p) for p in command[1:]])


def test_argo_rollout_runs_the_template_with_its_args() -> None:
    rollout = _load("argo-rollouts/rollout.yaml")
    template = _load("argo-rollouts/analysis-template.yaml")
    assert rollout["kind"] == "Rollout" and rollout["apiVersion"] == "argoproj.io/v1alpha1"
    steps = rollout["spec"]["strategy"]["canary"]["steps"]
    (analysis,) = [s["analysis"] for s in steps if "analysis" in s]
    assert analysis["templates"] == [{"templateName": template["metadata"]["name"]}]
    required = {a["name"] for a in template["spec"]["args"] if "value" not in a}
    assert required <= {a["name"] for a in analysis["args"]}
    selector = rollout["spec"]["selector"]["matchLabels"]
    assert selector.items() <= rollout["spec"]["template"]["metadata"]["labels"].items()


def test_flagger_canary_runs_the_rehearsal_before_the_rollout() -> None:
    canary = _load("flagger/canary.yaml")
    assert canary["apiVersion"] == "flagger.app/v1beta1" and canary["kind"] == "Canary"
    spec = canary["spec"]
    assert spec["targetRef"]["kind"] == "Deployment" and spec["service"]["port"]
    (hook,) = spec["analysis"]["webhooks"]
    assert hook["type"] == "pre-rollout" and hook["url"].startswith("http")
    assert hook["metadata"]["type"] == "bash"
    argv = shlex.split(hook["metadata"]["cmd"])
    assert argv[:2] == ["harness", "rehearse"]
    _parses(argv[1:])
