"""Customer segmentation: RFM scores and named segment schemes.

docs/segmentation.md explains the scores, the tie rule and every built-in scheme.
"""

from custintel.segmentation.builtin import DEFAULT_SCHEME, SCHEMES, get_scheme
from custintel.segmentation.rfm import SCORE_COLUMNS, DegenerateDataWarning, rfm_scores
from custintel.segmentation.schemes import Rule, Scheme, Segment, assign_segments, scheme_from_dict

__all__ = [
    "DEFAULT_SCHEME",
    "SCHEMES",
    "SCORE_COLUMNS",
    "DegenerateDataWarning",
    "Rule",
    "Scheme",
    "Segment",
    "assign_segments",
    "get_scheme",
    "rfm_scores",
    "scheme_from_dict",
]
