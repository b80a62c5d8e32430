"""Normalizing flows: invertible layers and the learned noise models built from them."""

from .layers import (
    ActNorm,
    AffineCoupling,
    AffineInjector,
    FlowCondition,
    FlowLayer,
    FlowStep,
    Gain,
    InvConv1x1,
    SignalDependent,
    Squeeze,
)
from .official import FrozenBatchNorm2d, OfficialConv1x1, OfficialCoupling, OfficialSignalDependent, ScalarGain

__all__ = [
    "FlowCondition",
    "FlowLayer",
    "ActNorm",
    "InvConv1x1",
    "AffineCoupling",
    "AffineInjector",
    "Squeeze",
    "SignalDependent",
    "Gain",
    "FlowStep",
    "OfficialSignalDependent",
    "ScalarGain",
    "OfficialConv1x1",
    "OfficialCoupling",
    "FrozenBatchNorm2d",
]
