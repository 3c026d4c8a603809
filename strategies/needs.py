"""What a run of a strategy must load: the data its decisions read, declared by the strategy."""

from __future__ import annotations

from dataclasses import dataclass

from nautilus_trader.model.identifiers import InstrumentId, Venue


@dataclass(frozen=True)
class DataNeeds:
    """What a run of the strategy must load from the catalog."""

    required: tuple[InstrumentId, ...]
    """Instruments whose bars must cover the whole window (the legs among them gate decisions)."""
    optional: tuple[InstrumentId, ...] = ()
    """Instruments whose bars are loaded where they exist (exit pools, reward tokens' pools)."""
    aave_reserves: tuple[str, ...] = ()
    """Aave reserves used, by aToken instrument symbol (``AWEETH-AAVE``)."""
    rewards: bool = False
    """Whether EtherFi reward payouts are credited."""
    trades: tuple[InstrumentId, ...] = ()
    """Wallet-venue instruments traded without a price series of their own (Aave tokens, LST queues)."""
    gas: bool = True
    """Whether the run acts on-chain (and so needs the gas price over its whole window)."""
    share_price: InstrumentId | None = None
    """What prices the share-class currency in USDT when the wallet has no market for it (BTC)."""
    predictions: tuple[InstrumentId, ...] = ()
    """Instruments whose model predictions (``SignalPrediction``, ``python -m signals build``) are loaded."""

    def wallet_instruments(self, venue: Venue) -> set[InstrumentId]:
        """The wallet-venue instruments a run registers: the ones it prices or trades."""
        return {i for i in (*self.required, *self.optional, *self.trades) if i.venue == venue}
