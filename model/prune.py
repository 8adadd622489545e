"""Hardware-aware structured pruning: channels cut where val AP50 misses them least, to the estimate's budget.

Cut until the FINN estimate says the design fits a resource and frame-rate budget.

A channel group is the output channels of one pointwise (or the stem) conv together with everything
that reads them: the next depthwise conv's channel (depthwise layers prune in lockstep with their
input), the next pointwise conv's input column, and in the decoder the dilation predictor's input.
Pruning slices the float model's weights and BN tensors, so the pruned network computes what the
original computes with those channels' contributions removed (tests/model/test_prune.py).

The search is a greedy on measured accuracy: each step tries cutting every group by about a quarter
(channels of least BN |gamma| first, as network slimming ranks them), scores each candidate's val AP50
without fine-tuning, and takes the one that loses the least AP50 per unit of hardware saved (the loss
floored at NOISE_AP50, so a lucky score on a cut that saves little does not win). The unit is the
compute layers' LUT and BRAM as the overlay's cost models price them folded for the target frame rate
(`compute_cost`), as fractions of the start's, of whichever the last estimate found over the budget
(both, averaged, when both or neither are): a channel is worth what it lets the folding
take back, a step function (a layer's PE halves only once its cycles fit), not its MACs (a MAC and
weight-bit price, tried first, took steps that saved 20 LUTs). Each step's result is then estimated
for real (untrained graph, folding searched for the target, every cost the overlay counts), and the
search stops once that estimate fits. Counts stay multiples of QUANTUM, so every layer keeps
power-of-two PE/SIMD choices for the folding.

    python -m codenet.model.prune search --model model/weights/trees-float.pt --data trees --out build/prune
"""

from __future__ import annotations

import dataclasses
import json
import tempfile
from pathlib import Path
from types import SimpleNamespace

from codenet.host.errors import CodenetError
from codenet.model.config import config_yaml

QUANTUM = 8  #: every pruned count is a multiple of this: PE/SIMD of 1, 2, 4, 8 always divide it
#: AP50 differences below this are not evidence (about one point on the trees val split's 124 crowns)
NOISE_AP50 = 1.0
STEP_FRACTION = 1 / 4  #: a search step cuts a group by about this much (at least QUANTUM channels)


def overlay():
    """The estimate's entry points: the one place this module imports codenet.overlay."""
    from codenet.overlay.estimate import costs
    from codenet.overlay.estimate.fold_search import search_folding
    from codenet.overlay.estimate.graph import estimate
    from codenet.overlay.estimate.hw_graph import untrained_model
    from codenet.overlay.flow.board import load_board
    from codenet.overlay.flow.steps import prepare_finn, streamline, to_hw_layers

    return SimpleNamespace(
        costs=costs,
        search_folding=search_folding,
        estimate=estimate,
        untrained_model=untrained_model,
        load_board=load_board,
        prepare_finn=prepare_finn,
        streamline=streamline,
        to_hw_layers=to_hw_layers,
    )


# ---- channel groups and slicing ----------------------------------------------------------------------
def widths(cfg) -> dict:
    """Group name -> its channel count: the stem, each backbone block, each decoder stage, the head."""
    out = {"stem": int(cfg.stem[0])}
    out |= {f"backbone.{i}": int(c) for i, (c, _) in enumerate(cfg.backbone)}
    out |= {f"neck.{j}": int(c) for j, c in enumerate(cfg.neck)}
    out["head"] = int(cfg.head_channels)
    return out


def with_widths(cfg, counts: dict, name: str | None = None):
    """`cfg` with the group counts of `counts` (groups not named keep theirs)."""
    w = {**widths(cfg), **counts}
    return dataclasses.replace(
        cfg,
        name=name or cfg.name,
        stem=(w["stem"], cfg.stem[1]),
        backbone=tuple((w[f"backbone.{i}"], s) for i, (_, s) in enumerate(cfg.backbone)),
        neck=tuple(w[f"neck.{j}"] for j in range(len(cfg.neck))),
        head_channels=w["head"],
    ).validate()


def layer_groups(cfg) -> dict:
    """Layer path -> (input group, output group, depthwise); None where the count is fixed (the image's 3
    channels, the dilation map's 1, the head's classes + 4)."""
    layers = {"stem": (None, "stem", False)}
    prev = "stem"
    for i in range(len(cfg.backbone)):
        layers[f"backbone.{i}.dw"] = (prev, prev, True)
        layers[f"backbone.{i}.pw"] = (prev, f"backbone.{i}", False)
        prev = f"backbone.{i}"
    for j in range(len(cfg.neck)):
        if cfg.deform in ("bounded", "bilinear"):
            layers[f"neck.{j}.offset"] = (prev, None, False)
        layers[f"neck.{j}.dw"] = (prev, prev, True)
        layers[f"neck.{j}.pw"] = (prev, f"neck.{j}", False)
        prev = f"neck.{j}"
    layers |= {
        "head.dw": (prev, prev, True),
        "head.pw": (prev, "head", False),
        "head.out": ("head", None, False),
    }
    return layers


def producer(group: str) -> str:
    """The layer whose BN makes the group's channels (its |gamma| ranks them)."""
    return group if group == "stem" else f"{group}.pw"


def ranked_channels(model, group: str, keep: int):
    """The `keep` channels of `group` with the largest BN |gamma|, in their original order."""
    import torch

    gamma = dict(model.named_modules())[producer(group)].bn.weight.detach().abs()
    return torch.sort(torch.argsort(gamma, descending=True, stable=True)[:keep]).values


def slice_model(model, keep: dict, name: str | None = None):
    """A new CoDeNet keeping, for each group in `keep`, the channels indexed there (other groups whole).

    Every tensor of a layer's state is cut along its output (dim 0) and, for dense convs, input (dim 1)
    axes; scalars (activation scales, the quant switch) are copied, so a calibrated model stays calibrated.
    """

    from codenet.model.network import CoDeNet

    if getattr(model, "has_integers", False):
        raise CodenetError(
            "prune a float (or calibrated, not frozen) model: its stored integers cannot be cut"
        )
    cfg = with_widths(model.cfg, {g: len(idx) for g, idx in keep.items()}, name)
    old = model.state_dict()
    new = {}
    for layer, (gin, gout, depthwise) in layer_groups(model.cfg).items():
        for key in [k for k in old if k.startswith(layer + ".")]:
            t = old[key]
            if t.dim() >= 1 and gout in keep and not key.endswith(".gain"):
                t = t.index_select(0, keep[gout])
            if key.endswith("conv.weight") and not depthwise and gin in keep:
                t = t.index_select(1, keep[gin])
            new[key] = t.clone()
    pruned = CoDeNet(cfg)
    pruned.load_state_dict(new)
    if model.is_quant:
        for m in pruned.modules():
            if hasattr(m, "quantized"):
                m.quantized.fill_(True)
    return pruned.train(model.training)


def prune_to(model, counts: dict, name: str | None = None):
    """`model` cut to the group counts of `counts`, each group keeping its largest-|gamma| channels."""
    now = widths(model.cfg)
    keep = {g: ranked_channels(model, g, c) for g, c in counts.items() if c != now[g]}
    return slice_model(model, keep, name)


def legal(cfg) -> list[str]:
    """Why the counts cannot fold (empty when they can): multiples of QUANTUM, and each deformable
    window's rows long enough for its kernel ((W-1)*C/PE >= DW_MIN_ROW_WORDS at PE 1)."""
    from codenet.hls.csim import DW_MIN_ROW_WORDS

    bad = [
        f"{g} has {c} channels, not a positive multiple of {QUANTUM}"
        for g, c in widths(cfg).items()
        if c <= 0 or c % QUANTUM
    ]
    side = cfg.input_size // cfg.total_stride
    chans = [widths(cfg)[f"backbone.{len(cfg.backbone) - 1}"], *cfg.neck[:-1]]
    for j, c in enumerate(chans):
        if (side * 2**j - 1) * c < DW_MIN_ROW_WORDS:
            bad.append(f"neck.{j}'s window row is too short for {c} channels")
    return bad


def uniform(cfg, alpha: float) -> dict:
    """Every group's count times `alpha`, rounded to the nearest multiple of QUANTUM (at least QUANTUM)."""
    return {g: max(QUANTUM, QUANTUM * round(c * alpha / QUANTUM)) for g, c in widths(cfg).items()}


# ---- the estimate --------------------------------------------------------------------------------------
def hw_graph(cfg):
    """The config's HW-layer graph as `make estimate` builds it from an untrained config (shapes and
    bits are all the estimate reads), without the bundle."""
    from codenet.model.export import export_qonnx_model

    ov = overlay()
    ov.prepare_finn()
    with tempfile.TemporaryDirectory(prefix="prune-") as tmp:
        path = Path(tmp) / "config.yaml"
        path.write_text(config_yaml(cfg))
        model, _ = ov.untrained_model(str(path))
        onnx = export_qonnx_model(model, Path(tmp) / "model.onnx")
        return ov.to_hw_layers(ov.streamline(str(onnx)))


def fold_and_estimate(graph, board, fps: float) -> dict:
    """The graph folded for `fps` on `board`: frames/s, LUT, BRAM18, DSP and the board's violations."""
    import copy

    from qonnx.core.modelwrapper import ModelWrapper

    ov = overlay()
    target = board.with_target(fps)
    r = ov.estimate(ov.search_folding(ModelWrapper(copy.deepcopy(graph.model)), target), target, finn=False)
    t, u = r["total"], r["utilisation"]
    return {
        "target_fps": fps,
        "fps": round(r["fps"], 2),
        "lut": t["lut"],
        "lut_pct": round(u["lut_pct"], 1),
        "bram18": t["bram18"],
        "bram36_pct": round(u["bram36_pct"], 1),
        "dsp": t["dsp"],
        "bottleneck": r["bottleneck"],
        "violations": r["violations"],
    }


@dataclasses.dataclass(frozen=True)
class Budget:
    """What a design may use: folded for `fps`, it must reach it within the board's limits and these caps."""

    fps: float
    lut: int
    bram18: int
    dsp: int

    def misses(self, e: dict) -> list[str]:
        out = list(e["violations"])
        out += [f"{e['fps']:.1f} frames/s < {self.fps:g}"] if e["fps"] < self.fps else []
        out += [f"LUT {e['lut']} > {self.lut}"] if e["lut"] > self.lut else []
        out += [f"BRAM18 {e['bram18']} > {self.bram18}"] if e["bram18"] > self.bram18 else []
        out += [f"DSP {e['dsp']} > {self.dsp}"] if e["dsp"] > self.dsp else []
        return out


def reference_budget(cfg, board, fps: float) -> Budget:
    """`fps` on the resources `cfg` takes at the board's own target: the same silicon, `fps` frames/s."""
    e = fold_and_estimate(hw_graph(cfg), board, board.target_fps)
    return Budget(fps=fps, lut=e["lut"], bram18=e["bram18"], dsp=board.limits["dsp"])


def estimator(board, budget: Budget):
    """cfg -> its estimate at the budget's frame rate, with `misses` (empty: it fits)."""

    def run(cfg):
        e = fold_and_estimate(hw_graph(cfg), board, budget.fps)
        return {**e, "misses": budget.misses(e)}

    return run


# ---- the search ----------------------------------------------------------------------------------------
def _divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def _first_fit(options, cost, budget: int):
    """The first option (cheapest first) whose cost meets the cycle budget, else the last one."""
    for option in options:
        c = cost(option)
        if c.cycles <= budget:
            return option, c
    return option, c


def _fold_layer(costs, name, layer, in_shape, out_shape, budget: int):
    """(PE, cost) of one conv at its least parallelism meeting `budget`, as the folding search folds it."""
    from codenet.hls.csim import DW_MIN_ROW_WORDS

    (_, cin, h, w), (_, cout, ho, wo) = in_shape, out_shape
    conv, bits = layer.conv, layer.weight_bits
    k, stride, pixels = conv.kernel_size[0], conv.stride[0], ho * wo
    if conv.groups > 1 and name.startswith("neck."):  # the bounded deformable depthwise window
        options = [p for p in _divisors(cin) if (w - 1) * (cin // p) >= DW_MIN_ROW_WORDS] or [1]
        return _first_fit(options, lambda p: costs.deformable_dw(h, w, cin, layer.bound, p, bits), budget)
    if conv.groups > 1:  # sliding window + VVAU at the same width (a Cost sum keeps the slower's cycles)
        return _first_fit(_divisors(cin), lambda p: costs.vvau(cin, k, p, pixels, bits)
                          + costs.sliding_window(h + 2, w + 2, cin, k, stride, 1, p), budget)
    mw, mh = cin * k * k, cout
    options = sorted(((s, p) for s in _divisors(mw) for p in _divisors(mh)),
                     key=lambda a: (a[0] * a[1], a[1]))  # fewest lanes, SIMD before PE
    (_, pe), c = _first_fit(options, lambda a: costs.mvau(mw, mh, a[0], a[1], pixels, bits), budget)
    return pe, c


def layer_shapes(cfg) -> dict:
    """Layer path -> (input, output) NCHW shapes for one frame, from the config (no forward pass)."""
    size = cfg.input_size
    c, h = cfg.stem[0], size // cfg.stem[1]
    shapes = {"stem": ((1, 3, size, size), (1, c, h, h))}
    for i, (cout, stride) in enumerate(cfg.backbone):
        shapes[f"backbone.{i}.dw"] = ((1, c, h, h), (1, c, h // stride, h // stride))
        h //= stride
        shapes[f"backbone.{i}.pw"] = ((1, c, h, h), (1, cout, h, h))
        c = cout
    for j, cout in enumerate(cfg.neck):
        if cfg.deform in ("bounded", "bilinear"):
            shapes[f"neck.{j}.offset"] = ((1, c, h, h), (1, 1, h, h))
        shapes[f"neck.{j}.dw"] = ((1, c, h, h), (1, c, h, h))
        shapes[f"neck.{j}.pw"] = ((1, c, h, h), (1, cout, h, h))
        c, h = cout, 2 * h  # the stage's nearest x2 upsample
    shapes["head.dw"] = ((1, c, h, h), (1, c, h, h))
    shapes["head.pw"] = ((1, c, h, h), (1, cfg.head_channels, h, h))
    shapes["head.out"] = ((1, cfg.head_channels, h, h), (1, cfg.num_classes + 4, h, h))
    return shapes


def compute_cost(model, budget_cycles: int) -> tuple[int, int]:
    """(LUT, BRAM18) of the network's compute layers folded for `budget_cycles` a frame, priced by the
    overlay's cost models as the folding search folds them: each conv (MVAU, the depthwise VVAU with its
    sliding window, the deformable window) at its least parallelism that meets the budget, plus the
    requantization lanes that follow its PE. What channel counts change, without building a FINN graph
    (streams, padding, upsampling and the shell are left out: the real estimate checks the design)."""
    from codenet.model.layers import HeadConv

    costs = overlay().costs
    layers, shapes = model.quant_layers(), layer_shapes(model.cfg)
    lut = bram = 0
    for name, layer in layers.items():
        pe, c = _fold_layer(costs, name, layer, *shapes[name], budget_cycles)
        lut, bram = lut + c.lut, bram + c.bram18
        if not isinstance(layer, HeadConv):  # the head's accumulator leaves unrequantized
            cout, pixels = shapes[name][1][1], shapes[name][1][2] * shapes[name][1][3]
            r = costs.requant(cout, pe if cout % pe == 0 else 1, pixels)
            lut, bram = lut + r.lut, bram + r.bram18
    return lut, bram


def step_size(width: int) -> int:
    return max(QUANTUM, QUANTUM * round(width * STEP_FRACTION / QUANTUM))


def search(
    model, score, estimate, budget_cycles: int, max_steps: int = 60, log=print, name: str | None = None
):
    """Greedy pruning of float `model` until `estimate(cfg)["misses"]` is empty.

    `score(model)` is the objective (val AP50); a candidate's price is its compute layers' LUT or BRAM
    (whichever the last estimate found over; both averaged otherwise) folded for `budget_cycles` a frame
    (`compute_cost`), as a fraction of the start's. Returns (pruned model, the path: one row per step).
    """
    lut0, bram0 = compute_cost(model, budget_cycles)
    weights = (0.5, 0.5)

    def price(m):
        lut, bram = compute_cost(m, budget_cycles)
        return weights[0] * lut / lut0 + weights[1] * bram / max(bram0, 1)

    def binding(misses):
        """Price what the estimate says is over: LUT, BRAM, or both alike."""
        lut, bram = any(m.startswith("LUT") for m in misses), any(m.startswith("BRAM") for m in misses)
        return (1.0, 0.0) if lut and not bram else (0.0, 1.0) if bram and not lut else (0.5, 0.5)

    current, current_score = model, score(model)
    est = estimate(model.cfg)
    weights = binding(est["misses"])
    current_price = price(model)
    path = [
        {
            "step": 0,
            "group": None,
            "widths": widths(model.cfg),
            "score": round(current_score, 2),
            "price": 1.0,
            "estimate": est,
        }
    ]
    log(
        f"start: AP50 {current_score:.1f}, {est['fps']:.1f} frames/s, LUT {est['lut']}, "
        f"BRAM18 {est['bram18']}"
        f"{'' if not est['misses'] else ' (' + '; '.join(est['misses']) + ')'}"
    )
    while est["misses"]:
        if len(path) > max_steps:
            raise CodenetError(
                f"no design within the budget after {max_steps} steps: {'; '.join(est['misses'])}"
            )
        candidates = []
        for group, width in widths(current.cfg).items():
            counts = {group: width - step_size(width)}
            if counts[group] < QUANTUM or legal(with_widths(current.cfg, counts)):
                continue
            cand = prune_to(current, counts, name)
            p = price(cand)
            if p >= current_price:  # fewer channels can fold worse (fewer divisors): never a step
                continue
            # AP50 lost per unit saved, the loss floored at the val split's noise: a cut that loses
            # nothing by luck must still save enough to beat one that loses a little and saves much
            s, saved = score(cand), current_price - p
            candidates.append(((max(current_score - s, 0.0) + NOISE_AP50) / saved, group, cand, s, p))
        if not candidates:
            raise CodenetError(
                f"nothing left to prune and the budget is still missed: {'; '.join(est['misses'])}"
            )
        _, group, current, current_score, current_price = min(candidates, key=lambda c: c[0])
        est = estimate(current.cfg)
        weights = binding(est["misses"])
        current_price = price(current)
        path.append(
            {
                "step": len(path),
                "group": group,
                "widths": widths(current.cfg),
                "score": round(current_score, 2),
                "price": round(current_price, 4),
                "estimate": est,
            }
        )
        log(
            f"step {len(path) - 1}: {group} -> {widths(current.cfg)[group]}: AP50 {current_score:.1f}, price "
            f"{current_price:.3f}, {est['fps']:.1f} frames/s, LUT {est['lut']}, BRAM18 {est['bram18']}"
            f"{'' if not est['misses'] else ' (' + '; '.join(est['misses']) + ')'}"
        )
    return current, path


def val_score(data: str, split: str = "val", images: int = 300):
    """model -> AP50 on `split` of `data` (the search's objective; tune on val)."""
    import torch
    from codenet.model.data import open_dataset
    from codenet.model.predict import evaluate_model

    dataset = None

    def score(model):
        nonlocal dataset
        dataset = dataset or open_dataset(data, split, images, model.cfg.input_size, 0)
        with torch.no_grad():
            return evaluate_model(model.eval(), dataset, progress=False)["AP50"]

    return score


def choose_uniform(cfg, board, budget: Budget, alphas=(0.9, 0.85, 0.8, 0.75, 0.7, 0.65, 0.6), log=print):
    """The widest uniform narrowing (all counts x alpha, rounded to QUANTUM) that fits `budget`:
    (alpha, counts, estimate)."""
    run = estimator(board, budget)
    for alpha in alphas:
        counts = uniform(cfg, alpha)
        if legal(with_widths(cfg, counts)):
            continue
        e = run(with_widths(cfg, counts))
        log(
            f"uniform x{alpha}: {e['fps']:.1f} frames/s, LUT {e['lut']}, BRAM18 {e['bram18']}"
            f"{'' if not e['misses'] else ' (' + '; '.join(e['misses']) + ')'}"
        )
        if not e["misses"]:
            return alpha, counts, e
    raise CodenetError(f"no uniform width down to x{alphas[-1]} fits the budget")


# ---- fine-tuning ---------------------------------------------------------------------------------------
def distilled_trainer(cfg, settings, out_dir, teacher_path, progress: bool = True):
    """A Trainer whose teacher is the float model at `teacher_path` (the unpruned network) in both phases:
    the float fine-tune and QAT learn the unpruned model's heatmaps (weight `distill`)."""
    from codenet.model.checkpoint import load_model
    from codenet.model.train import Trainer

    class DistilledTrainer(Trainer):
        def __init__(self):
            super().__init__(cfg, settings, out_dir, progress)
            teacher, _, _ = load_model(teacher_path)
            if teacher.is_quant:
                raise CodenetError(f"{teacher_path}: the teacher must be a float model")
            self.fixed_teacher = teacher.to(self.device).eval()
            self.teacher = self.fixed_teacher

        def start_qat(self):
            super().start_qat()
            self.teacher = self.fixed_teacher

        def state(self):  # the teacher is a file, not training state
            return {**super().state(), "teacher": None}

        def restore(self):
            super().restore()
            self.teacher = self.fixed_teacher

    if not settings.distill > 0:
        raise CodenetError("distilled fine-tuning needs train.distill > 0")
    return DistilledTrainer()


def finetune(config_path, teacher_path, out_dir, resume: bool = False, progress: bool = True):
    """Float fine-tune then QAT of a pruned config (its train.init_from: the sliced float model), both
    distilled from `teacher_path`. Returns the W4A8 model file."""
    from codenet.model.config import load_config
    from codenet.model.train import TrainSettings

    cfg, train = load_config(str(config_path))
    return distilled_trainer(cfg, TrainSettings.from_dict(train), out_dir, teacher_path, progress).run(resume)


#: the fine-tune both the pruned and the uniform network get (the tree detector's settings, shorter)
FINETUNE = {
    "data": "trees",
    "batch_size": 16,
    "float_epochs": 30,
    "qat_epochs": 5,
    "lr": 0.002,
    "qat_lr": 0.0002,
    "distill": 1.0,
    "ema": 0.99,
    "channels_last": True,
    "workers": 1,
    "threads": 1,
    "eval_float": True,
    "val_split": "val",
    "report_splits": ["test", "cross-site"],
    "seed": 0,
}


def write_variant(model, classes, counts: dict, name: str, out_dir, meta: dict) -> Path:
    """`model` sliced to `counts` as a model file plus its config YAML (train.init_from: that file)."""
    from codenet.host.io import write_bytes_atomic
    from codenet.model.checkpoint import save_model

    out = Path(out_dir)
    sliced = prune_to(model, counts, name)
    save_model(sliced, classes, out / f"{name}-float.pt", {**meta, "phase": "float"})
    config = out / f"{name}.yaml"
    write_bytes_atomic(
        config_yaml(sliced.cfg, {**FINETUNE, "init_from": str(out / f"{name}-float.pt")}).encode(), config
    )
    return config


def run_search(
    model_path,
    data: str,
    out_dir,
    fps: float | None = None,
    board_path=None,
    name: str = "codenet-trees-pruned",
) -> dict:
    """Prune the float model at `model_path` to the budget: `fps` (default 1.5 x the board's target) on the
    LUT and BRAM the unpruned network takes at the board's target. Writes out_dir/search.json and the
    pruned network as out_dir/{name}.yaml + {name}-float.pt (the fine-tune's start)."""
    import time

    from codenet.host.io import write_json_atomic
    from codenet.model.checkpoint import load_model

    model, classes, _ = load_model(model_path)
    if model.is_quant:
        raise CodenetError(f"{model_path}: a W4A8 model; pruning starts from the float model")
    board = overlay().load_board(board_path)
    t0 = time.time()
    budget = reference_budget(model.cfg, board, fps or 1.5 * board.target_fps)
    pruned, path = search(
        model, val_score(data), estimator(board, budget), board.target_cycles(budget.fps), name=name
    )
    config = write_variant(
        model, classes, widths(pruned.cfg), name, out_dir, {"pruned_from": str(model_path)}
    )
    result = {
        "source": str(model_path),
        "budget": dataclasses.asdict(budget),
        "config": str(config),
        "path": path,
        "seconds": round(time.time() - t0, 1),
    }
    write_json_atomic(result, Path(out_dir) / "search.json")
    return result


def run_uniform(
    model_path,
    out_dir,
    fps: float | None = None,
    board_path=None,
    name: str = "codenet-trees-uniform",
    alpha: float | None = None,
) -> dict:
    """The baseline: the widest uniform narrowing of the float model within the same budget as the search
    (or the one at `alpha`, a further point of the curve, budget or not), sliced the same way (largest
    |gamma| kept) -> out_dir/{name}.yaml, {name}-float.pt, {name}.json."""
    from codenet.host.io import write_json_atomic
    from codenet.model.checkpoint import load_model

    model, classes, _ = load_model(model_path)
    board = overlay().load_board(board_path)
    budget = reference_budget(model.cfg, board, fps or 1.5 * board.target_fps)
    if alpha is None:
        alpha, counts, e = choose_uniform(model.cfg, board, budget)
    else:
        counts = uniform(model.cfg, alpha)
        e = estimator(board, budget)(with_widths(model.cfg, counts))
    config = write_variant(
        model, classes, counts, name, out_dir, {"uniform_from": str(model_path), "alpha": alpha}
    )
    result = {
        "source": str(model_path),
        "budget": dataclasses.asdict(budget),
        "alpha": alpha,
        "widths": counts,
        "estimate": e,
        "config": str(config),
    }
    write_json_atomic(result, Path(out_dir) / f"{name}.json")
    return result


def run_mixed(float_path, config, out_dir, data: str = "trees", images: int = 256) -> dict:
    """Per-layer weight widths by PTQ, no QAT: the float model at `float_path` re-saved with `config`'s
    layer_bits (its channels must match), calibrated as `codenet quantize` does (percentile), and scored
    per split -> out_dir/{float,model}.pt and the metrics files `design_point` reads."""
    import torch
    from codenet.host.io import write_json_atomic
    from codenet.model.checkpoint import load_model, save_model
    from codenet.model.config import load_config
    from codenet.model.data import open_dataset
    from codenet.model.network import CoDeNet
    from codenet.model.predict import evaluate_model
    from codenet.model.ptq import quantize_model

    model, classes, meta = load_model(float_path)
    cfg, _ = load_config(config)
    plain = lambda c: {k: v for k, v in c.to_dict().items() if k not in ("name", "layer_bits")}
    if model.is_quant or plain(model.cfg) != plain(cfg):
        raise CodenetError(f"{float_path}: not a float model of {config}'s channels")
    mixed = CoDeNet(cfg)
    mixed.load_state_dict(model.state_dict())
    out = Path(out_dir)
    save_model(mixed.eval(), classes, out / "float.pt", {**meta, "phase": "float"})
    quantize_model(out / "float.pt", data, out / "model.pt", images, "percentile")
    scored = {"float": load_model(out / "float.pt")[0], "quant": load_model(out / "model.pt")[0]}
    floats = {}
    for split, name, key in (("val", "metrics.json", "float"), ("test", "metrics_test.json", "float_test"),
                             ("cross-site", "metrics_cross-site.json", "float_cross-site")):
        dataset = open_dataset(data, split, 0, cfg.input_size, 0)
        with torch.no_grad():
            floats[key] = evaluate_model(scored["float"], dataset, progress=False)
            write_json_atomic(evaluate_model(scored["quant"], dataset, progress=False), out / name)
    write_json_atomic(floats, out / "float_metrics.json")
    write_json_atomic([], out / "log.json")  # no training step: PTQ only
    return run_metrics(out)


# ---- the Pareto front ----------------------------------------------------------------------------------
SWEEP_FPS = (60, 70, 80, 90, 100, 110, 120)  #: folding targets of each design's frame-rate curve


def run_metrics(run) -> dict:
    """W4A8 and float AP50 per split of a training run folder."""
    run = Path(run)
    read = lambda name: json.loads((run / name).read_text())
    floats = read("float_metrics.json")
    out = {}
    for split, quant, fl in (
        ("val", "metrics.json", "float"),
        ("test", "metrics_test.json", "float_test"),
        ("cross-site", "metrics_cross-site.json", "float_cross-site"),
    ):
        out[split] = round(read(quant)["AP50"], 1)
        out[f"float {split}"] = round(floats[fl]["AP50"], 1)
    return out


def train_minutes(run) -> float:
    """Minutes of training steps the run's log records (this run only, not the runs it started from)."""
    log = json.loads((Path(run) / "log.json").read_text())
    return round(sum(r["seconds"] for r in log) / 60, 1)


def design_point(name, run, budget: Budget, board, role: str) -> dict:
    """One design of the plot: its AP50s, its estimate folded for each SWEEP_FPS, the highest frame rate it
    reaches within the budget's LUT and BRAM, and its LUT/BRAM when folded for the budget's frame rate."""
    from codenet.model.checkpoint import load_model
    from codenet.model.network import count

    model, _, _ = load_model(Path(run) / "model.pt")
    graph = hw_graph(model.cfg)
    sweep = [fold_and_estimate(graph, board, fps) for fps in SWEEP_FPS]
    fitting = [e for e in sweep if not Budget(0, budget.lut, budget.bram18, budget.dsp).misses(e)]
    at = next(e for e in sweep if e["target_fps"] == budget.fps)
    return {
        "name": name,
        "role": role,
        "run": str(run),
        "widths": widths(model.cfg),
        **count(model),
        "ap50": run_metrics(run),
        "train_minutes": train_minutes(run),
        "max_fps": max((e["fps"] for e in fitting), default=0.0),
        "at_budget": at,
        "fits_budget": not budget.misses(at),
        "sweep": sweep,
    }


def plot_pareto(points: list, search_path: list, budget: Budget, out_png) -> None:
    """AP50 (val, test) against the highest frame rate within the shipped model's LUT and BRAM, and
    against LUT when folded for the budget's frame rate (with the search's unfine-tuned steps)."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from codenet.host.io import write_bytes_atomic

    colours = {"shipped": "black", "pruned-mixed": "tab:purple", "pruned": "tab:red", "uniform": "tab:blue"}
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, x, label in (
        (
            axes[0],
            lambda p: p["max_fps"],
            f"highest estimated frames/s within LUT {budget.lut}, BRAM18 {budget.bram18}",
        ),
        (axes[1], lambda p: p["at_budget"]["lut"], f"estimated LUT, folded for {budget.fps:g} frames/s"),
    ):
        for p in points:
            c = next((c for role, c in colours.items() if p["role"].startswith(role)), "tab:green")
            ax.scatter(x(p), p["ap50"]["val"], color=c, marker="o", label=f"{p['name']} (val)")
            ax.scatter(x(p), p["ap50"]["test"], color=c, marker="^", label=f"{p['name']} (test)")
        ax.set_xlabel(label)
        ax.set_ylabel("W4A8 AP50")
        ax.grid(alpha=0.3)
    axes[1].plot(
        [r["estimate"]["lut"] for r in search_path],
        [r["score"] for r in search_path],
        color="tab:red",
        alpha=0.35,
        linestyle="--",
        marker=".",
        label="search steps (float val, no fine-tune)",
    )
    axes[1].axvline(budget.lut, color="grey", linestyle=":", label="the budget's LUT")
    axes[0].axvline(budget.fps, color="grey", linestyle=":")
    axes[1].legend(fontsize=7, loc="lower right")
    fig.suptitle("Tree detector: pruned (distilled), pruned + mixed weight widths (PTQ), uniformly narrowed, shipped")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    write_bytes_atomic(buffer.getvalue(), out_png)


def run_pareto(designs: list, search_json, out_dir, board_path=None) -> dict:
    """designs: (name, run folder, role) -> out_dir/pareto.json and pareto.png."""
    from codenet.host.io import write_json_atomic

    found = json.loads(Path(search_json).read_text())
    budget = Budget(**found["budget"])
    board = overlay().load_board(board_path)
    points = [design_point(name, run, budget, board, role) for name, run, role in designs]
    out = Path(out_dir)
    result = {
        "budget": dataclasses.asdict(budget),
        "points": points,
        "search": [
            {k: r[k] for k in ("step", "group", "widths", "score", "price")}
            | {"lut": r["estimate"]["lut"], "bram18": r["estimate"]["bram18"], "fps": r["estimate"]["fps"]}
            for r in found["path"]
        ],
        "search_seconds": found["seconds"],
    }
    write_json_atomic(result, out / "pareto.json")
    plot_pareto(points, found["path"], budget, out / "pareto.png")
    return result


def main(argv=None) -> int:
    import argparse
    import sys
    import warnings

    p = argparse.ArgumentParser(prog="python -m codenet.model.prune", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("search", help="greedy channel pruning of a float model to the estimate's budget")
    s.add_argument("--model", required=True, help="the float model file to prune")
    s.add_argument("--data", default="trees")
    s.add_argument(
        "--fps",
        type=float,
        default=None,
        help="frames/s the pruned design must reach on the "
        "unpruned one's LUT and BRAM (default 1.5 x the board's target)",
    )
    s.add_argument("--board", default=None, help="board config YAML (default: overlay/pynq-z2.yaml)")
    s.add_argument("--out", default="build/prune")
    u = sub.add_parser("uniform", help="the baseline: the widest uniform narrowing within the same budget")
    u.add_argument("--model", required=True, help="the float model file to narrow")
    u.add_argument("--fps", type=float, default=None, help="as for search")
    u.add_argument("--board", default=None)
    u.add_argument(
        "--alpha", type=float, default=None, help="this width factor instead of the widest within budget"
    )
    u.add_argument("--name", default="codenet-trees-uniform", help="the config's name (and its files')")
    u.add_argument("--out", default="build/prune")
    f = sub.add_parser(
        "finetune", help="float fine-tune + QAT of a sliced config, distilled from a float teacher"
    )
    f.add_argument(
        "--config", required=True, help="the sliced network's YAML (train.init_from: its float file)"
    )
    f.add_argument("--teacher", required=True, help="the unpruned float model file")
    f.add_argument("--out", required=True, help="the run folder")
    f.add_argument("--resume", action="store_true")
    m = sub.add_parser("mixed", help="per-layer weight widths by PTQ (no QAT): a config's layer_bits on a float model")
    m.add_argument("--model", required=True, help="the float model file (the pruned network's)")
    m.add_argument("--config", required=True, help="the same channels with layer_bits (a preset name or YAML)")
    m.add_argument("--data", default="trees")
    m.add_argument("--out", required=True, help="the run folder")
    q = sub.add_parser(
        "pareto", help="AP50 vs estimated frames/s and LUT of trained designs -> pareto.{json,png}"
    )
    q.add_argument("--search", required=True, help="the search's search.json (its budget)")
    q.add_argument(
        "--design",
        action="append",
        required=True,
        metavar="NAME=RUN:ROLE",
        help="a trained design: its name, run folder and role (shipped, pruned, pruned-mixed, uniform)",
    )
    q.add_argument("--board", default=None)
    q.add_argument("--out", default="build/prune")
    args = p.parse_args(argv)
    warnings.filterwarnings("ignore")  # brevitas/qonnx import chatter
    try:
        if args.command == "search":
            r = run_search(args.model, args.data, args.out, args.fps, args.board)
            last = r["path"][-1]
            print(
                f"{len(r['path']) - 1} steps, val AP50 {last['score']} (no fine-tune), "
                f"{last['estimate']['fps']:.1f} frames/s -> {r['config']}"
            )
        elif args.command == "uniform":
            r = run_uniform(args.model, args.out, args.fps, args.board, args.name, args.alpha)
            print(f"uniform x{r['alpha']}: {r['estimate']['fps']:.1f} frames/s -> {r['config']}")
        elif args.command == "pareto":
            designs = []
            for spec in args.design:
                name, _, rest = spec.partition("=")
                run, _, role = rest.rpartition(":")
                if not (name and run and role):
                    raise CodenetError(f"--design {spec!r}: expected NAME=RUN:ROLE")
                designs.append((name, run, role))
            run_pareto(designs, args.search, args.out, args.board)
            print(f"{len(designs)} designs -> {args.out}/pareto.png, {args.out}/pareto.json")
        elif args.command == "mixed":
            print(f"AP50 {run_mixed(args.model, args.config, args.out, args.data)} -> {args.out}/model.pt")
        elif args.command == "finetune":
            print(f"-> {finetune(args.config, args.teacher, args.out, args.resume, progress=False)}")
    except CodenetError as e:
        print(f"prune: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
