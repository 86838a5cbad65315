"""Small Flax (linen) teachers and a jitted training loop.

Every model maps a batch shaped like AWD's data to ``(B, out)``:

* :class:`MLP` — ``(B, L)`` (or ``(B, ..., L)``, flattened) → ReLU MLP.
* :class:`LSTMRegressor` — ``(B, L)`` or ``(B, 1, L)`` → LSTM over time, last hidden state → Dense.
* :class:`CNN1D` — ``(B, L)`` or ``(B, C, L)`` → 1-D convolutions, global mean pool, Dense.
* :class:`ResNet2D` — images ``(B, H, W)`` or ``(B, C, H, W)`` → small residual CNN (no
  batch norm, so samples never interact), global mean pool, Dense.

A trained teacher for AWD is ``apply_fn`` from :func:`train_teacher` (or
``lambda x: model.apply(variables, x)``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

__all__ = ["CNN1D", "MLP", "LSTMRegressor", "ResNet2D", "train_teacher"]


class MLP(nn.Module):
    """ReLU MLP; input ``(B, ...)`` flattened per sample → ``(B, out)``."""

    features: Sequence[int] = (32, 32)
    out: int = 1

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        x = x.reshape((x.shape[0], -1))
        for f in self.features:
            x = nn.relu(nn.Dense(f)(x))
        return nn.Dense(self.out)(x)


class LSTMRegressor(nn.Module):
    """LSTM (input size 1) scanned over time; the last hidden state → ``Dense(out)``.

    Input ``(B, L)`` or ``(B, 1, L)`` → ``(B, out)``.
    """

    hidden: int = 20
    out: int = 1
    param_dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        if x.ndim == 3:
            if x.shape[1] != 1:
                raise ValueError(f"x: expected (B, L) or (B, 1, L), got shape {tuple(x.shape)}.")
            x = x[:, 0, :]
        if x.ndim != 2:
            raise ValueError(f"x: expected (B, L) or (B, 1, L), got shape {tuple(x.shape)}.")
        seq = x[:, :, None]  # (B, L, 1)
        outputs = nn.RNN(nn.LSTMCell(self.hidden, param_dtype=self.param_dtype))(seq)  # (B, L, hidden)
        return nn.Dense(self.out, param_dtype=self.param_dtype)(outputs[:, -1])


class CNN1D(nn.Module):
    """1-D CNN: ``(B, L)`` or ``(B, C, L)`` → ReLU convolutions → mean over time → ``(B, out)``."""

    features: Sequence[int] = (16, 16)
    kernel_size: int = 5
    out: int = 1

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        x = x[:, :, None] if x.ndim == 2 else jnp.swapaxes(x, 1, 2)  # (B, L, C)
        for f in self.features:
            x = nn.relu(nn.Conv(f, (self.kernel_size,))(x))
        return nn.Dense(self.out)(jnp.mean(x, axis=1))


class _Block(nn.Module):
    features: int

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        y = nn.relu(nn.Conv(self.features, (3, 3))(x))
        y = nn.Conv(self.features, (3, 3))(y)
        return nn.relu(x + y)


class ResNet2D(nn.Module):
    """Small residual CNN for images ``(B, H, W)`` or ``(B, C, H, W)`` → ``(B, out)``."""

    features: int = 8
    blocks: int = 2
    out: int = 1

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        x = x[..., None] if x.ndim == 3 else jnp.moveaxis(x, 1, -1)  # NHWC
        x = nn.relu(nn.Conv(self.features, (3, 3))(x))
        for _ in range(self.blocks):
            x = _Block(self.features)(x)
        return nn.Dense(self.out)(jnp.mean(x, axis=(1, 2)))


def train_teacher(
    model: nn.Module,
    x: Any,
    y: Any,
    *,
    epochs: int = 20,
    batch_size: int = 100,
    learning_rate: float = 1e-2,
    seed: int = 0,
) -> tuple[Any, Callable[[jax.Array], jax.Array]]:
    """Fit ``model`` to ``y`` by mean squared error with Adam.

    Each epoch is one compiled ``lax.scan`` over shuffled minibatches; a short final
    batch is padded with masked copies (exact, nothing dropped).

    Args:
      model: a linen module mapping ``x[:B]`` to ``(B, K)``.
      x: ``(n, ...)`` inputs. y: ``(n,)`` or ``(n, K)`` targets.

    Returns:
      ``(variables, apply_fn)`` with ``apply_fn(x) = model.apply(variables, x)`` (``(B, K)``).
    """
    x = jnp.asarray(x)
    y = jnp.asarray(y, x.dtype)
    if y.ndim == 1:
        y = y[:, None]
    n = x.shape[0]
    if y.shape[0] != n:
        raise ValueError(f"y: expected {n} targets (one per sample of x), got shape {tuple(y.shape)}.")
    bs = min(int(batch_size), n)
    key_init, key_data = jax.random.split(jax.random.PRNGKey(seed))
    params = model.init(key_init, x[:1])
    opt = optax.adam(learning_rate)
    n_batches = -(-n // bs)
    pad = n_batches * bs - n

    def loss_fn(p, xb, yb, mb):
        err = (model.apply(p, xb) - yb) ** 2
        return jnp.sum(jnp.mean(err, axis=1) * mb) / jnp.sum(mb)

    def step(carry, batch):
        p, s = carry
        idx, mb = batch
        loss, g = jax.value_and_grad(loss_fn)(p, jnp.take(x, idx, axis=0), jnp.take(y, idx, axis=0), mb)
        upd, s = opt.update(g, s, p)
        return (optax.apply_updates(p, upd), s), loss

    @jax.jit
    def epoch(carry, e):
        perm = jax.random.permutation(jax.random.fold_in(key_data, e), n)
        idx = jnp.concatenate([perm, perm[:pad]]).reshape(n_batches, bs)
        masks = jnp.concatenate([jnp.ones((n,), x.dtype), jnp.zeros((pad,), x.dtype)]).reshape(n_batches, bs)
        return jax.lax.scan(step, carry, (idx, masks))

    carry = (params, opt.init(params))
    for e in range(int(epochs)):
        carry, _ = epoch(carry, e)
    variables = carry[0]

    def apply_fn(inputs: jax.Array) -> jax.Array:
        return model.apply(variables, inputs)

    return variables, apply_fn
