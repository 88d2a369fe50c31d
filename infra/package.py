#!/usr/bin/env python3
"""Build Podium's Lambda artifacts for the template's runtime and check them against Lambda's
size limit.

    python infra/package.py all             # every layer and function into build/lambda/,
                                            # zipped, smoke-tested, with the size table
    python infra/package.py sam-build ID    # one artifact into $ARTIFACTS_DIR (sam build,
                                            # through infra/Makefile)

What goes where is read from template.yaml: each function's code is `functions/<name>/`, and
its layers are the template's (Globals + its own). The layers:

- PodiumLayer: the `podium` package and its core dependencies (pyproject `dependencies` and
  the `aws` extra), the X-Ray SDK for Powertools' Tracer (`podium.observe.xray`) and the
  OpenTelemetry OTLP exporter (the `otel` extra: every run's trace is exported when it ends,
  wherever `OTEL_EXPORTER_OTLP_ENDPOINT` is set), for every function;
- ModelsLayer: litellm and what it pulls in (the `models` extra), trimmed — only for the
  model step and the tool runner;
- ApiLayer: FastAPI, Mangum and uvicorn (the `api` extra) — the API and stream functions;
- AgentsLayer: `agents/` (at /opt/agents) with the Python packages that
  `agents/*/requirements.txt` name.

Wheels are installed for the template's runtime and architecture (`pip --platform`,
`--only-binary`), at the versions pinned in requirements/lock.txt. boto3, botocore and
s3transfer are left out: the Lambda runtime provides them. `.pyc` files are compiled with a
matching interpreter (python3.12; pyenv's, or $PODIUM_PYTHON312) in unchecked-hash mode, since a
zip does not keep timestamps precisely enough for the default mode. A function whose code and
layers exceed Lambda's 250 MB unzipped fails the build.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "template.yaml"
LOCK = ROOT / "requirements" / "lock.txt"
DEFAULT_OUT = ROOT / "build" / "lambda"

LAMBDA_UNZIPPED_LIMIT = 262_144_000
"""Lambda's limit on a function's code plus all its layers, unzipped (250 MiB)."""
EXTERNAL_LAYER_ALLOWANCE = 10 * 1024 * 1024
"""Counted for a layer the stack does not build (the Lambda Web Adapter: ~5 MB unzipped)."""
RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer")
"""Distributions the Lambda Python runtime ships: never packaged."""
TRACING = ("aws-xray-sdk",)
"""Powertools' Tracer needs the X-Ray SDK, which the `aws` extra leaves out (imported on a
function's first invocation, never outside Lambda)."""
FINGERPRINT, DISTS = ".fingerprint", ".dists"
METADATA = (FINGERPRINT, DISTS)
"""Files of the build's own bookkeeping in an artifact's folder: never deployed."""

TRIMS: dict[str, tuple[tuple[str, str], ...]] = {
    "ModelsLayer": (
        ("python/litellm/proxy/_experimental", "the LiteLLM proxy's admin UI (static files)"),
        ("python/litellm/proxy/swagger", "the LiteLLM proxy's Swagger UI (static files)"),
        ("python/litellm/proxy/_lazy_openapi_snapshot.json", "the LiteLLM proxy's OpenAPI"),
        ("python/hf_xet", "huggingface_hub's optional Xet download backend (a 11 MB binary)"),
        ("python/bin", "console scripts: nothing in Lambda runs them"),
    ),
    "ApiLayer": (("python/bin", "console scripts: the stream function runs `python -m`"),),
    "PodiumLayer": (("python/bin", "console scripts"),),
    "AgentsLayer": (("python/bin", "console scripts"),),
}
"""What is cut from a layer after installing, and why (each is data or a program nothing in
Lambda imports; the smoke test below imports and calls through what stays)."""


# ----------------------------------------------------------------------------- template


class _CfnLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short tags (`!Ref X` → `{"Ref": "X"}`)."""


def _cfn_tag(loader: _CfnLoader, suffix: str, node: yaml.Node) -> Any:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


_CfnLoader.add_multi_constructor("!", _cfn_tag)


def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    """template.yaml as plain data, intrinsic functions in their long form."""
    return dict(yaml.load(path.read_text(encoding="utf-8"), Loader=_CfnLoader))  # noqa: S506


@dataclass(frozen=True)
class Stack:
    """What the template says about packaging: runtime, architecture, functions, layers."""

    runtime: str
    architecture: str
    functions: dict[str, Path]
    """Logical id → code folder (relative to the repository)."""
    layers: dict[str, Path]
    function_layers: dict[str, list[Any]]
    """Logical id → the layers it runs with (Globals first): `{"Ref": id}` or external."""

    @property
    def python_version(self) -> str:
        return self.runtime.removeprefix("python")

    @classmethod
    def read(cls, template: dict[str, Any]) -> Stack:
        glob_fn = template.get("Globals", {}).get("Function", {})
        runtime = glob_fn.get("Runtime", "python3.12")
        architecture = (glob_fn.get("Architectures") or ["x86_64"])[0]
        functions, layers, function_layers = {}, {}, {}
        for logical_id, resource in template["Resources"].items():
            props = resource.get("Properties", {})
            if resource["Type"] == "AWS::Serverless::Function":
                functions[logical_id] = Path(props["CodeUri"])
                function_layers[logical_id] = list(glob_fn.get("Layers", [])) + list(
                    props.get("Layers", [])
                )
            elif resource["Type"] == "AWS::Serverless::LayerVersion":
                layers[logical_id] = Path(props["ContentUri"])
        return cls(runtime, architecture, functions, layers, function_layers)


# ----------------------------------------------------------------------------- building


def _pyproject() -> dict[str, Any]:
    with (ROOT / "pyproject.toml").open("rb") as handle:
        return tomllib.load(handle)


def layer_requirements(layer: str) -> list[str]:
    """The top-level requirements a layer installs (pins come from requirements/lock.txt)."""
    project = _pyproject()["project"]
    extras = project["optional-dependencies"]
    if layer == "PodiumLayer":
        wanted = [*project["dependencies"], *extras["aws"], *TRACING, *extras["otel"]]
    elif layer == "ModelsLayer":
        wanted = list(extras["models"])
    elif layer == "ApiLayer":
        wanted = list(extras["api"])
    elif layer == "AgentsLayer":
        wanted = []
        for file in sorted((ROOT / "agents").glob("*/requirements.txt")):
            wanted += [
                line.strip()
                for line in file.read_text().splitlines()
                if line.strip() and not line.startswith("#")
            ]
    else:
        raise SystemExit(f"unknown layer {layer}")
    names = [_dist_name(req) for req in wanted]
    return [req for req, name in zip(wanted, names, strict=True) if name not in RUNTIME_PROVIDED]


def _dist_name(requirement: str) -> str:
    name = requirement
    for stop in "<>=!~[; ":
        name = name.split(stop, 1)[0]
    return name.strip().lower().replace("_", "-")


def platform_tags(architecture: str) -> list[str]:
    """Every manylinux tag a wheel may carry and still run on Lambda's Amazon Linux 2023."""
    machine = {"x86_64": "x86_64", "arm64": "aarch64"}[architecture]
    tags = [f"manylinux_2_{minor}_{machine}" for minor in range(34, 16, -1)]
    return [*tags, f"manylinux2014_{machine}"]


def pip_install(requirements: list[str], target: Path, stack: Stack) -> None:
    if not requirements:
        return
    command = [
        sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
        "--no-compile", "--target", str(target), "--implementation", "cp",
        "--python-version", stack.python_version, "--only-binary=:all:",
        "-c", str(LOCK),
    ]  # fmt: skip
    for tag in platform_tags(stack.architecture):
        command += ["--platform", tag]
    subprocess.run(  # noqa: S603 - argv built here, no shell
        [*command, *requirements], check=True
    )


def _installed(site: Path) -> dict[str, Path]:
    """Normalised distribution name → its .dist-info folder."""
    found = {}
    for info in site.glob("*.dist-info"):
        name = info.name.removesuffix(".dist-info").rsplit("-", 1)[0]
        found[name.lower().replace("_", "-")] = info
    return found


def remove_distribution(site: Path, info: Path) -> None:
    """Delete a distribution's files (its RECORD) and its .dist-info."""
    record = info / "RECORD"
    if record.is_file():
        for line in record.read_text().splitlines():
            relative = line.split(",", 1)[0]
            path = (site / relative).resolve()
            if path.is_relative_to(site.resolve()) and path.is_file():
                path.unlink()
    shutil.rmtree(info, ignore_errors=True)
    for folder in sorted(site.rglob("*"), reverse=True):  # folders the removal left empty
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()


def find_python312(version: str) -> str | None:
    """An interpreter matching the runtime, for .pyc files and the smoke test."""
    explicit = os.environ.get("PODIUM_PYTHON312")
    candidates = [explicit] if explicit else []
    candidates += [shutil.which(f"python{version}") or ""]
    pyenv = Path("~/.pyenv/versions").expanduser()
    candidates += sorted(str(p) for p in pyenv.glob(f"{version}*/bin/python3"))
    for candidate in candidates:
        if not candidate:
            continue
        try:
            out = subprocess.run(  # noqa: S603 - argv built here, no shell
                [candidate, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                capture_output=True, text=True, timeout=30, check=False,
            )  # fmt: skip
        except OSError:
            continue
        if out.stdout.strip() == version:
            return candidate
    return None


def compile_pyc(
    python: str, folder: Path, deployed_at: str, *, only: list[Path] | None = None
) -> None:
    """Compile .pyc next to the sources, as the runtime finds them (tracebacks read as
    deployed: /opt/..., /var/task/...); `only` limits it to those files."""
    command = [python, "-m", "compileall", "-q", "-j", "0", "--invalidation-mode",
               "unchecked-hash", "-s", str(folder), "-p", deployed_at]  # fmt: skip
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as listing:
        if only is None:
            command.append(str(folder))
        else:
            listing.write("".join(f"{path}\n" for path in only))
            command += ["-i", listing.name]
    try:
        subprocess.run(  # noqa: S603 - argv built here, no shell
            command, check=True, stdout=subprocess.DEVNULL
        )
    finally:
        Path(listing.name).unlink()


COLD_START_ONLY = {"ModelsLayer"}
"""Layers whose .pyc files are compiled only for the modules a model step imports (measured
by running one, below): litellm has ~3,100 modules and imports ~2,500 of them; compiling the
rest too would add ~40 MB for modules that a call imports (and compiles) only if it needs
them."""

PROFILE = r"""
import json, os, sys
os.environ.update({"LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_OFFLINE_MODE": "true",
                   "AWS_DEFAULT_REGION": "us-east-1"})
import litellm
import podium.engine.step_model, podium.engine.step_tools, podium.store.context
from podium.testing.fake_openai import FakeOpenAI
with FakeOpenAI() as server:
    base = getattr(server, "base_url", None) or getattr(server, "url")
    messages = [{"role": "user", "content": "hello"}]
    reply = litellm.completion(model="openai/gpt-4.1-mini", api_base=base, api_key="sk-test",
                               messages=messages)
    assert reply.choices[0].message.content is not None
    chunks = list(litellm.completion(model="openai/gpt-4.1-mini", api_base=base,
                                     api_key="sk-test", messages=messages, stream=True))
    assert chunks
    litellm.token_counter(model="gpt-4.1-mini", messages=messages)
root = sys.argv[1]
files = sorted({getattr(m, "__file__", None) or "" for m in list(sys.modules.values())})
print(json.dumps([f for f in files if f.startswith(root) and f.endswith(".py")]))
"""


def _can_run(stack: Stack) -> bool:
    """Whether this machine runs the target architecture's binaries (for the profile)."""
    machine = {"x86_64": "x86_64", "arm64": "aarch64"}[stack.architecture]
    return platform.machine() == machine


def cold_start_modules(python: str, layer: Path, stack: Stack) -> list[Path]:
    """The layer's source files a model step imports: litellm imported, one completion and
    one streamed completion through litellm's HTTP path (a local fake server)."""
    paths = [layer / "python", DEFAULT_OUT / "PodiumLayer" / "python", runtime_site(stack)]
    result = subprocess.run(  # noqa: S603 - argv built here, no shell
        [python, "-S", "-c", PROFILE, str(layer)],
        env={**_clean_env(), "PYTHONPATH": os.pathsep.join(map(str, paths))},
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    if result.returncode != 0:
        raise SystemExit(f"profiling the cold start failed:\n{result.stderr[-3000:]}")
    return [Path(file) for file in json.loads(result.stdout.strip().splitlines()[-1])]


def _clean_env() -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", "/tmp"),  # noqa: S108 - as in Lambda, a scratch home
        "PYTHONDONTWRITEBYTECODE": "1",
        "PODIUM_HOME": tempfile.mkdtemp(prefix="podium-package-"),
    }


def _tree_digest(paths: Iterable[Path], digest: Any) -> None:
    for base in paths:
        files = [base] if base.is_file() else sorted(p for p in base.rglob("*") if p.is_file())
        for file in files:
            if "__pycache__" in file.parts:
                continue
            digest.update(str(file.relative_to(ROOT)).encode())
            digest.update(file.read_bytes())


def fingerprint(artifact: str, stack: Stack, sources: list[Path], pyc: bool) -> str:
    digest = hashlib.sha256()
    digest.update(json.dumps([artifact, stack.runtime, stack.architecture, pyc]).encode())
    _tree_digest([Path(__file__), LOCK, ROOT / "pyproject.toml", *sources], digest)
    return digest.hexdigest()


def _copy_tree(source: Path, destination: Path) -> None:
    shutil.copytree(
        source,
        destination,
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache"),
        dirs_exist_ok=True,
    )


def build_layer(layer: str, out: Path, stack: Stack, python: str | None) -> None:
    """Build one layer's contents into `out` (its `python/`, and `agents/` for AgentsLayer)."""
    site = out / "python"
    site.mkdir(parents=True, exist_ok=True)
    pip_install(layer_requirements(layer), site, stack)
    if layer == "PodiumLayer":
        _copy_tree(ROOT / "layers" / "podium" / "podium", site / "podium")
    if layer == "AgentsLayer":
        _copy_tree(ROOT / "agents", out / "agents")
    _deduplicate(layer, site)
    for relative, _reason in TRIMS.get(layer, ()):
        target = out / relative
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
    if not any(site.iterdir()):
        site.rmdir()
    if python is None:
        return
    if layer in COLD_START_ONLY and _can_run(stack):
        compile_pyc(python, out, "/opt", only=cold_start_modules(python, out, stack))
    else:
        compile_pyc(python, out, "/opt")


def _deduplicate(layer: str, site: Path) -> None:
    """Leave out what the runtime provides, and what the Podium layer already ships."""
    shipped = set(RUNTIME_PROVIDED)
    if layer != "PodiumLayer":
        shipped |= set(_installed(DEFAULT_OUT / "PodiumLayer" / "python"))
    for name, info in _installed(site).items():
        if name in shipped:
            remove_distribution(site, info)


def build_function(folder: Path, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    _copy_tree(ROOT / folder, out)


def build(artifact: str, stack: Stack, python: str | None) -> Path:
    """Build `artifact` (a template logical id) into build/lambda/<artifact>, unless an
    identical build (same sources, pins and options) is already there; returns the folder."""
    is_layer = artifact in stack.layers
    if not is_layer and artifact not in stack.functions:
        raise SystemExit(f"template.yaml has no function or layer {artifact!r}")
    sources = [ROOT / (stack.layers[artifact] if is_layer else stack.functions[artifact])]
    if artifact == "PodiumLayer":
        sources = [ROOT / "layers" / "podium" / "podium"]
    elif artifact == "AgentsLayer":
        sources = [ROOT / "agents"]
    elif is_layer:
        sources = []  # a layer of pinned dependencies: the pins are in the fingerprint
    if is_layer and artifact != "PodiumLayer":
        sources.append(DEFAULT_OUT / "PodiumLayer" / DISTS)  # what it leaves out
    stamp = fingerprint(artifact, stack, sources, python is not None)
    folder = DEFAULT_OUT / artifact
    marker = folder / FINGERPRINT
    if marker.is_file() and marker.read_text() == stamp:
        return folder
    DEFAULT_OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=DEFAULT_OUT) as scratch:
        staging = Path(scratch) / artifact
        if is_layer:
            build_layer(artifact, staging, stack, python)
        else:
            build_function(stack.functions[artifact], staging)
        (staging / FINGERPRINT).write_text(stamp)
        if artifact == "PodiumLayer":
            (staging / DISTS).write_text(
                "".join(
                    f"{info.name}\n" for info in sorted(_installed(staging / "python").values())
                )
            )
        shutil.rmtree(folder, ignore_errors=True)
        staging.rename(folder)
    return folder


# ----------------------------------------------------------------------------- sizes


def tree_size(folder: Path) -> int:
    return sum(
        p.stat().st_size for p in folder.rglob("*") if p.is_file() and p.name not in METADATA
    )


def write_zip(folder: Path, archive: Path) -> int:
    """Zip a built folder (modes kept: run.sh stays executable), unless the zip is newer than
    the build; returns the zip's size."""
    marker = folder / FINGERPRINT
    if archive.is_file() and marker.is_file() and archive.stat().st_mtime > marker.stat().st_mtime:
        return archive.stat().st_size
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as zipped:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and path.name not in METADATA:
                zipped.write(path, path.relative_to(folder))
    return archive.stat().st_size


@dataclass(frozen=True)
class FunctionSize:
    function: str
    code: int
    layers: dict[str, int]

    @property
    def total(self) -> int:
        return self.code + sum(self.layers.values())

    @property
    def fits(self) -> bool:
        return self.total <= LAMBDA_UNZIPPED_LIMIT


def function_sizes(stack: Stack, out: Path) -> list[FunctionSize]:
    sizes = []
    for function in sorted(stack.functions):
        layers = {}
        for layer in stack.function_layers[function]:
            if isinstance(layer, dict) and "Ref" in layer and layer["Ref"] in stack.layers:
                layers[layer["Ref"]] = tree_size(out / layer["Ref"])
            else:
                layers["(external: Lambda Web Adapter)"] = EXTERNAL_LAYER_ALLOWANCE
        sizes.append(FunctionSize(function, tree_size(out / function), layers))
    return sizes


def _mb(size: int) -> str:
    return f"{size / 1_048_576:7.1f}"


def report(stack: Stack, out: Path, zipped: dict[str, int]) -> bool:
    """Print every artifact's size and each function's total against the limit."""
    print(f"\nartifacts in {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}"
          f" ({stack.runtime}, {stack.architecture}); MiB")  # fmt: skip
    print(f"  {'artifact':<24} {'unzipped':>8} {'zipped':>8}")
    for artifact in sorted(stack.layers) + sorted(stack.functions):
        print(f"  {artifact:<24} {_mb(tree_size(out / artifact)):>8} "
              f"{_mb(zipped.get(artifact, 0)):>8}")  # fmt: skip
    limit = LAMBDA_UNZIPPED_LIMIT
    print(f"\nfunction code + layers, unzipped, against Lambda's limit of {_mb(limit).strip()} MiB")
    ok = True
    for size in function_sizes(stack, out):
        verdict = "ok" if size.fits else "OVER THE LIMIT"
        layers = " + ".join(f"{name} {_mb(value).strip()}" for name, value in size.layers.items())
        print(f"  {size.function:<24} {_mb(size.total)} ({100 * size.total / limit:5.1f}%)  "
              f"{verdict}   [code {_mb(size.code).strip()} + {layers}]")  # fmt: skip
        ok = ok and size.fits
    return ok


# ----------------------------------------------------------------------------- smoke test

SMOKE = r"""
import importlib, importlib.util, json, os, sys
kind, function_dir = sys.argv[1], sys.argv[2]
os.environ.update({"LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_OFFLINE_MODE": "true",
                   "AWS_DEFAULT_REGION": "us-east-1"})
if kind == "stream":
    for name in ("uvicorn", "podium.api.app"):
        module = importlib.import_module(name)
    getattr(module, "app")  # what run.sh serves: podium.api.app:app
else:
    sys.path.insert(0, function_dir)
    handler = importlib.import_module("app").handler
    assert callable(handler)
if kind in ("api", "stream"):
    importlib.import_module("podium.api.app").create_app
    assert importlib.util.find_spec("litellm") is None, "the API must not ship litellm"
if kind == "models":
    import litellm
    importlib.import_module("podium.engine.step_model")
    importlib.import_module("podium.engine.step_tools")
    from podium.testing.fake_openai import FakeOpenAI
    with FakeOpenAI() as server:
        base = getattr(server, "base_url", None) or getattr(server, "url")
        reply = litellm.completion(model="openai/gpt-4.1-mini", api_base=base, api_key="sk-test",
                                   messages=[{"role": "user", "content": "hello"}])
        assert reply.choices[0].message.content is not None
        chunks = list(litellm.completion(model="openai/gpt-4.1-mini", api_base=base,
                      api_key="sk-test", stream=True,
                      messages=[{"role": "user", "content": "hello"}]))
        assert chunks
if kind == "tool":
    out = handler({"call_id": "c1", "name": "check_service", "arguments": {"service": "checkout"},
                   "tenant": "t", "session_id": "s", "run_id": "r"}, None)
    assert out["output"]["service"] == "checkout", out
if kind == "agents":
    from podium.protocol.loader import load_agents
    assert load_agents(os.environ["PODIUM_AGENTS_DIR"])
assert "aws_xray_sdk" not in sys.modules, "the X-Ray SDK loads on the first invocation only"
# what the Podium layer ships for every function: X-Ray for the tracer, the OTLP exporter
for name in ("aws_lambda_powertools.tracing", "aws_xray_sdk.core",
             "opentelemetry.exporter.otlp.proto.http.trace_exporter", "opentelemetry.sdk.trace"):
    importlib.import_module(name)
print("ok")
"""


def smoke_kind(function: str, stack: Stack) -> str:
    layers = {
        layer.get("Ref") for layer in stack.function_layers[function] if isinstance(layer, dict)
    }
    if "ModelsLayer" in layers:
        return "models"
    if function == "StreamFunction":
        return "stream"
    if "ApiLayer" in layers:
        return "api"
    if function == "ExampleToolFunction":
        return "tool"
    if "AgentsLayer" in layers:
        return "agents"
    return "import"


def runtime_site(stack: Stack) -> Path:
    """What the Lambda runtime provides besides the standard library (boto3 & co.), for the
    smoke test's sys.path."""
    site = DEFAULT_OUT / ".runtime"
    stamp = fingerprint(".runtime", stack, [], False)
    if not (site / ".fingerprint").is_file() or (site / ".fingerprint").read_text() != stamp:
        shutil.rmtree(site, ignore_errors=True)
        pip_install(list(RUNTIME_PROVIDED), site, stack)
        (site / ".fingerprint").write_text(stamp)
    return site


def smoke(stack: Stack, out: Path, python: str) -> bool:
    """Import every function's handler from its artifacts alone (function folder, layers, the
    runtime's boto3), as Lambda would lay them out; call through litellm where it ships."""
    runtime = runtime_site(stack)
    ok = True
    for function in sorted(stack.functions):
        kind = smoke_kind(function, stack)
        paths = [str(out / function)]
        layer_ids = [layer["Ref"] for layer in stack.function_layers[function]
                     if isinstance(layer, dict) and layer.get("Ref") in stack.layers]  # fmt: skip
        paths += [str(out / layer / "python") for layer in layer_ids]
        env = {
            **_clean_env(),
            "PYTHONPATH": os.pathsep.join([*paths, str(runtime)]),
            "PODIUM_AGENTS_DIR": str(out / "AgentsLayer" / "agents"),
            "PODIUM_BUCKET": "podium-smoke",  # set in Lambda by the template's Globals
        }
        result = subprocess.run(  # noqa: S603 - argv built here, no shell
            [python, "-S", "-c", SMOKE, kind, str(out / function)],
            env=env, capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        passed = result.returncode == 0 and result.stdout.strip().endswith("ok")
        print(f"  {function:<24} {kind:<7} {'ok' if passed else 'FAILED'}")
        if not passed:
            print(
                "    "
                + (result.stderr.strip() or result.stdout.strip())[-2000:].replace("\n", "\n    ")
            )
        ok = ok and passed
    return ok


# ----------------------------------------------------------------------------- commands


def package_all(*, pyc: bool, run_smoke: bool) -> int:
    stack = Stack.read(load_template())
    python = find_python312(stack.python_version)
    if python is None and (pyc or run_smoke):
        print(
            f"error: no python{stack.python_version} interpreter for .pyc files and the smoke "
            "test (install it, or set PODIUM_PYTHON312; --no-pyc --no-smoke skips both)"
        )
        return 2
    out = DEFAULT_OUT
    # The Podium layer first: the other layers leave out what it already ships.
    for artifact in ["PodiumLayer", *sorted(set(stack.layers) - {"PodiumLayer"}),
                     *sorted(stack.functions)]:  # fmt: skip
        print(f"building {artifact}", flush=True)
        build(artifact, stack, python if pyc else None)
    zipped = {artifact: write_zip(out / artifact, out / f"{artifact}.zip")
              for artifact in [*stack.layers, *stack.functions]}  # fmt: skip
    fits = report(stack, out, zipped)
    smoked = True
    if run_smoke and python is not None:
        print(f"\nsmoke test: each handler imported from its artifacts alone ({python})")
        smoked = smoke(stack, out, python)
    if not fits:
        print("\nerror: a function is over Lambda's unzipped limit")
    if not smoked:
        print("\nerror: a function does not import from its artifacts")
    return 0 if fits and smoked else 1


def sam_build(artifact: str, destination: Path) -> int:
    """One artifact into sam build's ARTIFACTS_DIR (built, or reused, in build/lambda/)."""
    stack = Stack.read(load_template())
    python = find_python312(stack.python_version)
    if python is None:
        print(f"warning: no python{stack.python_version}: building without .pyc files")
    if artifact in stack.layers and artifact != "PodiumLayer":
        build("PodiumLayer", stack, python)  # what the other layers leave out
    folder = build(artifact, stack, python)
    shutil.copytree(folder, destination, symlinks=True, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns(*METADATA))  # fmt: skip
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    everything = commands.add_parser("all", help="build, zip, size-check and smoke-test all")
    everything.add_argument("--no-pyc", action="store_true", help="ship sources only")
    everything.add_argument("--no-smoke", action="store_true", help="skip the smoke test")
    one = commands.add_parser("sam-build", help="one artifact, for sam build's Makefile")
    one.add_argument("artifact")
    one.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    if args.command == "all":
        return package_all(pyc=not args.no_pyc, run_smoke=not args.no_smoke)
    return sam_build(args.artifact, args.out.resolve())


if __name__ == "__main__":
    sys.exit(main())
