"""The report a quant reads: ``python -m research report DIR [DIR ...] [--out FILE]`` (see
:mod:`research.report.cli`)."""

from research.report.cli import REPORT_FILE, main, write_report

__all__ = ["REPORT_FILE", "main", "write_report"]
