"""The one inference core: `push(frame, ts) -> Prediction | None`.

The live loop and the batch labeller both feed frames here. Per accepted frame the
backbone runs once; the head then advances `T = clip_steps` LSTM states at once
(one batched step), staggered so that state `k` was reset `k` steps ago. Each step,
exactly one state has seen the last `T` steps: its output is the offline clip
prediction for that window, and it is reset for the next one. The cost per frame is
constant, however long the stream runs, and nothing drifts: no state ever lives
longer than the clips the head was trained on.

Frames are taken by timestamp at the bundle's step rate (`sampling.fps /
stream_stride`), whatever rate the source delivers: a step takes the first frame at
or after its due time, as the offline timeline does. With a motion stream, frames are
also followed at the timeline rate (`sampling.fps`): a step's flow is taken from the
frame of the timeline step before it, as the feature cache takes it offline.
With `readout: mean`, a window's prediction is the mean of its steps' logits, summed
per staggered state; two streams are fused after that, as offline. With the pose
statistics (`head.pose_stats`), each staggered state also keeps its window's running
sum, sum of squares, maximum and minimum of the standardised pose, from which the
window's statistics are read as a clip's are offline. An ensemble's heads keep their
states apart (`HeadWindows`), and a window's probabilities are the mean of theirs, as
offline. A stream that the fusion gives no weight is not stepped, and a part of the
features that no weighted stream reads (`LSTMHead.inputs_read`: the backbone's cells,
the flow, the pose) is not computed: it reads zeros, which change no score.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from functools import cache

import numpy as np
import torch
from threadpoolctl import ThreadpoolController

from .bundle import Bundle
from .config import Config
from .features import OnnxEncoder, join_streams, make_encoder, one_torch_thread
from .model import LSTMHead, ensemble_probs, stats_from_sums
from .motion import FlowEncoder
from .pose import PoseEncoder


@cache
def blas_threads() -> ThreadpoolController:
    """NumPy's BLAS, whose thread count the head step sets to one: its own threads spin
    between the small products and take the cores the backbone and the capture need."""
    return ThreadpoolController().select(user_api="blas")


@dataclass
class Prediction:
    """What the recognizer says after one step.

    `label` is None when the smoothed score is below the threshold or the top class is
    the bundle's background ("none of these") class (no known action), while the
    first window is still filling (`warming_up`), or, for a bundle whose pose stream
    alone names the action, when a person was found in too few of the window's steps
    (`nobody`).
    """
    timestamp: float                 # seconds, of the frame that made this step
    label: str | None
    score: float                     # smoothed probability of the top class
    topk: list[tuple[str, float]]    # smoothed, best first
    probs: np.ndarray = field(repr=False)       # (K,) smoothed
    raw_probs: np.ndarray = field(repr=False)   # (K,) this window alone
    steps_seen: int = 0
    warming_up: bool = False
    latency_ms: float = 0.0          # preprocessing + backbone + head for this frame
    nobody: bool = False             # a pose-alone bundle found a person in too few of the window's steps


class FrameGate:
    """Accept frames at `rate` steps per second by timestamp (first frame at or after
    each due time). Several due times passed at once use one frame once."""

    def __init__(self, rate: float):
        self.period = 1.0 / rate
        self.start: float | None = None
        self.next_step = 0

    def accept(self, ts: float) -> bool:
        if self.start is None:
            self.start, self.next_step = ts, 1
            return True
        due = self.start + self.next_step * self.period
        if ts < due - 1e-6:
            return False
        self.next_step = int(np.floor((ts - self.start) / self.period + 1e-6)) + 1
        return True

    def reset(self) -> None:
        self.start, self.next_step = None, 0


def stream_stride(bundle: Bundle) -> int:
    """Timeline steps between streamed steps: the spacing the head was trained on."""
    return int(bundle.sampling.get("stream_stride", bundle.sampling.get("stride", 1)))


class StreamingRecognizer:
    """Streaming inference over a bundle. Frames are `(H, W, 3)` uint8 RGB."""

    def __init__(self, bundle: Bundle, encoder=None, smoothing: int = 5, threshold: float = 0.5,
                 topk: int = 3, min_person_share: float = 0.5):
        self.bundle = bundle
        for head in bundle.heads:
            head.eval()
        self.preprocess = bundle.preprocess
        # a part of the features that no head's fused scores read is not computed: it reads 0
        read = parts_read(bundle)
        self.appearance = "appearance" in read
        self.encoder = encoder or (make_encoder(bundle.build_backbone()) if self.appearance else None)
        self.motion = FlowEncoder(bundle.motion) if bundle.motion is not None and "flow" in read else None
        self.pose = PoseEncoder(bundle.pose) if bundle.pose is not None and "pose" in read else None
        head = bundle.head
        self.unread = {part: np.zeros((1, head.num_cells, channels), np.float32) for part, channels in
                       (("appearance", head.in_dim), ("flow", bundle.motion.channels if bundle.motion else 0),
                        ("pose", bundle.pose.channels if bundle.pose else 0))}
        # a pose held, tracked or moving depends on the steps before: every timeline step runs it, as offline
        self.pose_every_step = self.pose is not None and self.pose.spec.reads_earlier_steps
        self.window = int(bundle.sampling["clip_steps"])
        self.gate = FrameGate(float(bundle.sampling["fps"]) / stream_stride(bundle))
        self.timeline = FrameGate(float(bundle.sampling["fps"]))
        self.smoothing, self.threshold, self.topk = max(1, smoothing), threshold, topk
        # where the pose alone names the action, a window without a person has nothing to read
        # (with the scene and the flow in the mix, as for a camera's pan, they still read it)
        alone = self.pose is not None and all(head.pose_share > 1 - 1e-6 for head in bundle.heads)
        self.min_person_share = min_person_share if alone else 0.0
        self.background = bundle.background_class
        self.windows = [HeadWindows(head, self.window) for head in bundle.heads]
        blas_threads()       # found once here (it reads the loaded libraries), not in the first step
        self.reset()

    def reset(self) -> None:
        """Forget the stream: the next frame starts a new one."""
        for windows in self.windows:
            windows.reset()
        if self.pose is not None:
            self.pose.reset()
        self.before: np.ndarray | None = None    # resized frame of the last timeline step
        self.last_features: torch.Tensor | None = None   # the last step's, for `hold`
        self.age = -np.arange(self.window)   # steps seen; state k starts k steps late
        self.recent: deque = deque(maxlen=self.smoothing)
        self.people: deque = deque(maxlen=self.window)   # per step of the window: a person found
        self.steps = 0
        self.gate.reset()
        self.timeline.reset()

    def push(self, frame: np.ndarray, ts: float) -> Prediction | None:
        """Feed one frame; a Prediction when the frame was taken as a step, else None."""
        on_timeline = (self.motion is not None or self.pose_every_step) and self.timeline.accept(ts)
        if not self.gate.accept(ts):
            if on_timeline:   # a timeline step between streamed ones (`stream_stride` > 1)
                if self.motion is not None:      # the frame a later step's flow starts from
                    self.before = self.preprocess(frame[None])[0]
                if self.pose_every_step:         # the pose a later step may hold or track from
                    self.pose(frame[None])
            return None
        start = time.perf_counter()
        self.last_features = self.encode(frame)
        raw, ready = self.step(self.last_features)
        latency = (time.perf_counter() - start) * 1000
        return self.predict(raw, ts, ready, latency)

    def hold(self, ts: float) -> Prediction:
        """Repeat the last step as a new step at `ts` (the action held on its final step), as
        `sampling.pad_indices` pads a clip offline: pads a stream shorter than one window."""
        raw, ready = self.step(self.last_features)
        return self.predict(raw, ts, ready, 0.0)

    def encode(self, frame: np.ndarray) -> torch.Tensor:
        """`(H, W, 3)` uint8 -> `(1, 1, S, D + C)`, rounded through float16 like the cache.
        A part that no head reads (`LSTMHead.inputs_read`) is zeros, not computed."""
        resized = self.preprocess(frame[None]) if self.appearance or self.motion is not None else None
        flow = pose = None
        if self.motion is not None:
            flow = self.motion(resized, self.before)
            self.before = resized[0]
        elif self.bundle.motion is not None:
            flow = self.unread["flow"]
        if self.pose is not None:
            pose = self.pose(frame[None])
        elif self.bundle.pose is not None:
            pose = self.unread["pose"]
        appearance = self.encoder(resized) if self.appearance else self.unread["appearance"]
        feats = join_streams(appearance, join_streams(flow, pose))   # (1, S, D + C)
        return torch.from_numpy(feats.astype(np.float16).astype(np.float32))[None]

    @torch.no_grad()
    def step(self, features: torch.Tensor) -> tuple[np.ndarray, bool]:
        """Advance every staggered state by one step; the probabilities of the state that
        has now seen a full window (or, while warming up, the oldest one): the mean of the
        heads' (one head, or an ensemble's). Notes whether the step found a person
        (`present`, after the pose hold) where `min_person_share` needs it."""
        if self.min_person_share:
            self.people.append(bool(features[0, 0, 0, self.bundle.head.pose_start] > 0))
        fresh = self.age <= 0   # starting now, or not started yet: kept at zero
        self.age = self.age + 1
        oldest = int(np.argmax(self.age))
        seen = int(self.age[oldest])
        with blas_threads().limit(limits=1):
            probs = ensemble_probs([w.step(features, fresh, oldest, seen) for w in self.windows])
        ready = seen >= self.window
        if ready:
            self.age[oldest] = 0          # reset before the next step
        self.steps += 1
        return probs.numpy(), bool(ready)

    def predict(self, raw: np.ndarray, ts: float, ready: bool, latency_ms: float) -> Prediction:
        self.recent.append(raw)
        probs = np.mean(self.recent, axis=0)
        order = np.argsort(probs)[::-1][:self.topk]
        names = self.bundle.class_names
        score = float(probs[order[0]])
        nobody = ready and sum(self.people) < self.min_person_share * len(self.people)
        known = ready and not nobody and score >= self.threshold and names[order[0]] != self.background
        label = names[order[0]] if known else None
        return Prediction(ts, label, score, [(names[i], float(probs[i])) for i in order], probs, raw,
                          self.steps, not ready, latency_ms, nobody)


class LSTMStepper:
    """One eval-mode time step of a stream's trained `nn.LSTM` and its classifier, for B
    states at once, in NumPy. The weights are copied once: transposed, the two biases
    summed, and the gates reordered from PyTorch's i, f, g, o to i, f, o, g so that one
    call takes the three sigmoids. On a 2-core CPU, NumPy's BLAS on one thread steps the
    16 staggered states of a default head about 1.5x as fast as PyTorch's small-matrix
    calls (`docs/performance.md`)."""

    def __init__(self, lstm: torch.nn.LSTM, classifier: torch.nn.Linear, cols: torch.Tensor):
        n = self.hidden = lstm.hidden_size
        order = np.r_[0:2 * n, 3 * n:4 * n, 2 * n:3 * n]

        def weight(name: str, layer: int) -> np.ndarray:
            return getattr(lstm, f"{name}_l{layer}").detach().numpy()[order]
        self.layers = [(np.ascontiguousarray(weight("weight_ih", layer).T),
                        np.ascontiguousarray(weight("weight_hh", layer).T),
                        weight("bias_ih", layer) + weight("bias_hh", layer))
                       for layer in range(lstm.num_layers)]
        self.out = np.ascontiguousarray(classifier.weight.detach().numpy().T), classifier.bias.detach().numpy().copy()
        self.cols = cols.numpy()

    def __call__(self, rows: np.ndarray, row_of: np.ndarray, h: np.ndarray, c: np.ndarray) -> np.ndarray:
        """`rows` `(R, F)`: a few distinct step inputs (every stream's columns, deltas
        included), state b reading `rows[row_of[b]]`: the first layer projects the R rows
        once, not B times. `h`, `c` `(layers, B, H)` advance in place. Returns `(B, K)` logits."""
        n = self.hidden
        x = rows[:, self.cols]
        for layer, (w_ih, w_hh, bias) in enumerate(self.layers):
            gates = x @ w_ih + bias
            if layer == 0:
                gates = gates[row_of]
            gates += h[layer] @ w_hh
            sig, cand = gates[:, :3 * n], gates[:, 3 * n:]
            sig *= 0.5                               # sigmoid(z) = (tanh(z / 2) + 1) / 2: no overflow
            np.tanh(sig, out=sig)
            sig += 1.0
            sig *= 0.5
            np.tanh(cand, out=cand)
            c[layer] *= gates[:, n:2 * n]
            cand *= gates[:, :n]
            c[layer] += cand
            x = np.tanh(c[layer], out=h[layer])
            x *= gates[:, 2 * n:3 * n]
        weight, bias = self.out
        return x @ weight + bias


class HeadWindows:
    """One head's `window` staggered states: each stream's LSTM `(h, c)`, the last step's
    input (for deltas), each state's running sum of step logits and its pose window sums.
    State k starts k steps after state 0; `StreamingRecognizer` keeps their ages. A stream
    whose weight in the fused scores is 0 (`LSTMHead.stream_weights`) is not stepped: its
    logits read 0, which the fusion multiplies by 0 all the same."""

    def __init__(self, head: LSTMHead, window: int):
        self.head, self.window = head, window
        self.steppers = [LSTMStepper(lstm, classifier, cols) if weight != 0 else None
                         for (lstm, classifier, cols, _), weight in zip(head.streams(), head.stream_weights())]
        self.silent = torch.zeros(window, 1, head.num_classes)   # the logits of a stream not stepped
        self.reset()

    def reset(self) -> None:
        """Every state back to zero, as at the start of a stream."""
        layers, window = self.head.lstm.num_layers, self.window
        self.states = [None if s is None else (np.zeros((layers, window, s.hidden), np.float32),
                                               np.zeros((layers, window, s.hidden), np.float32))
                       for s in self.steppers]
        self.previous = None
        self.logit_sum = torch.zeros(window, self.head.num_logits)
        self.pose_sums = torch.zeros(4, window, self.head.pose_dim)   # sum, sum of squares, max, min

    def step(self, features: torch.Tensor, fresh: np.ndarray, oldest: int, seen: int) -> torch.Tensor:
        """Advance every state by the step `(1, 1, S, D + M)`, the `fresh` ones from zero;
        `(K,)` class scores of the `oldest` state's window of `seen` steps."""
        head = self.head
        for h, c in filter(None, self.states):
            h[:, fresh] = 0
            c[:, fresh] = 0
        self.logit_sum[torch.from_numpy(fresh)] = 0
        steps = head.project(features)       # projected once, shared by all states
        e = steps.lstm_in[0, 0].numpy()      # (F,)
        rows, row_of = e[None], np.zeros(len(fresh), np.intp)
        if head.deltas:   # states that go on see the step's delta; a state starting now, zero
            before = e if self.previous is None else self.previous
            rows = np.stack([np.concatenate([e, e - before]), np.concatenate([e, np.zeros_like(e)])])
            row_of = fresh.astype(np.intp)
            self.previous = e
        parts = [self.silent if stepper is None
                 else torch.from_numpy(stepper(rows, row_of, *state))[:, None]
                 for stepper, state in zip(self.steppers, self.states)]
        logits = head.join_logits(parts, steps)
        self.logit_sum += logits[:, -1]
        clip = self.logit_sum[oldest] / seen if head.readout == "mean" else logits[oldest, -1]
        if head.pose_probe is not None:
            clip = head.mix_pose_stats(clip, self.pose_window(features, torch.from_numpy(fresh), oldest, seen))
        return head.fuse(clip)

    def pose_window(self, features: torch.Tensor, fresh: torch.Tensor, oldest: int, seen: int) -> torch.Tensor:
        """Add this step's `(1, 1, S, D + M)` standardised pose to every state's window sums;
        `(3P,)` statistics of the `oldest` state's window."""
        pose = self.head.standard_pose(features)[0, -1]
        total, squares, high, low = self.pose_sums
        total[fresh], squares[fresh] = 0, 0
        high[fresh], low[fresh] = -torch.inf, torch.inf
        total += pose
        squares += pose.pow(2)
        torch.maximum(high, pose, out=high)
        torch.minimum(low, pose, out=low)
        return stats_from_sums(total[oldest], squares[oldest], high[oldest], low[oldest], seen)


def parts_read(bundle: Bundle) -> set[str]:
    """The parts of a step's features that some head's fused scores read
    (`LSTMHead.inputs_read`): streaming computes these alone."""
    return set().union(*(head.inputs_read() for head in bundle.heads))


def step_threads(recognizer: StreamingRecognizer):
    """One intra-op thread for PyTorch while `recognizer` streams with its backbone in ONNX
    Runtime, or with no backbone to run: the head's batch-1 step is too small to share,
    and PyTorch's idle OpenMP worker then waits on the cores that ONNX Runtime's threads
    need (live step latency p95 32-42 ms -> 14-15 ms on 2 cores, `docs/performance.md`).
    A PyTorch backbone keeps its threads."""
    encoder = recognizer.encoder
    return one_torch_thread(encoder is None or (isinstance(encoder, OnnxEncoder) and not encoder.failed))


def build_recognizer(bundle: Bundle, cfg: Config) -> StreamingRecognizer:
    """The recognizer `cfg` describes (encoder runtime, smoothing, threshold, top-k),
    its encoder warmed up (ONNX export or session start) so that the first step's
    latency is a step's. No backbone is built where no head reads its features."""
    encoder = None
    if "appearance" in parts_read(bundle):
        encoder = make_encoder(bundle.build_backbone(), cfg.backbone.runtime)
    recognizer = StreamingRecognizer(bundle, encoder, smoothing=cfg.stream.smoothing,
                                     threshold=cfg.stream.threshold, topk=cfg.stream.topk,
                                     min_person_share=cfg.stream.min_person_share)
    crop = bundle.preprocess.crop_size
    recognizer.encode(np.zeros((crop, crop, 3), np.uint8))
    return recognizer
