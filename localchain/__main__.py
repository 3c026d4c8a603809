"""Start anvil with the real Aave v3 and Uniswap v3 deployed (``localchain.aave``,
``localchain.uniswap``), print the RPC URL and every contract address as JSON, and keep the chain
running until Ctrl-C; ``--once`` stops it right after the deployment (a smoke check)."""

from __future__ import annotations

import argparse
import json
import signal
from pathlib import Path

from web3.contract import Contract

from localchain.aave import LocalAave, deploy_aave
from localchain.anvil import Anvil
from localchain.uniswap import LocalUniswap, deploy_uniswap


def by_symbol(contracts: dict[str, Contract]) -> dict[str, str]:
    return {symbol: contract.address for symbol, contract in contracts.items()}


def addresses(url: str, aave: LocalAave, uniswap: LocalUniswap) -> dict[str, object]:
    return {
        "rpc_url": url,
        "admin": aave.admin,
        "aave": {
            "pool": aave.pool.address,
            "configurator": aave.configurator.address,
            "oracle": aave.oracle.address,
            "a_tokens": by_symbol(aave.a_tokens),
            "variable_debt_tokens": by_symbol(aave.debt_tokens),
        },
        "tokens": by_symbol(aave.tokens),
        "price_feeds": by_symbol(aave.aggregators),
        "staking": by_symbol(aave.staking),
        "uniswap": {
            "factory": uniswap.factory.address,
            "router": uniswap.router.address,
            "quoter": uniswap.quoter.address,
            "positions": uniswap.positions.address,
            "pools": {s: p.contract.address for s, p in uniswap.pools.items()},
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m localchain", description=__doc__)
    parser.add_argument("--port", type=int, help="RPC port on 127.0.0.1 (default: a free one)")
    parser.add_argument(
        "--data-dir", type=Path, help="raw data with aave/ (default: as the catalog finds it)"
    )
    parser.add_argument("--once", action="store_true", help="stop the chain after printing the addresses")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # a kill also stops anvil
    anvil = Anvil(port=args.port)
    w3 = anvil.start()
    try:
        aave = deploy_aave(w3, args.data_dir)
        print(json.dumps(addresses(anvil.url, aave, deploy_uniswap(aave)), indent=1), flush=True)
        if not args.once:
            signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        anvil.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
