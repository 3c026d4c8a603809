"""The live transfer service's configuration: ``configs/transfers.yaml``, typed and validated.

Per exchange it names the ccxt accounts money moves between (the venue's own account structure:
Binance classic spot and USDT-M / COIN-M futures wallets; Bybit's and OKX's unified trading
account beside their funding account), the network each coin is withdrawn on, and the withdrawal
allow-list: the only addresses a withdrawal may go to, per coin and network. The list ships
empty, so a fresh checkout can withdraw nothing until someone adds the wallet's address.
"""

from __future__ import annotations

from pathlib import Path

import msgspec

from adapters.config import load_yaml_as

TRANSFERS_CONFIG = Path(__file__).resolve().parents[2] / "configs" / "transfers.yaml"
EXCHANGES = ("BINANCE", "BYBIT", "OKX")


class Accounts(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """ccxt account names (``transfer(code, amount, fromAccount, toAccount)``) of one exchange."""

    spot: str
    """Where spot trading cash sits (Binance ``spot``; Bybit UTA ``unified``; OKX ``trading``)."""
    futures: dict[str, str]
    """Futures (margin) account per margin coin: Binance ``USDT: linear`` (USDT-M) and
    ``BTC: inverse`` (COIN-M); on a unified account the same name as ``spot``, and a transfer
    between the two moves nothing."""
    funding: str
    """Where deposits are credited and withdrawals leave from (Binance ``spot``; Bybit ``fund``;
    OKX ``funding``): when it differs from ``spot``, a deposit is moved on to ``spot`` once
    credited and a withdrawal is first moved from ``spot`` to it."""

    def futures_account(self, coin: str) -> str:
        try:
            return self.futures[coin]
        except KeyError:
            raise ValueError(f"no futures account for {coin} (configured: {sorted(self.futures)})") from None


class ExchangeTransfers(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    accounts: Accounts
    networks: dict[str, str]
    """Coin → the network its deposits and withdrawals use (ccxt network code, e.g. ``ERC20``)."""
    allow_list: dict[str, dict[str, tuple[str, ...]]] = {}
    """Coin → network → the addresses withdrawals may go to. Anything else is refused before
    any request is sent."""
    base_url: str | None = None
    """Replaces the scheme and host of every ccxt REST URL of the exchange (tests: a fake on
    127.0.0.1; a user: a relay). None: ccxt's own endpoints for the environment."""

    def __post_init__(self) -> None:
        for coin, networks in self.allow_list.items():
            for network, addresses in networks.items():
                if not all(address.strip() for address in addresses):
                    raise ValueError(f"`allow_list.{coin}.{network}`: an empty address")

    def network(self, coin: str) -> str:
        try:
            return self.networks[coin]
        except KeyError:
            raise ValueError(
                f"no network configured for {coin} (configured: {sorted(self.networks)})"
            ) from None

    def allowed(self, coin: str, network: str, address: str) -> bool:
        """Whether ``address`` is on the allow-list for ``coin`` on ``network`` (EVM addresses
        compare case-insensitively: their case is only a checksum)."""
        listed = self.allow_list.get(coin, {}).get(network, ())
        return address.lower() in {entry.lower() for entry in listed}


class TransferServiceConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    exchanges: dict[str, ExchangeTransfers]
    poll_interval_s: float = 15.0
    """How often open requests (withdrawals, deposits, pending transfers) are looked up."""
    withdrawal_timeout_minutes: float = 240.0
    """A withdrawal the venue has not completed by then is reported TIMED_OUT (and still watched)."""
    deposit_timeout_minutes: float = 120.0
    """A deposit the venue has not credited by then is reported TIMED_OUT (and still watched)."""
    lookup_window_minutes: float = 10.0
    """How far before a request's creation the venue's history is searched when resolving it."""

    def __post_init__(self) -> None:
        unknown = set(self.exchanges) - set(EXCHANGES)
        if unknown:
            raise ValueError(f"`exchanges`: unknown {sorted(unknown)} (known: {', '.join(EXCHANGES)})")
        for name in ("poll_interval_s", "withdrawal_timeout_minutes", "deposit_timeout_minutes"):
            if getattr(self, name) <= 0:
                raise ValueError(f"`{name}` must be > 0")
        if self.lookup_window_minutes < 0:
            raise ValueError("`lookup_window_minutes` must be >= 0")

    def exchange(self, name: str) -> ExchangeTransfers:
        try:
            return self.exchanges[name]
        except KeyError:
            raise ValueError(
                f"no transfer settings for {name} (configured: {sorted(self.exchanges)})"
            ) from None


def load_transfers_config(path: Path = TRANSFERS_CONFIG) -> TransferServiceConfig:
    """Read and validate ``path`` (a :class:`~adapters.config.ConfigError` names what is wrong)."""
    return load_yaml_as(path, TransferServiceConfig, what="transfer service config")
