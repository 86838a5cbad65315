# %% [markdown]
# # Tutorial: distil a wavelet from a trained model
#
# This page is a plain Python script in notebook form (jupytext "percent" format:
# `# %%` starts a code cell, `# %% [markdown]` a text cell). The documentation build
# runs it from top to bottom in a fresh interpreter, so every printed number and every
# figure below comes from that run. Run it yourself with `python docs/tutorial.py`, or
# open it as a notebook with jupytext.
#
# We will:
#
# 1. simulate data whose response lives on three db5 wavelet coefficients and train a
#    small Flax MLP on it (the *teacher*);
# 2. distil a wavelet from the teacher with [`awd_jax.fit`][awd_jax.fit], starting from
#    sym5;
# 3. compare the learned ψ with db5's;
# 4. look at the teacher's TRIM attributions on the wavelet coefficients of one sample;
# 5. export the learned wavelet to PyWavelets and save it;
# 6. use it as the feature extractor of a scikit-learn pipeline.
#
# Sizes are small, so that the whole page runs in under a minute on two CPU cores, most of
# it spent compiling the training program once.

# %%
import os
import tempfile
import time
import warnings

import jax
import numpy as np
import pywt
from sklearn.linear_model import LinearRegression
from sklearn.pipeline import make_pipeline

import awd_jax
from awd_jax import plotting
from awd_jax.data import simulate
from awd_jax.features import WaveletFeatures
from awd_jax.teachers import MLP, train_teacher

# J = 4 levels on 64 samples is deeper than pywt.dwt_max_level (2) on purpose, as in the
# paper; silence PyWavelets' (and our) warning about it.
warnings.filterwarnings("ignore", message="Level value of", category=UserWarning)

t_start = time.perf_counter()
print("awd_jax", awd_jax.__version__, "| jax", jax.__version__, "| backend", jax.default_backend())

# %% [markdown]
# ## 1. Data and teacher
#
# [`simulate`][awd_jax.data.simulate] draws `x ~ N(0, I₆₄)` and
# `y = 2·(cD3[7] + cD3[8] + cD3[9]) + 0.1·ε`, where `cD3` is the third-finest detail of
# the db5 transform (zero mode, `J = 4`): the response is a function of db5
# coefficients, so db5 is the wavelet a good teacher "knows". The teacher is the
# paper's 64 → 32 → 32 → 1 ReLU MLP, trained with Adam.

# %%
x_train, y_train = simulate(2000, seed=0)
x_test, y_test = simulate(1000, seed=1)
print("x_train", x_train.shape, x_train.dtype, "| y_train", y_train.shape)

model = MLP(features=(32, 32), out=1)
variables, teacher = train_teacher(model, x_train, y_train, epochs=20, learning_rate=0.01)
r2_teacher = awd_jax.r2(y_test, np.asarray(teacher(x_test)).ravel())
print(f"teacher test R² = {r2_teacher:.4f}")

# %% [markdown]
# ## 2. Distil a wavelet
#
# The objective's static settings live in one [`Objective`][awd_jax.Objective]: 4 levels,
# zero padding (the paper's). λ (`sparsity`) and γ (`interpretation`) weigh the
# sparsity of the coefficients and of the teacher's attributions.
#
# The teacher is passed as `model.apply` with `teacher_params=variables`: the weights
# are then a traced argument of the compiled program, so a retrained teacher of the
# same shapes compiles nothing new.
#
# We start from sym5, which is not db5 (ψ distance 1.28). The paper's optimiser (Adam on
# the ten taps, one start) stops in a local minimum from there; the options below search
# the same objective globally ([Optimiser](method.md#optimiser)): every filter is an
# exactly orthogonal lattice filter, four starts run at once (sym5 and three survivors
# of a global screen of 4 096 random angle vectors), each trains 3 epochs, and L-BFGS
# polishes the winner. Most of this cell's time is compilation: a second `fit` with the
# same settings (or other teacher weights of the same shapes) takes a few seconds.

# %%
objective = awd_jax.Objective(level=4, mode="zero")
t0 = time.perf_counter()
result = awd_jax.fit(
    "sym5", model.apply, x_train, objective,
    sparsity=1e-5, interpretation=0.01, teacher_params=variables,
    parametrization="lattice", restarts=4, refine=10, epochs=3,
    search=awd_jax.Search(candidates=4096), key=jax.random.PRNGKey(0), progress=False,
)
print(f"fit: {time.perf_counter() - t0:.1f} s, best start {result.best_start} of {len(result.objectives)}")
print("objective of each start:", np.round(result.objectives, 4))
print("learned h:", np.round(result.h, 4))

# %% [markdown]
# [`wavelet_distance`][awd_jax.wavelet_distance] compares ψ up to shift and flip. The
# objective of db5 itself on the same test data tells whether training reached the
# lowest point we know of.

# %%
d_before = float(awd_jax.wavelet_distance("sym5", "db5"))
d_after = float(awd_jax.wavelet_distance(result.h, "db5"))
print(f"d(ψ, db5): sym5 start {d_before:.4f} -> learned {d_after:.4f}")

@jax.jit  # awd_loss is a pure function of arrays: jit (or vmap, grad) it like any other
def objective_on_test(h):
    total, terms = awd_jax.awd_loss(h, model.apply, x_test[:500], objective, sparsity=1e-5, interpretation=0.01,
                                    teacher_params=variables)
    return total, terms.interpretation


for name, h in [("learned", result.h), ("db5", awd_jax.lowpass("db5")), ("sym5", awd_jax.lowpass("sym5"))]:
    total, interp = objective_on_test(h)
    print(f"objective on test data, {name:>7}: {float(total):.5f}   (interpretation term {float(interp):.4f})")

# %% [markdown]
# ## 3. The learned ψ against db5
#
# [`plot_wavelet`][awd_jax.plotting.plot_wavelet] draws φ and ψ of the learned filter
# (cascade algorithm) with db5 dashed; the title gives their distance. Every plotting
# function returns a matplotlib `Figure`.

# %%
fig = plotting.plot_wavelet(result.h, reference="db5", label="AWD from sym5")
fig.suptitle(f"learned wavelet (AWD, start sym5) against db5: d(ψ, db5) = {d_after:.3g}")
fig

# %% [markdown]
# For comparison, the start: sym5 against db5.

# %%
fig = plotting.plot_wavelet("sym5", reference="db5", label="sym5 (start)")
fig.suptitle(f"the start, sym5, against db5: d(ψ, db5) = {d_before:.3g}")
fig

# %% [markdown]
# ## 4. Attributions on one sample
#
# [`attributions`][awd_jax.attributions] gives the teacher's TRIM attributions (here
# saliency, the objective's default) on the wavelet coefficients, with the structure of
# [`wavedec`][awd_jax.wavedec]'s output `[cA4, cD4, cD3, cD2, cD1]`. For the learned
# wavelet they concentrate on `cD3[7..9]`, the coefficients the response was built from.
# In the figure each row is one coefficient array; the horizontal axis is the index within
# the array, and every panel has its own vertical scale.

# %%
x_one = x_test[:1]
coeffs = awd_jax.wavedec(x_one, result.h, mode="zero", level=4)
attr = awd_jax.attributions(result.h, model.apply, x_one, objective, teacher_params=variables)
print("coefficient shapes:", [tuple(c.shape) for c in coeffs])
cd3 = np.asarray(attr[-3][0])
print("largest |attribution| in cD3 at indices", np.argsort(-np.abs(cd3))[:3])
fig = plotting.plot_coefficients(coeffs, attr, index=0)
fig.suptitle("test sample 0: wavelet coefficients (left) and the teacher's saliency on them (right)")
fig

# %% [markdown]
# ## 5. Export to PyWavelets and save
#
# [`FitResult.to_pywt`][awd_jax.FitResult.to_pywt] returns a plain `pywt.Wavelet`
# built from the learned filter bank `(h[::-1], g[::-1], h, g)`: every PyWavelets
# function accepts it, and its coefficients equal `awd_jax`'s. Results save to an `.npz`
# with a JSON header (never pickled).

# %%
w = result.to_pywt()
print(w)
c_pywt = pywt.wavedec(x_test[0], w, mode="zero", level=4)
c_jax = awd_jax.wavedec(x_test[0], result.h, mode="zero", level=4)
print("max |pywt - awd_jax| over all coefficients:",
      max(float(np.max(np.abs(a - np.asarray(b)))) for a, b in zip(c_pywt, c_jax)))

with tempfile.TemporaryDirectory() as tmp:
    path = os.path.join(tmp, "awd.npz")
    result.save(path)
    again = awd_jax.load_result(path)
print("reloaded filter equal:", bool(np.array_equal(again.h, result.h)))

# %% [markdown]
# ## 6. A scikit-learn pipeline
#
# [`WaveletFeatures`][awd_jax.features.WaveletFeatures] is a scikit-learn transformer:
# the 6 largest coefficients of each of the 5 arrays, 30 interpretable features. A
# linear model on them predicts the response. The features keep the largest values of
# each array, not their positions, while the simulated response depends on three fixed
# positions, so no wavelet reaches a high R² here; the comparison between wavelets is the
# point: the learned wavelet does as well as db5, the wavelet that generated the data, and
# far better than the sym5 it started from.

# %%
for name, h in [("learned", result.h), ("db5", "db5"), ("sym5", "sym5")]:
    pipe = make_pipeline(WaveletFeatures(wavelet=h, level=4, k=6), LinearRegression())
    pipe.fit(x_train, y_train)
    print(f"{name:>7}: test R² = {pipe.score(x_test, y_test):.4f}")

print(f"\ntotal time of this page: {time.perf_counter() - t_start:.1f} s")
