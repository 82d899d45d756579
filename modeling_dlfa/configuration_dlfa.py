"""DLFA configuration. Travels to the Hub with the weights: imports only torch, transformers and siblings."""

from transformers import AutoConfig, BertConfig, PreTrainedConfig
from transformers.configuration_utils import SubConfigSpec

FUSION_GATES = ("paper", "sigmoid")
FUSION_INITS = ("paper", "identity")
GLOBAL_NORMS = ("batch", "layer")


def backbone_num_layers(backbone_config: PreTrainedConfig) -> int:
    # DistilBERT spells it n_layers; its attribute_map exposes num_hidden_layers too.
    return int(backbone_config.num_hidden_layers)


def backbone_hidden_dropout(backbone_config: PreTrainedConfig) -> float:
    for name in ("hidden_dropout_prob", "dropout", "hidden_dropout"):
        value = getattr(backbone_config, name, None)
        if isinstance(value, (int, float)):
            return float(value)
    return 0.1


class DLFAConfig(PreTrainedConfig):
    r"""
    Configuration of a DLFA model: any Hugging Face encoder (the backbone) whose last layer is fused with one
    lower layer through an attentional information fusion (AIF) module (Chen et al., ICPR 2022, arXiv 2205.08497).

    Args:
        backbone_config (`PreTrainedConfig` or `dict`, *optional*):
            Configuration of the wrapped encoder (`BertConfig` for mBERT, `XLMRobertaConfig` for XLM-R,
            `DistilBertConfig`, `DebertaV2Config`, ...). A dict needs a `model_type`. Defaults to an mBERT-base
            shaped `BertConfig`.
        fusion_layer (`int` or `None`, *optional*):
            Which hidden state is fused with the last layer: `0` is the embedding output, `x` the output of layer
            `x` (`hidden_states[x]`), up to `N - 1` for an `N`-layer backbone. `None` builds the baseline: the plain
            last layer and no fusion module at all.
        fusion_gate (`str`, *optional*, defaults to `"paper"`):
            `"paper"`: the fusion weight is `W * sigmoid(W_global + W_local)` exactly as Eq. 1 is written
            (unbounded). `"sigmoid"`: the bounded gate `sigmoid(W_global + W_local)` of Attentional Feature Fusion.
            Checkpoints saved before this field existed are `"paper"` ones, hence this default; new models
            (`from_backbone`, run_glue_x.py) use `"sigmoid"`, which the experiment in benchmarks/RESULTS.md favours.
        fusion_init (`str`, *optional*, defaults to `"paper"`):
            `"paper"`: Eq. 2 as written; at step 0 the fused `L` is already far from the pretrained last layer.
            `"identity"`: `L = L2 + scale * (DLFA(L1, L2) - L2)` with a per-channel `scale` initialised to 0
            (LayerScale/ReZero style), so the model starts exactly at the baseline's representation and learns
            how much of the fusion to use (the gradient with respect to `scale` is non-zero at step 0).
            Checkpoints saved before this field existed are `"paper"` ones.
        aif_global_norm (`str`, *optional*, defaults to `"batch"`):
            Normalisation in the AIF's global branch, which sees one pooled vector per example: `"batch"`
            (BatchNorm over the batch, as MS-CAM and the paper) or `"layer"` (over each example's channels, so
            the branch does not depend on the batch at all: for one or a few examples per device).
        aif_reduction (`int`, *optional*, defaults to 4):
            Channel reduction ratio `r` of the AIF bottleneck (`E -> E / r -> E`).
        classifier_dropout (`float`, *optional*):
            Dropout before the classifier; defaults to the backbone's hidden dropout.
    """

    model_type = "dlfa"
    sub_configs_defaults = {"backbone_config": SubConfigSpec(config_class=AutoConfig, model_type="bert")}

    def __init__(
        self,
        backbone_config: PreTrainedConfig | dict | None = None,
        fusion_layer: int | None = None,
        fusion_gate: str = "paper",
        fusion_init: str = "paper",
        aif_global_norm: str = "batch",
        aif_reduction: int = 4,
        classifier_dropout: float | None = None,
        **kwargs,
    ):
        self.backbone_config = self._build_backbone_config(backbone_config)
        self.fusion_layer = fusion_layer
        self.fusion_gate = fusion_gate
        self.fusion_init = fusion_init
        self.aif_global_norm = aif_global_norm
        self.aif_reduction = aif_reduction
        self.classifier_dropout = classifier_dropout
        self._check_fields()
        super().__init__(**kwargs)
        if self.id2label is not None and not self.label2id:
            self.label2id = {label: index for index, label in self.id2label.items()}

    @staticmethod
    def _build_backbone_config(backbone_config):
        if backbone_config is None:
            # bert-base-multilingual-cased's shape.
            return BertConfig(vocab_size=119547)
        if isinstance(backbone_config, PreTrainedConfig):
            return backbone_config
        if isinstance(backbone_config, dict):
            if "model_type" not in backbone_config:
                raise ValueError(
                    "backbone_config is a dict without 'model_type': add one, e.g. 'bert' or 'xlm-roberta'"
                )
            backbone_config = dict(backbone_config)
            return AutoConfig.for_model(backbone_config.pop("model_type"), **backbone_config)
        raise ValueError(
            f"backbone_config must be a PreTrainedConfig, a dict or None, not {type(backbone_config).__name__}"
        )

    def _check_fields(self):
        num_layers = backbone_num_layers(self.backbone_config)
        layer = self.fusion_layer
        if layer is not None and (isinstance(layer, bool) or not isinstance(layer, int)):
            raise ValueError(
                f"fusion_layer={layer!r} must be an int in 0..{num_layers - 1} or None for the last-layer baseline"
            )
        if layer is not None and not 0 <= layer < num_layers:
            raise ValueError(
                f"fusion_layer={layer} is out of range for a {num_layers}-layer backbone: "
                f"use 0..{num_layers - 1}, or None for the last-layer baseline"
            )
        if self.fusion_gate not in FUSION_GATES:
            raise ValueError(f"fusion_gate={self.fusion_gate!r} is not supported: use one of {FUSION_GATES}")
        if self.fusion_init not in FUSION_INITS:
            raise ValueError(f"fusion_init={self.fusion_init!r} is not supported: use one of {FUSION_INITS}")
        if self.aif_global_norm not in GLOBAL_NORMS:
            raise ValueError(
                f"aif_global_norm={self.aif_global_norm!r} is not supported: use one of {GLOBAL_NORMS}"
            )
        hidden = self.backbone_config.hidden_size
        reduction = self.aif_reduction
        if isinstance(reduction, bool) or not isinstance(reduction, int) or not 1 <= reduction <= hidden:
            raise ValueError(
                f"aif_reduction={reduction!r} must be an int in 1..{hidden} (the backbone's hidden size)"
            )
        dropout = self.classifier_dropout
        if dropout is not None and not (isinstance(dropout, (int, float)) and 0.0 <= dropout < 1.0):
            raise ValueError(f"classifier_dropout={dropout!r} must be a float in [0, 1) or None")

    def get_text_config(self, decoder=None, encoder=None) -> PreTrainedConfig:
        # As for other composite configs (ColPali): the text fields (vocab_size, ...) are the backbone's, so that
        # resizing embeddings and from_pretrained's shape checks read and write the config the backbone is built from.
        return self.backbone_config.get_text_config(decoder=decoder, encoder=encoder)

    @property
    def hidden_size(self) -> int:
        return self.backbone_config.hidden_size

    @property
    def num_hidden_layers(self) -> int:
        return backbone_num_layers(self.backbone_config)

    @property
    def head_dropout(self) -> float:
        if self.classifier_dropout is not None:
            return float(self.classifier_dropout)
        return backbone_hidden_dropout(self.backbone_config)


__all__ = ["DLFAConfig"]
