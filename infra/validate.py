#!/usr/bin/env python3
"""Validate the deployment offline: no AWS account, no network.

    python infra/validate.py [--template template.yaml]     (make validate-deploy)

Each check runs a tool from its own environment (`make validate-deploy` installs both):

| check | tool | on |
|---|---|---|
| `sam-validate` | `sam validate --region us-east-1` (.venv-tools/sam) | template.yaml |
| `cfn-lint` | cfn-lint (.venv-tools/sam) | template.yaml, with SAM's own schemas |
| `cfn-lint-translated` | samtranslator, then cfn-lint | the plain CloudFormation SAM produces |
| `asl-lint` | cfn-lint's Amazon States Language rules | every statemachines/*.asl.json |
| `checkov` | checkov (.venv-tools/checkov), skips in infra/checkov.yaml | the translated template |

tests/deploy runs the same checks on the real template and on deliberately broken copies.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TOOLS = ROOT / ".venv-tools"
SAM_BIN = TOOLS / "sam" / "bin"
CHECKOV_BIN = TOOLS / "checkov" / "bin"
CHECKOV_CONFIG = ROOT / "infra" / "checkov.yaml"
REGION = "us-east-1"
PLACEHOLDER_ACCOUNT = "123456789012"


@dataclass(frozen=True)
class Result:
    check: str
    target: str
    passed: bool
    output: str
    seconds: float

    def line(self) -> str:
        verdict = "ok" if self.passed else "FAILED"
        return f"  {self.check:<20} {verdict:<7} {self.seconds:5.1f}s  {self.target}"


def tools_installed() -> bool:
    return (SAM_BIN / "sam").is_file() and (CHECKOV_BIN / "checkov").is_file()


def _env() -> dict[str, str]:
    """No credentials, no telemetry, no update checks: nothing may reach the network."""
    home = tempfile.mkdtemp(prefix="podium-validate-")
    return {
        "PATH": f"{SAM_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "HOME": home,
        "AWS_ACCESS_KEY_ID": "offline",
        "AWS_SECRET_ACCESS_KEY": "offline",  # a placeholder: no account is used
        "AWS_DEFAULT_REGION": REGION,
        "AWS_EC2_METADATA_DISABLED": "true",
        "SAM_CLI_TELEMETRY": "0",
        "SAM_CLI_CONTACT_TELEMETRY": "0",
        "BC_SKIP_MAPPING": "TRUE",  # checkov: no mapping download from the platform
        "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false",
        "LOG_LEVEL": "WARNING",
    }


def _run(check: str, target: Path | str, command: list[str], cwd: Path) -> Result:
    started = time.monotonic()
    completed = subprocess.run(  # noqa: S603 - argv built here, no shell
        command, cwd=cwd, env=_env(), capture_output=True, text=True, timeout=600, check=False
    )
    output = (completed.stdout + completed.stderr).strip()
    return Result(check, str(target), completed.returncode == 0, output, time.monotonic() - started)


def sam_validate(template: Path) -> Result:
    command = [str(SAM_BIN / "sam"), "validate", "--region", REGION, "--template-file",
               str(template)]  # fmt: skip
    result = _run("sam-validate", template, command, template.parent)
    if result.passed and "is a valid SAM Template" not in result.output:
        return Result(result.check, result.target, False, result.output, result.seconds)
    return result


def cfn_lint(template: Path, check: str = "cfn-lint") -> Result:
    command = [str(SAM_BIN / "cfn-lint"), "--format", "parseable", "--", str(template)]
    return _run(check, template, command, template.parent)


def translate(template: Path, destination: Path) -> Result:
    command = [str(SAM_BIN / "python"), str(ROOT / "infra" / "sam_translate.py"),
               str(template), str(destination)]  # fmt: skip
    return _run("sam-translate", template, command, template.parent)


def cfn_lint_translated(template: Path, scratch: Path) -> Result:
    translated = scratch / f"{template.stem}.translated.json"
    result = translate(template, translated)
    if not result.passed:
        return Result("cfn-lint-translated", str(template), False, result.output, result.seconds)
    linted = cfn_lint(translated, "cfn-lint-translated")
    return Result(linted.check, str(template), linted.passed, linted.output,
                  result.seconds + linted.seconds)  # fmt: skip


def wrap_state_machine(definition_file: Path, destination: Path) -> Path:
    """A CloudFormation template holding the definition, so cfn-lint's ASL rules check it:
    every `${Name}` substitution becomes a Lambda ARN, as DefinitionSubstitutions would."""
    text = definition_file.read_text(encoding="utf-8")
    names = sorted(set(re.findall(r"\$\{([A-Za-z0-9_]+)\}", text)))
    for name in names:
        arn = f"arn:aws:lambda:{REGION}:{PLACEHOLDER_ACCOUNT}:function:{name.replace('_', '-')}"
        text = text.replace("${" + name + "}", arn)
    definition = json.loads(text)
    wrapper = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": f"{definition_file.name}, wrapped for linting",
        "Resources": {
            "Role": {
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "AssumeRolePolicyDocument": {
                        "Version": "2012-10-17",
                        "Statement": [{
                            "Effect": "Allow",
                            "Principal": {"Service": "states.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }],
                    }
                },
            },
            "Machine": {
                "Type": "AWS::StepFunctions::StateMachine",
                "Properties": {
                    "StateMachineType": "STANDARD",
                    "RoleArn": {"Fn::GetAtt": ["Role", "Arn"]},
                    "Definition": definition,
                },
            },
        },
    }  # fmt: skip
    destination.write_text(json.dumps(wrapper, indent=1), encoding="utf-8")
    return destination


def asl_lint(definition_file: Path, scratch: Path) -> Result:
    wrapped = wrap_state_machine(definition_file, scratch / f"{definition_file.stem}.cfn.json")
    linted = cfn_lint(wrapped, "asl-lint")
    return Result("asl-lint", str(definition_file), linted.passed, linted.output, linted.seconds)


def checkov(template: Path, scratch: Path) -> Result:
    translated = scratch / f"{template.stem}.checkov.json"
    result = translate(template, translated)
    if not result.passed:
        return Result("checkov", str(template), False, result.output, result.seconds)
    command = [str(CHECKOV_BIN / "checkov"), "--config-file", str(CHECKOV_CONFIG),
               "--file", str(translated)]  # fmt: skip
    scanned = _run("checkov", template, command, ROOT)
    return Result("checkov", str(template), scanned.passed, scanned.output,
                  result.seconds + scanned.seconds)  # fmt: skip


def validate_all(template: Path, machines: list[Path]) -> list[Result]:
    with tempfile.TemporaryDirectory(prefix="podium-validate-") as folder:
        scratch = Path(folder)
        return [
            sam_validate(template),
            cfn_lint(template),
            cfn_lint_translated(template, scratch),
            *(asl_lint(machine, scratch) for machine in machines),
            checkov(template, scratch),
        ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Validate the SAM template offline.")
    parser.add_argument("--template", type=Path, default=ROOT / "template.yaml")
    args = parser.parse_args(argv)
    if not tools_installed():
        print("the validation tools are missing: run `make validate-deploy`")
        return 2
    machines = sorted((ROOT / "statemachines").glob("*.asl.json"))
    results = validate_all(args.template.resolve(), machines)
    print("deploy validation (offline)")
    for result in results:
        print(result.line())
        if not result.passed:
            print("    " + result.output[-4000:].replace("\n", "\n    "))
    return 0 if all(result.passed for result in results) else 1


if __name__ == "__main__":
    sys.exit(main())
