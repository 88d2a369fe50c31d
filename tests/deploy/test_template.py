"""template.yaml agrees with the code it deploys: the state machine's substitutions, handlers,
tables, layers, permissions and settings."""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

from podium import settings
from podium.engine import triggers
from podium.protocol.loader import load_agents
from podium.store import dynamodb

ROOT = Path(__file__).parents[2]
FUNCTIONS_JSON = json.loads((ROOT / "statemachines" / "run.functions.json").read_text())


def resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in template["Resources"].items() if r["Type"] == kind}


def functions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return resources(template, "AWS::Serverless::Function")


def statements(resource: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for policy in resource["Properties"].get("Policies", []):
        if isinstance(policy, dict) and "Statement" in policy:
            found += policy["Statement"]
    return found


def actions(resource: dict[str, Any]) -> set[str]:
    found: set[str] = set()
    for statement in statements(resource):
        action = statement["Action"]
        found |= {action} if isinstance(action, str) else set(action)
    return found


def layer_refs(template: dict[str, Any], name: str) -> list[str]:
    function = template["Resources"][name]["Properties"]
    listed = template["Globals"]["Function"]["Layers"] + function.get("Layers", [])
    return [layer["Ref"] for layer in listed if isinstance(layer, dict) and "Ref" in layer]


def machine(template: dict[str, Any]) -> dict[str, Any]:
    [found] = resources(template, "AWS::Serverless::StateMachine").values()
    return found["Properties"]


# ----------------------------------------------------------------------------- the machine


def test_substitutions_are_exactly_the_functions_the_machine_references(template):
    assert set(machine(template)["DefinitionSubstitutions"]) == set(FUNCTIONS_JSON["functions"])


def test_the_machine_is_the_checked_in_definition(template):
    assert machine(template)["DefinitionUri"] == "statemachines/run.asl.json"
    assert machine(template)["Type"] == "STANDARD"


def test_each_podium_substitution_runs_its_handler(template):
    subs = machine(template)["DefinitionSubstitutions"]
    for name, entry in FUNCTIONS_JSON["functions"].items():
        if entry["kind"] != "podium":
            continue
        function_id = subs[name]["Fn::GetAtt"][0]
        code = ROOT / template["Resources"][function_id]["Properties"]["CodeUri"] / "app.py"
        expected = entry["handler"].rsplit(".", 1)[1]
        assert f"import {expected} as handler" in code.read_text(), (name, code)


def test_lambda_tools_are_filled_with_the_function_the_agent_names(template):
    subs = machine(template)["DefinitionSubstitutions"]
    for name, entry in FUNCTIONS_JSON["functions"].items():
        if entry["kind"] != "lambda_tool":
            continue
        value = subs[name]
        if "Fn::GetAtt" in value:
            target = template["Resources"][value["Fn::GetAtt"][0]]["Properties"]
            assert target["FunctionName"] == entry["function"], name
        else:  # a function outside the stack, by ARN
            assert str(value.get("Fn::Sub", value)).endswith(f":function:{entry['function']}")


def test_the_machine_can_invoke_exactly_podiums_functions(template):
    """Step Functions invokes Podium's handlers; a `lambda` tool's function is invoked by
    the tool runner (which reads the call's arguments from the store and keeps the
    function's answer out of the machine's state)."""
    subs = machine(template)["DefinitionSubstitutions"]
    podium = [subs[name] for name, entry in FUNCTIONS_JSON["functions"].items()
              if entry["kind"] == "podium"]  # fmt: skip
    [invoke] = [s for s in machine(template)["Policies"][0]["Statement"]
                if s["Action"] == "lambda:InvokeFunction"]  # fmt: skip
    assert sorted(map(json.dumps, invoke["Resource"])) == sorted(map(json.dumps, podium))
    other = [s for s in machine(template)["Policies"][0]["Statement"] if s is not invoke]
    assert all(not str(s["Action"]).startswith("lambda") for s in other)


def test_the_tool_runner_can_invoke_exactly_the_lambda_tools(template):
    subs = machine(template)["DefinitionSubstitutions"]
    tools = [subs[name] for name, entry in FUNCTIONS_JSON["functions"].items()
             if entry["kind"] == "lambda_tool"]  # fmt: skip
    statements = template["Resources"]["ToolRunnerFunction"]["Properties"]["Policies"][0]
    [invoke] = [s for s in statements["Statement"] if s["Action"] == "lambda:InvokeFunction"]
    assert sorted(map(json.dumps, invoke["Resource"])) == sorted(map(json.dumps, tools))


# ----------------------------------------------------------------------------- handlers


def _import_from(path: Path, module: str) -> Any:
    spec = importlib.util.spec_from_file_location(module, path)
    assert spec is not None and spec.loader is not None
    loaded = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loaded)
    return loaded


def test_every_handler_resolves_to_a_callable(template):
    for name, resource in functions(template).items():
        props = resource["Properties"]
        folder = ROOT / props["CodeUri"]
        handler = props["Handler"]
        if handler.endswith(".sh"):
            continue  # the stream function: test_stream_function_serves_the_app
        module_name, attribute = handler.rsplit(".", 1)
        module = _import_from(folder / f"{module_name}.py", f"podium_function_{name}")
        assert callable(getattr(module, attribute)), name


def test_stream_function_serves_the_app_under_the_web_adapter(template):
    props = template["Resources"]["StreamFunction"]["Properties"]
    script = ROOT / props["CodeUri"] / props["Handler"]
    assert os.access(script, os.X_OK), "run.sh must be executable"
    text = script.read_text()
    match = re.search(r"uvicorn ([\w.]+):(\w+)", text)
    assert match is not None
    module = importlib.import_module(match.group(1))
    assert getattr(module, match.group(2)) is not None
    variables = props["Environment"]["Variables"]
    assert variables["AWS_LWA_INVOKE_MODE"] == "response_stream"
    assert variables["AWS_LAMBDA_EXEC_WRAPPER"] == "/opt/bootstrap"
    assert "${PORT:-8080}" in text and variables["PORT"] == "8080"
    [event] = props["Events"].values()
    assert event["Type"] == "Api"
    assert event["Properties"]["ResponseTransferMode"] == "RESPONSE_STREAM"


def test_the_api_function_is_mangum_behind_the_http_api(template):
    props = template["Resources"]["ApiFunction"]["Properties"]
    assert (
        "podium.api.aws import http_handler as handler"
        in (ROOT / props["CodeUri"] / "app.py").read_text()
    )
    [event] = props["Events"].values()
    assert event["Type"] == "HttpApi"


def test_every_function_folder_is_deployed(template):
    deployed = {Path(r["Properties"]["CodeUri"]).name for r in functions(template).values()}
    folders = {p.name for p in (ROOT / "functions").iterdir() if p.is_dir()}
    assert deployed == folders


# ----------------------------------------------------------------------------- state


def test_table_matches_the_store(template):
    table = template["Resources"]["Table"]["Properties"]
    calls: dict[str, Any] = {}

    class Recorder:
        def create_table(self, **kwargs: Any) -> None:
            calls["create"] = kwargs

        def get_waiter(self, name: str) -> Any:
            return type("Waiter", (), {"wait": lambda self, **kw: None})()

        def update_time_to_live(self, **kwargs: Any) -> None:
            calls["ttl"] = kwargs["TimeToLiveSpecification"]

    dynamodb.create_table(Recorder(), "podium")
    created = calls["create"]
    assert table["KeySchema"] == created["KeySchema"]
    assert sorted(table["AttributeDefinitions"], key=str) == sorted(
        created["AttributeDefinitions"], key=str
    )
    assert table["GlobalSecondaryIndexes"] == created["GlobalSecondaryIndexes"]
    assert table["BillingMode"] == created["BillingMode"] == "PAY_PER_REQUEST"
    assert table["TimeToLiveSpecification"] == calls["ttl"]
    assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert "StreamSpecification" not in table  # nothing reads a stream


def test_trigger_keys_live_in_the_table_not_a_table_of_their_own(template):
    """Triggers and the API share the store's idempotency keys (in Table)."""
    tables = [name for name, r in template["Resources"].items()
              if r["Type"] == "AWS::DynamoDB::Table"]  # fmt: skip
    assert tables == ["Table"]
    variables = template["Resources"]["TriggerFunction"]["Properties"]["Environment"]["Variables"]
    assert "PODIUM_IDEMPOTENCY_TABLE" not in variables


def test_blobs_outlive_the_longest_agent_retention(template):
    longest = max(a.agent.retention.days for a in load_agents(ROOT / "agents").values())
    assert template["Parameters"]["BlobRetentionDays"]["Default"] >= longest
    bucket = template["Resources"]["BlobBucket"]["Properties"]
    [rule] = bucket["LifecycleConfiguration"]["Rules"]
    assert rule["ExpirationInDays"] == {"Ref": "BlobRetentionDays"}
    assert all(bucket["PublicAccessBlockConfiguration"].values())


def test_trigger_queue_redrives_to_its_dead_letter_queue(template):
    queue = template["Resources"]["TriggerQueue"]["Properties"]
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {
        "Fn::GetAtt": ["TriggerDeadLetterQueue", "Arn"]
    }
    function = template["Resources"]["TriggerFunction"]["Properties"]
    sqs = function["Events"]["Queue"]["Properties"]
    assert sqs["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert queue["VisibilityTimeout"] >= 6 * function.get("Timeout", 60)
    timeout = function.get("Timeout", template["Globals"]["Function"]["Timeout"])
    assert timeout < triggers.IN_PROGRESS_S


def test_functions_invoked_asynchronously_have_a_dead_letter_queue(template):
    # infra/checkov.yaml skips CKV_AWS_116 for the synchronous ones: these two must keep it.
    for name in ("ReconcileFunction", "TriggerFunction"):
        assert "DeadLetterQueue" in template["Resources"][name]["Properties"], name


def test_the_reconciler_hears_runs_the_machine_did_not_close(template):
    [event] = template["Resources"]["ReconcileFunction"]["Properties"]["Events"].values()
    pattern = event["Properties"]["Pattern"]
    assert pattern["detail-type"] == ["Step Functions Execution Status Change"]
    assert sorted(pattern["detail"]["status"]) == ["ABORTED", "FAILED", "TIMED_OUT"]
    machine_name = machine(template)["Name"]["Fn::Sub"]
    assert pattern["detail"]["stateMachineArn"][0]["Fn::Sub"].endswith(":" + machine_name)


def test_the_schedule_input_is_a_trigger_with_a_per_run_key(template):
    schedule = template["Resources"]["TriggerFunction"]["Properties"]["Events"]["DailyCheck"]
    spec = json.loads(schedule["Properties"]["Input"])
    trigger = triggers.Trigger.parse(spec, default_key=None, source="schedule")
    assert trigger.agent in load_agents(ROOT / "agents")
    assert "<aws.scheduler.scheduled-time>" in trigger.key


# ----------------------------------------------------------------------------- packaging


def test_litellm_ships_only_with_the_model_step_and_the_tool_runner(template):
    with_models = {n for n in functions(template) if "ModelsLayer" in layer_refs(template, n)}
    assert with_models == {"ModelStepFunction", "ToolRunnerFunction"}


def test_agents_ship_where_agents_are_read(template):
    with_agents = {n for n in functions(template) if "AgentsLayer" in layer_refs(template, n)}
    assert {"ModelStepFunction", "ToolRunnerFunction", "ApiFunction", "StreamFunction",
            "TriggerFunction"} <= with_agents  # fmt: skip
    assert template["Globals"]["Function"]["Environment"]["Variables"]["PODIUM_AGENTS_DIR"] == (
        "/opt/agents"
    )


def test_everything_is_built_by_the_package_script(template):
    built = {**functions(template), **resources(template, "AWS::Serverless::LayerVersion")}
    for name, resource in built.items():
        assert resource.get("Metadata") == {"BuildMethod": "makefile", "ContextPath": "infra"}, name
    makefile = (ROOT / "infra" / "Makefile").read_text()
    assert "build-%:" in makefile and "package.py sam-build $*" in makefile


def test_one_architecture_and_runtime_everywhere(template):
    arch = template["Globals"]["Function"]["Architectures"]
    runtime = template["Globals"]["Function"]["Runtime"]
    for layer in resources(template, "AWS::Serverless::LayerVersion").values():
        assert layer["Properties"]["CompatibleArchitectures"] == arch
        assert layer["Properties"]["CompatibleRuntimes"] == [runtime]
    adapter = json.dumps(template["Resources"]["StreamFunction"]["Properties"]["Layers"][0])
    assert ("LambdaAdapterLayerX86" in adapter) == (arch == ["x86_64"])


# ----------------------------------------------------------------------------- permissions


STATES_MACHINE = "states:StartExecution"


def test_only_what_starts_runs_may_start_executions(template):
    starters = {n for n, r in functions(template).items() if STATES_MACHINE in actions(r)}
    assert starters == {
        "ApiFunction", "StreamFunction", "TriggerFunction",  # admit runs
        "EndRunFunction", "FailRunFunction", "ReconcileFunction",  # start the next queued
    }  # fmt: skip


def test_only_the_model_callers_read_provider_keys(template):
    readers = {
        n for n, r in functions(template).items() if "secretsmanager:GetSecretValue" in actions(r)
    }
    assert readers == {"ModelStepFunction", "ToolRunnerFunction"}


def test_no_function_gets_a_wildcard_resource(template):
    for name, resource in functions(template).items():
        for statement in statements(resource):
            assert statement["Resource"] != "*", (name, statement.get("Sid"))
            assert not any(a.endswith(":*") or a == "*" for a in actions(resource)), name


def test_the_api_can_answer_approvals_and_cancel(template):
    for name in ("ApiFunction", "StreamFunction"):
        granted = actions(template["Resources"][name])
        assert {"states:SendTaskSuccess", "states:SendTaskFailure", "states:StopExecution"} <= (
            granted
        )


def test_environment_names_are_podiums_settings(template):
    known = {value for key, value in vars(settings).items() if key.startswith("ENV_")}
    known.add("PODIUM_SECRET_")
    api_context = importlib.import_module("podium.api.context")
    known |= {value for key, value in vars(api_context).items() if key.startswith("ENV_")}
    used = set(template["Globals"]["Function"]["Environment"]["Variables"])
    for resource in functions(template).values():
        used |= set(resource["Properties"].get("Environment", {}).get("Variables", {}))
    podium_names = {name for name in used if name.startswith("PODIUM_")}
    unknown = {
        name for name in podium_names
        if name not in known and not name.startswith(settings.ENV_SECRET_PREFIX_PER_PROVIDER)
    }  # fmt: skip
    assert not unknown


@pytest.mark.parametrize("name", ["LogRetentionDays", "AlarmEmail", "OpenAISecretArn"])
def test_operational_parameters_exist(template, name):
    assert name in template["Parameters"]
