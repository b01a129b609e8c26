"""``resumable-opt verify CKPT`` and ``resumable-opt recover CKPT``.

``verify`` exits with 0 when the checkpoint is sound and 1 otherwise, after
saying what is wrong and how to recover; ``recover`` keeps the damaged file
aside and restores the last good state (see ``checkpoint/recovery.py``).
"""

from __future__ import annotations

import argparse
import sys

from ..checkpoint.recovery import recover, verify
from .common import add_checkpoint_argument

EXIT_NOT_SOUND = 1


def register(subparsers: argparse._SubParsersAction) -> None:
    check = subparsers.add_parser(
        "verify",
        help="check a checkpoint; exit status 0 when it is sound",
        description="Read a checkpoint the way a run would, without changing it. Exit status 0 when it "
        "is sound; otherwise say what is wrong and what `resumable-opt recover` can restore.",
    )
    add_checkpoint_argument(check)
    check.set_defaults(handler=run_verify)
    restore = subparsers.add_parser(
        "recover",
        help="restore the last good state of a damaged checkpoint",
        description="Keep the damaged checkpoint aside as CKPT.damaged-<timestamp> and write the last good "
        "state in its place (the intact start of the file or CKPT.bak, whichever has more finished trials). "
        "A sound checkpoint is left as it is.",
    )
    add_checkpoint_argument(restore)
    restore.set_defaults(handler=run_recover)


def run_verify(args: argparse.Namespace) -> int:
    report = verify(args.checkpoint)
    if report.sound:
        print(report)
        return 0
    print(f"resumable-opt: error: {report}", file=sys.stderr)
    return EXIT_NOT_SOUND


def run_recover(args: argparse.Namespace) -> int:
    before = verify(args.checkpoint)
    if before.sound:
        print(f"{before}\nNothing to recover.")
        return 0
    restored = before.best_recoverable
    kept = recover(args.checkpoint)  # refuses, with what to do, when nothing can be recovered
    after = verify(args.checkpoint)
    if kept != args.checkpoint:
        print(f"Kept the damaged file as {kept}.")
    source = restored.source if restored is not None else "recoverable state"
    print(
        f"Restored {args.checkpoint} from the {source}: "
        f"{after.n_finished} finished trials of {after.n_trials}. Run the search again to resume it."
    )
    return 0
