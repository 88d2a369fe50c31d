"""The deployment validates offline: `sam validate`, cfn-lint on the SAM template, cfn-lint on
the template translated to plain CloudFormation, cfn-lint's ASL rules on every state machine,
and checkov with infra/checkov.yaml's skips — and each check fails on a copy broken the way it
is there to catch."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
MACHINES = sorted((ROOT / "statemachines").glob("*.asl.json"))

pytestmark = pytest.mark.usefixtures("tools")


def test_the_template_passes_every_check(validate):
    results = validate.validate_all(ROOT / "template.yaml", MACHINES)
    assert [r.check for r in results] == [
        "sam-validate", "cfn-lint", "cfn-lint-translated",
        *["asl-lint"] * len(MACHINES), "checkov",
    ]  # fmt: skip
    failed = [f"{r.check}: {r.output[-3000:]}" for r in results if not r.passed]
    assert not failed, "\n\n".join(failed)


def test_every_state_machine_is_linted():
    assert [p.name for p in MACHINES] == ["run.asl.json"]


def test_sam_validate_fails_on_an_invalid_sam_event(validate, template_copy):
    broken = template_copy(("            Queue: !GetAtt TriggerQueue.Arn\n", ""))
    result = validate.sam_validate(broken)
    assert not result.passed
    assert "Missing required property 'Queue'" in result.output


def test_cfn_lint_fails_on_an_invalid_property_value(validate, template_copy):
    broken = template_copy(
        ("      BillingMode: PAY_PER_REQUEST\n", "      BillingMode: ON_DEMAND\n")
    )
    assert validate.sam_validate(broken).passed  # sam validate checks SAM resources only
    result = validate.cfn_lint(broken)
    assert not result.passed
    assert "E3030" in result.output and "ON_DEMAND" in result.output


def test_only_the_translated_template_shows_a_broken_generated_policy(
    validate, template_copy, tmp_path
):
    # SAM copies `Policies` into the IAM role it generates: the SAM schema does not look
    # inside them, CloudFormation's does.
    broken = template_copy(
        ("Sid: InvokePodiumsFunctionsOnly\n              Effect: Allow",
         "Sid: InvokePodiumsFunctionsOnly\n              Effect: Permit")
    )  # fmt: skip
    assert validate.cfn_lint(broken).passed
    result = validate.cfn_lint_translated(broken, tmp_path)
    assert not result.passed
    assert "E3510" in result.output and "Permit" in result.output


@pytest.mark.parametrize(
    "breakage",
    [
        ("BeginRun", "Type", "Taks", "'Taks' is not one of"),
        ("EndRun", "Next", "ModelStep", "Only one of ['Next', 'End']"),
    ],
)
def test_asl_lint_fails_on_a_broken_definition(validate, tmp_path, breakage):
    state, field, value, message = breakage
    definition = json.loads((ROOT / "statemachines" / "run.asl.json").read_text())
    definition["States"][state][field] = value
    broken = tmp_path / "broken.asl.json"
    broken.write_text(json.dumps(definition))
    result = validate.asl_lint(broken, tmp_path)
    assert not result.passed
    assert "E3601" in result.output and message in result.output


def test_asl_lint_sees_the_substitutions_as_lambda_arns(validate, tmp_path):
    wrapped = json.loads(
        validate.wrap_state_machine(
            ROOT / "statemachines" / "run.asl.json", tmp_path / "w.json"
        ).read_text()
    )
    text = json.dumps(wrapped)
    assert "${" not in text
    assert "arn:aws:lambda:us-east-1:123456789012:function:BeginRunArn" in text


def test_checkov_fails_without_point_in_time_recovery(validate, template_copy, tmp_path):
    broken = template_copy(
        ("      PointInTimeRecoverySpecification: {PointInTimeRecoveryEnabled: true}\n\n"
         "  BlobBucket", "\n  BlobBucket")
    )  # fmt: skip
    result = validate.checkov(broken, tmp_path)
    assert not result.passed
    assert "CKV_AWS_28" in result.output


def test_checkov_fails_on_a_bucket_open_to_the_public(validate, template_copy, tmp_path):
    broken = template_copy(
        ("        BlockPublicPolicy: true\n", "        BlockPublicPolicy: false\n")
    )
    result = validate.checkov(broken, tmp_path)
    assert not result.passed
    assert "CKV_AWS_54" in result.output


def test_every_checkov_skip_is_explained():
    lines = (ROOT / "infra" / "checkov.yaml").read_text().splitlines()
    skips = [line for line in lines if line.strip().startswith("- CKV")]
    assert skips
    for line in skips:
        index = lines.index(line)
        explained = "#" in line or lines[index - 1].strip().startswith("#")
        assert explained, f"unexplained skip: {line.strip()}"
