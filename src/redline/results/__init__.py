"""The ground floor: what every layer of redline shares and that knows nothing above it.

The versioned result schema (:class:`ScanResult` and its sections: clean, eps, checks,
minimal perturbations, backdoor, certified, tabular, natural shift, policy verdict),
:class:`Accuracy` with its Wilson interval, the gap between slices, reading results back
with a schema-version check, and eps as people write it. The numeric metrics (accuracy,
ECE, reliability) are in :mod:`redline.results.metrics` (numpy). Producers (evaluation,
defenses, ...) build these types, readers (policy, registry, reports) read them; this
package imports none of them, only pydantic and :mod:`redline.errors`. See
docs/architecture.md for adding a section.
"""

from redline.results._backdoor import (
    BackdoorSection,
    BlindSpot,
    DataDetection,
    DetectorClass,
    Histogram,
    ModelDetection,
    PoisonInfo,
    RepairSummary,
    ReversedTrigger,
    StripSummary,
)
from redline.results._certified import CertifiedPoint, CertifiedSection
from redline.results._common import Accuracy, Interval, wilson
from redline.results._eps import parse_eps
from redline.results._scan import (
    CHECK_IDS,
    SCHEMA_VERSION,
    AttackConfig,
    AttackStats,
    CheckResult,
    CheckStatus,
    CleanResult,
    Cost,
    CurvePoint,
    DataInfo,
    Environment,
    EpsResult,
    Example,
    GroupAccuracy,
    MinimalPerturbation,
    PolicyFinding,
    PolicyVerdict,
    Reliability,
    Samples,
    ScanConfig,
    ScanResult,
    TargetInfo,
)
from redline.results._schema import load_result, result_from_dict
from redline.results._shift import (
    FeatureHarm,
    NaturalShiftSection,
    ShiftLevel,
    ShiftRow,
    SliceShift,
)
from redline.results._slices import SliceGap, slice_gap
from redline.results._tabular import (
    FeatureChange,
    SchemaSummary,
    TabularExample,
    TabularSection,
    UnconstrainedPoint,
)

__all__ = [
    "CHECK_IDS",
    "SCHEMA_VERSION",
    "Accuracy",
    "AttackConfig",
    "AttackStats",
    "BackdoorSection",
    "BlindSpot",
    "CertifiedPoint",
    "CertifiedSection",
    "CheckResult",
    "CheckStatus",
    "CleanResult",
    "Cost",
    "CurvePoint",
    "DataDetection",
    "DataInfo",
    "DetectorClass",
    "Environment",
    "EpsResult",
    "Example",
    "FeatureChange",
    "FeatureHarm",
    "GroupAccuracy",
    "Histogram",
    "Interval",
    "MinimalPerturbation",
    "ModelDetection",
    "NaturalShiftSection",
    "PoisonInfo",
    "PolicyFinding",
    "PolicyVerdict",
    "Reliability",
    "RepairSummary",
    "ReversedTrigger",
    "Samples",
    "ScanConfig",
    "ScanResult",
    "SchemaSummary",
    "ShiftLevel",
    "ShiftRow",
    "SliceGap",
    "SliceShift",
    "StripSummary",
    "TabularExample",
    "TabularSection",
    "TargetInfo",
    "UnconstrainedPoint",
    "load_result",
    "parse_eps",
    "result_from_dict",
    "slice_gap",
    "wilson",
]
