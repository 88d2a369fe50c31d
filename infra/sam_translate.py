"""Translate a SAM template to plain CloudFormation, offline, with samtranslator (the library
`sam deploy`'s transform runs), so cfn-lint and checkov can check what CloudFormation will
actually create: the roles, permissions, event source mappings, rules and API stages SAM adds.

Runs in the SAM tools environment (.venv-tools/sam), which has samtranslator:

    .venv-tools/sam/bin/python infra/sam_translate.py template.yaml translated.json

Local code paths (CodeUri, ContentUri, DefinitionUri) become S3 locations, as `sam package`
would upload them; no AWS call is made (the template names managed policies by ARN only).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

ARTIFACT_BUCKET = "podium-artifacts-offline"
PSEUDO_PARAMETERS = {
    "AWS::Region": "us-east-1",
    "AWS::AccountId": "123456789012",
    "AWS::Partition": "aws",
    "AWS::StackName": "podium",
    "AWS::StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/podium/offline",
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::NotificationARNs": [],
}
LOCAL_PATHS = {
    "AWS::Serverless::Function": "CodeUri",
    "AWS::Serverless::LayerVersion": "ContentUri",
    "AWS::Serverless::StateMachine": "DefinitionUri",
    "AWS::Serverless::Api": "DefinitionUri",
    "AWS::Serverless::HttpApi": "DefinitionUri",
}


class NoManagedPolicyLookup:
    """samtranslator asks this for managed policy ARNs by name; the template uses none."""

    def load(self) -> dict[str, str]:
        return {}


def to_s3(template: dict[str, Any]) -> dict[str, Any]:
    """Replace local paths with the S3 locations `sam package` would give them."""
    for resource in template.get("Resources", {}).values():
        key = LOCAL_PATHS.get(resource.get("Type", ""))
        properties = resource.get("Properties", {})
        value = properties.get(key) if key else None
        if isinstance(value, str) and not value.startswith("s3://"):
            properties[key] = f"s3://{ARTIFACT_BUCKET}/{value.strip('/')}"
    return template


def translate(source: Path) -> dict[str, Any]:
    template = to_s3(yaml_parse(source.read_text(encoding="utf-8")))
    parameters = dict(PSEUDO_PARAMETERS)
    for name, spec in template.get("Parameters", {}).items():
        if "Default" in spec:
            parameters[name] = spec["Default"]
    result: dict[str, Any] = transform(template, parameters, NoManagedPolicyLookup())
    return result


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__)
        return 2
    translated = translate(Path(argv[0]))
    Path(argv[1]).write_text(json.dumps(translated, indent=1, default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
