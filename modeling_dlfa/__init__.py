"""DLFA: double-layer feature aggregation heads for zero-shot cross-lingual transfer.

Importing the package registers the DLFA classes with the Auto classes, for local use without remote code,
and marks them for `save_pretrained` to write `auto_map` and copy the two model files beside the weights.
"""

from transformers import (
    AutoConfig,
    AutoModel,
    AutoModelForSequenceClassification,
    AutoModelForTokenClassification,
)

from .configuration_dlfa import DLFAConfig
from .modeling_dlfa import (
    DLFAForSequenceClassification,
    DLFAForTokenClassification,
    DLFAModel,
    DLFAPreTrainedModel,
)

__version__ = "0.1.0"

DLFAConfig.register_for_auto_class()
DLFAModel.register_for_auto_class("AutoModel")
DLFAForSequenceClassification.register_for_auto_class("AutoModelForSequenceClassification")
DLFAForTokenClassification.register_for_auto_class("AutoModelForTokenClassification")

AutoConfig.register(DLFAConfig.model_type, DLFAConfig, exist_ok=True)
AutoModel.register(DLFAConfig, DLFAModel, exist_ok=True)
AutoModelForSequenceClassification.register(DLFAConfig, DLFAForSequenceClassification, exist_ok=True)
AutoModelForTokenClassification.register(DLFAConfig, DLFAForTokenClassification, exist_ok=True)

__all__ = [
    "DLFAConfig",
    "DLFAPreTrainedModel",
    "DLFAModel",
    "DLFAForSequenceClassification",
    "DLFAForTokenClassification",
]
