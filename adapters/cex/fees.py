"""Trading fees of a simulated spot account, charged in the currency the venue takes them in.

Nautilus' ``MakerTakerFeeModel`` charges every fill's fee in the quote currency. Binance spot
(without BNB fee discounts) takes it from the asset the trade delivers: a buy of q coins at p
leaves q·(1 − rate) coins for q·p of quote, a sell of q coins leaves q·p·(1 − rate) of quote.
Charged in the quote, a simulated buy keeps all q coins and pays q·p·rate more quote than the
exchange: the spot leg and its cash differ from the live account's by the fee.
"""

from __future__ import annotations

from nautilus_trader.backtest.models import FeeModel, MakerTakerFeeModel
from nautilus_trader.model.enums import LiquiditySide, OrderSide
from nautilus_trader.model.instruments import Instrument
from nautilus_trader.model.objects import Money, Price, Quantity
from nautilus_trader.model.orders import Order

from adapters.cex.config import SpotFeeCurrency


class ReceivedCurrencyFeeModel(MakerTakerFeeModel):
    """The instrument's maker/taker rate on what the fill delivers: a buy's fee in the base coin
    (quantity × rate), a sell's in the quote (notional × rate, as ``MakerTakerFeeModel``).

    A CASH account books a base-coin commission against the coins the buy credits (Nautilus'
    ``AccountsManager`` deducts a commission from the fill's P&L in the same currency), so the
    account holds what the exchange's would.
    """

    def get_commission(
        self, order: Order, fill_qty: Quantity, fill_px: Price, instrument: Instrument
    ) -> Money:
        if order.side == OrderSide.SELL:
            return super().get_commission(order, fill_qty, fill_px, instrument)
        if order.liquidity_side == LiquiditySide.MAKER:
            rate = instrument.maker_fee
        elif order.liquidity_side == LiquiditySide.TAKER:
            rate = instrument.taker_fee
        else:  # as MakerTakerFeeModel: a fill without a liquidity side is a bug upstream
            raise ValueError(f"invalid liquidity side {order.liquidity_side!r} for {order.client_order_id}")
        return Money(fill_qty.as_decimal() * rate, instrument.base_currency)


def spot_fee_model(fee_currency: SpotFeeCurrency) -> FeeModel:
    """The fee model of a venue's spot account whose YAML names ``spot_fee_currency``."""
    return ReceivedCurrencyFeeModel() if fee_currency == "received" else MakerTakerFeeModel()
