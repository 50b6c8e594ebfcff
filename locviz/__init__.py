"""locviz: where in the cell a protein goes, and which residues the model looked at.

Example::

    import locviz
    predictor = locviz.load_model("multiloc")
    parsed = locviz.parse(">my_protein\\nMALWMRLLPLLALLALWGPDPAAAFVNQHLCGSHLVEALYLVCGERGFFYTPKT")
    prediction = predictor.predict(parsed.records)[0]
    print(prediction.label, prediction.confidence)
"""

import os

# Before PyTorch loads OpenMP: waiting threads sleep instead of spinning, so a job beside another
# busy process does not starve (~10x slower otherwise; see locviz/cpu.py). An explicit setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from locviz.predict import Prediction, Predictor, load_model  # noqa: E402
from locviz.sequences import ProteinRecord, parse  # noqa: E402

__version__ = "0.1.0"

__all__ = ["Prediction", "Predictor", "ProteinRecord", "__version__", "load_model", "parse"]
