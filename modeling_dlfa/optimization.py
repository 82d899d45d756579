"""Optimiser parameter groups: a learning rate for the pretrained encoder and one for what DLFA adds to it.

The backbone's learning rate (2e-5 for mBERT) is tuned for pretrained weights; the fusion module and the
classifier start from scratch and barely move at it. With the `Trainer`:

    optimizer = torch.optim.AdamW(parameter_groups(model, learning_rate=2e-5, head_learning_rate=1e-3))
    trainer = Trainer(model=model, args=args, optimizers=(optimizer, None), ...)

(the Trainer still builds its learning-rate schedule, which scales every group alike).
"""

from __future__ import annotations

from torch import nn
from transformers import Trainer

BACKBONE_PREFIX = "dlfa.backbone."


def is_head_parameter(name: str) -> bool:
    """Fusion module, pooler and classifier: every parameter of a DLFA head model outside its encoder."""
    return not name.startswith(BACKBONE_PREFIX)


def parameter_groups(
    model: nn.Module,
    *,
    learning_rate: float,
    head_learning_rate: float | None = None,
    weight_decay: float = 0.0,
    decay_parameter_names: list[str] | None = None,
) -> list[dict]:
    """Trainable parameters in up to four groups: (backbone, head) x (weight decay, none).

    `decay_parameter_names` defaults to the Trainer's rule (no decay for biases and normalisation weights).
    """
    if head_learning_rate is None:
        head_learning_rate = learning_rate
    if decay_parameter_names is None:
        decay_parameter_names = Trainer.get_decay_parameter_names(None, model)
    decay = set(decay_parameter_names)
    groups: dict[tuple[bool, bool], dict] = {}
    for name, parameter in model.named_parameters():
        if not parameter.requires_grad:
            continue
        head, decayed = is_head_parameter(name), name in decay
        group = groups.setdefault(
            (head, decayed),
            {
                "params": [],
                "lr": head_learning_rate if head else learning_rate,
                "weight_decay": weight_decay if decayed else 0.0,
            },
        )
        group["params"].append(parameter)
    return list(groups.values())
