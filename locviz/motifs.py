"""Filter motifs: what each first-layer convolution filter has learnt, as a logo.

For every filter of one ensemble member, the windows of a reference set where
it fires hardest are stacked into a position frequency matrix (the logo), and
the filter's per-protein maximum is compared between classes. The result is
precomputed into ``NAME.motifs.npz`` so the app needs no training data.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from locviz.batching import iter_batches
from locviz.datasets import sha256_of
from locviz.encoding import UNKNOWN_TOKEN, tokenize
from locviz.sequences import STANDARD_RESIDUES, ProteinRecord
from locviz.weights import BundleError, ModelBundle

MOTIFS_FORMAT_VERSION = 1
PSEUDOCOUNT = 0.05
"""Added to every (position, residue) count so rare residues are not exactly zero in a logo."""

ASSOCIATION_METHOD = (
    "z-score of class means: for each reference protein the filter's maximum activation over the "
    "residues the model sees; score per class = (mean over the class's proteins - mean over all "
    "proteins) / standard deviation over all proteins. Positive: the filter fires more strongly in "
    "that class than on average. Classes without reference proteins are left out."
)


@dataclass
class FilterMotif:
    """One first-layer filter: its logo matrix and where it fires in the reference set."""

    index: int  # 0-based filter index in the first conv layer (grouped by width)
    width: int
    frequencies: np.ndarray  # (width, 20) position frequency matrix over STANDARD_RESIDUES; rows sum to 1
    information_content: float  # total bits over the window (max 4.32 * width)
    top_windows: list[str]  # highest-activating windows in the reference set, best first
    top_activations: list[float]
    class_association: dict[str, float] = field(default_factory=dict)  # class -> association score

    def ic_per_position(self) -> np.ndarray:
        """Bits per window position (log2(20) minus entropy)."""
        p = np.clip(self.frequencies, 1e-12, 1.0)
        return np.log2(20) + (p * np.log2(p)).sum(axis=1)

    @property
    def consensus(self) -> str:
        """The most frequent residue at each window position."""
        return "".join(STANDARD_RESIDUES[i] for i in np.argmax(self.frequencies, axis=1))


@dataclass
class MotifSet:
    """All filters' motifs for one model member, precomputed into ``NAME.motifs.npz``."""

    model_name: str
    member: int
    classes: list[str]
    motifs: list[FilterMotif]
    reference: str  # human-readable: which proteins the windows come from
    association_method: str = ""


class MotifError(BundleError):
    """A motifs file is missing, corrupt or does not belong to the bundle; the message names it."""


# ------------------------------------------------------------------------- compute
def _valid_centres(tokens: np.ndarray, lengths: np.ndarray, breaks: np.ndarray, width: int) -> np.ndarray:
    """(B, T) bool: a window of ``width`` centred here lies inside the sequence, has no unknown
    residue and does not straddle the junction where the long-sequence policy cut the protein."""
    batch, steps = tokens.shape
    half = width // 2
    bad = (tokens >= UNKNOWN_TOKEN).astype(np.int64)  # unknown residues and padding
    bad_cum = np.concatenate([np.zeros((batch, 1), np.int64), np.cumsum(bad, axis=1)], axis=1)
    brk_cum = np.concatenate([np.zeros((batch, 1), np.int64), np.cumsum(breaks, axis=1)], axis=1)
    centres = np.arange(steps)
    lo, hi = centres - half, centres + half  # inclusive window ends
    inside = (lo >= 0)[None, :] & (hi[None, :] < lengths[:, None])
    lo_c, hi_c = np.clip(lo, 0, steps - 1), np.clip(hi, 0, steps - 1)
    n_bad = bad_cum[:, hi_c + 1] - bad_cum[:, lo_c]
    n_breaks = brk_cum[:, hi_c + 1] - brk_cum[:, lo_c + 1]  # a break at j means j-1 and j are not adjacent
    return inside & (n_bad == 0) & (n_breaks == 0)


def _pfm(windows: Sequence[str], width: int, pseudocount: float) -> np.ndarray:
    counts = np.zeros((width, len(STANDARD_RESIDUES)), dtype=np.float64)
    index = {aa: i for i, aa in enumerate(STANDARD_RESIDUES)}
    for window in windows:
        for j, aa in enumerate(window):
            counts[j, index[aa]] += 1.0
    counts += pseudocount
    return counts / counts.sum(axis=1, keepdims=True)


def _association(
    maxima: np.ndarray, labels: np.ndarray | None, classes: Sequence[str]
) -> list[dict[str, float]]:
    """Per filter: class -> z-score of the class mean of per-protein maxima."""
    n_filters = maxima.shape[1]
    if labels is None:
        return [{} for _ in range(n_filters)]
    mean_all = maxima.mean(axis=0)
    std_all = maxima.std(axis=0)
    out: list[dict[str, float]] = [{} for _ in range(n_filters)]
    for c, name in enumerate(classes):
        members = labels == c
        if not members.any():
            continue
        class_mean = maxima[members].mean(axis=0)
        with np.errstate(divide="ignore", invalid="ignore"):
            z = np.where(std_all > 0, (class_mean - mean_all) / std_all, 0.0)
        for f in range(n_filters):
            out[f][name] = float(z[f])
    return out


def compute(
    bundle: ModelBundle,
    records: Sequence[ProteinRecord],
    labels: Sequence[int] | np.ndarray | None = None,
    classes: Sequence[str] | None = None,
    top_k: int = 100,
    max_per_protein: int = 1,
    member: int | None = None,
    progress: bool = False,
    reference: str = "",
    pseudocount: float = PSEUDOCOUNT,
    batch_size: int = 32,
    max_batch_residues: int = 64_000,
) -> MotifSet:
    """Logos for every first-layer filter of one member from its top-activating windows in ``records``.

    The window of a filter of width ``w`` at model-input position ``p`` is
    residues ``p - w//2 .. p + w//2``. Windows that run past a sequence end,
    hold an unknown residue or straddle the long-sequence cut are skipped; each
    protein gives at most ``max_per_protein`` windows per filter (so one
    repetitive protein cannot fill a logo) and only activations above zero
    count. ``labels`` (class indices into ``classes``, default the bundle's)
    adds a class association per filter. ``reference`` describes the proteins.
    """
    if top_k < 1 or max_per_protein < 1:
        raise ValueError("top_k and max_per_protein must be at least 1")
    if not records:
        raise ValueError("compute needs at least one reference protein")
    classes = list(classes) if classes is not None else bundle.classes
    label_array = None
    if labels is not None:
        label_array = np.asarray(labels, dtype=np.int64)
        if label_array.shape != (len(records),):
            raise ValueError(f"{len(label_array)} labels for {len(records)} records")
        if label_array.min() < 0 or label_array.max() >= len(classes):
            raise ValueError(f"labels must be class indices between 0 and {len(classes) - 1}")
    ensemble = bundle.model
    member = ensemble.motif_member if member is None else member
    if not 0 <= member < len(ensemble.members):
        raise ValueError(f"member must be between 0 and {len(ensemble.members) - 1}")
    model = ensemble.members[member].eval()
    config = model.config
    n_filters = config.n_filters
    widths = [config.filter_width(f) for f in range(n_filters)]
    policy = bundle.length_policy
    kept, tokens, breaks = [], [], []
    for record in records:
        seq, positions, _ = policy.crop(record.sequence)
        kept.append(seq)
        tokens.append(tokenize(seq))
        gaps = np.zeros(len(positions), dtype=np.int64)
        gaps[1:] = np.diff(positions) > 1
        breaks.append(gaps)
    maxima = np.zeros((len(records), n_filters), dtype=np.float32)
    cand_act, cand_prot, cand_pos = [], [], []  # each (n, n_filters, k)
    batches = iter_batches(tokens, bundle.device, batch_size, max_batch_residues)
    for idx, batch_tokens, batch_lengths in tqdm(batches, desc="motifs", disable=not progress, unit="batch"):
        with torch.inference_mode():
            acts, _ = model.first_layer(batch_tokens, batch_lengths)
        acts = acts.float().cpu().numpy()  # (B, F, T), zero on padding
        tok = batch_tokens.cpu().numpy()
        lens = batch_lengths.cpu().numpy()
        brk = np.zeros_like(tok)
        for b, i in enumerate(idx):
            brk[b, : lens[b]] = breaks[i]
        maxima[idx] = acts.max(axis=2)
        masked = np.full_like(acts, -np.inf)
        for width in sorted(set(widths)):
            group = np.array([f for f in range(n_filters) if widths[f] == width])
            valid = _valid_centres(tok, lens, brk, width)
            masked[:, group, :] = np.where(valid[:, None, :], acts[:, group, :], -np.inf)
        k = min(max_per_protein, acts.shape[2])
        if k == 1:
            pos = masked.argmax(axis=2)[..., None]
        else:
            pos = np.argpartition(-masked, k - 1, axis=2)[..., :k]
        cand_act.append(np.take_along_axis(masked, pos, axis=2))
        cand_pos.append(pos)
        cand_prot.append(np.broadcast_to(np.asarray(idx)[:, None, None], pos.shape))
    act = np.concatenate([a.transpose(1, 0, 2).reshape(n_filters, -1) for a in cand_act], axis=1)
    prot = np.concatenate([a.transpose(1, 0, 2).reshape(n_filters, -1) for a in cand_prot], axis=1)
    pos = np.concatenate([a.transpose(1, 0, 2).reshape(n_filters, -1) for a in cand_pos], axis=1)
    associations = _association(maxima, label_array, classes)
    motifs = []
    for f in range(n_filters):
        width, half = widths[f], widths[f] // 2
        keep = np.flatnonzero(np.isfinite(act[f]) & (act[f] > 0))
        order = keep[np.lexsort((pos[f, keep], prot[f, keep], -act[f, keep]))][:top_k]
        windows = [kept[prot[f, j]][pos[f, j] - half : pos[f, j] + half + 1] for j in order]
        frequencies = _pfm(windows, width, pseudocount)
        motif = FilterMotif(
            index=f,
            width=width,
            frequencies=frequencies,
            information_content=0.0,
            top_windows=windows,
            top_activations=[float(act[f, j]) for j in order],
            class_association=associations[f],
        )
        motif.information_content = float(motif.ic_per_position().sum())
        motifs.append(motif)
    return MotifSet(
        model_name=bundle.name,
        member=member,
        classes=classes,
        motifs=motifs,
        reference=reference,
        association_method=ASSOCIATION_METHOD if label_array is not None else "",
    )


# ---------------------------------------------------------------------- save / load
def save_motifs(motif_set: MotifSet, path: str | Path) -> Path:
    """Write ``motif_set`` as ``.npz`` of plain arrays (no pickles): numbers as arrays, text as JSON bytes."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "format_version": MOTIFS_FORMAT_VERSION,
        "model_name": motif_set.model_name,
        "member": motif_set.member,
        "classes": list(motif_set.classes),
        "reference": motif_set.reference,
        "association_method": motif_set.association_method,
        "filters": [
            {
                "index": m.index,
                "width": m.width,
                "information_content": m.information_content,
                "top_windows": list(m.top_windows),
                "top_activations": [float(a) for a in m.top_activations],
                "class_association": {k: float(v) for k, v in m.class_association.items()},
            }
            for m in motif_set.motifs
        ],
    }
    blob = np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)
    widths = np.array([m.width for m in motif_set.motifs], dtype=np.int64)
    if motif_set.motifs:
        frequencies = np.concatenate([np.asarray(m.frequencies, dtype=np.float64) for m in motif_set.motifs])
    else:
        frequencies = np.zeros((0, len(STANDARD_RESIDUES)))
    with open(path, "wb") as handle:  # a file handle keeps numpy from appending ".npz" to other names
        np.savez_compressed(handle, meta=blob, widths=widths, frequencies=frequencies)
    return path


def load_motifs(path: str | Path) -> MotifSet:
    """Read a file written by :func:`save_motifs`; :class:`MotifError` if it is missing or corrupt."""
    path = Path(path)
    if not path.is_file():
        raise MotifError(f"no motifs file at {path}; compute it with 'locviz motifs'")
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(bytes(data["meta"].astype(np.uint8)).decode("utf-8"))
            widths = data["widths"]
            frequencies = data["frequencies"]
        filters = meta["filters"]
        if len(filters) != len(widths) or int(widths.sum()) != frequencies.shape[0]:
            raise ValueError("filter table and frequency matrix disagree")
        motifs, row = [], 0
        for entry, width in zip(filters, widths.tolist(), strict=True):
            motifs.append(
                FilterMotif(
                    index=int(entry["index"]),
                    width=int(width),
                    frequencies=frequencies[row : row + width].copy(),
                    information_content=float(entry["information_content"]),
                    top_windows=list(entry["top_windows"]),
                    top_activations=[float(a) for a in entry["top_activations"]],
                    class_association={k: float(v) for k, v in entry["class_association"].items()},
                )
            )
            row += width
        return MotifSet(
            model_name=meta["model_name"],
            member=int(meta["member"]),
            classes=list(meta["classes"]),
            motifs=motifs,
            reference=meta["reference"],
            association_method=meta.get("association_method", ""),
        )
    except MotifError:
        raise
    except Exception as exc:  # zip, JSON, key and shape errors all mean the same thing to the user
        raise MotifError(f"{path} is not a readable locviz motifs file ({type(exc).__name__}: {exc})") from exc


def bundle_motifs_path(bundle: ModelBundle) -> Path:
    """Where a bundle's motifs live: the card's ``motifs_file`` (relative to the card) or ``NAME.motifs.npz``."""
    name = bundle.card.get("motifs_file")
    return bundle.card_path.parent / name if name else bundle.sibling(".motifs.npz")


def load_bundle_motifs(bundle: ModelBundle) -> MotifSet:
    """The bundle's precomputed motifs, checked against the card's ``motifs_sha256`` when it has one."""
    path = bundle_motifs_path(bundle)
    if not path.is_file():
        raise MotifError(
            f"model '{bundle.name}' has no motifs file at {path}; "
            f"compute it with 'locviz motifs --model {bundle.card_path}'"
        )
    expected = bundle.card.get("motifs_sha256")
    if expected:
        actual = sha256_of(path)
        if actual != expected:
            raise MotifError(
                f"checksum mismatch for {path}: the card says sha256 {expected[:12]}..., the file has "
                f"{actual[:12]}...; the file is corrupt or was computed for another model"
            )
    motif_set = load_motifs(path)
    if len(motif_set.motifs) != bundle.config.n_filters:
        raise MotifError(
            f"{path} has {len(motif_set.motifs)} filters but model '{bundle.name}' has {bundle.config.n_filters}"
        )
    return motif_set
