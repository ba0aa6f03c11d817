"""Checkpoints: bit-exact round trip; every foreign or damaged file refused with one clear line, nothing run."""

import json
import pickle

import pytest
import torch
from safetensors.torch import load_file, save_file

from sast_core.errors import InputError
from sast_models.checkpoint import load_checkpoint, load_description, read_header, save_checkpoint
from sast_models.describe import describe
from sast_models.networks import build_network
from sast_models.spec import NetworkSpec

SPEC = NetworkSpec(arch="conv", input_shape=(2, 8, 8), channels=(3,), hidden=(5,), n_classes=4,
                   tau_per_neuron=True, learn_tau=True, taubar=0.7, tau=0.35)


@pytest.fixture()
def saved(tmp_path):
    net = build_network(SPEC, seed=7)
    path = save_checkpoint(tmp_path / "model.safetensors", net, hyperparameters={"rho": 0.3},
                           provenance={"data": "synthetic"}, extra_tensors={"step": torch.tensor([3])})
    return net, path


def test_round_trip_is_bit_exact(saved):
    net, path = saved
    loaded, header = load_checkpoint(path)
    for (name, a), (_, b) in zip(net.state_dict().items(), loaded.state_dict().items()):
        assert torch.equal(a, b), name
    assert header["hyperparameters"] == {"rho": 0.3}
    assert header["architecture"] == SPEC.to_dict()
    x = torch.rand(4, 2, *SPEC.input_shape)
    assert torch.equal(net(x, "hard"), loaded(x, "hard"))
    description = load_description(path)
    assert description.layers[0].kind == "conv_lif"
    assert description.to_dict(arrays=False) == describe(net).to_dict(arrays=False)


def test_checkpoint_written_before_the_redesign_loads(saved):
    """Version-1 headers written before the redesign carry the removed architecture field "extra" (always {})."""
    net, path = saved
    old = read_header(path)
    old["architecture"] = {**old["architecture"], "extra": {}}
    _rewrite(path, header_update={"architecture": old["architecture"]})
    assert read_header(path)["architecture"]["extra"] == {}
    loaded, _ = load_checkpoint(path)
    for (name, a), (_, b) in zip(net.state_dict().items(), loaded.state_dict().items(), strict=True):
        assert torch.equal(a, b), name
    assert load_description(path).to_dict(arrays=False) == describe(net).to_dict(arrays=False)


def test_no_temporary_files_left(saved, tmp_path):
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.safetensors"]


def _rewrite(path, tensors=None, header_update=None, metadata=None):
    tensors = load_file(str(path)) if tensors is None else tensors
    header = read_header(path)
    header.update(header_update or {})
    save_file(tensors, str(path), metadata=metadata if metadata is not None else {"sast": json.dumps(header)})


def test_pickle_is_refused_and_never_executed(tmp_path):
    class Boom:
        def __reduce__(self):
            return (exec, ("open(r'%s', 'w').write('pwned')" % (tmp_path / "pwned"),))

    path = tmp_path / "evil.safetensors"
    path.write_bytes(pickle.dumps(Boom()))
    with pytest.raises(InputError, match="not a SAST checkpoint"):
        load_checkpoint(path)
    torch_file = tmp_path / "torch.pt"
    torch.save(build_network(SPEC).state_dict(), torch_file)
    with pytest.raises(InputError, match="not a SAST checkpoint"):
        load_checkpoint(torch_file)
    assert not (tmp_path / "pwned").exists()


def test_foreign_safetensors_is_refused(tmp_path):
    path = tmp_path / "other.safetensors"
    save_file({"w": torch.zeros(2)}, str(path))
    with pytest.raises(InputError, match="without a 'sast' header"):
        load_checkpoint(path)


def test_missing_file_and_garbage(tmp_path):
    with pytest.raises(InputError, match="not found"):
        load_checkpoint(tmp_path / "nope.safetensors")
    (tmp_path / "junk").write_bytes(b"\x00" * 3)
    with pytest.raises(InputError, match="not a SAST checkpoint"):
        load_checkpoint(tmp_path / "junk")


def test_missing_tensor(saved):
    _, path = saved
    tensors = load_file(str(path))
    del tensors["layers.0.raw_weight"]
    _rewrite(path, tensors)
    with pytest.raises(InputError, match="missing tensor.*layers.0.raw_weight"):
        load_checkpoint(path)


def test_shape_mismatch(saved):
    _, path = saved
    tensors = load_file(str(path))
    tensors["layers.1.raw_bias"] = torch.zeros(9)
    _rewrite(path, tensors)
    with pytest.raises(InputError, match="layers.1.raw_bias has shape"):
        load_checkpoint(path)


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_non_finite_weights(saved, bad):
    _, path = saved
    tensors = load_file(str(path))
    tensors["layers.2.raw_weight"][0, 0] = bad
    _rewrite(path, tensors)
    with pytest.raises(InputError, match="NaN or inf"):
        load_checkpoint(path)


def test_unknown_schema_version(saved):
    _, path = saved
    _rewrite(path, header_update={"schema_version": 99})
    with pytest.raises(InputError, match="unknown checkpoint schema version 99"):
        load_checkpoint(path)


def test_invalid_architecture(saved):
    _, path = saved
    header = read_header(path)
    header["architecture"]["reset"] = "explode"
    _rewrite(path, metadata={"sast": json.dumps(header)})
    with pytest.raises(InputError, match="invalid architecture"):
        load_checkpoint(path)


@pytest.mark.parametrize(("edit", "needle"), [
    (lambda h: h["hyperparameters"].update(time_bins="5"), "hyperparameters.time_bins = '5': expected an integer"),
    (lambda h: h["hyperparameters"].update(band=float("nan")), "hyperparameters.band"),
    (lambda h: h["hyperparameters"].update(val_fraction=1.5), "hyperparameters.val_fraction"),
    (lambda h: h["hyperparameters"].update(seed=-1), "hyperparameters.seed"),
    (lambda h: h.pop("architecture"), "no 'architecture' field"),
    (lambda h: h.pop("hyperparameters"), "no 'hyperparameters' field"),
    (lambda h: h.update(hyperparameters=[1, 2]), "hyperparameters is a list"),
    (lambda h: h["architecture"].update(hidden="5"), "hidden = '5': expected a list of integers"),
    (lambda h: h["architecture"].update(beta="1"), "beta = '1': expected a number"),
    (lambda h: h["architecture"].update(n_classes=2.5), "n_classes = 2.5: expected an integer"),
    (lambda h: h["architecture"].update(learn_tau=1), "learn_tau = 1: expected true or false"),
], ids=["time_bins-str", "band-nan", "val_fraction", "seed", "no-architecture", "no-hyperparameters",
        "hyperparameters-list", "hidden-str", "beta-str", "n_classes-float", "learn_tau-int"])
def test_header_fields_of_the_wrong_type_or_missing_are_refused(saved, edit, needle):
    """Valid JSON that does not match the typed description: the same one-line refusal as a corrupt tensor."""
    _, path = saved
    header = read_header(path)
    edit(header)
    _rewrite(path, metadata={"sast": json.dumps(header)})
    for reader in (load_checkpoint, read_header):
        with pytest.raises(InputError) as info:
            reader(path)
        assert needle in str(info.value) and str(path) in str(info.value) and "\n" not in str(info.value)


def test_every_spec_field_has_a_header_type_check():
    import dataclasses

    from sast_models.spec import _JSON_TYPES

    assert {f.type for f in dataclasses.fields(NetworkSpec)} <= set(_JSON_TYPES)
