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

from .pose import HORIZONTAL_CHANNELS, UNSEEN


class Steps(NamedTuple):
    """A clip's steps ready for the recurrent part: LSTM input `(B, T, F')`, the skip
    path's logits `(B, T, K)` and the probe stream's `(B, T, K)` (None without them)."""
    lstm_in: torch.Tensor
    skip_logits: torch.Tensor | None
    probe_logits: torch.Tensor | None = None


READOUTS = ("mean", "last")
POSE_STATS_SHARE = 0.5     # of the pose stream's log-probabilities, with `pose_stats`
FUSIONS = ("late", "early")


class LSTMHead(nn.Module):
    """Standardise -> cell projection -> stacked LSTM(s) -> dense classifier(s), per step.

    Features are `(B, T, S, D + M)`: S spatial cells of D backbone channels, then M
    motion channels (`motion.py`; M = 0 without a motion stream), the last `pose_dim` of
    them the body's pose (`pose.py`), the same in every cell and read once. Every channel is
    standardised with the training set's mean and std (`set_standardization`, kept in
    the state dict), so appearance and motion start on one scale.

    Appearance: with S > 1 cells (grid pooling), one linear projection `D -> cell_dim`
    is shared by all cells and the projected cells are concatenated, so the LSTM sees
    where things are, not only what. With S == 1 the features go in as they are. With
    `deltas`, each step also gets its difference from the previous step.

    Motion, when there is a motion stream:
    - `fusion="late"` (two-stream): a second stacked LSTM of the same size reads the
      motion cells alone, with its own classifier; each stream is trained on its own
      loss, so a stream that fits the training scenes cannot crowd out the other, and a
      clip's class scores are `w * log_softmax(appearance) + (1 - w) * log_softmax(motion)`
      with `w = fusion_weight`, chosen on validation videos after training. With both
      flow and pose channels, a third LSTM reads the pose alone, and the scores are
      `w * appearance + (1 - w - q) * flow + q * pose` (log-probabilities), `q = pose_weight`:
      the pose channels would otherwise crowd the flow's, or drown in them.
    - `fusion="early"`: the motion cells join the appearance cells in one LSTM.

    With `pose_stats` (and a pose stream of its own: the third, or the motion stream when
    the pose is the only motion), the pose stream's clip scores are half its LSTM's and
    half a linear map of the clip's pose statistics: each standardised pose channel's mean,
    spread (population std) and range over the clip's steps (`pose_statistics`;
    `attach_pose_probe` sets the map from a `LinearProbe` fitted on the training clips).
    How far each joint moves tells exercises apart across people and cameras more
    steadily than an LSTM trained on a few dozen videos (`docs/accuracy.md`).

    Without `pose_horizontal`, the pose stream does not read the landmarks' sideways offsets
    in the frame (`pose.HORIZONTAL_CHANNELS`: they read as the training mean, as an unseen
    landmark's do): those depend on which way the person faces the camera, so a head taught
    from one side reads people filmed from another by their height, lean, speeds and joint
    angles alone (`docs/personal.md`).

    With `skip`, a linear map from each step's cell-averaged features is added to that
    step's (appearance) logits. `clip_logits` reads a clip's logits as the mean of its
    steps' (`readout="mean"`) or the last step's, then fuses the streams.

    With `probe`, an order-blind stream joins the fusion: a linear map of each step's
    standardised appearance cells (`attach_probe` sets it from the fitted `LinearProbe`,
    so the mean of its step logits is that probe's clip logits). The fused scores are
    `(1 - p) * (the LSTM streams' scores) + p * log_softmax(probe)`, `p = probe_weight`
    chosen on validation videos: where the LSTMs fit the training scenes and the frames'
    content alone generalises better (small real datasets), validation says so.

    The recurrent state is `(h, c, previous LSTM input)`; with two streams `h` and `c`
    hold both LSTMs' states side by side (`state_size`). Pass it back in to stream.
    """

    def __init__(self, in_dim: int, num_classes: int, num_cells: int = 1, hidden_size: int = 256,
                 num_layers: int = 2, dropout: float = 0.3, input_dropout: float = 0.2,
                 output_dropout: float = 0.3, cell_dim: int = 64, deltas: bool = False,
                 motion_dim: int = 0, skip: bool = False, readout: str = "last", fusion: str = "early",
                 probe: bool = False, pose_dim: int = 0, pose_hidden_size: int | None = None,
                 pose_stats: bool = False, pose_clip: float = 0.0, pose_horizontal: bool = True):
        super().__init__()
        if readout not in READOUTS:
            raise ValueError(f"readout {readout!r} is not one of {', '.join(READOUTS)}")
        if fusion not in FUSIONS:
            raise ValueError(f"fusion {fusion!r} is not one of {', '.join(FUSIONS)}")
        self.in_dim, self.num_cells, self.num_classes = in_dim, num_cells, num_classes
        self.motion_dim, self.pose_dim, self.deltas, self.readout = motion_dim, pose_dim, deltas, readout
        self.pose_clip = float(pose_clip)
        self.pose_horizontal = bool(pose_horizontal)
        ignored = torch.zeros(pose_dim, dtype=torch.bool)      # pose channels read as the training mean
        if not pose_horizontal and pose_dim:
            ignored[list(HORIZONTAL_CHANNELS)] = True
        self.register_buffer("pose_ignored", ignored, persistent=False)
        self.two_stream = fusion == "late" and motion_dim > 0
        self.three_stream = self.two_stream and 0 < pose_dim < motion_dim
        self.register_buffer("feature_mean", torch.zeros(in_dim + motion_dim))
        self.register_buffer("feature_std", torch.ones(in_dim + motion_dim))
        self.register_buffer("fusion_weight", torch.tensor(1 / 3 if self.three_stream else 0.5))
        if self.three_stream:       # set by `training_weights`, then `choose_fusion_weights`
            self.register_buffer("pose_weight", torch.tensor(1 / 3))
        if num_cells > 1:
            self.cell_proj = nn.Sequential(nn.Linear(in_dim, cell_dim), nn.ReLU(inplace=True))
            appearance_in = num_cells * cell_dim
        else:
            self.cell_proj = nn.Identity()
            appearance_in = in_dim
        self.register_stream_columns(appearance_in, num_cells * (motion_dim - pose_dim), pose_dim)
        self.input_dropout = nn.Dropout(input_dropout)
        self.lstm = self.make_lstm(len(self.appearance_cols), hidden_size, num_layers, dropout)
        self.output_dropout = nn.Dropout(output_dropout)
        self.classifier = nn.Linear(hidden_size, num_classes)
        self.motion_lstm = self.motion_classifier = self.pose_lstm = self.pose_classifier = None
        pose_hidden = pose_hidden_size or hidden_size
        if self.two_stream:       # the pose alone is the motion stream: the pose's width
            motion_hidden = pose_hidden if self.pose_chunk == 1 else hidden_size
            self.motion_lstm = self.make_lstm(len(self.motion_cols), motion_hidden, num_layers, dropout)
            self.motion_classifier = nn.Linear(motion_hidden, num_classes)
        if self.three_stream:
            self.pose_lstm = self.make_lstm(len(self.pose_cols), pose_hidden, num_layers, dropout)
            self.pose_classifier = nn.Linear(pose_hidden, num_classes)
        self.skip = nn.Linear(in_dim + motion_dim, num_classes) if skip else None
        self.probe = None
        self.reset_parameters()
        if probe:    # made last, drawing no random numbers: training runs as it would without it
            with torch.random.fork_rng(devices=[]):
                self.probe = nn.Linear(num_cells * in_dim, num_classes).requires_grad_(False)
            nn.init.zeros_(self.probe.weight)     # fitted apart, full batch (`attach_probe`)
            nn.init.zeros_(self.probe.bias)
            self.register_buffer("probe_weight", torch.tensor(0.0))
        self.pose_probe = None
        self.pose_gaps = True     # a step without a person reads as the training mean (`standardize`)
        if pose_stats and self.pose_chunk is not None:   # fitted apart (`attach_pose_probe`)
            with torch.random.fork_rng(devices=[]):
                self.pose_probe = nn.Linear(3 * pose_dim, num_classes).requires_grad_(False)
            nn.init.zeros_(self.pose_probe.weight)
            nn.init.zeros_(self.pose_probe.bias)

    @staticmethod
    def make_lstm(inputs: int, hidden: int, layers: int, dropout: float) -> nn.LSTM:
        return nn.LSTM(inputs, hidden, num_layers=layers, batch_first=True,
                       dropout=dropout if layers > 1 else 0.0)

    def register_stream_columns(self, appearance_in: int, flow_in: int, pose_in: int) -> None:
        """Which columns of a step's LSTM input (with its deltas, if any) each LSTM reads:
        all of them for one stream; the appearance and motion (flow and pose) columns for
        two; the appearance, flow and pose columns for three."""
        width = appearance_in + flow_in + pose_in
        cols = torch.arange(width * (2 if self.deltas else 1))
        at = cols % width
        stream = torch.zeros_like(cols)                    # 0 appearance, 1 motion, 2 pose
        if self.two_stream:
            stream[at >= appearance_in] = 1
        if self.three_stream:
            stream[at >= appearance_in + flow_in] = 2
        for i, name in enumerate(("appearance_cols", "motion_cols", "pose_cols")):
            self.register_buffer(name, cols[stream == i], persistent=False)

    @property
    def lstms(self) -> list[nn.LSTM]:
        """The LSTM of each stream, in logit order: appearance, then motion, then pose."""
        return [m for m in (self.lstm, self.motion_lstm, self.pose_lstm) if m is not None]

    @property
    def state_size(self) -> int:
        """Width of `h` and `c` in the recurrent state."""
        return sum(lstm.hidden_size for lstm in self.lstms)

    @property
    def pose_chunk(self) -> int | None:
        """Which K logits of `num_logits` are the pose stream's (None: no stream of its own)."""
        if self.three_stream:
            return 2
        if self.two_stream and self.pose_dim == self.motion_dim:
            return 1
        return None

    @property
    def pose_share(self) -> float:
        """The pose stream's weight in the fused scores (`fuse`): 1 where the pose alone names
        the action (the `personal` preset's `pose_weight: 1`), 0 without a stream of its own."""
        return 0.0 if self.pose_chunk is None else self.stream_weights()[self.pose_chunk]

    def stream_weights(self) -> list[float]:
        """Each LSTM's weight in the fused class scores (`fuse`), in logit order, by the same
        arithmetic. Validation usually gives one stream all of it: the others, at exactly 0,
        add nothing to the scores, and streaming does not step them."""
        w = self.fusion_weight
        if self.three_stream:
            weights = [w, 1 - w - self.pose_weight, self.pose_weight]
        elif self.two_stream:
            weights = [w, 1 - w]
        else:
            weights = [torch.tensor(1.0)]
        if self.probe is not None:
            weights = [(1 - self.probe_weight) * weight for weight in weights]
        return [float(weight) for weight in weights]

    def inputs_read(self) -> set[str]:
        """The parts of a step's features that reach the fused scores: `"appearance"` (the
        backbone's cells), `"flow"` and `"pose"`. A stream at weight 0 (`stream_weights`)
        reads nothing, nor does the probe at weight 0; one LSTM over every part (early
        fusion, or a single stream) and the skip path read them all."""
        weights = self.stream_weights()
        if not self.two_stream or (self.skip is not None and weights[0] != 0):
            return {"appearance", "flow", "pose"}
        read = set()
        if weights[0] != 0 or (self.probe is not None and float(self.probe_weight) != 0):
            read.add("appearance")
        if weights[1] != 0:        # the motion LSTM: the flow, and the pose where it has no LSTM of its own
            read |= {"flow"} if self.three_stream else {"flow", "pose"}
        if self.three_stream and weights[2] != 0:
            read.add("pose")
        return read

    @property
    def num_logits(self) -> int:
        """Logits per step before fusion: K per stream (the probe's last)."""
        return self.num_classes * (len(self.lstms) + (self.probe is not None))

    def reset_parameters(self) -> None:
        """Glorot input weights, orthogonal recurrent weights, forget-gate bias 1; the skip
        path starts at zero (it learns only what the data asks of it)."""
        for lstm in self.lstms:
            init_lstm(lstm)
        for classifier in (self.classifier, self.motion_classifier, self.pose_classifier):
            if classifier is not None:
                nn.init.xavier_uniform_(classifier.weight)
                nn.init.zeros_(classifier.bias)
        if self.skip is not None:
            nn.init.zeros_(self.skip.weight)
            nn.init.zeros_(self.skip.bias)

    @torch.no_grad()
    def set_standardization(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        """Per-channel `(D + M,)` mean and std of the training features."""
        self.feature_mean.copy_(mean)
        self.feature_std.copy_(channel_scale(std))

    @property
    def pose_start(self) -> int | None:
        """The column of the first pose channel (`present`) in a feature vector; None
        without a pose stream."""
        return self.in_dim + self.motion_dim - self.pose_dim if self.pose_dim else None

    def standardize(self, features: torch.Tensor) -> torch.Tensor:
        """`(B, T, S, D + M)` features standardised with the training statistics. A pose
        channel whose landmark is not seen (`pose.UNSEEN`), and every pose channel of a step
        where no person was found (the first, `present`, is 0), reads 0, the training mean:
        neither is a pose. (With `pose_gaps` off, as for heads trained on the pose channels'
        version 2, an absent step's zeros are read as they were in training.) With
        `pose_clip`, a standardised pose channel reads at most that many training stds from
        its mean: a wrong detection (a person found upside down) or a view of the body that
        training never showed moves the pose stream no further than that. Without
        `pose_horizontal`, the landmarks' sideways offsets read 0 too."""
        x = (features.float() - self.feature_mean) / self.feature_std
        start = self.pose_start
        if start is None:
            return x
        pose = x[..., start:].masked_fill(hidden_pose(features, start, self.pose_gaps) | self.pose_ignored, 0.0)
        if self.pose_clip:
            pose = pose.clamp(-self.pose_clip, self.pose_clip)
        return torch.cat([x[..., :start], pose], dim=-1)

    def project(self, features: torch.Tensor) -> Steps:
        """`(B, T, S, D + M)` -> `Steps`: each step's cells standardised (`standardize`),
        projected and concatenated, and its skip logits."""
        x = self.standardize(features)
        appearance, motion = x[..., :self.in_dim], x[..., self.in_dim:]
        lstm_in = self.cell_proj(appearance).flatten(2)
        if self.motion_dim:
            flow, pose = motion[..., :self.motion_dim - self.pose_dim], motion[..., 0, self.motion_dim - self.pose_dim:]
            lstm_in = torch.cat([lstm_in, flow.flatten(2), pose], dim=-1)
        skip = self.skip(self.output_dropout(x.mean(dim=2))) if self.skip is not None else None
        probe = self.probe(appearance.flatten(2)) if self.probe is not None else None
        return Steps(lstm_in, skip, probe)

    def forward_projected(self, steps: Steps, state=None, return_state: bool = False):
        """The recurrent part on projected steps -> `(B, T, num_logits)` logits per step.

        The state is `(h, c, previous LSTM input)`; the previous input is where the first
        delta starts from (none: the first delta is zero)."""
        e = steps.lstm_in
        (h, c), previous = (None, None), None
        if state is not None:
            (h, c), previous = state[:2], state[2]
        x = e
        if self.deltas:
            before = torch.cat([e[:, :1] if previous is None else previous, e[:, :-1]], dim=1)
            x = torch.cat([e, e - before], dim=-1)
        x = self.input_dropout(x)
        parts, hs, cs = [], [], []
        for lstm, classifier, cols, part in self.streams():
            out, (hi, ci) = lstm(x[..., cols], None if h is None else
                                 (h[..., part].contiguous(), c[..., part].contiguous()))
            parts.append(classifier(self.output_dropout(out)))
            hs.append(hi)
            cs.append(ci)
        logits = self.join_logits(parts, steps)
        last = e[:, -1:] if self.deltas else None
        return (logits, (torch.cat(hs, dim=-1), torch.cat(cs, dim=-1), last)) if return_state else logits

    def streams(self):
        """Each stream's LSTM, classifier, input columns and slice of the state, in logit order."""
        start = 0
        for lstm, classifier, cols in zip(self.lstms, (self.classifier, self.motion_classifier, self.pose_classifier),
                                          (self.appearance_cols, self.motion_cols, self.pose_cols)):
            yield lstm, classifier, cols, slice(start, start + lstm.hidden_size)
            start += lstm.hidden_size

    @staticmethod
    def join_logits(parts: list[torch.Tensor], steps: Steps) -> torch.Tensor:
        """The streams' `(B, T, K)` logits, the skip path's added to the first, the probe's last."""
        if steps.skip_logits is not None:
            parts = [parts[0] + steps.skip_logits, *parts[1:]]
        logits = torch.cat(parts, dim=-1)
        if steps.probe_logits is not None:
            logits = torch.cat([logits, steps.probe_logits.expand(len(logits), -1, -1)], dim=-1)
        return logits

    def forward(self, features: torch.Tensor, state=None, return_state: bool = False):
        """`(B, T, S, D + M) -> (B, T, num_logits)` logits per step (and the state if asked)."""
        return self.forward_projected(self.project(features), state, return_state)

    def stream_logits(self, features: torch.Tensor, pose_stats: bool = True) -> torch.Tensor:
        """`(B, T, S, D + M) -> (B, num_logits)`: the clip's logits of each stream, by `readout`;
        the pose stream's mixed with its clip statistics' (`pose_stats=False`: the LSTM's alone)."""
        logits = self(features)
        logits = logits.mean(dim=1) if self.readout == "mean" else logits[:, -1]
        if pose_stats and self.pose_probe is not None:
            logits = self.mix_pose_stats(logits, self.pose_statistics(self.standard_pose(features)))
        return logits

    def standard_pose(self, features: torch.Tensor) -> torch.Tensor:
        """`(B, T, S, D + M) -> (B, T, P)`: the standardised pose channels (read from cell 0)."""
        cols = slice(self.pose_start, self.in_dim + self.motion_dim)
        return self.standardize(features[..., :1, :])[..., 0, cols]

    @staticmethod
    def pose_statistics(pose: torch.Tensor) -> torch.Tensor:
        """`(B, T, P) -> (B, 3P)`: each channel's mean, population std and range over the steps."""
        return stats_from_sums(pose.sum(1), pose.pow(2).sum(1), pose.amax(1), pose.amin(1), pose.shape[1])

    def mix_pose_stats(self, logits: torch.Tensor, stats: torch.Tensor) -> torch.Tensor:
        """`(B, num_logits)` clip logits with the pose stream's replaced by its LSTM's and its
        statistics' `(B, 3P)` log-probabilities, mixed `1 - POSE_STATS_SHARE : POSE_STATS_SHARE`."""
        k, at = self.num_classes, self.pose_chunk * self.num_classes
        pose = ((1 - POSE_STATS_SHARE) * logits[..., at:at + k].log_softmax(-1)
                + POSE_STATS_SHARE * self.pose_probe(stats).log_softmax(-1))
        return torch.cat([logits[..., :at], pose, logits[..., at + k:]], dim=-1)

    def fuse(self, logits: torch.Tensor, weight: torch.Tensor | float | None = None,
             probe_weight: torch.Tensor | float | None = None,
             pose_weight: torch.Tensor | float | None = None) -> torch.Tensor:
        """`(..., num_logits) -> (..., K)` class scores: with two streams, their log-probabilities
        weighted by `weight` (default `fusion_weight`) for appearance; with three, the pose's
        by `pose_weight` (default the buffer's) and the flow's by the rest; with a probe
        stream, those scores and the probe's log-probabilities weighted `1 - p` and `p`
        (default `probe_weight`); with one stream alone, its logits as they are."""
        k = self.num_classes
        w = self.fusion_weight if weight is None else weight
        if self.three_stream:
            q = self.pose_weight if pose_weight is None else pose_weight
            scores = (w * logits[..., :k].log_softmax(-1) + (1 - w - q) * logits[..., k:2 * k].log_softmax(-1)
                      + q * logits[..., 2 * k:3 * k].log_softmax(-1))
        elif self.two_stream:
            scores = w * logits[..., :k].log_softmax(-1) + (1 - w) * logits[..., k:2 * k].log_softmax(-1)
        else:
            scores = logits[..., :k]
        if self.probe is None:
            return scores
        p = self.probe_weight if probe_weight is None else probe_weight
        if not self.two_stream:
            scores = scores.log_softmax(-1)
        return (1 - p) * scores + p * logits[..., -k:].log_softmax(-1)

    @torch.no_grad()
    def attach_probe(self, probe: LinearProbe) -> None:
        """Set the probe stream from a `LinearProbe` fitted on clip means of the raw backbone
        cells: folded through this head's standardisation, so that for any clip the mean of
        the stream's step logits equals `probe`'s clip logits."""
        mean = self.feature_mean[:self.in_dim].repeat(self.num_cells)   # (S * D,), cells major
        std = self.feature_std[:self.in_dim].repeat(self.num_cells)
        weight = probe.classifier.weight / probe.std                      # (K, S * D)
        self.probe.weight.copy_(weight * std)
        self.probe.bias.copy_(probe.classifier.bias + weight @ (mean - probe.mean))

    @torch.no_grad()
    def attach_pose_probe(self, probe: LinearProbe) -> None:
        """Set the pose statistics' map from a `LinearProbe` fitted on `pose_statistics`
        `(M, 1, 3P)` of training clips: its standardisation folded into the weights."""
        weight = probe.classifier.weight / probe.std
        self.pose_probe.weight.copy_(weight)
        self.pose_probe.bias.copy_(probe.classifier.bias - weight @ probe.mean)

    def clip_logits(self, features: torch.Tensor) -> torch.Tensor:
        """`(B, T, S, D + M) -> (B, K)`: the clip's class scores."""
        return self.fuse(self.stream_logits(features))


def hidden_pose(features, start: int, gaps: bool = True):
    """`(..., C)` features (a tensor or a NumPy array) -> `(..., C - start)` bool: the pose
    channels (from column `start`, `present`) that read as the training mean: those whose
    landmark is not seen (`pose.UNSEEN`), and with `gaps` every one after `present` on a
    step where nobody was found (`present` 0). `LSTMHead.standardize` and the training
    statistics (`training.feature_statistics`) read the pose through it."""
    hidden = features[..., start:] == UNSEEN
    if gaps:
        hidden |= features[..., start:start + 1] == 0
    hidden[..., 0] = False
    return hidden


def channel_scale(std: torch.Tensor, floor: float = 1e-3) -> torch.Tensor:
    """A standardisation's per-channel divisor from the training std: a channel that did not
    vary in training (std under `floor`, e.g. the pose's `present` when every training step
    shows a person) keeps its own scale, 1, so that a value it never took in training (a
    step with nobody found) moves it by its own size, not by a thousand stds."""
    return torch.where(std < floor, torch.ones_like(std), std)


def ensemble_probs(scores: list[torch.Tensor]) -> torch.Tensor:
    """Each head's `(..., K)` class scores -> `(..., K)` probabilities: the mean of the heads'
    softmax. Heads trained from different initial weights err on different clips; their
    mean is steadier than any one of them (`head.ensemble`, `docs/accuracy.md`)."""
    return torch.stack([s.softmax(-1) for s in scores]).mean(0)


def stats_from_sums(total: torch.Tensor, squares: torch.Tensor, high: torch.Tensor, low: torch.Tensor,
                    count: int) -> torch.Tensor:
    """`(..., P)` sums, sums of squares, maxima and minima over `count` steps -> `(..., 3P)`
    mean, population std and range: one formula for a clip offline and a window live."""
    mean = total / count
    std = (squares / count - mean.pow(2)).clamp(min=0).sqrt()
    return torch.cat([mean, std, high - low], dim=-1)


def init_lstm(lstm: nn.LSTM) -> None:
    """Glorot input weights, orthogonal recurrent weights, forget-gate bias 1."""
    for name, param in lstm.named_parameters():
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
