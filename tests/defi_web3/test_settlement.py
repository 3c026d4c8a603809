"""The wallet books the gas a chain measured (``Execution.gas_eth``, ``ExecutionRejected.gas_eth``)
instead of the modelled units at the gas price; without it (the simulation), the units as before.
Runs the simulated wallet venue with its backend's answers given a measured gas."""

from __future__ import annotations

from dataclasses import replace

import pytest

from adapters.defi.backend import ExecutionRejected, SimulatedBackend
from tests.defi.test_wallet_venue import AWETH, BUY, SELL, final_balances, gas_eth, run_wallet, trade
from tests.sim_harness import ts

MEASURED = 0.0123


def test_a_measured_gas_is_what_the_wallet_pays(monkeypatch: pytest.MonkeyPatch) -> None:
    simulate = SimulatedBackend.execute
    monkeypatch.setattr(
        SimulatedBackend, "execute", lambda self, *a: replace(simulate(self, *a), gas_eth=MEASURED)
    )
    sim = run_wallet({ts(0): [trade(AWETH, BUY, 1.0)]}, balances={"ETH": 2.0})
    assert [g.eth for g in sim.strategy.gas_events] == [MEASURED]
    assert final_balances(sim) == pytest.approx({"ETH": 1.0 - MEASURED, "AWETH": 1.0}, abs=1e-12)


def test_a_reverted_transaction_pays_its_measured_gas(monkeypatch: pytest.MonkeyPatch) -> None:
    def revert(self, *args):
        raise ExecutionRejected("REVERTED: withdraw reverted on chain", "aave_withdraw", MEASURED)

    monkeypatch.setattr(SimulatedBackend, "execute", revert)
    sim = run_wallet({ts(0): [trade(AWETH, SELL, 1.0)]}, balances={"ETH": 2.0})
    assert sim.strategy.rejections and sim.strategy.fills == []
    assert final_balances(sim) == pytest.approx({"ETH": 2.0 - MEASURED}, abs=1e-12)


def test_without_a_measurement_the_modelled_units_are_paid() -> None:
    sim = run_wallet({ts(0): [trade(AWETH, BUY, 1.0)]}, balances={"ETH": 2.0})
    assert final_balances(sim) == pytest.approx(
        {"ETH": 1.0 - gas_eth("aave_supply"), "AWETH": 1.0}, abs=1e-12
    )
