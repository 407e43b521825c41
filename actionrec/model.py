"""Networks only (no Lightning): the stacked-LSTM head and the order-blind baseline.

The head reads per-frame backbone features `(B, T, S, D)` (S spatial cells of D
channels) and returns logits at every time step `(B, T, K)`, so the same weights
classify a whole clip (last step) and a live stream (one step at a time, carrying
the LSTM state).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn


class Steps(NamedTuple):
    """A clip's steps ready for the recurrent part: LSTM input `(B, T, F')` and the skip
    path's logits `(B, T, K)` (None without a skip path)."""
    lstm_in: torch.Tensor
    skip_logits: torch.Tensor | None


READOUTS = ("mean", "last")


class LSTMHead(nn.Module):
    """Standardise -> cell projection -> stacked LSTM -> dense classifier, logits per step.

    Features are `(B, T, S, D + M)`: S spatial cells of D backbone channels, then M
    motion channels (`motion.py`; M = 0 without a motion stream). Every channel is
    standardised with the training set's mean and std (`set_standardization`, kept in
    the state dict), so appearance and motion start on one scale.

    With S > 1 cells (grid pooling), one linear projection `D -> cell_dim` is shared
    by all cells and the projected cells are concatenated, so the LSTM sees where
    things are, not only what; the motion channels of every cell join them as they
    are. With S == 1 the features go to the LSTM as they are. With `deltas`, each
    step also gets its difference from the previous step (zero at the first step).

    With `skip`, a linear map from each step's cell-averaged features is added to that
    step's logits: averaged over a clip (`readout="mean"`) it is a linear probe on the
    clip's mean features, so on data where only appearance matters the head starts
    from what a linear classifier can do, and the LSTM adds what frame order tells.
    `clip_logits` reads a clip's logits as the mean of its steps' or the last step's.

    The recurrent state is `(h, c, previous LSTM input)`; pass it back in to stream.
    """

    def __init__(self, in_dim: int, num_classes: int, num_cells: int = 1, hidden_size: int = 256,
                 num_layers: int = 2, dropout: float = 0.3, input_dropout: float = 0.2,
                 output_dropout: float = 0.3, cell_dim: int = 64, deltas: bool = False,
                 motion_dim: int = 0, skip: bool = False, readout: str = "last"):
        super().__init__()
        if readout not in READOUTS:
            raise ValueError(f"readout {readout!r} is not one of {', '.join(READOUTS)}")
        self.in_dim, self.num_cells, self.num_classes = in_dim, num_cells, num_classes
        self.motion_dim, self.deltas, self.readout = motion_dim, deltas, readout
        self.register_buffer("feature_mean", torch.zeros(in_dim + motion_dim))
        self.register_buffer("feature_std", torch.ones(in_dim + motion_dim))
        if num_cells > 1:
            self.cell_proj = nn.Sequential(nn.Linear(in_dim, cell_dim), nn.ReLU(inplace=True))
            lstm_in = num_cells * cell_dim
        else:
            self.cell_proj = nn.Identity()
            lstm_in = in_dim
        lstm_in += num_cells * motion_dim
        self.input_dropout = nn.Dropout(input_dropout)
        lstm_in *= 2 if deltas else 1
        self.lstm = nn.LSTM(lstm_in, hidden_size, num_layers=num_layers, batch_first=True,
                            dropout=dropout if num_layers > 1 else 0.0)
        self.output_dropout = nn.Dropout(output_dropout)
        self.classifier = nn.Linear(hidden_size, num_classes)
        self.skip = nn.Linear(in_dim + motion_dim, num_classes) if skip else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Glorot input weights, orthogonal recurrent weights, forget-gate bias 1; the skip
        path starts at zero (it learns only what the data asks of it)."""
        for name, param in self.lstm.named_parameters():
            if name.startswith("weight_ih"):
                nn.init.xavier_uniform_(param)
            elif name.startswith("weight_hh"):
                for gate in param.chunk(4, dim=0):
                    nn.init.orthogonal_(gate)
            elif name.startswith("bias"):
                nn.init.zeros_(param)
                if name.startswith("bias_ih"):
                    hidden = param.shape[0] // 4
                    param.data[hidden:2 * hidden] = 1.0   # gate order: input, forget, cell, output
        nn.init.xavier_uniform_(self.classifier.weight)
        nn.init.zeros_(self.classifier.bias)
        if self.skip is not None:
            nn.init.zeros_(self.skip.weight)
            nn.init.zeros_(self.skip.bias)

    @torch.no_grad()
    def set_standardization(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        """Per-channel `(D + M,)` mean and std of the training features."""
        self.feature_mean.copy_(mean)
        self.feature_std.copy_(std.clamp(min=1e-3))

    def project(self, features: torch.Tensor) -> Steps:
        """`(B, T, S, D + M)` -> `Steps`: each step's cells standardised, projected and
        concatenated, and its skip logits."""
        x = (features.float() - self.feature_mean) / self.feature_std
        appearance, motion = x[..., :self.in_dim], x[..., self.in_dim:]
        lstm_in = self.cell_proj(appearance).flatten(2)
        if self.motion_dim:
            lstm_in = torch.cat([lstm_in, motion.flatten(2)], dim=-1)
        skip = self.skip(self.output_dropout(x.mean(dim=2))) if self.skip is not None else None
        return Steps(lstm_in, skip)

    def forward_projected(self, steps: Steps, state=None, return_state: bool = False):
        """The recurrent part on projected steps -> `(B, T, K)` logits per step.

        The state is `(h, c, previous LSTM input)`; the previous input is where the first
        delta starts from (none: the first delta is zero)."""
        e = steps.lstm_in
        lstm_state, previous = (None, None) if state is None else (state[:2], state[2])
        x = e
        if self.deltas:
            before = torch.cat([e[:, :1] if previous is None else previous, e[:, :-1]], dim=1)
            x = torch.cat([e, e - before], dim=-1)
        out, (h, c) = self.lstm(self.input_dropout(x), lstm_state)
        logits = self.classifier(self.output_dropout(out))
        if steps.skip_logits is not None:
            logits = logits + steps.skip_logits
        last = e[:, -1:] if self.deltas else None
        return (logits, (h, c, last)) if return_state else logits

    def forward(self, features: torch.Tensor, state=None, return_state: bool = False):
        """`(B, T, S, D + M) -> (B, T, K)` logits per step (and the recurrent state if asked)."""
        return self.forward_projected(self.project(features), state, return_state)

    def clip_logits(self, features: torch.Tensor) -> torch.Tensor:
        """`(B, T, S, D + M) -> (B, K)`: the clip's logits, by `readout`."""
        logits = self(features)
        return logits.mean(dim=1) if self.readout == "mean" else logits[:, -1]


class MeanPoolBaseline(nn.Module):
    """Order-blind reference: average the features over time, then a linear classifier.

    `(B, T, S, D) -> (B, K)`. Shuffling the frames cannot change its output, so the
    gap between it and the LSTM is what frame order is worth on a dataset.
    """

    def __init__(self, in_dim: int, num_classes: int, num_cells: int = 1):
        super().__init__()
        self.in_dim, self.num_cells, self.num_classes = in_dim, num_cells, num_classes
        self.classifier = nn.Linear(in_dim * num_cells, num_classes)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.classifier(features.float().mean(dim=1).flatten(1))


class LinearProbe(nn.Module):
    """Order-blind, standardised reference: features averaged over time, flattened,
    standardised with the training set's statistics, then a weight-decayed linear
    classifier. `(B, T, S, C) -> (B, K)`. The strongest simple use of the frozen
    features: where the LSTM does not beat it, frame order added nothing."""

    def __init__(self, in_dim: int, num_classes: int, num_cells: int = 1):
        super().__init__()
        self.in_dim, self.num_cells, self.num_classes = in_dim, num_cells, num_classes
        self.register_buffer("mean", torch.zeros(in_dim * num_cells))
        self.register_buffer("std", torch.ones(in_dim * num_cells))
        self.classifier = nn.Linear(in_dim * num_cells, num_classes)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        x = features.float().mean(dim=1).flatten(1)
        return self.classifier((x - self.mean) / self.std)
