"""Configuration errors are caught early and say which file and field is wrong."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest
import yaml

from adapters.cex.config import load_cex_venue
from adapters.config import VENUE_CONFIG_DIR, ConfigError
from adapters.defi.config import load_wallet_venue
from backtesting.config import load_run_config, mode_file_path
from backtesting.engine import build_backtest
from backtesting.modes import MODES
from strategies.basis import BasisStrategyConfig


def _basis(**overrides) -> BasisStrategyConfig:
    return msgspec.convert({"asset": "BTC", **overrides}, BasisStrategyConfig)


def test_the_shipped_mode_files_are_valid():
    for mode, spec in MODES.items():
        run = load_run_config(mode_file_path(mode))
        assert run.mode == mode and run.file.capital > 0 and run.end > run.start
        assert run.share_class == spec.share_class


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"hedge_allocation": {"BINANCE": 0.5, "BYBIT": 0.3, "OKX": 0.3}}, "must sum to 1"),
        ({"hedge_allocation": {"BINANCE": 1.2, "BYBIT": -0.2}}, "must be >= 0"),
        ({"hedge_allocation": {"KRAKEN": 1.0}}, "unknown venue 'KRAKEN'"),
        ({"hedge_allocation": {}}, "at least one venue"),
        ({"perp_margin_fraction": 0.0}, "perp_margin_fraction"),
        ({"perp_margin_fraction": 0.25, "margin_floor": 0.3}, "margin_floor < perp_margin_fraction"),
        ({"margin_ceiling": 0.2}, "perp_margin_fraction < margin_ceiling"),
        ({"delta_tolerance": 0.5}, "delta_tolerance"),
        ({"asset": "DOGE"}, "asset must be"),
        ({"share_class": "ETH"}, "share_class 'ETH' is not supported"),
        ({"gas_reserve_eth": 0.01, "gas_reserve_min_eth": 0.02}, "gas_reserve_min_eth <= gas_reserve_eth"),
    ],
)
def test_basis_config_rejects_impossible_parameters(overrides, message):
    with pytest.raises(msgspec.ValidationError, match=message):
        _basis(**overrides)


def _mode_file(tmp_path: Path, base: str = "btc_basis", **changes) -> Path:
    raw = yaml.safe_load(mode_file_path(base).read_text())
    for key, value in changes.items():
        if value is None:
            raw.pop(key, None)
        else:
            raw[key] = value
    path = tmp_path / "mode.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"capital": -100}, "capital must be positive"),
        ({"start": "2025-01-01", "end": "2024-01-01"}, "must be after start"),
        ({"start": "yesterday-ish"}, "cannot parse"),
        ({"mode": "moon_shot"}, "unknown mode 'moon_shot'"),
        ({"capitol": 5}, "capitol"),
        ({"capital_flows": [{"at": "2030-01-01", "deposit": 10}]}, "outside the run window"),
        ({"capital_flows": [{"at": "2024-09-01", "deposit": 10, "withdraw": 5}]}, "exactly one of"),
        ({"capital_flows": [{"at": "2024-09-01", "withdraw": "most"}]}, "positive amount or 'all'"),
        ({"strategy": {"asset": "BTC", "hedge_allocation": {"BINANCE": 0.9}}}, "strategy: .*must sum to 1"),
        ({"strategy": {"asset": "BTC", "hedge_alocation": {}}}, "hedge_alocation"),
    ],
)
def test_mode_file_errors_name_the_file_and_the_field(tmp_path, changes, message):
    path = _mode_file(tmp_path, **changes)
    with pytest.raises(ConfigError, match=message) as info:
        load_run_config(path)
    assert str(path) in str(info.value)


def test_cli_overrides_replace_the_file_values(tmp_path):
    run = load_run_config(_mode_file(tmp_path), start="2024-06-01", end="2024-07-01", capital=5_000)
    assert (run.start.isoformat(), run.end.isoformat(), run.file.capital) == (
        "2024-06-01T00:00:00+00:00",
        "2024-07-01T00:00:00+00:00",
        5_000,
    )


def test_missing_mode_file_is_reported(tmp_path):
    with pytest.raises(ConfigError, match="mode config not found"):
        load_run_config(tmp_path / "nope.yaml")


def test_venue_configs_load_and_broken_ones_name_the_file(tmp_path):
    assert load_cex_venue("okx").instruments[3].multiplier == "0.1"
    assert load_wallet_venue().gas_units["erc20_transfer"] == 100_000
    raw = yaml.safe_load((VENUE_CONFIG_DIR / "binance.yaml").read_text())
    raw["instruments"][2]["margin"]["maintenance"] = 0.02  # above the initial rate
    (tmp_path / "binance.yaml").write_text(yaml.safe_dump(raw))
    with pytest.raises(ConfigError, match="maintenance < initial") as info:
        load_cex_venue("binance", tmp_path)
    assert "binance.yaml" in str(info.value)
    with pytest.raises(ConfigError, match="venue config not found"):
        load_cex_venue("kraken", tmp_path)


@pytest.mark.parametrize(
    ("mode", "changes", "message"),
    [
        ("pure_lending_usdt", {"share_class": "ETH"}, "does not match mode pure_lending_usdt"),
        ("eth_staking_only", {"share_class": "USDT"}, "does not match mode eth_staking_only"),
        ("eth_staking_only", {"strategy": {"lst": "RETH"}}, "lst must be 'WEETH' or 'WSTETH'"),
        ("eth_staking_only", {"strategy": {"rewards_mode": "all"}}, "rewards_mode must be one of"),
        ("eth_staking_only", {"strategy": {"exit_route": "bridge"}}, "exit_route must be one of"),
        ("eth_leveraged", {"strategy": {"flash_loan_provider": "DYDX"}}, "flash_loan_provider 'DYDX'"),
        ("eth_leveraged", {"strategy": {"target_ltv": 1.2}}, "target_ltv must be in"),
        ("pure_lending_eth", {"strategy": {"min_deploy_usd": -1}}, "min_deploy_usd must be >= 0"),
    ],
)
def test_defi_mode_errors_name_the_file_and_the_field(tmp_path, mode, changes, message):
    path = _mode_file(tmp_path, mode, **changes)
    with pytest.raises(ConfigError, match=message) as info:
        load_run_config(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize(
    ("strategy", "message"),
    [
        ({"target_ltv": 0.93}, r"target LTV 0.93 must be in \(0, e-mode LTV 0.93\)"),
        ({"deleverage_health_factor": 1.1}, "not above the deleverage HF 1.1"),  # λ 0.909: HF 1.045
        ({"target_ltv": 0.92, "deleverage_ltv_band": 0.02}, "must stay below the e-mode LTV 0.93"),
    ],
)
def test_leverage_settings_inconsistent_with_the_real_emode_are_refused(
    tmp_path, catalog_dir, strategy, message
):
    """Checked against the catalog's real Aave e-mode parameters before anything runs."""
    path = _mode_file(tmp_path, "eth_leveraged", strategy=strategy)
    run = load_run_config(path, start="2024-06-01", end="2024-06-10")
    with pytest.raises(ConfigError, match=message) as info:
        build_backtest(run, catalog_dir)
    assert str(path) in str(info.value)
