"""The command line of the cluster path: ``locviz predict --cluster ...`` options and ``locviz merge``.

Kept beside the engine so :mod:`locviz.cli` only adds the options and hands over when ``--cluster`` is given.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from tqdm import tqdm

from locviz import pipeline, table
from locviz.cluster.manifest import ERRORS_FILE
from locviz.cluster.merge import MERGE_FORMATS, call_tally, merge, merge_attention
from locviz.cluster.spec import SPEC_HELP
from locviz.errors import InputError

if TYPE_CHECKING:
    from locviz.cluster.engine import Progress, RunSummary


def add_predict_options(p: argparse.ArgumentParser) -> None:
    """``--cluster``, ``--partition-size`` and the Slurm job settings of ``locviz predict``."""
    g = p.add_argument_group(
        "proteome scale (Dask)",
        "With --cluster, --out is a folder: one Parquet file per partition, a manifest that lets the same command "
        "resume, errors.tsv; 'locviz merge DIR --out table.tsv' joins the parts.",
    )
    g.add_argument("--cluster", metavar="SPEC", help=SPEC_HELP)
    g.add_argument("--partition-size", type=int, metavar="N",
                   help="proteins per partition (cut at equal bytes, so about N on average; default: about a minute "
                   "of one worker's time, fewer when the input is small so every worker gets at least 4)")  # fmt: skip
    g.add_argument(
        "--slurm-queue", help="slurm:N: the partition (queue) to submit to (default: Dask's jobqueue config)"
    )
    g.add_argument(
        "--slurm-memory", help="slurm:N: memory per job, e.g. 4GB (default: Dask's jobqueue config, else 3GB)"
    )
    g.add_argument(
        "--slurm-walltime", help="slurm:N: time limit per job, e.g. 04:00:00 (default: Dask's jobqueue config)"
    )
    g.add_argument("--slurm-account", help="slurm:N: account to charge (default: Dask's jobqueue config)")


def cmd_predict_cluster(args: argparse.Namespace) -> int:
    """``locviz predict INPUT --cluster SPEC --out DIR``: see :func:`locviz.cluster.engine.run`."""
    from locviz.cluster.engine import RunOptions, SlurmOptions, run  # Dask is imported only when it is used

    if args.stop_on_error:
        raise InputError(f"--stop-on-error does not apply with --cluster: bad records are listed in DIR/{ERRORS_FILE}")
    if getattr(args, "signals", None):
        raise InputError("--signals is not available with --cluster yet; the table's signals column holds them")
    if getattr(args, "hits", None):
        raise InputError("--hits is not available with --cluster yet; the table's nearest_* columns hold the best "
                         "hit")  # fmt: skip
    if args.format is not None:
        raise InputError("with --cluster the table is Parquet parts in --out; 'locviz merge DIR --out FILE --format "
                         f"{{{','.join(MERGE_FORMATS)}}}' writes one file")  # fmt: skip
    if getattr(args, "with_attention", False):
        raise InputError("--with-attention is not available with --cluster (Parquet parts hold the table's columns); "
                         "--attention FILE writes the per-residue attention as a long table")  # fmt: skip
    if args.attention:
        table.format_for(args.attention, allowed=table.ATTENTION_FORMATS)
        table.check_output_path(args.attention, "the attention file", reads=args.input)
    options = RunOptions(
        input=Path(args.input), out_dir=Path(args.out), model=args.model, cluster=args.cluster,
        partition_size=args.partition_size, organism=args.organism, neighbours=args.neighbours,
        search_mode=args.search_mode,
        attention=bool(args.attention), device=args.device, batch_size=args.batch_size,
        slurm=SlurmOptions(args.slurm_queue, args.slurm_memory, args.slurm_walltime, args.slurm_account),
    )  # fmt: skip
    bar = ProgressBar(args.input, disable=args.no_progress)
    try:
        summary = run(options, callback=bar.update)
    except KeyboardInterrupt:
        bar.close()
        print(f"stopped: the finished partitions are in {args.out}; run the same command again to do the rest",
              file=sys.stderr)  # fmt: skip
        raise
    finally:
        bar.close()
    if args.attention and summary.complete and summary.predicted + summary.skipped:  # none: no table, as plain predict
        merge_attention(args.out, args.attention)
    return report(args, summary)


class ProgressBar:
    """Draws :class:`Progress` on stderr: proteins done, proteins/s and time left (tqdm), partitions done;
    prints the dashboard address first and each refused record as the single process does."""

    def __init__(self, where: str, disable: bool = False):
        self.where, self.disable = where, disable
        self.bar: tqdm | None = None

    def update(self, progress: Progress) -> None:
        if self.bar is None:
            if progress.dashboard:
                print(f"Dask dashboard: {progress.dashboard} ({progress.workers} workers)", file=sys.stderr)
            if progress.skipped_partitions:
                print(f"resuming: {progress.skipped_partitions} of {progress.partitions_total} partitions were "
                      f"finished by an earlier run ({progress.skipped_records} records)", file=sys.stderr)  # fmt: skip
            self.bar = tqdm(total=progress.records_total, unit="protein", desc="predict", file=sys.stderr,
                            disable=self.disable)  # fmt: skip
        latest = progress.latest
        if latest is not None:
            for line, message in latest.notes:
                tqdm.write(f"{self.where}, line {line}: note: {message}", file=sys.stderr)
            for line, _, message in latest.issues:
                tqdm.write(f"{self.where}, line {line}: {message}", file=sys.stderr)
            self.bar.update(latest.rows + latest.refused)
        self.bar.set_postfix_str(f"partitions {progress.partitions_done}/{progress.partitions_total}", refresh=True)
        if progress.partitions_done == progress.partitions_total:
            self.close()  # the rate and time stay as they were when the last partition came back

    def close(self) -> None:
        if self.bar is not None and not self.bar.disable:
            self.bar.close()


def report(args: argparse.Namespace, summary: RunSummary) -> int:
    """Notes and the final line on stderr; the exit status (0 all, 3 some refused, 1 failed)."""
    for line, message in summary.duplicates:
        print(f"{args.input}, line {line}: {message}", file=sys.stderr)
    for note in pipeline.run_notes(summary.flagged, summary.length_policy, args.organism, summary.model):
        print(note, file=sys.stderr)
    out = summary.out_dir
    if not summary.failed:
        for line in call_tally(out).lines():
            print(line, file=sys.stderr)
    if summary.failed:
        first, why = summary.failed[0]
        print(f"locviz predict: error: {len(summary.failed)} partition(s) failed (partition {first}: {why}); {out} "
              "keeps the finished ones: run the same command again to do the rest", file=sys.stderr)  # fmt: skip
        return 1
    total = summary.predicted + summary.skipped
    if total == 0:
        print(f"locviz predict: error: no record could be predicted ({summary.refused} refused: {out / ERRORS_FILE})",
              file=sys.stderr)  # fmt: skip
        return 1
    refused = f"{summary.refused} refused ({out / ERRORS_FILE})" if summary.refused else "0 refused"
    where = f"the table is {out}/part-*.parquet ({summary.partitions} parts; one file: locviz merge {out} --out FILE)"
    if args.attention:
        where += f"; attention per residue in {args.attention}"
    print(f"predicted {summary.predicted} records with {summary.model}, {summary.skipped} skipped (finished by an "
          f"earlier run), {refused} in {summary.seconds:.0f} s; {where}", file=sys.stderr)  # fmt: skip
    return 3 if summary.refused else 0


def add_merge(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "merge",
        help="join the Parquet parts of a 'locviz predict --cluster' run into one table, in input order",
        description="Join DIR/part-*.parquet of a finished cluster run into one table (the same columns and numbers "
        "as 'locviz predict' writes). Every part is checked against the sha256 in the manifest.",
    )
    p.add_argument("dir", metavar="DIR", help="the --out folder of locviz predict --cluster")
    p.add_argument("--out", required=True, help="the table: .tsv, .csv, .json or .parquet; '-' writes to stdout")
    p.add_argument("--format", choices=MERGE_FORMATS, help="default: from the --out suffix (.csv, .json, .parquet; tsv "
                   "for .tsv, .tab, .txt, no suffix and '-'; any other suffix is refused)")
    p.add_argument(
        "--attention", metavar="ATT_PATH", help="also join the per-residue attention (runs with --attention)"
    )
    p.set_defaults(func=cmd_merge)


def cmd_merge(args: argparse.Namespace) -> int:
    if args.attention:  # refused before the main table is written, not after
        table.format_for(args.attention, allowed=table.ATTENTION_FORMATS)
    table.check_distinct_outputs({"--out": args.out, "--attention": args.attention})
    summary = merge(args.dir, args.out, args.format)
    wrote = f"wrote {summary.path}"
    if args.attention:
        attention = merge_attention(args.dir, args.attention)
        wrote += f" and {attention.path} ({attention.rows} residues)"
    print(f"merged {summary.rows} records from {summary.parts} parts; {wrote}", file=sys.stderr)
    return 0
