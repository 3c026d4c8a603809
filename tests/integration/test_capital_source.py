"""``capital_source: venues``: the capital starts on the CEX venues, as a live account does.

The modes that trade only on CEX venues (basis, ML directional) can start there instead of in
the on-chain wallet: the capital is split by the mode's allocation into each exchange's deposit
account, and the strategy never acts on-chain (no deposit, no gas reserve, no gas).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml
from nautilus_trader.model.currencies import USDT

from adapters.config import ConfigError
from backtesting.config import load_run_config, mode_file_path
from backtesting.engine import build_backtest
from backtesting.runner import run_backtest
from tests.integration.test_defi_backtests import assert_reconciled

pytestmark = pytest.mark.integration

CAPITAL = 100_000.0


def _config(tmp_path: Path, mode: str, **strategy) -> Path:
    raw = yaml.safe_load(mode_file_path(mode).read_text())
    raw["strategy"].update(strategy)
    path = tmp_path / f"{mode}.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_prefunded_capital_lands_in_each_exchanges_deposit_account(catalog_dir, tmp_path):
    path = _config(tmp_path, "btc_basis", capital_source="venues")
    backtest = build_backtest(load_run_config(path, start="2024-06-01", end="2024-06-03"), catalog_dir)
    modules = backtest.cex_modules

    def usdt(exchange) -> float:
        return sum(m.as_double() for m in exchange.starting_balances if m.currency == USDT)

    # hedge_allocation 0.4 / 0.3 / 0.3: Binance's in its spot account (its futures wallet is
    # separate), Bybit's and OKX's on the account that holds their spot
    assert usdt(modules["BINANCE"].spot_exchange) == pytest.approx(0.4 * CAPITAL)
    assert usdt(modules["BINANCE"].exchange) == 0.0
    assert usdt(modules["BYBIT"].exchange) == pytest.approx(0.3 * CAPITAL)
    assert usdt(modules["OKX"].exchange) == pytest.approx(0.3 * CAPITAL)
    assert all(m.as_double() == 0 for m in backtest.wallet.exchange.starting_balances)
    assert "ETHUSDT-UNIV3.ETHEREUM" not in {str(i) for i in backtest.strategy.data_needs().required}


@pytest.fixture(scope="module")
def prefunded_basis(catalog_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("prefunded")
    path = _config(out, "btc_basis", capital_source="venues")
    run = load_run_config(path, start="2024-06-01", end="2024-07-01")
    return run_backtest(run, catalog_dir, out / "run")


def test_a_prefunded_basis_run_never_acts_on_chain(prefunded_basis):
    out = prefunded_basis.out_dir
    transfers = pd.read_csv(out / "transfers.csv")
    assert set(transfers["kind"]) == {"to_futures"}  # only inside each exchange
    fills = pd.read_csv(out / "fills.csv")
    assert not fills["instrument_id"].str.endswith(".ETHEREUM").any()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["attribution"]["gas"] == 0.0
    assert summary["attribution"]["transfer_fees"] == 0.0
    assert summary["attribution"]["funding"] > 0
    actions = pd.read_csv(out / "actions.csv")
    assert actions["action"].iloc[0] == "entry_full"
    assert "on the venues" in actions["why"].iloc[0]
    assert_reconciled(prefunded_basis, 1e-5)


def test_a_capital_source_the_mode_cannot_use_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="capital_source 'venues' is not supported"):
        load_run_config(_config(tmp_path, "pure_lending_usdt", capital_source="venues"))
    with pytest.raises(ConfigError, match="capital_source 'wallet' is not supported"):
        load_run_config(_config(tmp_path, "ml_btc_directional_btc_margin", capital_source="wallet"))
    with pytest.raises(ConfigError, match="capital_source 'bank'"):
        load_run_config(_config(tmp_path, "btc_basis", capital_source="bank"))


def test_prefunded_capital_takes_no_capital_flows(catalog_dir, tmp_path):
    raw = yaml.safe_load(mode_file_path("btc_basis").read_text())
    raw["strategy"]["capital_source"] = "venues"
    raw["capital_flows"] = [{"at": "2024-06-10", "deposit": 1000}]
    path = tmp_path / "flows.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ConfigError, match="pre-funded on BINANCE, BYBIT, OKX"):
        build_backtest(load_run_config(path, start="2024-06-01", end="2024-06-20"), catalog_dir)
