"""The signal config: the shipped file is valid and documents every parameter; errors name file and field."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest
import yaml

from adapters.config import ConfigError
from signals.config import DEFAULT_CONFIG, ModelParams, SignalConfig, load_signal_config


def test_shipped_config_is_valid_and_documents_every_parameter():
    config = load_signal_config()
    text = DEFAULT_CONFIG.read_text()
    assert config == SignalConfig(), "the shipped values are the documented defaults"
    for name in msgspec.structs.fields(SignalConfig):
        assert f"\n{name.name}:" in text, f"{name.name} is not in {DEFAULT_CONFIG.name}"
    for name in msgspec.structs.fields(ModelParams):
        assert f"  {name.name}:" in text, f"model.{name.name} is not in {DEFAULT_CONFIG.name}"
    # every line setting a value carries a comment with its default
    for line in text.splitlines():
        if line and not line.lstrip().startswith("#") and not line.rstrip().endswith(":"):
            assert "default" in line, f"undocumented parameter line: {line!r}"


def _write(tmp_path: Path, payload: object) -> Path:
    path = tmp_path / "signals.yaml"
    path.write_text(payload if isinstance(payload, str) else yaml.safe_dump(payload))
    return path


@pytest.mark.parametrize(
    ("payload", "fragments"),
    [
        ({"horizon": 24}, ["unknown field `horizon`"]),
        ({"horizon_hours": "a day"}, ["Expected `int`", "$.horizon_hours"]),
        ({"horizon_hours": 0}, ["`horizon_hours` must be in [1, 720]"]),
        ({"label_k": -0.5}, ["`label_k` must be >= 0"]),
        ({"retrain_every": "weekly"}, ["`retrain_every` must be 'month' or a number of days"]),
        ({"min_history_days": 3}, ["`min_history_days` must be >= 7"]),
        ({"min_history_days": 90, "train_window_days": 30}, ["`train_window_days`"]),
        ({"confidence_threshold": 1.5}, ["`confidence_threshold` must be in (0, 1)"]),
        ({"threads": 0}, ["`threads` must be >= 1"]),
        ({"model": {"max_iter": 0}}, ["`model.max_iter` must be >= 1", "$.model"]),
        ({"model": {"class_weight": "auto"}}, ["$.model.class_weight"]),
        ({"model": {"depth": 3}}, ["unknown field `depth`", "$.model"]),
        ({"instrument_id": "BTCUSDT-PERP"}, ["`instrument_id` must look like SYMBOL.VENUE"]),
        ("[1, 2]", ["expected a mapping"]),
        ("horizon_hours: [", ["invalid YAML"]),
    ],
)
def test_config_errors_name_the_file_and_the_field(tmp_path, payload, fragments):
    path = _write(tmp_path, payload)
    with pytest.raises(ConfigError) as info:
        load_signal_config(path)
    message = str(info.value)
    assert str(path) in message
    for fragment in fragments:
        assert fragment in message, message


def test_missing_config_file(tmp_path):
    with pytest.raises(match="signal config not found"):
        load_signal_config(tmp_path / "nope.yaml")


def test_every_parameter_changes_the_model_version():
    from signals.model import model_version

    base = model_version(SignalConfig())
    assert model_version(SignalConfig()) == base
    assert model_version(SignalConfig(label_k=0.6)) != base
    assert model_version(SignalConfig(model=ModelParams(max_iter=10))) != base
    assert model_version(SignalConfig(seed=1)) != base
    assert model_version(SignalConfig(threads=2)) == base, "the thread count shapes no prediction"
