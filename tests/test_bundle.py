import json
import pickle

import pytest
import torch
from safetensors.torch import save_file

from actionrec.bundle import load_bundle, save_bundle
from actionrec.errors import BundleError
from actionrec.model import LSTMHead, MeanPoolBaseline


def make_meta(num_classes=3, in_dim=1280, name="mobilenet_v2"):
    head = {"in_dim": in_dim, "num_classes": num_classes, "num_cells": 1, "hidden_size": 8,
            "num_layers": 1, "dropout": 0.0, "input_dropout": 0.0, "output_dropout": 0.0, "cell_dim": 4}
    return {"backbone": {"name": name, "weights": "x", "pooling": "global", "grid": None, "out_dim": in_dim},
            "preprocess": {"resize_size": 128, "crop_size": 112, "mode": "squash",
                           "mean": [0.5] * 3, "std": [0.25] * 3},
            "sampling": {"fps": 8.0, "clip_steps": 4, "train_mode": "segments", "stride": 1, "eval_clips": 1},
            "head": head, "class_names": [f"c{i}" for i in range(num_classes)], "data": {}, "training": {}}


def test_round_trip_gives_the_same_predictions(tmp_path):
    torch.manual_seed(0)
    meta = make_meta()
    head = LSTMHead(**meta["head"]).eval()
    base = MeanPoolBaseline(1280, 3)
    path = save_bundle(tmp_path / "b.safetensors", head, base, meta)
    bundle = load_bundle(path)
    x = torch.randn(2, 4, 1, 1280)
    torch.testing.assert_close(bundle.head(x), head(x))
    torch.testing.assert_close(bundle.baseline(x), base(x))
    assert bundle.class_names == ["c0", "c1", "c2"]
    assert bundle.preprocess.crop_size == 112 and bundle.sampling["clip_steps"] == 4
    assert not list(tmp_path.glob(".*tmp"))          # no temporary file left behind


def test_a_probe_stream_and_its_weight_round_trip(tmp_path):
    torch.manual_seed(0)
    meta = make_meta()
    meta["head"]["probe"] = True
    head = LSTMHead(**meta["head"]).eval()
    torch.nn.init.normal_(head.probe.weight)
    head.probe_weight.fill_(0.7)
    bundle = load_bundle(save_bundle(tmp_path / "b.safetensors", head, None, meta))
    x = torch.randn(2, 4, 1, 1280)
    torch.testing.assert_close(bundle.head.clip_logits(x), head.clip_logits(x))
    assert float(bundle.head.probe_weight) == pytest.approx(0.7)


def test_an_ensemble_round_trips_and_its_probabilities_are_the_mean_of_its_heads(tmp_path):
    meta = make_meta()
    heads = []
    for seed in range(3):
        torch.manual_seed(seed)
        heads.append(LSTMHead(**meta["head"]).eval())
    bundle = load_bundle(save_bundle(tmp_path / "b.safetensors", heads, None, meta))
    assert len(bundle.heads) == 3 and bundle.meta["heads"] == 3
    x = torch.randn(2, 4, 1, 1280)
    with torch.no_grad():
        each = [h.clip_logits(x).softmax(-1) for h in heads]
    for loaded, head_probs in zip(bundle.heads, each):
        torch.testing.assert_close(loaded.clip_logits(x).softmax(-1), head_probs)
    torch.testing.assert_close(bundle.clip_probs(x), torch.stack(each).mean(0))
    assert not torch.allclose(each[0], each[1])      # the heads differ, so the mean is not any one of them


def test_an_ensemble_missing_a_head_s_weights_is_refused_by_name(tmp_path):
    meta = make_meta()
    path = save_bundle(tmp_path / "b.safetensors", LSTMHead(**meta["head"]), None, {**meta, "heads": 1})
    from safetensors.torch import load_file
    tensors = load_file(str(path))
    save_file(tensors, str(path), metadata={"actionrec": json.dumps({**meta, "format_version": 4, "heads": 2})})
    with pytest.raises(BundleError, match=r"b\.safetensors: its metadata names head1 but the file has no head1\.\* tensors"):
        load_bundle(path)
    save_file(tensors, str(path), metadata={"actionrec": json.dumps({**meta, "format_version": 4, "heads": 0})})
    with pytest.raises(BundleError, match=r"b\.safetensors: 'heads' must be a whole number of at least 1, got 0"):
        load_bundle(path)


def test_a_one_head_bundle_of_the_previous_format_still_loads(tmp_path):
    meta = make_meta()
    torch.manual_seed(0)
    head = LSTMHead(**meta["head"]).eval()
    path = save_bundle(tmp_path / "b.safetensors", head, None, meta)
    from safetensors.torch import load_file
    save_file(load_file(str(path)), str(path), metadata={"actionrec": json.dumps({**meta, "format_version": 3})})
    bundle = load_bundle(path)
    x = torch.randn(2, 4, 1, 1280)
    assert len(bundle.heads) == 1
    torch.testing.assert_close(bundle.clip_probs(x), head.clip_logits(x).softmax(-1))


def test_bundle_for_another_backbone_is_refused_by_name(tmp_path):
    meta = make_meta(in_dim=512)                      # a resnet18-sized head ...
    head = LSTMHead(**meta["head"])
    path = save_bundle(tmp_path / "b.safetensors", head, None, meta)
    meta_json = json.loads(json.dumps(meta))
    meta_json["backbone"]["name"] = "mobilenet_v2"    # ... claiming to be mobilenet_v2 (1280-d)
    save_bundle(path, head, None, meta_json)
    with pytest.raises(BundleError, match=r"b\.safetensors.*512.*1280"):
        load_bundle(path)


def test_class_count_mismatch_is_refused(tmp_path):
    meta = make_meta(num_classes=3)
    head = LSTMHead(**meta["head"])
    meta["class_names"] = ["a", "b"]
    path = save_bundle(tmp_path / "b.safetensors", head, None, meta)
    with pytest.raises(BundleError, match="3 outputs for 2 class names"):
        load_bundle(path)


def test_pickle_file_is_not_executed_and_is_refused(tmp_path):
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    evil = tmp_path / "evil.safetensors"
    evil.write_bytes(pickle.dumps(Payload()))
    with pytest.raises(BundleError, match="evil.safetensors"):
        load_bundle(evil)
    assert not marker.exists()


def test_plain_safetensors_without_metadata_is_not_a_bundle(tmp_path):
    path = tmp_path / "plain.safetensors"
    save_file({"w": torch.zeros(2)}, str(path))
    with pytest.raises(BundleError, match="not a bundle"):
        load_bundle(path)
    with pytest.raises(BundleError, match="no such bundle"):
        load_bundle(tmp_path / "missing.safetensors")
