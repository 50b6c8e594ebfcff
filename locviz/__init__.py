"""locviz: where in the cell a protein goes, and which residues the model looked at.

Example::

    import locviz
    predictor = locviz.load_model("multiloc")
    parsed = locviz.parse(">my_protein\\nMALWMRLLPLLALLALWGPDPAAAFVNQHLCGSHLVEALYLVCGERGFFYTPKT")
    prediction = predictor.predict(parsed.records)[0]
    print(prediction.label, prediction.confidence)
"""

from locviz.predict import Predictor, load_model
from locviz.prediction import Prediction
from locviz.sequences import ProteinRecord, parse

__version__ = "0.1.0"

__all__ = ["Prediction", "Predictor", "ProteinRecord", "__version__", "load_model", "parse"]
