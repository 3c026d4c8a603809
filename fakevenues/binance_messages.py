"""The JSON a fake Binance answers and streams, built from the venue market's state.

Field names and shapes are the ones Nautilus 1.231's Binance adapter decodes (its msgspec structs
in ``adapters/binance/{common,spot,futures}/schemas``); values come from the
:class:`~fakevenues.market.VenueMarket`. Prices and quantities are written as the market holds
them; balances, fees and P&L at the asset precision Binance reports them with (8 decimal places).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from nautilus_trader.model.data import Bar

from fakevenues.market import (
    HOUR_NS,
    FundingPaid,
    ListedInstrument,
    Order,
    OrderAccepted,
    OrderCanceled,
    OrderFilled,
    OrderStatus,
    OrderType,
    Side,
    VenueMarket,
)

KLINE_INTERVAL = "1h"
"""The only kline interval the recorded history has."""
ASSET_STEP = Decimal("1e-8")
MS = 1_000_000


def ms(ns: int) -> int:
    return ns // MS


def number(value: Decimal) -> str:
    """A price or quantity as Binance writes it (plain notation, no exponent)."""
    return format(value.normalize(), "f") if value else "0"


def amount(value: Decimal) -> str:
    """A balance, fee or P&L as Binance reports it: at the asset precision, 8 decimal places."""
    return number(value.quantize(ASSET_STEP))


def symbol_of(listed: ListedInstrument) -> str:
    return listed.instrument.raw_symbol.value


def _places(increment: str) -> int:
    return len(increment.partition(".")[2])


# -- market data ------------------------------------------------------------------------------------


def exchange_info(symbols: list[dict[str, Any]], server_time_ms: int) -> dict[str, Any]:
    return {
        "timezone": "UTC",
        "serverTime": server_time_ms,
        "rateLimits": [],
        "exchangeFilters": [],
        "symbols": symbols,
    }


def _lot_filters(listed: ListedInstrument) -> list[dict[str, Any]]:
    spec = listed.spec
    return [
        {
            "filterType": "PRICE_FILTER",
            "minPrice": spec.price_increment,
            "maxPrice": "4000000",
            "tickSize": spec.price_increment,
        },
        {
            "filterType": "LOT_SIZE",
            "minQty": spec.size_increment,
            "maxQty": "9000",
            "stepSize": spec.size_increment,
        },
    ]


def spot_symbol(listed: ListedInstrument) -> dict[str, Any]:
    """``/api/v3/exchangeInfo``'s entry for a spot pair: the YAML's tick, step and min notional."""
    spec = listed.spec
    notional = {
        "filterType": "NOTIONAL",
        "minNotional": str(spec.min_notional),
        "applyMinToMarket": True,
        "maxNotional": "9000000",
        "applyMaxToMarket": False,
        "avgPriceMins": 5,
    }
    return {
        "symbol": symbol_of(listed),
        "status": "TRADING",
        "baseAsset": spec.base,
        "baseAssetPrecision": 8,
        "quoteAsset": spec.quote,
        "quotePrecision": 8,
        "quoteAssetPrecision": 8,
        "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"],
        "icebergAllowed": True,
        "ocoAllowed": True,
        "quoteOrderQtyMarketAllowed": True,
        "allowTrailingStop": True,
        "isSpotTradingAllowed": True,
        "isMarginTradingAllowed": False,
        "filters": [*_lot_filters(listed), notional],
        "permissions": ["SPOT"],
    }


def futures_symbol(listed: ListedInstrument) -> dict[str, Any]:
    """``/fapi|dapi/v1/exchangeInfo``'s entry for a perpetual (COIN-M: margin in the base coin and
    ``contractSize``, the YAML's multiplier)."""
    spec = listed.spec
    filters = _lot_filters(listed)
    if spec.min_notional:
        filters.append({"filterType": "MIN_NOTIONAL", "notional": str(spec.min_notional)})
    info: dict[str, Any] = {
        "symbol": symbol_of(listed),
        "pair": f"{spec.base}{spec.quote}",
        "contractType": "PERPETUAL",
        "deliveryDate": 4133404800000,
        "onboardDate": 1569398400000,
        "status": "TRADING",
        "maintMarginPercent": "2.5000",
        "requiredMarginPercent": "5.0000",
        "baseAsset": spec.base,
        "quoteAsset": spec.quote,
        "marginAsset": listed.margin_asset,
        "pricePrecision": _places(spec.price_increment),
        "quantityPrecision": _places(spec.size_increment),
        "baseAssetPrecision": 8,
        "quotePrecision": 8,
        "underlyingType": "COIN",
        "underlyingSubType": [],
        "triggerProtect": "0.0500",
        "liquidationFee": "0.012500",
        "marketTakeBound": "0.05",
        "filters": filters,
        "orderTypes": ["LIMIT", "MARKET", "STOP", "STOP_MARKET"],
        "timeInForce": ["GTC", "IOC", "FOK", "GTX"],
    }
    if listed.is_inverse:
        info["contractSize"] = int(Decimal(spec.multiplier))
    return info


def kline_row(bar: Bar) -> list[Any]:
    """A REST kline: open time, OHLCV, close time (…:59:59.999), then volumes and counts."""
    open_ms, close_ms = ms(bar.ts_event - HOUR_NS), ms(bar.ts_event) - 1
    ohlcv = [str(bar.open), str(bar.high), str(bar.low), str(bar.close), str(bar.volume)]
    return [open_ms, *ohlcv, close_ms, "0", 0, "0", "0", "0"]


def kline_event(listed: ListedInstrument, bar: Bar) -> dict[str, Any]:
    """The ``<symbol>@kline_1h`` stream's frame for a closed hour."""
    symbol = symbol_of(listed)
    return {
        "e": "kline",
        "E": ms(bar.ts_event),
        "s": symbol,
        "k": {
            "t": ms(bar.ts_event - HOUR_NS),
            "T": ms(bar.ts_event) - 1,
            "s": symbol,
            "i": KLINE_INTERVAL,
            "f": 0,
            "L": 0,
            "o": str(bar.open),
            "c": str(bar.close),
            "h": str(bar.high),
            "l": str(bar.low),
            "v": str(bar.volume),
            "n": 0,
            "x": True,
            "q": "0",
            "V": "0",
            "Q": "0",
            "B": "0",
        },
    }


def mark_price_event(market: VenueMarket, listed: ListedInstrument) -> dict[str, Any]:
    """The ``<symbol>@markPrice`` frame: mark (the current price), funding rate of the coming
    funding time and that time."""
    mark = number(market.price(listed.id))
    next_ns, rate = market.next_funding(listed.id)
    return {
        "e": "markPriceUpdate",
        "E": ms(market.now_ns),
        "s": symbol_of(listed),
        "p": mark,
        "i": mark,
        "P": mark,
        "r": number(rate or Decimal(0)),
        "T": ms(next_ns),
    }


# -- account ------------------------------------------------------------------------------------------


def spot_account(market: VenueMarket) -> dict[str, Any]:
    """``GET /api/v3/account``."""
    return {
        "makerCommission": 10,
        "takerCommission": 10,
        "buyerCommission": 0,
        "sellerCommission": 0,
        "canTrade": True,
        "canWithdraw": True,
        "canDeposit": True,
        "updateTime": ms(market.now_ns),
        "accountType": "SPOT",
        "permissions": ["SPOT"],
        "balances": [
            {"asset": asset, "free": amount(b.free), "locked": amount(b.locked)}
            for asset, b in market.balances.items()
        ],
    }


def maintenance_margin(market: VenueMarket, asset: str) -> Decimal:
    """The YAML's first-tier maintenance rate on the open perps margined in ``asset``."""
    total = Decimal(0)
    for instrument_id, position in market.positions.items():
        listed = market.instruments[instrument_id]
        if position.quantity and listed.margin_asset == asset:
            notional = listed.notional(abs(position.quantity), market.price(instrument_id))
            total += notional * Decimal(str(listed.spec.margin.maintenance))
    return total


def futures_account(market: VenueMarket) -> dict[str, Any]:
    """``GET /fapi/v2/account`` (``/dapi/v1/account``): one entry per margin asset."""
    assets = []
    for asset, balance in market.balances.items():
        wallet = balance.total
        unrealized = market.unrealized_pnl_in(asset)
        initial = market.initial_margin(asset)
        available = market.available_margin(asset)
        assets.append(
            {
                "asset": asset,
                "walletBalance": amount(wallet),
                "unrealizedProfit": amount(unrealized),
                "marginBalance": amount(wallet + unrealized),
                "maintMargin": amount(maintenance_margin(market, asset)),
                "initialMargin": amount(initial),
                "positionInitialMargin": amount(initial),
                "openOrderInitialMargin": "0",
                "crossWalletBalance": amount(wallet),
                "crossUnPnl": amount(unrealized),
                "availableBalance": amount(available),
                "maxWithdrawAmount": amount(available),
                "marginAvailable": True,
                "updateTime": ms(market.now_ns),
            }
        )
    return {
        "feeTier": 0,
        "canTrade": True,
        "canDeposit": True,
        "canWithdraw": True,
        "updateTime": ms(market.now_ns),
        "assets": assets,
        "positions": [],
    }


def position_risk(market: VenueMarket, listed: ListedInstrument) -> dict[str, Any]:
    """One ``positionRisk`` entry (one-way mode: position side BOTH)."""
    position = market.position(listed.id)
    mark = market.price(listed.id)
    return {
        "symbol": symbol_of(listed),
        "positionSide": "BOTH",
        "positionAmt": number(position.quantity),
        "entryPrice": number(position.entry_price),
        "markPrice": number(mark),
        "unRealizedProfit": amount(market.unrealized_pnl(listed.id)),
        "liquidationPrice": "0",
        "isolatedMargin": "0",
        "updateTime": ms(market.now_ns),
        "marginType": "cross",
        "leverage": str(leverage(listed)),
        "marginAsset": listed.margin_asset,
        "notional": amount(listed.notional(position.quantity, mark)),
    }


def funding_income(paid: FundingPaid, tran_id: int) -> dict[str, Any]:
    """A ``GET /fapi|dapi/v1/income`` entry of type ``FUNDING_FEE``."""
    return {
        "symbol": symbol_of(paid.instrument),
        "incomeType": "FUNDING_FEE",
        "income": amount(paid.amount),
        "asset": paid.asset,
        "info": "FUNDING_FEE",
        "time": ms(paid.ts_ns),
        "tranId": tran_id,
        "tradeId": "",
    }


def leverage(listed: ListedInstrument) -> int:
    """The leverage the YAML's initial margin rate allows (0.008 → 125x)."""
    return int(1 / Decimal(str(listed.spec.margin.initial)))


def symbol_config(listed: ListedInstrument) -> dict[str, Any]:
    return {
        "symbol": symbol_of(listed),
        "marginType": "CROSSED",
        "isAutoAddMargin": False,
        "leverage": leverage(listed),
        "maxNotionalValue": str(listed.spec.margin.tier_notional_cap),
    }


# -- orders and trades --------------------------------------------------------------------------------


def order_json(order: Order, futures: bool) -> dict[str, Any]:
    """An order as the REST API returns it (spot and futures differ in their extra fields: a spot
    order with ``workingType`` fails 1.231's spot parser)."""
    common = {
        "symbol": symbol_of(order.instrument),
        "orderId": order.order_id,
        "clientOrderId": order.client_order_id,
        "price": number(order.price or Decimal(0)),
        "origQty": number(order.quantity),
        "executedQty": number(order.filled_qty),
        "status": order.status.value,
        "timeInForce": "GTC",
        "type": order.order_type.value,
        "side": order.side.value,
        "time": ms(order.ts_ns),
        "updateTime": ms(order.update_ns),
    }
    if not futures:
        return common | {
            "transactTime": ms(order.update_ns),
            "cummulativeQuoteQty": amount(order.cum_quote),
            "isWorking": order.status is OrderStatus.NEW,
            "workingTime": ms(order.ts_ns),
            "orderListId": -1,
        }
    return common | {
        "avgPrice": number(order.avg_price),
        "cumQuote": amount(order.cum_quote),
        "reduceOnly": order.reduce_only,
        "positionSide": "BOTH",
        "origType": order.order_type.value,
        "workingType": "CONTRACT_PRICE",
        "priceProtect": False,
        "stopPrice": number(order.trigger_price or Decimal(0)),
        "closePosition": False,
    }


def user_trades(order: Order) -> list[dict[str, Any]]:
    """The order's fills as ``myTrades`` / ``userTrades`` entries."""
    buyer = order.side is Side.BUY
    return [
        {
            "symbol": symbol_of(order.instrument),
            "id": fill.trade_id,
            "orderId": order.order_id,
            "price": number(fill.price),
            "qty": number(fill.quantity),
            "quoteQty": amount(order.instrument.notional(fill.quantity, fill.price)),
            "commission": amount(fill.fee),
            "commissionAsset": fill.fee_asset,
            "time": ms(fill.ts_ns),
            "isBuyer": buyer,
            "buyer": buyer,
            "isMaker": fill.is_maker,
            "maker": fill.is_maker,
            "realizedPnl": amount(fill.realized_pnl),
            "side": order.side.value,
            "positionSide": "BOTH",
        }
        for fill in order.fills
    ]


OrderEvent = OrderAccepted | OrderFilled | OrderCanceled
EXECUTION_TYPES = {OrderAccepted: "NEW", OrderFilled: "TRADE", OrderCanceled: "CANCELED"}


def execution_report(event: OrderEvent) -> dict[str, Any]:
    """The spot user stream's ``executionReport`` for an accepted, filled or canceled order."""
    order = event.order
    fill = event.fill if isinstance(event, OrderFilled) else None
    status = "NEW" if isinstance(event, OrderAccepted) else order.status.value
    now = ms(fill.ts_ns if fill else order.update_ns)
    last_qty, last_px = (fill.quantity, fill.price) if fill else (Decimal(0), Decimal(0))
    return {
        "e": "executionReport",
        "E": now,
        "s": symbol_of(order.instrument),
        "c": order.client_order_id,
        "S": order.side.value,
        "o": order.order_type.value,
        "f": "GTC",
        "q": number(order.quantity),
        "p": number(order.price or Decimal(0)),
        "P": "0",
        "F": "0",
        "g": -1,
        "C": "",
        "x": EXECUTION_TYPES[type(event)],
        "X": status,
        "r": "NONE",
        "i": order.order_id,
        "l": number(last_qty),
        "z": number(order.filled_qty if fill else Decimal(0)),
        "L": number(last_px),
        "n": amount(fill.fee) if fill else "0",
        "N": fill.fee_asset if fill else None,
        "T": now,
        "t": fill.trade_id if fill else -1,
        "I": 0,
        "w": status == "NEW",
        "m": bool(fill and fill.is_maker),
        "M": False,
        "O": ms(order.ts_ns),
        "Z": amount(order.cum_quote if fill else Decimal(0)),
        "Y": amount(last_qty * last_px),
        "Q": "0",
    }


def order_trade_update(event: OrderEvent) -> dict[str, Any]:
    """The futures user stream's ``ORDER_TRADE_UPDATE`` for an accepted, filled or canceled order."""
    order = event.order
    fill = event.fill if isinstance(event, OrderFilled) else None
    status = "NEW" if isinstance(event, OrderAccepted) else order.status.value
    now = ms(fill.ts_ns if fill else order.update_ns)
    return {
        "e": "ORDER_TRADE_UPDATE",
        "E": now,
        "T": now,
        "o": {
            "s": symbol_of(order.instrument),
            "c": order.client_order_id,
            "S": order.side.value,
            "o": _executed_type(order),
            "f": "GTC",
            "q": number(order.quantity),
            "p": number(order.price or Decimal(0)),
            "ap": number(order.avg_price if fill else Decimal(0)),
            "sp": number(order.trigger_price or Decimal(0)),
            "x": EXECUTION_TYPES[type(event)],
            "X": status,
            "i": order.order_id,
            "l": number(fill.quantity if fill else Decimal(0)),
            "z": number(order.filled_qty if fill else Decimal(0)),
            "L": number(fill.price if fill else Decimal(0)),
            "N": fill.fee_asset if fill else None,
            "n": amount(fill.fee) if fill else "0",
            "T": now,
            "t": fill.trade_id if fill else 0,
            "b": "0",
            "a": "0",
            "m": bool(fill and fill.is_maker),
            "R": order.reduce_only,
            "wt": "CONTRACT_PRICE",
            "ot": order.order_type.value,
            "ps": "BOTH",
            "cp": False,
            "pP": False,
            "si": 0,
            "ss": 0,
            "rp": amount(fill.realized_pnl if fill else Decimal(0)),
            "gtd": 0,
        },
    }


def outbound_account_position(market: VenueMarket, listed: ListedInstrument) -> dict[str, Any]:
    """The spot user stream's balance update for the pair's two assets."""
    now = ms(market.now_ns)
    balances = [
        {"a": a, "f": amount(market.balance(a).free), "l": amount(market.balance(a).locked)}
        for a in (listed.spec.base, listed.spec.quote)
    ]
    return {"e": "outboundAccountPosition", "E": now, "u": now, "B": balances}


def transfer_update(market: VenueMarket, asset: str, change: Decimal) -> dict[str, Any]:
    """The futures user stream's ``ACCOUNT_UPDATE`` for an internal transfer in (``DEPOSIT``) or out
    (``WITHDRAW``) of the wallet."""
    now = ms(market.now_ns)
    wallet = amount(market.balance(asset).total)
    balance = {"a": asset, "wb": wallet, "cw": wallet, "bc": amount(change)}
    reason = "DEPOSIT" if change > 0 else "WITHDRAW"
    return {"e": "ACCOUNT_UPDATE", "E": now, "T": now, "a": {"m": reason, "B": [balance], "P": []}}


def account_update(
    market: VenueMarket, listed: ListedInstrument, funding: FundingPaid | None
) -> dict[str, Any]:
    """The futures user stream's ``ACCOUNT_UPDATE``: reason ``ORDER`` with the position after a
    fill, or ``FUNDING_FEE`` with the balance change of a funding payment."""
    now = ms(market.now_ns)
    wallet = amount(market.balance(listed.margin_asset).total)
    balance = {"a": listed.margin_asset, "wb": wallet, "cw": wallet, "bc": "0"}
    if funding is not None:
        balance["bc"] = amount(funding.amount)
        return {"e": "ACCOUNT_UPDATE", "E": now, "T": now, "a": {"m": "FUNDING_FEE", "B": [balance], "P": []}}
    position = market.position(listed.id)
    positions = [
        {
            "s": symbol_of(listed),
            "pa": number(position.quantity),
            "ep": number(position.entry_price),
            "cr": "0",
            "up": amount(market.unrealized_pnl(listed.id)),
            "mt": "cross",
            "iw": "0",
            "ps": "BOTH",
        }
    ]
    return {"e": "ACCOUNT_UPDATE", "E": now, "T": now, "a": {"m": "ORDER", "B": [balance], "P": positions}}


def _executed_type(order: Order) -> str:
    """The type the matching engine runs an order as: a triggered stop-market is a MARKET order
    (its original type stays in ``ot``)."""
    return OrderType.MARKET.value if order.order_type is OrderType.STOP_MARKET else order.order_type.value


# -- algo (conditional) orders: USDT-M stop-market orders since Binance's 2025-12 migration ----------

ALGO_STATUS = {OrderStatus.NEW: "NEW", OrderStatus.CANCELED: "CANCELED", OrderStatus.FILLED: "FINISHED"}
"""An algo order's status: resting, canceled, or triggered and done (its fill is a regular order's)."""


def algo_order_json(order: Order) -> dict[str, Any]:
    """``POST|GET /fapi/v1/algoOrder`` and ``openAlgoOrders``' entry for a stop-market order (the
    algo id is the order id: the fake runs the triggered order under the same number)."""
    triggered = order.status is OrderStatus.FILLED
    return {
        "algoId": order.order_id,
        "clientAlgoId": order.client_order_id,
        "algoType": "CONDITIONAL",
        "orderType": order.order_type.value,
        "symbol": symbol_of(order.instrument),
        "side": order.side.value,
        "positionSide": "BOTH",
        "timeInForce": "GTC",
        "quantity": number(order.quantity),
        "algoStatus": ALGO_STATUS[order.status],
        "triggerPrice": number(order.trigger_price or Decimal(0)),
        "price": "0",
        "workingType": "CONTRACT_PRICE",
        "priceMatch": "NONE",
        "closePosition": False,
        "priceProtect": False,
        "reduceOnly": order.reduce_only,
        "createTime": ms(order.ts_ns),
        "updateTime": ms(order.update_ns),
        "triggerTime": ms(order.update_ns) if triggered else 0,
        "goodTillDate": 0,
        "actualOrderId": str(order.order_id) if triggered else None,
    }


def algo_canceled(order: Order) -> dict[str, Any]:
    """``DELETE /fapi/v1/algoOrder``'s answer."""
    return {"algoId": order.order_id, "clientAlgoId": order.client_order_id, "code": "200", "msg": "success"}


def algo_update(order: Order) -> dict[str, Any]:
    """The futures user stream's ``ALGO_UPDATE`` for a stop-market order's status (``NEW``,
    ``CANCELED``, or ``FINISHED`` with the executed quantity and price once it filled)."""
    now = ms(order.update_ns)
    filled = order.status is OrderStatus.FILLED
    return {
        "e": "ALGO_UPDATE",
        "E": now,
        "T": now,
        "o": {
            "caid": order.client_order_id,
            "aid": order.order_id,
            "at": "CONDITIONAL",
            "o": order.order_type.value,
            "s": symbol_of(order.instrument),
            "S": order.side.value,
            "ps": "BOTH",
            "f": "GTC",
            "q": number(order.quantity),
            "X": ALGO_STATUS[order.status],
            "tp": number(order.trigger_price or Decimal(0)),
            "p": "0",
            "wt": "CONTRACT_PRICE",
            "pm": "NONE",
            "cp": False,
            "pP": False,
            "R": order.reduce_only,
            "tt": now if filled else 0,
            "gtd": 0,
            "ai": str(order.order_id) if filled else None,
            "ap": number(order.avg_price) if filled else None,
            "aq": number(order.filled_qty) if filled else None,
        },
    }


def funding_rate_row(listed: ListedInstrument, ts_ns: int, rate: Decimal, mark: Decimal) -> dict[str, Any]:
    """A ``GET /fapi/v1/fundingRate`` entry: one settled funding print."""
    return {
        "symbol": symbol_of(listed),
        "fundingTime": ms(ts_ns),
        "fundingRate": number(rate),
        "markPrice": number(mark),
    }
