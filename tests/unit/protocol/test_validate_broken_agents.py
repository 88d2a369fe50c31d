"""Given the broken agents under tests/fixtures, `podium validate` reports every problem with
its location, field path and hint."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from podium.cli.main import main

FIXTURES = Path(__file__).parents[2] / "fixtures" / "broken_agents"


def run_json(capsys: pytest.CaptureFixture[str], *paths: Path) -> tuple[int, dict]:
    status = main(["validate", "--json", *map(str, paths)])
    return status, json.loads(capsys.readouterr().out)


def located(problems: list[dict], agent: str) -> set[tuple[int, int, str, str]]:
    return {
        (p["line"], p["column"], p["path"], p["code"])
        for p in problems
        if Path(p["file"]).parent.name == agent
    }


def test_every_problem_of_every_agent_is_reported_at_once(capsys):
    status, body = run_json(capsys, FIXTURES)
    assert status == 1
    assert body["ok"] is False
    assert {Path(a["file"]).parent.name for a in body["agents"]} == {
        "bad_refs",
        "bad_yaml",
        "prompt_problems",
        "typo_keys",
        "wrong_name",
    }
    assert all(not a["ok"] for a in body["agents"])


def test_typos_get_did_you_mean_and_locations(capsys):
    _, body = run_json(capsys, FIXTURES / "typo_keys")
    assert located(body["problems"], "typo_keys") == {
        (3, 1, "descripton", "unknown_key"),
        (9, 7, "tools[0].retry.max_attemps", "unknown_key"),
        (11, 14, "limits.max_steps", "greater_than_equal"),
        (12, 14, "on_conflict", "literal_error"),
    }
    hints = {p["path"]: p["hint"] for p in body["problems"]}
    assert hints["descripton"] == "did you mean `description`?"
    assert hints["tools[0].retry.max_attemps"] == "did you mean `max_attempts`?"


def test_references_tools_and_schemas(capsys):
    _, body = run_json(capsys, FIXTURES / "bad_refs")
    assert located(body["problems"], "bad_refs") == {
        (5, 8, "model", "unknown_alias"),
        (6, 13, "fallbacks[0]", "unknown_alias"),
        (9, 10, "routing[0].use", "unknown_alias"),
        (13, 13, "tools[0].python", "missing_python_function"),
        (14, 11, "tools[1].name", "duplicate_tool"),
        (17, 5, "tools[2]", "value_error"),
        (24, 7, "tools[3].parameters", "invalid_json_schema"),
    }
    by_path = {p["path"]: p for p in body["problems"]}
    assert by_path["model"]["hint"].startswith("did you mean `fast`?")
    assert by_path["fallbacks[0]"]["hint"] == "did you mean `smart`?"
    assert "declared aliases: fast, smart" in by_path["routing[0].use"]["hint"]
    assert "client tool cannot have `retry`" in by_path["tools[2]"]["message"]
    assert "missing_function" in by_path["tools[0].python"]["message"]
    assert "properties.x.type" in by_path["tools[3].parameters"]["message"]


def test_yaml_syntax_error_is_located(capsys):
    _, body = run_json(capsys, FIXTURES / "bad_yaml")
    [problem] = body["problems"]
    assert (problem["line"], problem["column"], problem["code"]) == (5, 17, "yaml_syntax")


def test_prompt_and_variable_problems(capsys):
    _, body = run_json(capsys, FIXTURES / "prompt_problems")
    assert located(body["problems"], "prompt_problems") == {
        (3, 9, "system", "undeclared_variable"),
        (5, 9, "variables.shop", "value_error"),
        (6, 3, "variables.unused", "unused_variable"),
        (8, 3, "limits", "value_error"),
        (10, 3, "context.system_file", "unknown_key"),
    }
    severities = {p["path"]: p["severity"] for p in body["problems"]}
    assert severities["variables.unused"] == "warning"
    hints = {p["path"]: p["hint"] for p in body["problems"]}
    assert hints["context.system_file"] == (
        "allowed keys here: keep_recent, max_tokens, strategy, summary_model"
    )


def test_folder_name_must_match(capsys):
    _, body = run_json(capsys, FIXTURES / "wrong_name")
    [problem] = body["problems"]
    assert problem["code"] == "name_mismatch"
    assert (problem["line"], problem["column"]) == (1, 7)


def test_text_output_has_file_line_column_path_and_hint(capsys):
    status = main(["validate", str(FIXTURES / "typo_keys")])
    out = capsys.readouterr().out
    assert status == 1
    expected = f"{FIXTURES / 'typo_keys' / 'agent.yaml'}:3:1: error: descripton: unknown key"
    assert expected in out
    assert "hint: did you mean `description`?" in out
    assert out.rstrip().endswith("1 agent(s), 4 error(s), 0 warning(s)")
