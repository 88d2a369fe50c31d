"""The agent protocol, v1: the pydantic models an `agent.yaml` is validated against.

These models are the single source of truth: `schemas/agent.schema.json` and the reference
part of `docs/agents.md` are generated from them, including the docstring under each field.
Cross-field rules that need the whole file (an alias that must exist, a python function that
must be importable) live in `podium.protocol.validate`, so that every problem is reported at
once rather than the first one stopping the rest.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

SCHEMA_VERSION: Literal[1] = 1

NAME_PATTERN = r"^[a-z][a-z0-9_-]{0,62}$"
ALIAS_PATTERN = r"^[A-Za-z][A-Za-z0-9_-]{0,62}$"
TOOL_NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9_-]{0,63}$"
VARIABLE_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]{0,62}$"
PYTHON_REF_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_]*$"
MODEL_STRING_PATTERN = r"^[A-Za-z0-9_.-]+/\S+$"
ERROR_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_.]*$"
LAMBDA_ARN_PREFIX = r"arn:aws[a-zA-Z-]*:lambda:[a-z0-9-]+:\d{12}:function:"
LAMBDA_REF_PATTERN = rf"^({LAMBDA_ARN_PREFIX})?[A-Za-z0-9_-]{{1,64}}(:[A-Za-z0-9$_-]+)?$"

Name = Annotated[str, StringConstraints(pattern=NAME_PATTERN)]
Alias = Annotated[str, StringConstraints(pattern=ALIAS_PATTERN)]
ToolName = Annotated[str, StringConstraints(pattern=TOOL_NAME_PATTERN)]
ModelString = Annotated[str, StringConstraints(pattern=MODEL_STRING_PATTERN)]
ModelRef = Annotated[str, StringConstraints(min_length=1)]
JsonSchema = dict[str, Any]

TEMPLATE_VARIABLE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


class _Strict(BaseModel):
    """Base for every protocol model: unknown keys are errors. The docstring under each field
    becomes its description in the generated JSON Schema and reference (`schema.py` reads
    them from this file's source, so runtime imports do not pay for parsing it)."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        populate_by_name=True,
        defer_build=True,  # validators are built on first use: `import podium` stays cheap
    )


# --------------------------------------------------------------------------- models


class ModelSettings(_Strict):
    """Generation settings passed to the provider on every call with this model."""

    temperature: float | None = Field(default=None, ge=0, le=2)
    """Sampling temperature, 0 to 2. Leave unset for the provider's default."""

    max_output_tokens: int | None = Field(default=None, ge=1, le=1_000_000)
    """Upper bound on tokens generated per call."""

    reasoning_effort: Literal["minimal", "low", "medium", "high"] | None = None
    """For reasoning models: how hard the model thinks before answering."""

    top_p: float | None = Field(default=None, gt=0, le=1)
    """Nucleus sampling: keep the smallest set of tokens whose probability reaches this."""


class ModelPricing(_Strict):
    """Prices for a model litellm's price map does not know, in USD per million tokens."""

    input_per_million: float = Field(ge=0)
    """USD per million input (prompt) tokens."""

    output_per_million: float = Field(ge=0)
    """USD per million output (completion) tokens, reasoning tokens included."""

    cached_input_per_million: float | None = Field(default=None, ge=0)
    """USD per million cached input tokens; the input price when unset."""


class ModelSpec(_Strict):
    """A named model: a litellm `provider/model` string with optional settings and pricing.

    In `models:` an alias may also be written as the bare string, e.g.
    `fast: openai/gpt-4.1-mini`.
    """

    model: ModelString
    """The litellm model string, `provider/model` (e.g. `anthropic/claude-sonnet-4-5`,
    `openai/gpt-4.1-mini`, `podium/demo`)."""

    settings: ModelSettings = ModelSettings()
    """Generation settings for every call with this model."""

    pricing: ModelPricing | None = None
    """Prices to use when litellm's price map does not know this model."""

    api_base: str | None = None
    """Override the provider's endpoint (an OpenAI-compatible gateway, a local server)."""


def _expand_model_shorthand(value: Any) -> Any:
    if isinstance(value, str):
        return {"model": value}
    return value


ModelEntry = Annotated[
    ModelSpec,
    BeforeValidator(_expand_model_shorthand, json_schema_input_type=ModelString | ModelSpec),
]


class RoutingRule(_Strict):
    """Pick a model alias for a step. Rules are tried in order; the first that matches wins,
    and the default `model` is used when none does. Each rule has exactly one condition."""

    use: Alias
    """The model alias (a key of `models`) to use when the condition holds."""

    first_step: bool | None = None
    """Match the first model step of a run (the answer to the user's input)."""

    after_tool_results: bool | None = None
    """Match a step that follows tool results."""

    context_over_tokens: int | None = Field(default=None, ge=1)
    """Match when the step's context window is larger than this many tokens."""

    step: int | None = Field(default=None, ge=1)
    """Match the model step with this number (1 is the first)."""

    @model_validator(mode="after")
    def _exactly_one_condition(self) -> RoutingRule:
        conditions = [
            name
            for name in ("first_step", "after_tool_results", "context_over_tokens", "step")
            if getattr(self, name) not in (None, False)
        ]
        if len(conditions) != 1:
            raise ValueError(
                "a routing rule needs exactly one condition of first_step, "
                f"after_tool_results, context_over_tokens, step (found {len(conditions)})"
            )
        return self

    @property
    def condition(self) -> str:
        for name in ("first_step", "after_tool_results", "context_over_tokens", "step"):
            value = getattr(self, name)
            if value not in (None, False):
                return name if value is True else f"{name}={value}"
        raise AssertionError("validated rule has a condition")


# --------------------------------------------------------------------------- variables


class Variable(_Strict):
    """An input variable, filled from the session's input and substituted into `{{name}}`."""

    type: Literal["string", "number", "integer", "boolean"] = "string"
    """The JSON type the value must have."""

    description: str | None = None
    """What the variable means, shown in the API and the UI."""

    default: str | float | int | bool | None = None
    """The value used when the session does not give one."""

    required: bool = False
    """A session that does not give this variable (and there is no default) is refused."""

    @model_validator(mode="after")
    def _default_matches_type(self) -> Variable:
        if self.default is not None and not matches_type(self.default, self.type):
            raise ValueError(f"default {self.default!r} is not of type {self.type}")
        return self


def matches_type(value: Any, type_: str) -> bool:
    if type_ == "boolean":
        return isinstance(value, bool)
    if type_ == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if type_ == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    return isinstance(value, str)


class PromptFile(_Strict):
    """A prompt kept in its own file, relative to the agent folder."""

    file: str = Field(min_length=1)
    """Path of the prompt file, relative to the agent's folder (e.g. `prompts/system.md`)."""


# --------------------------------------------------------------------------- tools


class RetryPolicy(_Strict):
    """How a failed tool call is retried (compiled to the tool state's ASL `Retry`)."""

    max_attempts: int = Field(default=3, ge=1, le=10)
    """Attempts in all, the first one included (1 means no retry)."""

    interval_s: int = Field(default=1, ge=1, le=3600)
    """Seconds before the first retry."""

    backoff_rate: float = Field(default=2.0, ge=1.0, le=10.0)
    """Multiplier applied to the interval after each retry."""

    max_delay_s: int | None = Field(default=None, ge=1, le=3600)
    """Cap on the interval between retries."""

    errors: list[Annotated[str, StringConstraints(pattern=ERROR_NAME_PATTERN)]] = Field(
        default_factory=lambda: ["States.ALL"], min_length=1
    )
    """Error names that are retried: `States.ALL`, `States.Timeout`, `States.TaskFailed`, or
    the name of the exception your tool raises (e.g. `ConnectionError`)."""


class ApprovalPolicy(_Strict):
    """A human must approve each call before it runs."""

    timeout_s: int = Field(default=3600, ge=1, le=31_536_000)
    """How long to wait for a decision."""

    on_timeout: Literal["deny", "approve"] = "deny"
    """What an unanswered request becomes when the timeout passes."""


class HttpAuth(_Strict):
    """A header carrying a secret, resolved at call time (environment locally, Secrets
    Manager/SSM in AWS). The secret's value never appears in logs, events or traces."""

    secret: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_./-]{1,256}$")]
    """The secret's name: an environment variable locally, a Secrets Manager name in AWS."""

    header: str = "Authorization"
    """The header the secret is sent in."""

    scheme: str | None = "Bearer"
    """Prefix before the secret in the header value; null sends the bare secret."""


class HttpImpl(_Strict):
    """Call an HTTP endpoint with the tool's arguments as a JSON body (query string for GET)."""

    url: Annotated[str, StringConstraints(pattern=r"^https?://\S+$")]
    """The endpoint. `{name}` placeholders are filled from the arguments."""

    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "POST"
    """The HTTP method."""

    auth: HttpAuth | None = None
    """A header carrying a named secret."""

    headers: dict[str, str] = Field(default_factory=dict)
    """Extra headers, sent as they are (do not put secrets here: use `auth`)."""


class Tool(_Strict):
    """A tool the model may call. Exactly one implementation: `python`, `lambda`, `http` or
    `client`."""

    name: ToolName
    """The name the model calls the tool by; unique within the agent."""

    description: str = Field(min_length=1)
    """What the tool does, for the model. Be specific about when to use it."""

    parameters: JsonSchema = Field(default_factory=lambda: {"type": "object", "properties": {}})
    """The JSON Schema of the arguments (an object schema). Every call is validated against it
    before anything runs."""

    python: Annotated[str, StringConstraints(pattern=PYTHON_REF_PATTERN)] | None = None
    """`module:function`, a module in the agent's folder or an installed one. Runs in-process
    locally and in Podium's tool-runner function in AWS."""

    lambda_: Annotated[str, StringConstraints(pattern=LAMBDA_REF_PATTERN)] | None = Field(
        default=None, alias="lambda"
    )
    """A Lambda function name or ARN, invoked with Podium's tool contract (see `podium.tool`)."""

    http: HttpImpl | None = None
    """An HTTP endpoint called with the arguments."""

    client: bool | None = None
    """`true`: the caller executes the tool and posts its result back to the run."""

    timeout_s: int = Field(default=60, ge=1, le=86_400)
    """Seconds an attempt may take before it fails with `States.Timeout`."""

    retry: RetryPolicy | None = None
    """Retries for failed attempts. Not allowed on client tools."""

    approval: Literal["required"] | ApprovalPolicy | None = None
    """`required` (or an object with `timeout_s` and `on_timeout`): a human approves each
    call before it runs."""

    max_output_bytes: int = Field(default=1_000_000, ge=1, le=50_000_000)
    """Outputs larger than this are cut to a head and a tail, with a note for the model."""

    @field_validator("parameters")
    @classmethod
    def _object_schema(cls, value: JsonSchema) -> JsonSchema:
        if value.get("type", "object") != "object":
            raise ValueError('tool parameters must be an object schema ("type": "object")')
        return value

    @model_validator(mode="after")
    def _one_implementation(self) -> Tool:
        given = [
            key
            for key, value in (
                ("python", self.python),
                ("lambda", self.lambda_),
                ("http", self.http),
                ("client", self.client or None),
            )
            if value is not None
        ]
        if len(given) != 1:
            found = ", ".join(given) if given else "none"
            raise ValueError(
                "a tool needs exactly one implementation of python, lambda, http or "
                f"client: true (found {found})"
            )
        if self.client and self.retry is not None:
            raise ValueError("a client tool cannot have `retry`: the caller runs it, once")
        return self

    @property
    def kind(self) -> Literal["python", "lambda", "http", "client"]:
        if self.python is not None:
            return "python"
        if self.lambda_ is not None:
            return "lambda"
        if self.http is not None:
            return "http"
        return "client"

    @property
    def approval_policy(self) -> ApprovalPolicy | None:
        if self.approval == "required":
            return ApprovalPolicy()
        return self.approval if isinstance(self.approval, ApprovalPolicy) else None


# --------------------------------------------------------------------------- limits


class CostLimits(_Strict):
    """Budgets in USD, checked before each model call."""

    run: float | None = Field(default=None, gt=0)
    """The most one run may spend on model calls."""

    session: float | None = Field(default=None, gt=0)
    """The most a whole session may spend on model calls."""


class Limits(_Strict):
    """Bounds on a run."""

    max_steps: int = Field(default=10, ge=1, le=1000)
    """Model steps per run; the run stops with an error when it would take one more."""

    max_run_seconds: int = Field(default=900, ge=1, le=31_536_000)
    """Seconds of work a run may take: from its start (not while it was queued) to its
    answer, leaving out the time it waits on a person (approvals) or on the caller (client
    tools). Checked before each model step."""

    max_parallel_tools: int = Field(default=8, ge=1, le=40)
    """Tool calls of one step run at the same time (the Map's MaxConcurrency; 40 at most)."""

    max_tool_calls_per_step: int = Field(default=20, ge=1, le=40)
    """Tool calls one model step may make (40 at most: a step's calls and their outcomes
    travel in Step Functions state, which is capped at 256 KB). Calls beyond it are refused
    with an error result the model reads, so it can make them in its next step."""

    max_cost_usd: CostLimits = CostLimits()
    """Budgets for a run and for a session."""

    on_budget: Literal["stop", "downgrade"] = "stop"
    """When a budget would be exceeded: `stop` the run, or `downgrade` to `downgrade_to`."""

    downgrade_to: Alias | None = None
    """The cheaper model alias used when `on_budget` is `downgrade`."""

    @model_validator(mode="after")
    def _downgrade_target(self) -> Limits:
        if self.on_budget == "downgrade" and self.downgrade_to is None:
            raise ValueError("on_budget: downgrade needs downgrade_to (a model alias)")
        return self


class ContextPolicy(_Strict):
    """How the model's context window is built from the session's history."""

    max_tokens: int = Field(default=32_000, ge=256, le=10_000_000)
    """The token budget of the window sent to the model (system prompt included)."""

    strategy: Literal["sliding", "summarize"] = "sliding"
    """When history exceeds the budget: `sliding` drops the oldest messages; `summarize`
    replaces them with a summary written by `summary_model`. Stored history is never altered."""

    summary_model: Alias | None = None
    """The model alias that writes summaries (required with `strategy: summarize`)."""

    keep_recent: int = Field(default=4, ge=0, le=1000)
    """Messages always kept verbatim at the end of the window."""

    @model_validator(mode="after")
    def _summary_model(self) -> ContextPolicy:
        if self.strategy == "summarize" and self.summary_model is None:
            raise ValueError("strategy: summarize needs summary_model (a model alias)")
        return self


class Redaction(_Strict):
    """What is removed from stored events, spans and logs."""

    fields: list[Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_*.\[\]-]+$")]] = Field(
        default_factory=list
    )
    """Field paths, dot separated, `*` matching any one key (e.g. `arguments.card_number`,
    `*.password`)."""

    patterns: list[str] = Field(default_factory=list)
    """Regular expressions; every match in a stored string becomes `[REDACTED]`."""

    @field_validator("patterns")
    @classmethod
    def _compiles(cls, value: list[str]) -> list[str]:
        for pattern in value:
            try:
                re.compile(pattern)
            except re.error as exc:
                message = f"pattern {pattern!r} is not a valid regular expression: {exc}"
                raise ValueError(message) from exc
        return value


class Retention(_Strict):
    """How long things are kept, in days."""

    days: int = Field(default=30, ge=1, le=3650)
    """Sessions and their messages and runs."""

    events_days: int | None = Field(default=None, ge=1, le=3650)
    """The SSE event log; `days` when unset."""

    traces_days: int | None = Field(default=None, ge=1, le=3650)
    """Spans; `days` when unset."""


# --------------------------------------------------------------------------- the agent


class Agent(_Strict):
    """An agent: the file `agents/<name>/agent.yaml`."""

    schema_version: Literal[1] = SCHEMA_VERSION
    """The protocol version this file is written for."""

    name: Name
    """The agent's name: lowercase, digits, `-` and `_`; must equal its folder's name."""

    description: str = ""
    """What the agent is for, shown in listings."""

    version: str = "1"
    """Your own version label. Runs are pinned by the file's content hash, not by this."""

    models: dict[Alias, ModelEntry] = Field(default_factory=dict)
    """Named model aliases: `alias: provider/model`, or an object with `model`, `settings`,
    `pricing`."""

    model: ModelRef
    """The default model: an alias from `models`, or a `provider/model` string."""

    fallbacks: list[Alias] = Field(default_factory=list)
    """Aliases tried in order when the chosen model fails with a transient error before
    anything was streamed."""

    routing: list[RoutingRule] = Field(default_factory=list)
    """Rules choosing the model per step; the first match wins."""

    system: str | PromptFile = ""
    """The system prompt, inline or `{file: prompts/system.md}`; `{{variable}}` placeholders
    are filled from `variables`."""

    variables: dict[Annotated[str, StringConstraints(pattern=VARIABLE_PATTERN)], Variable] = Field(
        default_factory=dict
    )
    """Input variables given when a session is created."""

    tools: list[Tool] = Field(default_factory=list)
    """The tools the model may call."""

    limits: Limits = Limits()
    """Bounds on steps, time, parallelism and cost."""

    context: ContextPolicy = ContextPolicy()
    """How the context window is built."""

    output: JsonSchema | None = None
    """A JSON Schema the final answer must satisfy (structured output)."""

    on_conflict: Literal["reject", "enqueue", "interrupt"] = "reject"
    """A second input while a run is active: `reject` it (409), `enqueue` it after the
    active run, or `interrupt` the active run."""

    redact: Redaction = Redaction()
    """Fields and patterns removed from stored events, spans and logs."""

    retention: Retention = Retention()
    """How long sessions, events and traces are kept."""

    def tool(self, name: str) -> Tool | None:
        return next((tool for tool in self.tools if tool.name == name), None)

    def resolve_model(self, ref: str) -> ModelSpec:
        """The ModelSpec for an alias, or an ad-hoc one for a `provider/model` string."""
        if ref in self.models:
            return self.models[ref]
        return ModelSpec(model=ref)

    @property
    def template_variables(self) -> list[str]:
        """The `{{names}}` used in an inline system prompt, in order of appearance."""
        text = self.system if isinstance(self.system, str) else ""
        return list(dict.fromkeys(TEMPLATE_VARIABLE.findall(text)))
