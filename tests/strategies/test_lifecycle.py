"""A strategy's life outside the trading hours: start checks, saved state, stop clean-up."""

from __future__ import annotations

import math

from nautilus_trader.backtest.engine import BacktestEngine, BacktestEngineConfig
from nautilus_trader.config import LoggingConfig
from nautilus_trader.model.identifiers import TraderId

from adapters.events import TransferEvent, TransferKind, TransferStatus, VenueLedger
from backtesting.config import load_run_config, mode_file_path


def _strategy(mode: str = "btc_basis"):
    run = load_run_config(mode_file_path(mode), start="2024-06-01", end="2024-06-15")
    return run.spec.strategy(run.strategy)


def _engine() -> BacktestEngine:
    return BacktestEngine(
        BacktestEngineConfig(trader_id=TraderId("TESTER-001"), logging=LoggingConfig(log_level="ERROR"))
    )


def _registered(engine: BacktestEngine, mode: str = "btc_basis"):
    """A strategy on a node without venues (its saved book is empty)."""
    strategy = _strategy(mode)
    engine.add_strategy(strategy)
    return strategy


def test_saved_state_restores_decisions_flows_transfers_and_ledgers():
    engine = _engine()
    before = _registered(engine)
    before.entered = True
    before.gate.hour = 1_717_200_000_000_000_000
    before.actions["rebalance"] = 3
    before._pending_deposits = 250.0
    before._pending_withdrawal = math.inf
    sent = [
        TransferEvent("T1", TransferKind.DEPOSIT, "BYBIT", 1_000.5, TransferStatus.SUBMITTED, 1),
        TransferEvent("T2", TransferKind.WITHDRAWAL, "OKX", 0.25, TransferStatus.SUBMITTED, 2, asset="ETH"),
        TransferEvent("T3", TransferKind.DEPOSIT, "OKX", 50.0, TransferStatus.SUBMITTED, 3),
        TransferEvent(
            "T3", TransferKind.DEPOSIT, "OKX", 50.0, TransferStatus.ARRIVED, 4, ledger=VenueLedger(50.0, 0.0)
        ),
        TransferEvent(
            "T4",
            TransferKind.TO_FUTURES,
            "BYBIT",
            7_500.25,
            TransferStatus.ARRIVED,
            5,
            ledger=VenueLedger(30_000.0, 7_500.25),
        ),
    ]
    for event in sent:
        before.transfers.apply(event)

    after = _strategy()
    saved = before.on_save()
    engine.dispose()
    after.on_load(saved)

    assert after.entered and after.hour == before.hour
    assert after.actions == before.actions
    assert after._pending_deposits == 250.0 and after._pending_withdrawal == math.inf
    assert after.transfers.in_flight == {"T1": ("USDT", 1_000.5), "T2": ("ETH", 0.25)}
    assert after.transfers.ledgers == {
        "OKX": VenueLedger(50.0, 0.0),
        "BYBIT": VenueLedger(30_000.0, 7_500.25),
    }
    assert after.in_transit("USDT") == 1_000.5 and after.in_transit("ETH") == 0.25
    assert after.transfers.ledger("BINANCE") == VenueLedger()


def test_a_state_without_the_strategy_key_changes_nothing():
    strategy = _strategy()
    strategy.on_load({})
    assert not strategy.entered and strategy.hour == 0


def test_start_without_the_instruments_stops_before_subscribing():
    engine = _engine()
    strategy = _registered(engine)
    engine.run()
    assert strategy.is_stopped  # nothing subscribed, nothing traded
    assert strategy._priced == []
    engine.dispose()
