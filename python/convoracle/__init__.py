"""convoracle from Python: read case folders with every resolution done, write candidates.

    import convoracle as co
    for case in co.cases("suite/"):          # written by `convoracle export suite/`
        case.pads, case.torch_padding, case.onnx_attributes(), case.features
    co.run(compute)                          # a peer script: CASES_DIR CANDIDATES_DIR

Pure Python and NumPy. The case format is docs/case-format.md; `convoracle
verify-all CASES_DIR CANDIDATES_DIR --missing unsupported` judges the candidates.
"""

from .case import FEATURES, Case, CaseError, load_case, resolve_padding
from .suite import Candidates, Unsupported, cases, run

__all__ = ["FEATURES", "Case", "CaseError", "load_case", "resolve_padding", "Candidates",
           "Unsupported", "cases", "run"]
