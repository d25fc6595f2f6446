"""Customer segmentation: RFM scores and named segment schemes.

docs/segmentation.md explains the scores, the tie rule and every built-in scheme.
"""

from custintel.segmentation.builtin import DEFAULT_SCHEME, SCHEMES, get_scheme
from custintel.segmentation.clustering import CustomerClusterer
from custintel.segmentation.preprocess import FeaturePreprocessor, FeatureValueWarning
from custintel.segmentation.profiles import ClusterProfiles, cluster_names, profile_clusters
from custintel.segmentation.projection import project
from custintel.segmentation.rfm import SCORE_COLUMNS, DegenerateDataWarning, rfm_scores
from custintel.segmentation.schemes import Rule, Scheme, Segment, assign_segments, scheme_from_dict
from custintel.segmentation.stability import ClusterMatch, change_report, match_clusters

__all__ = [
    "DEFAULT_SCHEME",
    "SCHEMES",
    "SCORE_COLUMNS",
    "ClusterMatch",
    "ClusterProfiles",
    "CustomerClusterer",
    "DegenerateDataWarning",
    "FeaturePreprocessor",
    "FeatureValueWarning",
    "Rule",
    "Scheme",
    "Segment",
    "assign_segments",
    "change_report",
    "cluster_names",
    "get_scheme",
    "match_clusters",
    "profile_clusters",
    "project",
    "rfm_scores",
    "scheme_from_dict",
]
