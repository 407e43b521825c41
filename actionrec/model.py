"""Networks only (no Lightning): the stacked-LSTM head and the order-blind baseline.

The head reads per-frame backbone features `(B, T, S, D)` (S spatial cells of D
channels) and returns logits at every time step `(B, T, K)`, so the same weights
classify a whole clip (last step) and a live stream (one step at a time, carrying
the LSTM state).
"""

from __future__ import annotations

import torch
from torch import nn


class LSTMHead(nn.Module):
    """Cell projection -> stacked LSTM -> dense classifier, one prediction per step.

    With S > 1 cells (grid pooling), one linear projection `D -> cell_dim` is shared
    by all cells and the projected cells are concatenated, so the LSTM sees where
    things are, not only what. With S == 1 the features go to the LSTM as they are.
    With `deltas`, each step also gets its difference from the previous step, a
    direct motion signal (zero at the first step).

    The recurrent state is `(h, c, previous embedding)`; pass it back in to stream.
    """

    def __init__(self, in_dim: int, num_classes: int, num_cells: int = 1, hidden_size: int = 256,
                 num_layers: int = 2, dropout: float = 0.3, input_dropout: float = 0.2,
                 output_dropout: float = 0.3, cell_dim: int = 64, deltas: bool = False):
        super().__init__()
        self.in_dim, self.num_cells, self.num_classes = in_dim, num_cells, num_classes
        self.deltas = deltas
        if num_cells > 1:
            self.cell_proj = nn.Sequential(nn.Linear(in_dim, cell_dim), nn.ReLU(inplace=True))
            lstm_in = num_cells * cell_dim
        else:
            self.cell_proj = nn.Identity()
            lstm_in = in_dim
        self.input_dropout = nn.Dropout(input_dropout)
        lstm_in *= 2 if deltas else 1
        self.lstm = nn.LSTM(lstm_in, hidden_size, num_layers=num_layers, batch_first=True,
                            dropout=dropout if num_layers > 1 else 0.0)
        self.output_dropout = nn.Dropout(output_dropout)
        self.classifier = nn.Linear(hidden_size, num_classes)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Glorot input weights, orthogonal recurrent weights, forget-gate bias 1."""
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

    def project(self, features: torch.Tensor) -> torch.Tensor:
        """`(B, T, S, D) -> (B, T, F')`: each step's cells projected and concatenated."""
        return self.cell_proj(features.float()).flatten(2)

    def forward_projected(self, e: torch.Tensor, state=None, return_state: bool = False):
        """The recurrent part on projected steps `(B, T, F')` -> `(B, T, K)` logits.

        The state is `(h, c, previous projected step)`; the previous step is where the
        first delta starts from (none: the first delta is zero)."""
        lstm_state, previous = (None, None) if state is None else (state[:2], state[2])
        x = e
        if self.deltas:
            before = torch.cat([e[:, :1] if previous is None else previous, e[:, :-1]], dim=1)
            x = torch.cat([e, e - before], dim=-1)
        out, (h, c) = self.lstm(self.input_dropout(x), lstm_state)
        logits = self.classifier(self.output_dropout(out))
        last = e[:, -1:] if self.deltas else None
        return (logits, (h, c, last)) if return_state else logits

    def forward(self, features: torch.Tensor, state=None, return_state: bool = False):
        """`(B, T, S, D) -> (B, T, K)` logits (and the recurrent state if asked)."""
        return self.forward_projected(self.project(features), state, return_state)


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
