"""DLFA's masked BatchNorm under DistributedDataParallel: statistics summed over the processes (SyncBatchNorm
semantics), so two ranks with different, differently padded batches normalise exactly as one process that sees
both batches at once, and DDP's averaged gradients equal that process's gradients."""

import os
import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch.nn.parallel import DistributedDataParallel

from modeling_dlfa import DLFAConfig, DLFAForSequenceClassification
from modeling_dlfa.modeling_dlfa import DLFAMaskedBatchNorm1d

from .conftest import random_batch, tiny_backbone_config

WORLD_SIZE = 2
BATCH_SIZE = 3  # per rank; equal sizes make DDP's gradient average the gradient of the global mean loss

pytestmark = pytest.mark.skipif(
    not (dist.is_available() and dist.is_gloo_available()), reason="needs torch.distributed with gloo"
)


@pytest.fixture(autouse=True)
def one_thread():
    # Tiny models: a second intra-op thread buys nothing and spin-waits badly when other jobs share the cores.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def build_model() -> DLFAForSequenceClassification:
    torch.manual_seed(0)
    # initializer_range 0.2 rather than 0.02: larger activations, so that one rank's own statistics differ from
    # the global ones by far more (>1e-3) than the 1e-5 the synchronisation tests allow.
    backbone = tiny_backbone_config(num_layers=2, dropout=0.0, initializer_range=0.2)
    return DLFAForSequenceClassification(
        DLFAConfig(backbone_config=backbone, fusion_layer=1, num_labels=3, classifier_dropout=0.0)
    )


def rank_batches():
    """Each rank's (input_ids, attention_mask, labels): different lengths and different padding."""
    batches = []
    for rank, (length, pad_rows) in enumerate([(12, {0: 5, 2: 9}), (7, {1: 3})]):
        input_ids, attention_mask = random_batch(BATCH_SIZE, length, pad_rows=pad_rows, seed=10 + rank)
        labels = torch.tensor([0, 1, 2]) if rank == 0 else torch.tensor([2, 2, 1])
        batches.append((input_ids, attention_mask, labels))
    return batches


def concatenated(batches):
    """All ranks' examples in one batch, right-padded (id 0, mask 0) to the longest."""
    length = max(input_ids.shape[1] for input_ids, _, _ in batches)
    ids, masks, labels = [], [], []
    for input_ids, attention_mask, batch_labels in batches:
        pad = length - input_ids.shape[1]
        ids.append(torch.nn.functional.pad(input_ids, (0, pad)))
        masks.append(torch.nn.functional.pad(attention_mask, (0, pad)))
        labels.append(batch_labels)
    return torch.cat(ids), torch.cat(masks), torch.cat(labels)


def batch_norm_statistics(model):
    return {
        f"{name}.{buffer}": getattr(module, buffer).detach().clone()
        for name, module in model.named_modules()
        if isinstance(module, DLFAMaskedBatchNorm1d)
        for buffer in ("running_mean", "running_var", "num_batches_tracked")
    }


def train_step(model, input_ids, attention_mask, labels):
    """One forward/backward in train mode; returns the BatchNorm statistics and the gradients after it."""
    model.train()
    model(input_ids=input_ids, attention_mask=attention_mask, labels=labels).loss.backward()
    module = model.module if isinstance(model, DistributedDataParallel) else model
    gradients = {name: parameter.grad.detach().clone() for name, parameter in module.named_parameters()}
    return batch_norm_statistics(module), gradients


def ddp_worker(rank, port, initial_state, batches, results_dir):
    """One DDP rank (module level so that torch.multiprocessing.spawn can pickle it)."""
    torch.set_num_threads(1)
    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(port)
    dist.init_process_group("gloo", rank=rank, world_size=WORLD_SIZE)
    try:
        model = build_model()
        model.load_state_dict(initial_state)
        statistics, gradients = train_step(DistributedDataParallel(model), *batches[rank])
        torch.save(
            {"statistics": statistics, "gradients": gradients, "world_size": dist.get_world_size()},
            os.path.join(results_dir, f"rank{rank}.pt"),
        )
    finally:
        dist.destroy_process_group()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def ddp_results(tmp_path_factory):
    results_dir = tmp_path_factory.mktemp("ddp")
    initial_state = build_model().state_dict()
    batches = rank_batches()
    mp.spawn(
        ddp_worker,
        args=(free_port(), initial_state, batches, str(results_dir)),
        nprocs=WORLD_SIZE,
        join=True,
    )
    ranks = [torch.load(results_dir / f"rank{rank}.pt") for rank in range(WORLD_SIZE)]
    assert all(result["world_size"] == WORLD_SIZE for result in ranks)
    return ranks


@pytest.fixture(scope="module")
def single_process():
    """The same step in one process on the concatenation of both ranks' batches."""
    assert not dist.is_initialized()
    return train_step(build_model(), *concatenated(rank_batches()))


def test_batches_really_differ():
    (ids0, mask0, _), (ids1, mask1, _) = rank_batches()
    assert ids0.shape != ids1.shape
    assert mask0.sum(1).tolist() != mask1.sum(1).tolist()
    assert 0 in mask0 and 0 in mask1


def test_padding_to_a_common_length_does_not_change_the_single_process_step():
    batches = rank_batches()
    reference_statistics, reference_gradients = train_step(build_model(), *concatenated(batches))
    input_ids, attention_mask, labels = concatenated(batches)
    padded = (
        torch.nn.functional.pad(input_ids, (0, 5)),
        torch.nn.functional.pad(attention_mask, (0, 5)),
        labels,
    )
    statistics, gradients = train_step(build_model(), *padded)
    for name, value in reference_statistics.items():
        torch.testing.assert_close(statistics[name], value, atol=1e-6, rtol=0, msg=name)
    for name, value in reference_gradients.items():
        torch.testing.assert_close(gradients[name], value, atol=1e-6, rtol=0, msg=name)


def test_batch_norm_statistics_are_synchronised(ddp_results, single_process):
    expected, _ = single_process
    assert len(expected) == 12  # 4 BatchNorm layers x 3 buffers
    for rank, result in enumerate(ddp_results):
        assert set(result["statistics"]) == set(expected)
        for name, value in expected.items():
            torch.testing.assert_close(
                result["statistics"][name], value, atol=1e-5, rtol=0, msg=f"rank {rank}: {name}"
            )


def test_ddp_averaged_gradients_equal_the_single_process_gradients(ddp_results, single_process):
    _, expected = single_process
    for rank, result in enumerate(ddp_results):
        assert set(result["gradients"]) == set(expected)
        for name, value in expected.items():
            torch.testing.assert_close(
                result["gradients"][name], value, atol=1e-5, rtol=0, msg=f"rank {rank}: {name}"
            )
    # The fusion module's gradients go through the synchronised statistics: they must be non-trivial.
    fusion = [name for name in expected if ".fusion." in name]
    assert fusion and all(expected[name].abs().sum() > 0 for name in fusion)


def test_negative_control_local_statistics_differ_from_the_synchronised_ones(ddp_results, single_process):
    """Without torch.distributed a rank would normalise with its own batch only: those statistics differ from the
    global ones, so the two tests above can tell synchronised from local statistics."""
    assert not dist.is_initialized()
    local_statistics, local_gradients = train_step(build_model(), *rank_batches()[0])
    synchronised = ddp_results[0]["statistics"]
    expected_statistics, expected_gradients = single_process
    for buffer in ("running_mean", "running_var"):
        names = [name for name in synchronised if name.endswith(buffer)]
        assert names
        for name in names:
            # A hundred times the tolerance the synchronisation test allows.
            difference = (local_statistics[name] - synchronised[name]).abs().max().item()
            assert difference > 1e-3, (name, difference)
            assert not torch.allclose(local_statistics[name], expected_statistics[name], atol=1e-5, rtol=0)
    assert any(
        not torch.allclose(local_gradients[name], expected_gradients[name], atol=1e-5, rtol=0)
        for name in expected_gradients
    )
