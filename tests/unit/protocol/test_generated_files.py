"""Generated files are committed; these tests fail when they are stale (run `make docs`)."""

from __future__ import annotations

import json
from pathlib import Path

from jsonschema import Draft202012Validator

from podium.protocol.schema import agent_json_schema, agent_json_schema_text, update_reference
from podium.protocol.source import parse_yaml

ROOT = Path(__file__).parents[3]


def test_agent_schema_is_fresh():
    committed = (ROOT / "schemas" / "agent.schema.json").read_text(encoding="utf-8")
    assert committed == agent_json_schema_text(), "stale: run `make docs`"


def test_reference_in_docs_is_fresh():
    page = (ROOT / "docs" / "agents.md").read_text(encoding="utf-8")
    assert page == update_reference(page), "stale: run `make docs`"


def test_example_agents_satisfy_the_published_schema():
    schema = agent_json_schema()
    Draft202012Validator.check_schema(schema)
    validator = Draft202012Validator(schema)
    for file in sorted((ROOT / "agents").glob("*/agent.yaml")):
        data = parse_yaml(file.read_text(encoding="utf-8")).data
        errors = [e.message for e in validator.iter_errors(data)]
        assert errors == [], f"{file}: {errors}"


def test_schema_rejects_unknown_keys_like_the_validator():
    validator = Draft202012Validator(agent_json_schema())
    assert list(validator.iter_errors({"name": "x", "model": "a/b", "modle": 1}))
    assert json.loads(agent_json_schema_text())["$id"].endswith("agent.schema.json")
