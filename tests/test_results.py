"""save_result / load_result round trips and bad files."""

import json

import numpy as np
import pytest
import pywt

import awd_jax
from awd_jax.results import FitResult
from awd_jax.results import FORMAT_VERSION, load_result, read_metadata, save_result


def _fit_result():
    h = np.asarray(pywt.Wavelet("db5").rec_lo, np.float32) + 0.01
    history = {"total": np.array([3.0, 2.0, 1.5]), "rec": np.array([1.0, 0.5, 0.25], np.float32)}
    config = {"level": 4, "mode": "zero", "sparsity": 1e-3, "interpretation": 0.1,
              "weights": {"lsum": 1.0}, "h0": [0.1] * 10, "teacher": None}
    return FitResult(h=h, history=history, config=config, diverged=False, epochs_run=3)


def test_fit_round_trip(tmp_path):
    res = _fit_result()
    path = tmp_path / "run.npz"
    res.save(str(path))
    back = load_result(path)
    assert isinstance(back, FitResult)
    np.testing.assert_array_equal(back.h, res.h)
    assert back.h.dtype == np.float32
    assert list(back.history) == ["total", "rec"]
    for k in res.history:
        np.testing.assert_array_equal(back.history[k], res.history[k])
        assert back.history[k].dtype == res.history[k].dtype
    assert back.config == res.config
    assert back.diverged is False and back.epochs_run == 3
    meta = read_metadata(path)
    assert meta["kind"] == "fit" and meta["format_version"] == FORMAT_VERSION
    assert meta["config"] == res.config
    assert set(meta["versions"]) >= {"awd_jax", "jax", "numpy", "pywt"}
    assert meta["versions"]["pywt"] == pywt.__version__
    # the metadata is plain JSON inside the npz, readable without pickle
    with np.load(path, allow_pickle=False) as z:
        assert json.loads(z["__awd_metadata__"].tobytes())["class"] == "FitResult"
    assert awd_jax.load_result is load_result


def test_real_fit_round_trip(tmp_path):
    x = np.random.default_rng(0).standard_normal((8, 16)).astype(np.float32)
    from awd_jax.fit import fit
    res = fit("db2", None, x, level=2, sparsity=1e-3, epochs=2, batch_size=4, progress=False)
    path = tmp_path / "real.npz"
    save_result(res, path)
    back = load_result(str(path))
    np.testing.assert_array_equal(back.h, res.h)
    assert back.config == json.loads(json.dumps(res.config))
    assert back.epochs_run == res.epochs_run and back.diverged == res.diverged
    assert sorted(back.history) == sorted(res.history)


def test_sweep_round_trip(tmp_path):
    sweep = pytest.importorskip("awd_jax.sweep")
    SweepResult = sweep.SweepResult
    import dataclasses
    names = [f.name for f in dataclasses.fields(SweepResult)]
    values = {
        "h": np.zeros((2, 3, 10), np.float32), "h0": np.ones((2, 3, 10), np.float32),
        "history": {"total": np.ones((2, 3, 4)), "rec": np.full((2, 3, 4), np.nan)},
        "sparsity": np.array([1e-3, 2e-3]), "interpretation": np.array([0.0, 0.1, 0.2]),
        "config": {"level": 4}, "diverged": np.zeros((2, 3), bool), "epochs_run": np.full((2, 3), 4),
        "starts": np.arange(2 * 3 * 4 * 10, dtype=np.float32).reshape(2, 3, 4, 10),
        "objectives": np.linspace(1.0, 2.0, 24).reshape(2, 3, 4), "objectives_before_refine": None,
        "best_start": np.array([[0, 1, 2], [3, 0, 1]]),
    }
    assert set(names) <= set(values), f"update this test for new SweepResult fields {set(names) - set(values)}"
    res = SweepResult(**{n: values[n] for n in names})
    path = tmp_path / "sweep.npz"
    save_result(res, path)
    back = load_result(path)
    assert isinstance(back, SweepResult)
    np.testing.assert_array_equal(back.h, res.h)
    for name in names:
        if isinstance(values[name], np.ndarray):
            np.testing.assert_array_equal(getattr(back, name), values[name])
            assert getattr(back, name).dtype == values[name].dtype
    np.testing.assert_array_equal(back.history["total"], res.history["total"])
    np.testing.assert_array_equal(back.history["rec"], res.history["rec"])  # NaN survive
    assert back.config == {"level": 4}
    assert read_metadata(path)["kind"] == "sweep"
    # a cell of the reloaded sweep is a FitResult that round-trips too
    assert back.objectives_before_refine is None
    cell = back.cell(1, 2)
    assert cell.best_start == 1 and cell.objective == pytest.approx(values["objectives"][1, 2, 1])
    np.testing.assert_array_equal(cell.starts, values["starts"][1, 2])
    assert cell.objectives_before_refine is None
    save_result(cell, tmp_path / "cell.npz")
    again = load_result(tmp_path / "cell.npz")
    np.testing.assert_array_equal(again.h, cell.h)
    np.testing.assert_array_equal(again.objectives, cell.objectives)
    assert again.best_start == 1


def test_bad_files(tmp_path):
    res = _fit_result()
    good = tmp_path / "good.npz"
    save_result(res, good)
    raw = good.read_bytes()
    trunc = tmp_path / "trunc.npz"
    trunc.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ValueError, match="trunc.npz"):
        load_result(trunc)
    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, a=np.ones(3))
    with pytest.raises(ValueError, match="foreign.npz"):
        load_result(foreign)
    text = tmp_path / "text.npz"
    text.write_text("hello")
    with pytest.raises(ValueError, match="text.npz"):
        load_result(text)
    pickled = tmp_path / "pickled.npy"
    np.save(pickled, np.array([{"a": 1}], dtype=object))
    with pytest.raises(ValueError, match="pickled.npy"):
        load_result(pickled)
    # a newer format version
    meta = read_metadata(good)
    meta["format_version"] = FORMAT_VERSION + 1
    newer = tmp_path / "newer.npz"
    with np.load(good) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["__awd_metadata__"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    np.savez(newer, **arrays)
    with pytest.raises(ValueError, match="format_version"):
        load_result(newer)
    # a missing array entry
    del arrays["field/h"]
    arrays["__awd_metadata__"] = np.frombuffer(json.dumps(read_metadata(good)).encode(), np.uint8)
    missing = tmp_path / "missing.npz"
    np.savez(missing, **arrays)
    with pytest.raises(ValueError, match="missing.npz.*field/h"):
        load_result(missing)
    with pytest.raises(FileNotFoundError):
        load_result(tmp_path / "nope.npz")
    with pytest.raises(TypeError, match="FitResult or SweepResult"):
        save_result({"h": 1}, tmp_path / "x.npz")


def _rewrite(good, tmp_path, name, edit):
    """A copy of the result file ``good`` with its arrays and metadata changed by ``edit(arrays, meta)``."""
    meta = read_metadata(good)
    with np.load(good) as z:
        arrays = {k: z[k] for k in z.files if k != "__awd_metadata__"}
    edit(arrays, meta)
    arrays["__awd_metadata__"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    path = tmp_path / name
    np.savez(path, **arrays)
    return path


def _set_field(name, value):
    def edit(arrays, meta):
        for spec in meta["fields"]:
            if spec["name"] == name:
                spec.clear()
                spec.update(name=name, encoding="json", value=value)
    return edit


@pytest.mark.parametrize("edit, words", [
    (lambda a, m: a.update({"field/h": np.array(["a", "b"])}), "field h: expected a 1-D floating-point array"),
    (lambda a, m: a.update({"field/h": np.ones((2, 5), np.float32)}), "field h"),
    (lambda a, m: a.update({"dict/history/0": np.ones(4)}), "history['total']: expected shape (3,)"),
    (lambda a, m: a.update({"dict/history/1": np.ones(3, np.int64)}), "history['rec']"),
    (_set_field("diverged", "no"), "field diverged"),
    (_set_field("epochs_run", -1), "field epochs_run"),
    (_set_field("epochs_run", True), "field epochs_run"),
    (_set_field("config", [1, 2]), "field config"),
    (_set_field("h", [0.1, 0.2]), "field h"),
    (lambda a, m: m.update(fields={"h": "array"}), "malformed 'fields'"),
    (lambda a, m: m["fields"].append({"name": "color", "encoding": "json", "value": 1}), "unknown ['color']"),
])
def test_load_result_checks_every_field_against_the_result_type(tmp_path, edit, words):
    good = tmp_path / "good.npz"
    save_result(_fit_result(), good)
    bad = _rewrite(good, tmp_path, "bad.npz", edit)
    with pytest.raises(ValueError, match="bad.npz") as info:
        load_result(bad)
    assert words in str(info.value)


def test_load_result_checks_sweep_and_restart_shapes(tmp_path):
    res = _fit_result()
    import dataclasses
    with_starts = dataclasses.replace(res, starts=np.zeros((3, 10), np.float32), objectives=np.ones(3), best_start=1)
    save_result(with_starts, tmp_path / "starts.npz")
    assert load_result(tmp_path / "starts.npz").best_start == 1
    bad = _rewrite(tmp_path / "starts.npz", tmp_path, "bad_starts.npz",
                   lambda a, m: a.update({"field/objectives": np.ones(2)}))
    with pytest.raises(ValueError, match=r"bad_starts.npz.*objectives: expected shape \(3,\)"):
        load_result(bad)
    bad = _rewrite(tmp_path / "starts.npz", tmp_path, "bad_best.npz", _set_field("best_start", 3))
    with pytest.raises(ValueError, match=r"bad_best.npz.*best_start"):
        load_result(bad)
    from awd_jax.results import SweepResult
    sweep = SweepResult(h=np.zeros((2, 1, 4)), h0=np.zeros((2, 1, 4)), history={"total": np.zeros((2, 1, 3))},
                        sparsity=np.array([0.0, 1.0]), interpretation=np.array([0.0]),
                        diverged=np.zeros((2, 1), bool), epochs_run=np.full((2, 1), 3), config={})
    save_result(sweep, tmp_path / "sweep.npz")
    assert load_result(tmp_path / "sweep.npz").shape == (2, 1)
    for name, value, words in [("field/h0", np.zeros((2, 1, 6)), "h0: expected shape (2, 1, 4)"),
                               ("field/diverged", np.zeros((2, 1)), "diverged: expected a 2-D bool"),
                               ("field/epochs_run", np.full((2, 1), 4), "epochs_run: expected values in [0, 3]"),
                               ("field/sparsity", np.array([0.0]), "h: expected shape (1, 1, 4)")]:
        bad = _rewrite(tmp_path / "sweep.npz", tmp_path, "bad_sweep.npz", lambda a, m: a.update({name: value}))
        with pytest.raises(ValueError, match="bad_sweep.npz") as info:
            load_result(bad)
        assert words in str(info.value), (name, str(info.value))


def test_files_that_are_not_result_archives(tmp_path):
    plain = tmp_path / "plain.npy"
    np.save(plain, np.ones(3))
    with pytest.raises(ValueError, match="plain.npy.*single .npy array"):
        load_result(plain)
    good = tmp_path / "good.npz"
    save_result(_fit_result(), good)
    with np.load(good) as z:
        arrays = {k: z[k] for k in z.files}
    for meta, words in [(np.frombuffer(b"[1, 2]", np.uint8), "JSON list"),
                        (np.array([1.0, 2.0]), "not UTF-8 JSON bytes"),
                        (np.frombuffer(json.dumps({"format": "awd_jax.result", "format_version": "1"}).encode(),
                                       np.uint8), "format_version '1'")]:
        arrays["__awd_metadata__"] = meta
        np.savez(tmp_path / "odd.npz", **arrays)
        with pytest.raises(ValueError, match="odd.npz") as info:
            load_result(tmp_path / "odd.npz")
        assert words in str(info.value)
    with pytest.raises(ValueError, match="a folder"):
        load_result(tmp_path)


def test_save_result_needs_an_existing_folder(tmp_path):
    res = _fit_result()
    with pytest.raises(FileNotFoundError, match="the folder .*missing.* does not exist") as info:
        save_result(res, tmp_path / "missing" / "r.npz")
    assert ".awd_tmp_" not in str(info.value)
    (tmp_path / "file").write_text("x")
    with pytest.raises(NotADirectoryError, match="is a file"):
        save_result(res, tmp_path / "file" / "r.npz")
    with pytest.raises(IsADirectoryError):
        save_result(res, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]  # no temporary file left behind
