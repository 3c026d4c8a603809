"""``python -m research COMMAND …``: ``report`` (see :mod:`research.report`), ``sweep`` (see
:mod:`research.sweep`)."""

import sys

from research import report, sweep

COMMANDS = {"report": report.main, "sweep": sweep.main}


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in COMMANDS:
        print(f"usage: python -m research {{{','.join(COMMANDS)}}} …", file=sys.stderr)
        return 2
    return COMMANDS[argv[0]](argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
