"""Command line: ``python -m labmf answers`` and ``python -m labmf report``.

``answers`` prints the figures of the one-page answer sheet (no Jupyter needed);
``report`` renders the lab report from the executed notebooks (what ``make
report`` runs after executing them).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["main"]


def _nonneg_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {value}")
    return value


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="labmf", description="labmf: COMP6258 Lab 1, reproduced.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    a = sub.add_parser("answers", help="print the answers to questions 1.1-4.1")
    a.add_argument("--seed", type=_nonneg_int, default=0, help="seed of every run (default 0)")
    a.add_argument("--no-q4", action="store_true",
                   help="skip Q4 (the MovieLens fit, the slow part)")

    r = sub.add_parser("report", help="render the report from executed notebooks")
    r.add_argument("notebooks", nargs="+", type=Path, help="executed notebooks, in section order")
    r.add_argument("--out-dir", type=Path, default=Path("report"),
                   help="where the HTML/PDF files go (default: report)")
    r.add_argument("--source-dir", type=Path, default=Path("report"),
                   help="directory with templates/, report.css, answers.css (default: report)")
    r.add_argument("--no-pdf", action="store_true", help="write the HTML only")
    r.add_argument("--seed", type=_nonneg_int, default=0, help="seed of the answer sheet's runs")
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m labmf`` and of the ``labmf`` console script."""
    args = _parser().parse_args(argv)
    if args.command == "answers":
        from .answers import compute_answers, format_answers

        print(format_answers(compute_answers(seed=args.seed, include_q4=not args.no_q4)))
        return 0
    if args.command == "report":
        from .report import ReportError, build_report

        try:
            build_report(args.notebooks, out_dir=args.out_dir, source_dir=args.source_dir,
                         seed=args.seed, chromium=False if args.no_pdf else True, log=print)
        except ReportError as exc:
            print(f"labmf report: error: {exc}", file=sys.stderr)
            return 1
        return 0
    raise AssertionError(args.command)  # argparse rejects unknown commands


if __name__ == "__main__":
    sys.exit(main())
