"""Command line of ``run_live.py``: paper trading on a replay, and the live environments.

``--env paper`` replays the catalog (``--chain local``: its wallet venue on a local chain). The
live environments build Nautilus' own venue clients (``live/venues.py``; ``--check`` shows that
plan and checks the keys without connecting) and run the node until a signal; with ``--chain
CHAIN.yaml`` (testnet or mainnet) a wallet-capital mode trades on that chain from the wallet's
holdings (``live/chain_live.py``), after the chain checks (chain id, mainnet confirmation).
"""

from __future__ import annotations

import argparse
import sys
from contextlib import ExitStack
from pathlib import Path

from web3.exceptions import Web3Exception

from adapters.config import ConfigError
from adapters.defi.config import load_wallet_venue
from adapters.defi.web3.config import MAINNET_CHAIN_ID, load_chain_live
from adapters.defi.web3.connection import masked
from backtesting.cli import CLEAR_ERRORS, add_run_arguments, load_runs, prepare_catalog, prepare_predictions
from backtesting.modes import MODES
from backtesting.out_dir import check_out_dir, staged_out_dir
from data_catalog.interrupt import cleanup_on_sigterm
from data_catalog.paths import default_catalog_dir
from live.chain_live import DEFAULT_POLL_SECS, ChainLive, open_chain
from live.check import describe
from live.checkpoint import CheckpointError
from live.environments import LiveEnv, missing_variables
from live.halt import HaltFileError, request_halt
from live.journal import JournalMismatch
from live.local_chain import local_chain
from live.node_config import node_config
from live.redis_state import RedisAddress, RedisUnavailable, local_redis
from live.runner import PaperRunHalted, PaperRunInterrupted, run_paper
from live.trading import build_live_node, check_live_run, run_node
from live.transfers.config import TRANSFERS_CONFIG
from live.transfers.exchanges import MissingCredentials
from live.venues import plan_live

PAPER = "paper"
LOCAL_CHAIN = "local"
ON_CHAIN_ENVS = (LiveEnv.TESTNET.value, LiveEnv.MAINNET.value)
"""The environments a wallet-capital mode trades live on chain in (the chain YAML says which chain)."""
HALTED_EXIT = 3
"""Exit code of a run the kill switch halted (130: stopped by a signal; 2: bad input)."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="run_live.py",
        description="Run a mode in a live Nautilus TradingNode. --env paper replays the catalog's history "
        "through the node with the project's venue simulations as execution; sandbox, testnet, demo and "
        "mainnet use Nautilus' Binance, Bybit and OKX clients (keys from their environment variables).",
    )
    parser.add_argument("--mode", help=f"one of: {', '.join(MODES)} (required, except with --halt)")
    parser.add_argument(
        "--env",
        choices=(PAPER, *(e.value for e in LiveEnv)),
        default=LiveEnv.SANDBOX.value,
        help="sandbox (default): live market data, orders filled by the project's venue simulations; "
        "paper: replay of the catalog's history; testnet, demo, mainnet: the venues' own environments",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="live environments: build the node's configuration, check the keys are set and print the plan "
        "(venues, clients, endpoints, account ids, instruments); connects to nothing",
    )
    parser.add_argument(
        "--confirm-mainnet", action="store_true", help="required with --env mainnet: it trades real money"
    )
    parser.add_argument(
        "--speed", type=float, default=0.0, help="N x real time (default 0: as fast as the node consumes it)"
    )
    parser.add_argument(
        "--log-level", default="ERROR", help="the node's log level (Nautilus: DEBUG, INFO, WARNING, ERROR)"
    )
    parser.add_argument(
        "--state",
        type=Path,
        help="where a stopped run saves its state (default: beside --out, named OUT.state)",
    )
    parser.add_argument(
        "--halt",
        action="store_true",
        help="the kill switch: ask the run whose state folder is --state (default OUT.state of --out) to "
        "halt: no new plans, open orders cancelled; the node stops (exit 3) within a few seconds",
    )
    parser.add_argument(
        "--flatten", action="store_true", help="with --halt: also close the CEX positions (market orders)"
    )
    parser.add_argument(
        "--clear-halt",
        action="store_true",
        help="live environments: start the strategy un-HALTED, taking the venues' book as it is now "
        "(after a kill switch, or a restart that found the venues' book unlike the saved one)",
    )
    parser.add_argument(
        "--health-minutes",
        type=float,
        default=5.0,
        help="a health line and status.json (in the state folder) every N minutes of the node's time "
        "(paper: data time, so once per data hour); default 5",
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="carry on a stopped run from its saved state (same mode, window, capital and config)",
    )
    parser.add_argument(
        "--chain",
        help="--env paper: 'local', the wallet venue trades on a local chain (anvil with the real Aave v3 "
        "and Uniswap v3, funded with the capital, stepped each hour to the recorded prices, LST rates, gas "
        "and USDT utilization) through the web3 backend, instead of the simulated backend. --env testnet "
        "or mainnet: CHAIN.yaml (contract addresses, chain id, limits), a wallet-capital mode trades live "
        "on that chain from the wallet's holdings (key and RPC URL from BASIS_WALLET_KEY or a keystore and "
        "BASIS_RPC_URL)",
    )
    parser.add_argument(
        "--chain-poll-secs",
        type=float,
        default=DEFAULT_POLL_SECS,
        help="with --chain CHAIN.yaml: how often the chain data feed polls (s; default 12: a block)",
    )
    parser.add_argument(
        "--transfers-config",
        type=Path,
        default=TRANSFERS_CONFIG,
        help="live environments: the transfer service's YAML (ccxt account names, networks, the "
        "withdrawal allow-list; default configs/transfers.yaml)",
    )
    parser.add_argument(
        "--redis",
        help="live environments: redis://[:password@]HOST:PORT of the Redis server keeping the node's state "
        "(default: a private redis-server started beside the run, its data in the --state folder)",
    )
    add_run_arguments(parser)
    return parser


def _live(args: argparse.Namespace, env: LiveEnv) -> int:
    """A live environment: refuse mainnet unconfirmed, plan the venue clients, require their keys;
    ``--check`` prints the plan, otherwise the node runs until SIGINT/SIGTERM."""
    if env is LiveEnv.MAINNET and not args.confirm_mainnet:
        print(
            "error: --env mainnet trades real money (on the venues, or on chain 1 with --chain): add "
            "--confirm-mainnet to go ahead",
            file=sys.stderr,
        )
        return 2
    chain_path = Path(args.chain) if args.chain else None
    try:
        (run,) = load_runs(args, [args.mode])
        plan = plan_live(run, env, args.venue_config)
        config = node_config(
            plan,
            run.strategy.max_order_notional_usd,
            max_orders_per_minute=run.strategy.max_orders_per_minute,
        )
        redis = RedisAddress.from_url(args.redis) if args.redis else None
        chain_yaml = None
        if chain_path is not None:
            check_live_run(run, plan, on_chain=True)  # before the venues' keys: a hedged mode is refused
            chain_yaml = load_chain_live(chain_path, load_wallet_venue(args.venue_config))
    except (*CLEAR_ERRORS, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    venues = [v.venue for v in plan.venues]
    missing = missing_variables(venues, env)
    if missing:
        print(
            f"error: --env {env.value}: {args.mode} connects to {', '.join(venues)}, whose keys are read "
            f"from environment variables; not set: {', '.join(missing)}",
            file=sys.stderr,
        )
        return 2
    if args.check:
        print("\n".join(describe(args.mode, plan, config, chain_yaml.chain_id if chain_yaml else None)))
        return 0
    try:
        check_live_run(run, plan, on_chain=chain_path is not None)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if chain_yaml is not None and chain_yaml.chain_id == MAINNET_CHAIN_ID and env is not LiveEnv.MAINNET:
        print(
            f"error: --chain {chain_path} is Ethereum mainnet (chain 1): real money: --env mainnet "
            "--confirm-mainnet, not --env testnet. Nothing sent",
            file=sys.stderr,
        )
        return 2
    chain: ChainLive | None = None
    if chain_path is not None:
        try:
            chain = open_chain(
                chain_path, args.confirm_mainnet, args.chain_poll_secs, load_wallet_venue(args.venue_config)
            )
        except ConfigError as e:
            print(f"error: --chain: {e}", file=sys.stderr)
            return 2
    state_dir = args.state or args.out.with_name(args.out.name + ".state")
    try:
        with ExitStack() as stack:
            if redis is None:
                redis = stack.enter_context(local_redis(state_dir / "redis"))
            catalog_dir = (args.catalog or default_catalog_dir()).resolve()  # the ML modes' saved model
            live = build_live_node(
                run,
                plan,
                redis,
                catalog_dir,
                state_dir,
                args.log_level,
                args.transfers_config,
                args.health_minutes,
                clear_halt=args.clear_halt,
                chain=chain,
            )
            on_chain = (
                f"; wallet {chain.connection.address} on chain {chain.live.chain_id}"
                if chain is not None
                else ""
            )
            print(
                f"{args.mode} on {env.value}: node {live.node.trader_id}, state in {redis}{on_chain}; "
                "Ctrl-C halts (cancels open orders) and stops",
                flush=True,
            )
            stopped_by = run_node(live)
    except (*CLEAR_ERRORS, RedisUnavailable, MissingCredentials) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except Web3Exception as e:  # the chain's node refused or failed a read while the wallet was set up
        print(f"error: --chain: RPC: {type(e).__name__}: {masked(str(e))}", file=sys.stderr)
        return 2
    if stopped_by is None:
        return 0
    print(
        f"{args.mode} on {env.value}: HALTED by {stopped_by.name}: open orders cancelled, positions kept; "
        "the next start stays HALTED until run with --clear-halt",
        file=sys.stderr,
    )
    return 130


def _halt(args: argparse.Namespace) -> int:
    """``--halt``: write the request where the running node watches (its state folder)."""
    state_dir = args.state or args.out.with_name(args.out.name + ".state")
    if not state_dir.is_dir():
        print(
            f"error: --halt: no run uses {state_dir} as its state folder (give the running run's --out or "
            "--state): nothing to halt",
            file=sys.stderr,
        )
        return 2
    try:
        path = request_halt(state_dir, args.flatten)
    except HaltFileError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    what = "cancel its open orders and close its CEX positions" if args.flatten else "cancel its open orders"
    print(f"halt requested in {path}: the run halts within a few seconds ({what}; no new plans)")
    return 0


def main(argv: list[str] | None = None) -> int:
    cleanup_on_sigterm()
    args = _parser().parse_args(argv)
    if args.flatten and not args.halt:
        print(
            "error: --flatten goes with --halt (flatten_on_stop in the mode YAML closes on a stop)",
            file=sys.stderr,
        )
        return 2
    if args.halt:
        return _halt(args)
    if args.mode is None:
        print("error: --mode is required (except with --halt)", file=sys.stderr)
        return 2
    if args.mode not in MODES:
        print(f"error: unknown mode {args.mode!r}; available: {', '.join(MODES)}", file=sys.stderr)
        return 2
    if not args.health_minutes > 0:
        print(f"error: --health-minutes must be > 0, got {args.health_minutes}", file=sys.stderr)
        return 2
    if args.env != PAPER:
        replay_only = [
            flag
            for flag, given in (
                ("--start", args.start),
                ("--end", args.end),
                ("--speed", args.speed),
                ("--resume", args.resume),
                ("--chain", args.chain == LOCAL_CHAIN),
            )
            if given
        ]
        if replay_only:
            print(
                f"error: {', '.join(replay_only)}: for --env paper (a replay of history); --env {args.env} "
                "runs on the live market from now",
                file=sys.stderr,
            )
            return 2
        if args.chain and args.env not in ON_CHAIN_ENVS:
            print(
                f"error: --chain CHAIN.yaml trades on a real chain: --env testnet or mainnet, not {args.env}",
                file=sys.stderr,
            )
            return 2
        if not args.chain_poll_secs > 0:
            print(f"error: --chain-poll-secs must be > 0, got {args.chain_poll_secs}", file=sys.stderr)
            return 2
        return _live(args, LiveEnv(args.env))
    if args.check or args.confirm_mainnet or args.clear_halt:
        print(
            "error: --check, --confirm-mainnet and --clear-halt are for the live environments, "
            "not --env paper",
            file=sys.stderr,
        )
        return 2
    if args.chain not in (None, LOCAL_CHAIN):
        print(
            f"error: --env paper takes --chain local (a local chain the replay steps), not {args.chain}; "
            "a chain YAML is for --env testnet or mainnet",
            file=sys.stderr,
        )
        return 2
    if args.speed < 0:
        print(f"error: --speed must be >= 0, got {args.speed}", file=sys.stderr)
        return 2
    state_dir = args.state or args.out.with_name(args.out.name + ".state")
    try:
        (run,) = load_runs(args, [args.mode])
        check_out_dir(args.out, overwrite=args.overwrite)
        catalog_dir = prepare_catalog(args)
        prepare_predictions([run], catalog_dir)
        with ExitStack() as stack:
            chain = (
                stack.enter_context(local_chain(load_wallet_venue(), args.data_dir)) if args.chain else None
            )
            staging = stack.enter_context(staged_out_dir(args.out))
            result = run_paper(
                run,
                catalog_dir,
                staging,
                progress=lambda m: print(m, flush=True),
                speed=args.speed,
                log_level=args.log_level,
                state_dir=state_dir,
                resume=args.resume,
                health_minutes=args.health_minutes,
                chain=chain,
            )
    except PaperRunHalted as e:
        print(str(e), file=sys.stderr)
        print(
            f"state saved in {e.state_dir} (status.json: the node's last status); no results written",
            file=sys.stderr,
        )
        return HALTED_EXIT
    except (PaperRunInterrupted, KeyboardInterrupt) as e:  # during the replay, or before it started
        saved = getattr(e, "state_dir", None)
        print(f"error: {args.mode}: paper run interrupted; no results written to {args.out}", file=sys.stderr)
        if saved is not None:
            print(
                f"state saved in {saved}: carry on with the same command and --resume",
                file=sys.stderr,
            )
        return 130
    except (*CLEAR_ERRORS, CheckpointError, JournalMismatch) as e:  # as run_backtest.py
        print(f"error: {e}", file=sys.stderr)
        return 2
    s = result.summary
    print(
        f"{run.mode} (paper): results in {args.out} ({result.seconds:.1f} s): APY {s['apy']:+.2%}, "
        f"final NAV {s['final_nav']:,.2f} {s['share_class']}, "
        f"reconciliation error {s['reconciliation_error']:.1e}"
    )
    return 0
