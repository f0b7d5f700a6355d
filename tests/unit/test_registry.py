"""The services' specs are the one description of each service: the registry finds all five,
and what derives from a spec (its composition root, settings, docs, README row) is there."""

from __future__ import annotations

from pathlib import Path

from shared.platform.registry import names, spec, specs
from shared.service.settings import PnSettings

ROOT = Path(__file__).resolve().parents[2]


def test_the_registry_finds_every_service_in_port_order():
    assert names() == ("intake", "diary", "fees", "billing", "budget")
    ports = [s.port for s in specs().values()]
    assert ports == sorted(set(ports))


def test_every_spec_names_a_composition_root_settings_and_inputs_that_exist():
    for name, s in specs().items():
        assert s.name == name and callable(s.composition_root())
        assert issubclass(s.settings, PnSettings) and s.inputs and s.outputs
        assert (ROOT / "services" / name / "spec.py").is_file()


def test_every_service_has_its_doc_and_its_row_in_the_readme():
    readme = (ROOT / "README.md").read_text()
    for name in names():
        assert (ROOT / "docs" / f"{name}.md").is_file()
        assert f"| **{name}** |" in readme


def test_an_unknown_service_is_named_with_the_known_ones():
    import pytest

    from shared.platform.registry import ServiceNotAvailable

    with pytest.raises(ServiceNotAvailable, match="unknown service 'remit'; services: intake, diary"):
        spec("remit")
