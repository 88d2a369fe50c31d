"""Packaging within Lambda's limits: `make package` (infra/package.py) builds every function's
artifacts for python3.12, each function's code plus layers stays under 250 MB unzipped (or the
build fails), litellm ships only where a model is called, and every handler imports from its
artifacts alone."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]


def sparse(path: Path, size: int) -> None:
    """A file of `size` bytes that takes no disk space."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        handle.truncate(size)


def fake_stack(package, layers: dict[str, int], tmp_path: Path):
    for name, size in layers.items():
        sparse(tmp_path / name / "python" / "blob.bin", size)
    sparse(tmp_path / "Fn" / "app.py", 1_000)
    return package.Stack(
        runtime="python3.12",
        architecture="x86_64",
        functions={"Fn": Path("functions/fn")},
        layers={name: Path("x") for name in layers},
        function_layers={"Fn": [{"Ref": name} for name in layers]},
    )


def test_a_function_over_the_limit_fails_the_check(package, tmp_path, capsys):
    stack = fake_stack(package, {"Base": 30_000_000, "Big": 240_000_000}, tmp_path)
    [size] = package.function_sizes(stack, tmp_path)
    assert size.total == 270_001_000 and not size.fits
    assert package.report(stack, tmp_path, {}) is False
    assert "OVER THE LIMIT" in capsys.readouterr().out


def test_a_function_under_the_limit_passes(package, tmp_path, capsys):
    stack = fake_stack(package, {"Base": 30_000_000, "Models": 200_000_000}, tmp_path)
    assert package.report(stack, tmp_path, {}) is True
    assert "OVER" not in capsys.readouterr().out


def test_an_external_layer_is_counted(package, tmp_path):
    stack = fake_stack(package, {"Base": 1_000}, tmp_path)
    stack.function_layers["Fn"].append({"Fn::Sub": "arn:aws:lambda:...:layer:Adapter:1"})
    [size] = package.function_sizes(stack, tmp_path)
    assert size.total == 1_000 + 1_000 + package.EXTERNAL_LAYER_ALLOWANCE


def test_the_limit_is_lambdas(package):
    assert package.LAMBDA_UNZIPPED_LIMIT == 250 * 1024 * 1024


def test_layers_install_what_pyproject_declares(package):
    podium = " ".join(package.layer_requirements("PodiumLayer"))
    models = " ".join(package.layer_requirements("ModelsLayer"))
    api = " ".join(package.layer_requirements("ApiLayer"))
    assert "pydantic" in podium and "aws-lambda-powertools" in podium
    assert "aws-xray-sdk" in podium  # Powertools' Tracer (podium.observe.xray)
    assert "opentelemetry-exporter-otlp-proto-http" in podium  # every function may export
    assert "opentelemetry-sdk" in podium and "opentelemetry" not in models + api
    assert "boto3" not in podium  # the runtime provides it
    assert "litellm" in models and "litellm" not in api and "litellm" not in podium
    assert "fastapi" in api and "mangum" in api and "uvicorn" in api


def test_wheels_are_chosen_for_lambdas_platform(package):
    tags = package.platform_tags("x86_64")
    assert "manylinux_2_28_x86_64" in tags and "manylinux2014_x86_64" in tags
    assert not any("2_35" in tag for tag in tags)  # Amazon Linux 2023 has glibc 2.34


def test_every_trim_has_a_reason(package):
    for layer, trims in package.TRIMS.items():
        for relative, reason in trims:
            assert relative.startswith("python/") and reason, (layer, relative)


def test_removing_a_distribution_removes_its_files(package, tmp_path):
    site = tmp_path / "site"
    (site / "pkg").mkdir(parents=True)
    (site / "pkg" / "__init__.py").write_text("")
    info = site / "pkg-1.0.dist-info"
    info.mkdir()
    (info / "RECORD").write_text("pkg/__init__.py,,\npkg-1.0.dist-info/RECORD,,\n")
    (site / "other.py").write_text("")
    assert set(package._installed(site)) == {"pkg"}
    package.remove_distribution(site, info)
    assert sorted(p.name for p in site.iterdir()) == ["other.py"]


@pytest.mark.slow
def test_make_package_builds_artifacts_that_fit_and_import(package):
    stack = package.Stack.read(package.load_template())
    if package.find_python312(stack.python_version) is None:
        pytest.fail(f"no python{stack.python_version} (pyenv) to compile .pyc and smoke-test with")
    result = subprocess.run(
        [sys.executable, str(ROOT / "infra" / "package.py"), "all"],
        capture_output=True, text=True, timeout=1500, check=False,
    )  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    rows = dict(re.findall(r"^  (\w+Function)\s+([\d.]+) \(", output, re.MULTILINE))
    assert set(rows) == set(stack.functions)
    assert all(float(mib) < 250 for mib in rows.values()), rows
    assert float(rows["ModelStepFunction"]) > 100  # litellm is there...
    assert float(rows["ApiFunction"]) < 60  # ...and not in the API
    smoke = re.findall(r"^  (\w+Function)\s+\w+\s+(ok|FAILED)$", output, re.MULTILINE)
    assert dict(smoke) == dict.fromkeys(stack.functions, "ok")
    models = ROOT / "build" / "lambda" / "ModelsLayer" / "python"
    assert not (models / "litellm" / "proxy" / "_experimental").exists()
    assert not (models / "boto3").exists()
    compiled = list((models / "litellm").glob("__pycache__/*.cpython-312.pyc"))
    assert compiled, "the model layer ships python3.12 .pyc files"
    assert not list(models.rglob("*.cpython-311.pyc"))


@pytest.mark.slow
def test_sam_build_builds_the_same_artifacts(package, validate, tools, tmp_path):
    """`sam build` runs infra/Makefile for every function and layer (after the test above,
    in the same file, the artifacts are reused from build/lambda)."""
    stack = package.Stack.read(package.load_template())
    python = package.find_python312(stack.python_version)
    if python is None:
        pytest.fail(f"no python{stack.python_version} (pyenv)")
    out = tmp_path / "sam"
    result = subprocess.run(
        [str(validate.SAM_BIN / "sam"), "build", "--build-dir", str(out),
         "--config-file", str(ROOT / "infra" / "samconfig.toml")],
        cwd=ROOT, env={**validate._env(), "PODIUM_PYTHON312": python},
        capture_output=True, text=True, timeout=1500,
        check=False,
    )  # fmt: skip
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    assert "Build Succeeded" in result.stdout
    for artifact in [*stack.functions, *stack.layers]:
        assert (out / artifact).is_dir(), artifact
        assert not (out / artifact / package.FINGERPRINT).exists()
    assert (out / "StreamFunction" / "run.sh").stat().st_mode & 0o111
    assert (out / "AgentsLayer" / "agents" / "ops" / "agent.yaml").is_file()
    models = package.tree_size(out / "ModelsLayer") + package.tree_size(out / "PodiumLayer")
    assert models < package.LAMBDA_UNZIPPED_LIMIT
    assert list((out / "ModelsLayer" / "python" / "litellm").glob("__pycache__/*.cpython-312.pyc"))


def test_samconfig_is_valid():
    import tomllib

    config = tomllib.loads((ROOT / "infra" / "samconfig.toml").read_text())
    assert config["version"] == 0.1
    assert config["default"]["deploy"]["parameters"]["capabilities"] == "CAPABILITY_IAM"
