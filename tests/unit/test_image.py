"""The image (issue 26, item 6): third-party code only from hashed pins, base images by digest.

deploy/requirements.lock is `pip-compile --generate-hashes` output of pyproject.toml (`make
lock`); deploy/Dockerfile installs it with `--require-hashes`, so a re-published or tampered
package fails the build. A tag can be re-pointed, a digest cannot: every FROM line and every
third-party image of the compose files carries `@sha256:` (docs/deploy.md, "Pinned images")."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "deploy/Dockerfile"
LOCK = ROOT / "deploy/requirements.lock"
BUILD_LOCK = ROOT / "deploy/requirements-build.lock"
COMPOSE_FILES = sorted(ROOT.glob("docker-compose*.yml"))
DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")


def pins(path: Path) -> dict[str, tuple[str, list[str]]]:
    """name -> (version, hashes) of a pip-compile --generate-hashes file."""
    text = re.sub(r"\\\n\s*", " ", path.read_text())
    out = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        spec, *opts = line.split(" --")
        name, _, version = spec.strip().partition("==")
        out[canonicalize_name(name)] = (version, [o.split("=", 1)[1] for o in opts if o.startswith("hash=")])
    return out


def test_every_pin_is_exact_and_hashed():
    for path in (LOCK, BUILD_LOCK):
        locked = pins(path)
        assert locked, path
        for name, (version, hashes) in locked.items():
            assert version and hashes and all(h.startswith("sha256:") for h in hashes), f"{path.name}: {name}"


def test_the_lock_satisfies_every_dependency_of_pyproject():
    """A dependency added to pyproject.toml without `make lock` fails here, not in the image build."""
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    locked = pins(LOCK)
    for dep in map(Requirement, deps):
        name = canonicalize_name(dep.name)
        assert name in locked, f"{dep.name} is not in deploy/requirements.lock: run `make lock`"
        assert dep.specifier.contains(locked[name][0], prereleases=True), (
            f"{dep.name}{dep.specifier} but the lock pins {locked[name][0]}: run `make lock`")


def test_the_build_stage_installs_only_the_hashed_pins():
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    installs = [line for line in text.splitlines() if "pip install" in line and not line.lstrip().startswith("#")]
    assert installs
    for line in installs:
        for command in line.split("&&"):
            if "pip install" not in command:
                continue
            assert "--require-hashes" in command or ("--no-deps" in command and "--no-index" in command), command
    assert "-r requirements.lock" in text and "-r requirements-build.lock" in text


def test_every_base_image_is_pinned_by_digest_and_both_stages_share_it():
    froms = [line.split()[1] for line in DOCKERFILE.read_text().splitlines() if line.upper().startswith("FROM ")]
    assert froms and all(DIGEST.search(f) for f in froms), froms
    assert len(set(froms)) == 1, "build and runtime stages on different bases"


def _images(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "image" and isinstance(value, str):
                yield value
            else:
                yield from _images(value)
    elif isinstance(node, list):
        for value in node:
            yield from _images(value)


class _Loader(yaml.SafeLoader):
    pass


_Loader.add_multi_constructor("!", lambda loader, suffix, node: None)


@pytest.mark.parametrize("path", COMPOSE_FILES, ids=lambda p: p.name)
def test_third_party_compose_images_are_pinned_by_digest(path):
    for image in _images(yaml.load(path.read_text(), Loader=_Loader)):
        default = re.sub(r"^\$\{\w+:-(.*)\}$", r"\1", image)
        if default.startswith("patientnamnd:"):
            continue  # our own image, built from deploy/Dockerfile
        assert DIGEST.search(default), f"{path.name}: {image} is not pinned by digest"
