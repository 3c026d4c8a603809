"""The leveraged modes take λ and the liquidation threshold from the Aave e-mode parameters the
run's data stream opens with: they do nothing before those arrive, and stop with a clear error
when the parameters make their config impossible."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from nautilus_trader.model.data import CustomData, DataType

import backtesting.engine as assembly
from adapters.defi.aave_params import ETH_CORRELATED_ASSETS, EModeParams
from adapters.defi.data import AaveEModeParams
from backtesting.config import load_run_config, mode_file_path
from backtesting.engine import Backtest, build_backtest, plan_run, read_data
from data_catalog.protocol_data import read_aave_params
from strategies.leveraged import LeveragedStakingStrategy
from tests.strategies.recording_log import RecordingLog

START, END = "2024-06-01", "2024-06-04"
ARRIVAL = pd.Timestamp("2024-06-02T05:30Z").value
"""Between two hours, so no bar shares its stamp."""


class LoggedLeveragedStrategy(LeveragedStakingStrategy):
    """``eth_leveraged``'s strategy with what it logs kept (Nautilus' logger writes to the console)."""

    @property
    def log(self) -> RecordingLog:
        return self.__dict__.setdefault("_recording_log", RecordingLog())


def _emode(ltv: float, threshold: float, ts: int) -> AaveEModeParams:
    """Built unchecked, as a chain client would publish what the chain reports."""
    return AaveEModeParams(
        ts_event=ts,
        ts_init=ts,
        category="ETH_WETH",
        ltv=ltv,
        liquidation_threshold=threshold,
        liquidation_bonus=0.01,
        assets=",".join(ETH_CORRELATED_ASSETS),
    )


def _run(
    catalog_dir: Path, monkeypatch: pytest.MonkeyPatch, change: Callable[[AaveEModeParams], AaveEModeParams]
) -> Backtest:
    """Run ``eth_leveraged`` over [START, END] with the stream's e-mode parameters replaced by
    ``change(them)`` (placed at its stamp)."""
    plan_run, read_data = assembly.plan_run, assembly.read_data

    def logged_plan(run, catalog):
        plan = plan_run(run, catalog)
        plan.strategy = LoggedLeveragedStrategy(run.strategy)
        return plan

    def changed_data(plan):
        data = read_data(plan)
        opening = data.chain.pop(0)
        assert isinstance(opening.data, AaveEModeParams)  # the stream opens with them
        replaced = CustomData(DataType(AaveEModeParams), change(opening.data))
        data.chain = sorted([*data.chain, replaced], key=lambda c: c.ts_init)
        return data

    monkeypatch.setattr(assembly, "plan_run", logged_plan)
    monkeypatch.setattr(assembly, "read_data", changed_data)
    bt = build_backtest(load_run_config(mode_file_path("eth_leveraged"), start=START, end=END), catalog_dir)
    bt.engine.run()
    return bt


def test_the_stream_opens_with_the_catalogs_emode_parameters(catalog_dir):
    """First in the backtest's and the paper replay's stream alike (both read ``RunData``)."""
    plan = plan_run(load_run_config(mode_file_path("eth_leveraged"), start=START, end=END), catalog_dir)
    stream = read_data(plan).stream()
    opening = stream[0].data
    assert isinstance(opening, AaveEModeParams) and opening.ts_init == stream[1].ts_init
    assert opening.params() == EModeParams.from_dict(read_aave_params(catalog_dir)["emode"])
    assert opening.category == plan.wallet_config.aave.emode_category
    assert sum(isinstance(getattr(d, "data", None), AaveEModeParams) for d in stream) == 1


def _fill_stamps(bt: Backtest) -> pd.Series:
    fills = bt.engine.trader.generate_fills_report()
    return pd.to_datetime(fills["ts_event"], utc=True) if len(fills) else pd.Series([], dtype=object)


def test_the_strategy_does_not_act_before_the_parameters_arrive(catalog_dir, monkeypatch):
    bt = _run(catalog_dir, monkeypatch, lambda p: _emode(p.ltv, p.liquidation_threshold, ARRIVAL))
    strategy = bt.strategy
    waiting = [w for w in strategy.log.warnings if "no Aave e-mode parameters received yet" in w]
    assert len(waiting) >= 24  # every hour of the first day and more, each said
    first_ts, first_action, _ = strategy.action_log[0]
    assert first_action == "entry_full" and first_ts > ARRIVAL
    stamps = _fill_stamps(bt)
    assert len(stamps) and (stamps > pd.Timestamp(ARRIVAL, tz="UTC")).all()
    assert strategy.target == pytest.approx(0.93 * (1 - 0.0225))  # the real e-mode's λ
    bt.engine.dispose()


@pytest.mark.parametrize(
    ("ltv", "threshold", "reason"),
    [
        (0.40, 0.45, "must stay below the e-mode LTV 0.4"),  # λ 0.391 + band 0.01 ≥ 0.40
        (0.95, 0.93, "need 0 < ltv < liquidation_threshold < 1"),  # not a valid category at all
    ],
)
def test_parameters_that_make_the_config_impossible_stop_the_strategy(
    catalog_dir, monkeypatch, ltv, threshold, reason
):
    bt = _run(catalog_dir, monkeypatch, lambda p: _emode(ltv, threshold, p.ts_init))
    strategy = bt.strategy
    assert strategy.is_stopped
    assert len(strategy.log.errors) == 1
    error = strategy.log.errors[0]
    assert f"LTV {ltv}" in error and "make the config impossible" in error and reason in error
    assert error.endswith("stopping")
    assert not strategy.action_log and not len(_fill_stamps(bt))
    bt.engine.dispose()


def test_a_restarted_strategy_keeps_the_parameters_it_received():
    """A resumed paper run replays the stream's start before the strategy rejoins: it never sees
    the parameters again, so they are part of its saved state."""
    run = load_run_config(mode_file_path("eth_leveraged"), start=START, end=END)
    before, after = run.spec.strategy(run.strategy), run.spec.strategy(run.strategy)
    emode = EModeParams(0.93, 0.95, 0.01, ETH_CORRELATED_ASSETS)
    before._on_emode_params(AaveEModeParams.of(emode, "ETH_WETH", 1))
    after.on_load(before.on_save())
    assert after.emode == before.emode
    assert after.target == before.target == pytest.approx(0.93 * (1 - 0.0225))
    assert after.liquidation_threshold == 0.95
