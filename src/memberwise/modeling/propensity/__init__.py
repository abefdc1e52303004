"""Repurchase propensity: tournament candidates, ranking-preserving calibration, reasons, the served model."""

from memberwise.modeling.propensity.calibration import Calibrator
from memberwise.modeling.propensity.candidates import (
    BGNBD_FEATURES,
    NOT_FEATURES,
    SIMPLICITY,
    BGNBDScorer,
    Blend,
    LightGBMScorer,
    RFMLogistic,
)
from memberwise.modeling.propensity.model import PropensityModel, PropensityPyfunc, model_input
from memberwise.modeling.propensity.reasons import describe

__all__ = [
    "BGNBD_FEATURES",
    "NOT_FEATURES",
    "SIMPLICITY",
    "BGNBDScorer",
    "Blend",
    "Calibrator",
    "LightGBMScorer",
    "PropensityModel",
    "PropensityPyfunc",
    "RFMLogistic",
    "describe",
    "model_input",
]
