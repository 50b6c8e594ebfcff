"""locviz: where in the cell a protein goes, and which residues the model looked at.

Example::

    import locviz
    predictor = locviz.load_model("multiloc")
    parsed = locviz.parse(">my_protein\\nMALWMRLLPLLALLALWGPDPAAAFVNQHLCGSHLVEALYLVCGERGFFYTPKT")
    print(parsed.errors)                     # rejected records, each with the reason (empty here)
    prediction = predictor.predict(parsed.records)[0]
    print(prediction.label, prediction.confidence)

Beyond the call, as the app shows it (:mod:`locviz.api`): ``locviz.find_signals(prediction)``,
``locviz.neighbours(predictor, [prediction])`` (homology evidence and the combined call),
``locviz.scan(predictor, prediction, 1, 10)``, ``locviz.mutate(predictor, prediction, "p.Leu7Pro")``,
``locviz.known_location(predictor, prediction)`` (what the shipped data says about it) and
``locviz.write_table(predictions, "calls.tsv")`` (the ``locviz predict`` table).
"""

import importlib
import importlib.util
from types import ModuleType

from locviz.api import (
    find_signals,
    known_location,
    known_protein,
    mutate,
    neighbours,
    scan,
    signal_conflicts,
    write_table,
)  # fmt: skip
from locviz.predict import Predictor, load_model
from locviz.prediction import Prediction
from locviz.regions import attended_regions, top_regions
from locviz.sequences import ProteinRecord, parse

__version__ = "0.1.0"


def __getattr__(name: str) -> ModuleType:
    """``locviz.figures``, ``locviz.motifs``, ``locviz.export`` ... after a plain ``import locviz``, as the README
    writes them: a submodule is imported when first named, so ``import locviz`` stays quick."""
    if name.isidentifier() and not name.startswith("_") and importlib.util.find_spec(f"{__name__}.{name}"):
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = [
    "Prediction", "Predictor", "ProteinRecord", "__version__", "attended_regions", "find_signals", "known_location",
    "known_protein", "load_model", "mutate", "neighbours", "parse", "scan", "signal_conflicts", "top_regions",
    "write_table",
]  # fmt: skip
