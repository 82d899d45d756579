"""DLFA models: a Hugging Face encoder whose last layer is fused with one lower layer (arXiv 2205.08497).

This file travels to the Hub with the weights (`trust_remote_code=True`): it imports only torch, transformers
and its sibling `configuration_dlfa.py`, and does no file or network I/O of its own.
"""

import inspect

import torch
from torch import nn
from transformers import AutoConfig, AutoModel, PreTrainedModel
from transformers import initialization as init
from transformers.modeling_outputs import BaseModelOutput, SequenceClassifierOutput, TokenClassifierOutput
from transformers.models.auto.modeling_auto import MODEL_MAPPING
from transformers.utils import can_return_tuple

from .configuration_dlfa import DLFAConfig

_HUB_KWARGS = ("revision", "cache_dir", "token", "local_files_only", "subfolder", "force_download", "proxies")


def _sum_across_processes(tensor: torch.Tensor) -> torch.Tensor:
    """Sum over data-parallel processes, differentiably (the SyncBatchNorm semantics)."""
    if not (torch.distributed.is_available() and torch.distributed.is_initialized()):
        return tensor
    import torch.distributed.nn.functional as distributed_functional

    return distributed_functional.all_reduce(tensor)


class DLFAMaskedBatchNorm1d(nn.Module):
    """BatchNorm over channels of a `B x C x T` input whose statistics count real tokens only (`nn.BatchNorm1d`
    would count padding, so an output would depend on its neighbours' lengths), summed across processes under
    torch.distributed as `nn.SyncBatchNorm` does."""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1):
        super().__init__()
        self.eps = eps
        self.momentum = momentum
        self.weight = nn.Parameter(torch.ones(num_features))
        self.bias = nn.Parameter(torch.zeros(num_features))
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_var", torch.ones(num_features))
        self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long))

    def batch_statistics(self, hidden: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Mean and biased variance per channel over the unmasked positions, and their count."""
        count = _sum_across_processes(mask.sum()).clamp(min=1)
        mean = _sum_across_processes((hidden * mask).sum(dim=(0, 2))) / count
        centered = (hidden - mean[None, :, None]) * mask
        variance = _sum_across_processes((centered * centered).sum(dim=(0, 2))) / count
        return mean, variance, count

    def forward(self, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        if self.training:
            mean, variance, count = self.batch_statistics(hidden, mask)
            # One value per channel (the global branch at one example per device, or a last batch of one) has
            # variance 0: normalising by it erases the input and decays the running variance towards 0. Such a
            # step normalises with the running statistics and leaves them as they were (no host sync needed).
            enough = count > 1
            with torch.no_grad():
                unbiased = variance * count / (count - 1).clamp(min=1)
                for running, batch in ((self.running_mean, mean), (self.running_var, unbiased)):
                    running.copy_(torch.where(enough, running.lerp(batch.detach(), self.momentum), running))
                self.num_batches_tracked.add_(enough.long())
            mean = torch.where(enough, mean, self.running_mean)
            variance = torch.where(enough, variance, self.running_var)
        else:
            mean, variance = self.running_mean, self.running_var
        normalized = (hidden - mean[None, :, None]) * torch.rsqrt(variance[None, :, None] + self.eps)
        return normalized * self.weight[None, :, None] + self.bias[None, :, None]


class DLFAChannelNorm(nn.GroupNorm):
    """Normalisation over each example's channels (one group): independent of the batch. It sees only the global
    branch's pooled `B x C x 1` input, where there is no padding to mask."""

    def __init__(self, num_features: int, eps: float = 1e-5):
        super().__init__(1, num_features, eps=eps)

    def forward(self, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return super().forward(hidden)


class DLFAContextBranch(nn.Module):
    """Conv1d+BN -> ReLU -> Conv1d+BN: pointwise (kernel 1) over the hidden channels, `E -> E/r -> E`."""

    def __init__(
        self, hidden_size: int, reduced_size: int, norm_class: type[nn.Module] = DLFAMaskedBatchNorm1d
    ):
        super().__init__()
        self.reduce = nn.Conv1d(hidden_size, reduced_size, kernel_size=1)
        self.reduce_norm = norm_class(reduced_size)
        self.activation = nn.ReLU()
        self.expand = nn.Conv1d(reduced_size, hidden_size, kernel_size=1)
        self.expand_norm = norm_class(hidden_size)

    def forward(self, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        hidden = self.activation(self.reduce_norm(self.reduce(hidden), mask))
        return self.expand_norm(self.expand(hidden), mask)


class DLFAAttentionalInformationFusion(nn.Module):
    """AIF, Eq. 1: `AIF(W) = W * sigmoid(W_global (+) W_local)` (or the bounded `sigmoid(...)` alone)."""

    def __init__(self, config: DLFAConfig):
        super().__init__()
        reduced_size = config.hidden_size // config.aif_reduction
        global_norm = DLFAChannelNorm if config.aif_global_norm == "layer" else DLFAMaskedBatchNorm1d
        self.global_context = DLFAContextBranch(config.hidden_size, reduced_size, global_norm)
        self.local_context = DLFAContextBranch(config.hidden_size, reduced_size)
        self.fusion_gate = config.fusion_gate

    def forward(self, W: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        # Conv1d works channels-first: B x T x E -> B x E x T.
        channels_first = W.transpose(1, 2)
        token_mask = attention_mask[:, None, :].to(W.dtype)
        # Global branch: average over the real tokens only -> B x E x 1.
        pooled = (channels_first * token_mask).sum(dim=2, keepdim=True) / token_mask.sum(dim=2, keepdim=True)
        W_global = self.global_context(pooled, torch.ones_like(pooled[:, :1]))
        W_local = self.local_context(channels_first, token_mask)
        # (+) broadcasts the global context over the T tokens.
        weight = torch.sigmoid(W_global + W_local).transpose(1, 2)
        return W * weight if self.fusion_gate == "paper" else weight


class DLFAFusion(nn.Module):
    """DLFA, Eq. 2: `L = L1 * AIF((L1 + L2) / 2) + L2 * (1 - AIF((L1 + L2) / 2))`.

    With `fusion_init="identity"` the result is `L2 + scale * (L - L2)`, `scale` (one per channel) starting at 0:
    the head first sees exactly the pretrained last layer and training decides how much of the fusion to use.
    """

    def __init__(self, config: DLFAConfig):
        super().__init__()
        self.aif = DLFAAttentionalInformationFusion(config)
        self.scale = (
            nn.Parameter(torch.zeros(config.hidden_size)) if config.fusion_init == "identity" else None
        )

    def forward(self, L1: torch.Tensor, L2: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        fusion_weight = self.aif((L1 + L2) / 2, attention_mask)
        L = L1 * fusion_weight + L2 * (1 - fusion_weight)
        return L if self.scale is None else L2 + self.scale * (L - L2)


class DLFAPooler(nn.Module):
    """Dense + tanh on the first token, as BERT's pooler (so the baseline matches BertForSequenceClassification)."""

    def __init__(self, config: DLFAConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.activation = nn.Tanh()

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.activation(self.dense(hidden_states[:, 0]))


def selected_hidden_states(output_hidden_states, num_hidden_states: int) -> set[int] | None:
    """The hidden state indices `output_hidden_states` selects, negative ones counted from the end, or `None`
    when it is a flag. As transformers' `capture_outputs`: an int or a list of ints selects, and an index out of
    range selects nothing."""
    if output_hidden_states is None or isinstance(output_hidden_states, bool):
        return None
    indices = [output_hidden_states] if isinstance(output_hidden_states, int) else output_hidden_states
    return {i % num_hidden_states for i in indices if -num_hidden_states <= i < num_hidden_states}


def build_backbone(backbone_config) -> PreTrainedModel:
    """The bare encoder for `backbone_config`, without its own pooler (DLFA pools the fused layer instead)."""
    if type(backbone_config) not in MODEL_MAPPING:
        raise ValueError(f"backbone model_type={backbone_config.model_type!r} has no AutoModel class")
    backbone_class = MODEL_MAPPING[type(backbone_config)]
    takes_pooler_flag = "add_pooling_layer" in inspect.signature(backbone_class.__init__).parameters
    return AutoModel.from_config(
        backbone_config, **({"add_pooling_layer": False} if takes_pooler_flag else {})
    )


class DLFAPreTrainedModel(PreTrainedModel):
    config_class = DLFAConfig
    config: DLFAConfig
    base_model_prefix = "dlfa"
    main_input_name = "input_ids"
    supports_gradient_checkpointing = True
    # Attention is the backbone's own; these let `attn_implementation=...` reach it.
    _supports_sdpa = True
    _supports_flash_attn = True
    _supports_attention_backend = True
    # The Trainer then scales the loss for gradient accumulation itself (the token head counts items instead).
    accepts_loss_kwargs = False

    def _init_weights(self, module):
        std = getattr(self.config.backbone_config, "initializer_range", 0.02)
        if isinstance(module, (nn.Linear, nn.Conv1d)):
            # Only the fusion module has convolutions. They draw from a generator of their own, so that the
            # classifier and pooler of a DLFA model get the same initial weights as the baseline's for one seed.
            generator = self._fusion_generator() if isinstance(module, nn.Conv1d) else None
            init.normal_(module.weight, mean=0.0, std=std, generator=generator)
            if module.bias is not None:
                init.zeros_(module.bias)
        elif isinstance(module, DLFAFusion) and module.scale is not None:
            init.zeros_(module.scale)
        elif isinstance(module, (DLFAChannelNorm, DLFAMaskedBatchNorm1d)):
            init.ones_(module.weight)
            init.zeros_(module.bias)
            if isinstance(module, DLFAMaskedBatchNorm1d):
                init.zeros_(module.running_mean)
                init.ones_(module.running_var)
                init.zeros_(module.num_batches_tracked)

    def _fusion_generator(self) -> torch.Generator:
        # Seeded from the global seed (set_seed) without drawing from the global generator.
        if getattr(self, "_fusion_init_generator", None) is None:
            self._fusion_init_generator = torch.Generator().manual_seed(torch.initial_seed() + 1)
        return self._fusion_init_generator

    @classmethod
    def from_pretrained(cls, *args, use_safetensors: bool | None = True, **kwargs):
        """As `PreTrainedModel.from_pretrained`, but refuses pickle weights unless `use_safetensors=False`."""
        try:
            return super().from_pretrained(*args, use_safetensors=use_safetensors, **kwargs)
        except OSError as error:
            if use_safetensors and "safetensors" in str(error):
                raise OSError(
                    f"{error}\nDLFA loads safetensors weights only. If you trust this checkpoint's pickle "
                    "(pytorch_model.bin) weights, opt in with use_safetensors=False."
                ) from error
            raise

    @classmethod
    def from_backbone(
        cls,
        name_or_path: str,
        *,
        fusion_layer: int | None,
        fusion_gate: str = "sigmoid",
        fusion_init: str = "paper",
        aif_global_norm: str = "layer",
        aif_reduction: int = 4,
        classifier_dropout: float | None = None,
        num_labels: int | None = None,
        id2label: dict[int, str] | None = None,
        label2id: dict[str, int] | None = None,
        backbone_config=None,
        **kwargs,
    ):
        """Build a DLFA model from a plain encoder checkpoint (mBERT, XLM-R, DistilBERT, DeBERTa, ...).

        Every backbone weight is loaded, and the pooler where it has one; only the fusion module and head are
        new. `backbone_config` replaces the checkpoint's config. New models normalise the AIF's global branch
        per example (`aif_global_norm="layer"`: batch size does not change what they learn) and use AFF's
        bounded gate (`fusion_gate="sigmoid"`: ahead of the paper's in the CPU experiment); `DLFAConfig`'s
        defaults stay the paper's `"batch"` and `"paper"` (older checkpoints). Other keywords go to
        `from_pretrained`."""
        hub_kwargs = {key: kwargs[key] for key in _HUB_KWARGS if key in kwargs}
        backbone_config = backbone_config or AutoConfig.from_pretrained(name_or_path, **hub_kwargs)
        if isinstance(backbone_config, DLFAConfig):
            raise ValueError(f"{name_or_path} is already a DLFA checkpoint: load it with from_pretrained")
        label_kwargs = {"num_labels": num_labels, "id2label": id2label, "label2id": label2id}
        config = DLFAConfig(
            backbone_config=backbone_config,
            fusion_layer=fusion_layer,
            fusion_gate=fusion_gate,
            fusion_init=fusion_init,
            aif_global_norm=aif_global_norm,
            aif_reduction=aif_reduction,
            classifier_dropout=classifier_dropout,
            **{key: value for key, value in label_kwargs.items() if value is not None},
        )
        loaded = cls.from_pretrained(
            name_or_path, config=config, key_mapping=backbone_key_mapping(backbone_config), **kwargs
        )
        model = loaded[0] if isinstance(loaded, tuple) else loaded
        # transformers remembers a load-time key_mapping and reverses it on save; the result is a DLFA
        # checkpoint now and must be saved with DLFA's own keys.
        model._weight_conversions = []
        return loaded


def backbone_key_mapping(backbone_config) -> dict[str, str]:
    """Regexes renaming a plain encoder checkpoint's keys to DLFA's: head-model checkpoints (`bert.*`, the
    backbone class's `base_model_prefix`) and bare ones (`embeddings.*`, ...). The pooler goes to DLFA's own
    pooler; renamings chain, so the pooler patterns come first."""
    prefix = MODEL_MAPPING[type(backbone_config)].base_model_prefix
    with torch.device("meta"):
        children = [name for name, _ in build_backbone(backbone_config).named_children()]
    mapping = {rf"^{prefix}\.pooler\.": "pooler.", rf"^{prefix}\.": "dlfa.backbone."}
    mapping.update({rf"^{child}\.": f"dlfa.backbone.{child}." for child in children})
    return mapping


class DLFAModel(DLFAPreTrainedModel):
    """The backbone plus the fusion module; `last_hidden_state` is the fused `L` (the plain last layer when
    `config.fusion_layer is None`). `hidden_states` and `attentions` are the backbone's."""

    def __init__(self, config: DLFAConfig):
        super().__init__(config)
        self.backbone = build_backbone(config.backbone_config)
        self.fusion = None
        if config.fusion_layer is not None:
            # Built on a forked generator: creating it must not shift the random draws of the head that follows.
            with torch.random.fork_rng(devices=[]):
                self.fusion = DLFAFusion(config)
        self._backbone_inputs = set(inspect.signature(type(self.backbone).forward).parameters)
        self.post_init()

    def get_input_embeddings(self):
        return self.backbone.get_input_embeddings()

    def set_input_embeddings(self, value):
        self.backbone.set_input_embeddings(value)

    @can_return_tuple
    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | int | list[int] | None = None,
        **kwargs,
    ) -> BaseModelOutput:
        inputs = dict(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
        inputs.update(position_ids=position_ids, inputs_embeds=inputs_embeds)
        for name, value in inputs.items():
            if value is not None and name not in self._backbone_inputs:
                raise ValueError(f"{type(self.backbone).__name__} does not take {name}: leave it out")
        inputs = {name: value for name, value in inputs.items() if value is not None}
        # The backbone reads its own sub-config; these flags follow the DLFA config, as for any HF model.
        if output_hidden_states is None:
            output_hidden_states = self.config.output_hidden_states
        if output_attentions is None:
            output_attentions = self.config.output_attentions
        kwargs["output_attentions"] = output_attentions
        selected = selected_hidden_states(output_hidden_states, self.config.num_hidden_layers + 1)
        if selected is None and (output_hidden_states or self.fusion is None):
            requested_hidden_states = bool(output_hidden_states)
        else:
            # Only the layers asked for and the fused one: keeping every layer alive would double inference memory.
            requested = set(selected or ())
            if self.fusion is not None:
                requested.add(self.config.fusion_layer)
            requested_hidden_states = sorted(requested)
        outputs = self.backbone(
            **inputs, output_hidden_states=requested_hidden_states, return_dict=True, **kwargs
        )
        L = outputs.last_hidden_state
        if self.fusion is not None:
            if attention_mask is None:
                attention_mask = torch.ones(L.shape[:2], dtype=L.dtype, device=L.device)
            L = self.fusion(outputs.hidden_states[self.config.fusion_layer], L, attention_mask)
        hidden_states = outputs.hidden_states if output_hidden_states else None
        if hidden_states is not None and selected is not None:
            # The fused layer was computed for the fusion, not asked for: None, as for any layer not selected.
            hidden_states = tuple(state if i in selected else None for i, state in enumerate(hidden_states))
        return BaseModelOutput(
            last_hidden_state=L, hidden_states=hidden_states, attentions=getattr(outputs, "attentions", None)
        )


class DLFAHeadModel(DLFAPreTrainedModel):
    """What the task heads share: the DLFA encoder, then dropout and a linear classifier on what the subclass's
    `classifier_input(L)` reads from the fused `L`, its `compute_loss` and its `output_class`."""

    def __init__(self, config: DLFAConfig):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.dlfa = DLFAModel(config)
        self.dropout = nn.Dropout(config.head_dropout)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)

    @can_return_tuple
    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | int | list[int] | None = None,
        **kwargs,
    ):
        # The Trainer's count of labelled items over all accumulated micro-batches (see accepts_loss_kwargs).
        num_items_in_batch = kwargs.pop("num_items_in_batch", None)
        outputs = self.dlfa(
            input_ids,
            attention_mask=attention_mask,
            token_type_ids=token_type_ids,
            position_ids=position_ids,
            inputs_embeds=inputs_embeds,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
            return_dict=True,
            **kwargs,
        )
        logits = self.classifier(self.dropout(self.classifier_input(outputs.last_hidden_state)))
        loss = self.compute_loss(logits, labels, num_items_in_batch) if labels is not None else None
        return self.output_class(
            loss=loss, logits=logits, hidden_states=outputs.hidden_states, attentions=outputs.attentions
        )


class DLFAForSequenceClassification(DLFAHeadModel):
    """First token of `L` -> dense+tanh pooler -> dropout -> linear (single-label, multi-label or regression)."""

    output_class = SequenceClassifierOutput

    def __init__(self, config: DLFAConfig):
        super().__init__(config)
        self.pooler = DLFAPooler(config)
        self.post_init()

    def classifier_input(self, L: torch.Tensor) -> torch.Tensor:
        return self.pooler(L)

    def compute_loss(self, logits: torch.Tensor, labels: torch.Tensor, num_items_in_batch=None):
        # One item per example: the per-micro-batch mean already weighs examples equally under accumulation.
        # The problem type (single-label, multi-label, regression) follows config.problem_type and the labels.
        return self.loss_function(labels, logits, self.config)


class DLFAForTokenClassification(DLFAHeadModel):
    """Dropout -> linear on every token of `L`; label -100 marks tokens left out of the loss."""

    output_class = TokenClassifierOutput
    # Sentences hold different numbers of labelled words: averaging per micro-batch would weigh a word of a
    # short sentence more with gradient accumulation than in one batch. With the Trainer's count of labelled
    # words over the accumulated micro-batches, batch 1 x 8 accumulation optimises what batch 8 does.
    accepts_loss_kwargs = True

    def __init__(self, config: DLFAConfig):
        super().__init__(config)
        self.post_init()

    def classifier_input(self, L: torch.Tensor) -> torch.Tensor:
        return L

    def compute_loss(self, logits: torch.Tensor, labels: torch.Tensor, num_items_in_batch=None):
        return self.loss_function(logits, labels, self.config, num_items_in_batch=num_items_in_batch)


__all__ = [
    "DLFAPreTrainedModel",
    "DLFAModel",
    "DLFAForSequenceClassification",
    "DLFAForTokenClassification",
]
