"""Training: float pre-training, then calibration and QAT with the hardware's integer semantics.

Resumable at any checkpoint: the data order and every augmentation are functions of (seed, epoch,
index), the learning rate a function of the step, so a resumed run computes what an uninterrupted
run computes. Checkpoints are written atomically at each epoch end, every `checkpoint_every` steps,
and on Ctrl-C.
"""

from __future__ import annotations

import copy
import csv
import dataclasses
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from codenet.host.errors import CodenetError
from codenet.host.io import write_json_atomic
from codenet.model import checkpoint
from codenet.model.calibrate import VAL_KEYS, calibrate_model
from codenet.model.config import ModelConfig, reject_unknown_keys
from codenet.model.data import open_dataset
from codenet.model.data.cache import InMemory
from codenet.model.data.augment import augment, letterbox
from codenet.model.distributed import World
from codenet.model.layers import load_weights
from codenet.model.loss import centernet_loss
from codenet.model.network import CoDeNet, split_output
from codenet.model.targets import centernet_targets


@dataclass
class TrainSettings:
    data: str = "synthetic"  #: see codenet.model.data.DATA_HELP
    val_data: str = ""  #: defaults to `data`, split val
    train_images: int = 4000  #: synthetic set sizes
    val_images: int = 300
    val_split: str = "val"  #: the split validation and the final metrics use (tune on val, report on test)
    report_splits: tuple = ()  #: further splits the final (and, with eval_float, the float) model is scored on
    batch_size: int = 16
    float_epochs: int = 8
    qat_epochs: int = 4
    lr: float = 2e-3
    qat_lr: float = 2e-4
    weight_decay: float = 1e-4
    warmup_steps: int = 100
    seed: int = 0
    init_from: str = ""  #: a float model file to start from (with float_epochs 0: QAT only, e.g. a run's float.pt)
    init_backbone: str = ""  #: a float model file whose stem and backbone start this one (the decoder from scratch)
    distill: float = 0.0  #: weight of the heatmap distillation from the float model during QAT (0: off)
    dense_boxes: bool = False  #: size and offset trained at every cell of an object's Gaussian, not its
    #: centre alone (TTFNet-style): a heatmap peak a cell off the centre still decodes the object's box
    calib_images: int = 64
    augment: bool = True
    crop: int = 0  #: float training input side (0: the model's input_size): windows at test scale, the net
    #: is fully convolutional; QAT and the last `full_epochs` float epochs train at the full size
    full_epochs: int = 0  #: with crop, the float epochs at the end that train at input_size (BN statistics,
    #: and the large objects a crop cuts, as at test time)
    cache: bool = True  #: make each training item once and keep it in memory (augmentation stays per epoch)
    ema: float = 0.0  #: decay of the float phase's weight average, which QAT then starts from (0: off)
    qat_ema: float = 0.0  #: decay of a weight average over the QAT phase, whose quantization is the W4A8
    #: model (0: off): it settles 4-bit weights that oscillate across a rounding boundary on their majority.
    #: Below a few thousand steps the ramp (1 + n) / (10 + n) is the decay: about the last tenth of the steps
    channels_last: bool = False  #: NHWC tensors in training (measured 1.3-2x faster steps on this CPU)
    workers: int = 0
    threads: int = 0  #: torch CPU threads (0: torch's default); 1 lets two runs share two cores
    device: str = "auto"  #: auto (a CUDA GPU when there is one, else the CPU), cpu, cuda
    checkpoint_every: int = 0  #: steps between mid-epoch checkpoints (0: epoch ends only)
    calibrate_scores: bool = True  #: fit the W4A8 model's score calibration on the val split at the end
    eval_float: bool = False  #: also evaluate the float model before QAT (float_metrics.json)
    val_every: int = 0  #: epochs between validations logged as val_AP50 (0: none), for learning curves

    @classmethod
    def from_dict(cls, data: dict) -> "TrainSettings":
        reject_unknown_keys(cls, data, "train settings")
        data = dict(data)
        if "report_splits" in data:
            data["report_splits"] = tuple(data["report_splits"] or ())
        s = cls(**data)
        for name in ("train_images", "batch_size", "float_epochs", "qat_epochs", "calib_images"):
            value = getattr(s, name)
            if not isinstance(value, int) or value < 0 or (name == "batch_size" and value == 0):
                raise CodenetError(f"train setting {name} must be a non-negative integer, not {value!r}")
        if not (s.lr > 0 and s.qat_lr > 0):
            raise CodenetError("learning rates must be positive")
        for name in ("ema", "qat_ema"):
            if not (0 <= getattr(s, name) < 1):
                raise CodenetError(f"train setting {name} must be in [0, 1), not {getattr(s, name)!r}")
        if not isinstance(s.crop, int) or s.crop < 0 or s.crop % 32:
            raise CodenetError(f"train setting crop must be 0 or a multiple of 32, not {s.crop!r}")
        if not isinstance(s.full_epochs, int) or not 0 <= s.full_epochs <= s.float_epochs:
            raise CodenetError(f"train setting full_epochs must be an integer in 0..float_epochs, "
                               f"not {s.full_epochs!r}")
        return s

    def crop_at(self, phase_epoch: int, quant: bool) -> int:
        """The crop side for an epoch of its phase (0: the full input size)."""
        return 0 if quant or phase_epoch >= self.float_epochs - self.full_epochs else self.crop


def load_backbone(model, path) -> None:
    """The stem and backbone of the float model file `path` into `model` (a pretrained feature
    extractor, as CoDeNet starts from ImageNet's); its decoder and head stay as initialised."""
    start, _, _ = checkpoint.load_model(path)
    if start.is_quant:
        raise CodenetError(f"{path}: init_backbone needs a float model, not a W4A8 one")
    keys = ("stem", "backbone", "stem_weight_bits")
    mine, theirs = model.cfg.to_dict(), start.cfg.to_dict()
    if any(mine.get(k) != theirs.get(k) for k in keys):
        raise CodenetError(f"{path}: its stem and backbone are not those of config {model.cfg.name!r}")
    for part in ("stem", "backbone"):
        load_weights(getattr(model, part), getattr(start, part).state_dict())


class TrainItems(torch.utils.data.Dataset):
    """Items of one epoch: augmented image codes and CenterNet targets, a function of (seed, epoch, i)."""

    def __init__(self, dataset, cfg: ModelConfig, seed: int, epoch: int, use_augment: bool, crop: int = 0,
                 dense_boxes: bool = False):
        self.dataset, self.cfg, self.seed, self.epoch, self.use_augment = dataset, cfg, seed, epoch, use_augment
        self.size, self.dense_boxes = crop or cfg.input_size, dense_boxes

    def __len__(self):
        return len(self.dataset)

    def __getitem__(self, i):
        size = self.size
        if self.use_augment:
            rng = np.random.default_rng([self.seed, self.epoch, i])
            if hasattr(self.dataset, "augmented"):  # a data set with its own augmentation (aerial views)
                image, boxes, labels = self.dataset.augmented(i, rng, size)
            else:
                image, boxes, labels = augment(*self.dataset[i], size, rng, self.cfg.input_size)
        else:
            image, boxes, labels = self.dataset[i]
            image, boxes, _ = letterbox(image, boxes, size)
        t = centernet_targets(boxes, labels, self.cfg.num_classes, size // self.cfg.output_stride,
                              self.cfg.output_stride, dense=self.dense_boxes)
        t["image"] = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1))).float()
        return {k: torch.as_tensor(v) for k, v in t.items()}


class WeightAverage:
    """Exponential moving average of the float weights and BN statistics, CenterNet-style smoothing.

    The decay ramps up as min(decay, (1 + n) / (10 + n)) over the first updates, so early weights fade.
    `parameters_only`: average the trained parameters alone and copy every buffer (QAT: the frozen BN
    statistics and activation scales stay the exact values the requantization integers derive from).
    """

    def __init__(self, model, decay: float, parameters_only: bool = False):
        self.decay, self.updates = decay, 0
        self.averaged = {k: v.detach().clone() for k, v in model.state_dict().items()}
        self.keys = {k for k, _ in model.named_parameters()} if parameters_only else None

    @torch.no_grad()
    def update(self, model):
        self.updates += 1
        d = min(self.decay, (1 + self.updates) / (10 + self.updates))
        for k, v in model.state_dict().items():
            if v.dtype.is_floating_point and (self.keys is None or k in self.keys):
                self.averaged[k].mul_(d).add_(v.detach(), alpha=1 - d)
            else:
                self.averaged[k].copy_(v)

    def state(self):
        return {"updates": self.updates, "averaged": self.averaged}

    def load(self, state):
        self.updates, self.averaged = state["updates"], {k: v.clone() for k, v in state["averaged"].items()}
        return self


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise CodenetError("device cuda asked for, but torch sees no CUDA GPU")
    return torch.device(name)


def lr_at(step: int, steps: int, base: float, warmup: int) -> float:
    if step < warmup:
        return base * (step + 1) / warmup
    return base * 0.5 * (1 + math.cos(math.pi * min(1.0, (step - warmup) / max(1, steps - warmup))))


def make_optimizer(model, lr, weight_decay):
    return torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)


def calibration_images(dataset, cfg, n):
    items = TrainItems(dataset, cfg, 0, 0, use_augment=False)
    return torch.stack([items[i]["image"] for i in range(min(n, len(dataset)))])


class Trainer:
    def __init__(self, cfg: ModelConfig, settings: TrainSettings, out_dir, progress: bool = True):
        self.world = World()
        self.cfg, self.s, self.out = cfg, settings, Path(out_dir)
        self.progress = progress and self.world.main
        self.ckpt_path = self.out / "checkpoint.pt"
        self.train_set = open_dataset(settings.data, "train", settings.train_images, cfg.input_size, settings.seed)
        if len(self.train_set) == 0:
            raise CodenetError(f"data set {settings.data!r} has no training images")
        if len(self.train_set.classes) != cfg.num_classes:
            raise CodenetError(f"data set has {len(self.train_set.classes)} classes, model config "
                               f"{cfg.name!r} expects {cfg.num_classes} (set model.num_classes)")
        if settings.threads:
            torch.set_num_threads(settings.threads)
        torch.manual_seed(settings.seed)
        self.device = self.world.device(pick_device(settings.device))
        self.model = CoDeNet(cfg).to(self.device)
        if settings.init_from:
            start, _, _ = checkpoint.load_model(settings.init_from)
            # the float start's weights do not depend on how QAT will quantize them: its weight widths and scales
            quant = {k: getattr(cfg, k) for k in ("weight_bits", "stem_weight_bits", "layer_bits", "weight_scale")}
            same = dataclasses.replace(start.cfg, **quant).to_dict() == cfg.to_dict()
            if start.is_quant or not same:
                raise CodenetError(f"{settings.init_from}: init_from needs a float model of config {cfg.name!r}")
            self.model.load_state_dict(start.state_dict())
        if settings.init_backbone:
            load_backbone(self.model, settings.init_backbone)
        self.teacher = None
        self.ema = WeightAverage(self.model, settings.ema) if settings.ema else None
        self.qat_average = None  # the QAT phase's weight average (qat_ema), begun at its first step
        self.optimizer = make_optimizer(self.model, settings.lr, settings.weight_decay)
        self.epoch, self.step_in_epoch, self.rows = 0, 0, []

    # ---- checkpoints -----------------------------------------------------------------------------
    def state(self):
        return {"format": checkpoint.CHECKPOINT_FORMAT, "config": self.cfg.to_dict(),
                "settings": dataclasses.asdict(self.s), "epoch": self.epoch, "step": self.step_in_epoch,
                "model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                "teacher": self.teacher.state_dict() if self.teacher is not None else None,
                "ema": self.ema.state() if self.ema is not None else None,
                "qat_ema": self.qat_average.state() if self.qat_average is not None else None,
                "deform": self.model.cfg.deform, "log": checkpoint.plain(self.rows)}

    def save(self):
        if self.world.main:
            checkpoint.save_atomic(self.state(), self.ckpt_path)

    def restore(self):
        st = checkpoint.load(self.ckpt_path, checkpoint.CHECKPOINT_FORMAT)
        if st["config"] != self.cfg.to_dict():
            raise CodenetError(f"{self.ckpt_path}: made with another model config; use a new --out")
        ignore = {"float_epochs", "qat_epochs", "workers", "threads", "device", "checkpoint_every",
                  "cache", "report_splits", "val_every", "eval_float"}  # may change: results stay the same
        stored = {**dataclasses.asdict(TrainSettings()), **st["settings"]}  # a setting added since: its default
        if {k: v for k, v in stored.items() if k not in ignore} != \
                {k: v for k, v in dataclasses.asdict(self.s).items() if k not in ignore}:
            raise CodenetError(f"{self.ckpt_path}: made with other training settings; use a new --out")
        if st["deform"] != self.model.cfg.deform:
            self.model.set_deform(st["deform"])
        self.model.load_state_dict(st["model"])
        self.model.to(self.device)
        if self.ema is not None and st.get("ema") is not None:
            self.ema.load(st["ema"])
        if st.get("qat_ema") is not None:
            self.qat_average = self.new_qat_average().load(st["qat_ema"])
        if st["teacher"] is not None:
            self.teacher = copy.deepcopy(self.model)
            self.teacher.load_state_dict(st["teacher"])
        lr = self.s.qat_lr if self.model.is_quant else self.s.lr
        self.optimizer = make_optimizer(self.model, lr, self.s.weight_decay)
        self.optimizer.load_state_dict(st["optimizer"])
        self.epoch, self.step_in_epoch, self.rows = st["epoch"], st["step"], list(st["log"])

    def new_qat_average(self) -> WeightAverage:
        """qat_ema's average of the model's trained parameters (buffers copied: frozen in QAT)."""
        return WeightAverage(self.model, self.s.qat_ema, parameters_only=True)

    # ---- the loop ---------------------------------------------------------------------------------
    def start_qat(self):
        """Float -> W4A8: a bilinear model is rounded first (CoDeNet's way), scales are calibrated.

        With `ema`, the float model QAT starts from (and the teacher) is the weight average."""
        self.model = self.model.to(memory_format=torch.contiguous_format)
        if self.ema is not None:
            self.model.load_state_dict(self.ema.averaged)
        self.world.broadcast_state(self.model)
        if self.world.main:
            checkpoint.save_model(self.model, self.train_set.classes, self.out / "float.pt",
                                  {"settings": dataclasses.asdict(self.s), "phase": "float"})
        if self.s.distill > 0:
            self.teacher = copy.deepcopy(self.model).eval()
        float_metrics = {}
        evaluate = self.s.eval_float and self.world.main

        def score(name):  # on the val split and each report split
            float_metrics[name] = self.validate()
            for split in self.s.report_splits:
                float_metrics[f"{name}_{split}"] = self.validate(split=split)

        if evaluate:
            score("float")
        if self.model.cfg.deform == "bilinear":
            self.model.set_deform("bounded")
            if evaluate:
                score("float_rounded")
        if float_metrics:
            write_json_atomic(float_metrics, self.out / "float_metrics.json")
        self.model.quantize(calibration_images(self.train_set, self.cfg, self.s.calib_images).to(self.device))
        self.optimizer = make_optimizer(self.model, self.s.qat_lr, self.s.weight_decay)

    def run(self, resume: bool = False, stop_after_steps: int | None = None) -> Path:
        """Train to the end (or `stop_after_steps` optimizer steps, for tests); returns the model file."""
        if resume:
            self.restore()
        elif self.ckpt_path.exists():
            raise CodenetError(f"{self.ckpt_path} exists: pass --resume to continue it, or choose another --out")
        self.out.mkdir(parents=True, exist_ok=True)
        if self.s.cache and not hasattr(self.train_set, "augmented") and not isinstance(self.train_set, InMemory):
            self.train_set = InMemory(self.train_set, self.progress)
        total = self.s.float_epochs + self.s.qat_epochs
        steps_per_epoch = math.ceil(len(self.train_set) / self.s.batch_size) // self.world.size
        done = 0
        try:
            while self.epoch < total:
                if self.epoch == self.s.float_epochs and not self.model.is_quant and self.step_in_epoch == 0:
                    self.start_qat()
                row = self.train_epoch(steps_per_epoch, stop_after_steps, done)
                done += row.pop("_steps")
                if row.get("_stopped"):
                    self.save()
                    return self.ckpt_path
                if self.s.val_every and (self.epoch + 1) % self.s.val_every == 0 and self.world.main:
                    row["val_AP50"] = round(self.validate(model=self.averaged_model())["AP50"], 2)
                self.rows.append(row)
                self.epoch, self.step_in_epoch = self.epoch + 1, 0
                self.world.check_in_sync(self.model)
                self.save()
                self.write_logs()
        except KeyboardInterrupt:
            self.save()
            raise CodenetError(f"interrupted; resume with --resume --out {self.out}") from None
        return self.finish()

    def train_epoch(self, steps_per_epoch, stop_after_steps, done_before):
        quant = self.model.is_quant
        phase_epochs = self.s.qat_epochs if quant else self.s.float_epochs
        phase_epoch = self.epoch - (self.s.float_epochs if quant else 0)
        base_lr = self.s.qat_lr if quant else self.s.lr
        nhwc = self.s.channels_last
        if nhwc:
            self.model = self.model.to(memory_format=torch.channels_last)
        order = np.random.default_rng([self.s.seed, self.epoch, 7]).permutation(len(self.train_set))
        batches = self.world.share([order[i:i + self.s.batch_size] for i in range(0, len(order), self.s.batch_size)])
        items = TrainItems(self.train_set, self.cfg, self.s.seed, self.epoch, self.s.augment,
                           self.s.crop_at(phase_epoch, quant), self.s.dense_boxes)
        loader = torch.utils.data.DataLoader(items, batch_sampler=batches[self.step_in_epoch:],
                                             num_workers=self.s.workers)
        images = 0
        self.model.train()
        sums, count, t0, steps = {}, 0, time.time(), 0
        bar = _progress(loader, self.progress, f"epoch {self.epoch + 1}/{self.s.float_epochs + self.s.qat_epochs}"
                        f" {'qat' if quant else 'float'}", initial=self.step_in_epoch, total=len(batches))
        for batch in bar:
            step = phase_epoch * steps_per_epoch + self.step_in_epoch
            lr = lr_at(step, phase_epochs * steps_per_epoch, base_lr, 0 if quant else self.s.warmup_steps)
            for group in self.optimizer.param_groups:
                group["lr"] = lr
            if nhwc:
                batch["image"] = batch["image"].contiguous(memory_format=torch.channels_last)
            images += len(batch["image"])
            loss, parts = self.loss(batch)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.world.average_gradients(self.model)
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), 10.0)
            self.optimizer.step()
            if self.ema is not None and not quant:
                self.ema.update(self.model)
            if quant and self.s.qat_ema:
                if self.qat_average is None:  # learned weight scales exist from the first forward on
                    self.qat_average = self.new_qat_average()
                self.qat_average.update(self.model)
            self.step_in_epoch += 1
            steps += 1
            for k, v in parts.items():
                sums[k] = sums.get(k, 0.0) + v
            count += 1
            if hasattr(bar, "set_postfix"):
                bar.set_postfix(loss=f"{sums['loss'] / count:.3f}", lr=f"{lr:.1e}")
            if stop_after_steps is not None and done_before + steps >= stop_after_steps:
                return {"_steps": steps, "_stopped": True}
            if self.s.checkpoint_every and self.step_in_epoch % self.s.checkpoint_every == 0 \
                    and self.step_in_epoch < len(batches):
                self.save()
        seconds = time.time() - t0
        row = {"epoch": self.epoch + 1, "phase": "qat" if quant else "float", "lr": lr,
               "seconds": round(seconds, 2), "images_per_s": round(images / max(seconds, 1e-9), 1), "_steps": steps}
        row.update({k: round(v / max(count, 1), 5) for k, v in sums.items()})
        return row

    def loss(self, batch):
        batch = {k: v.to(self.device, non_blocking=True) for k, v in batch.items()}
        out = self.model(batch["image"])
        hm, wh, off = split_output(out, self.cfg.num_classes)
        total, parts = centernet_loss(hm, wh, off, batch)
        if self.teacher is not None:
            with torch.no_grad():
                t_hm = split_output(self.teacher(batch["image"]), self.cfg.num_classes)[0]
            kd = torch.nn.functional.mse_loss(torch.sigmoid(hm), torch.sigmoid(t_hm), reduction="sum")
            kd = kd / hm.shape[0] / 100
            total = total + self.s.distill * kd
            parts["distill"] = kd.item()
        parts["loss"] = total.item()
        return total, parts

    def write_logs(self):
        if not self.world.main:
            return
        write_json_atomic(self.rows, self.out / "log.json")
        keys = sorted({k for r in self.rows for k in r}, key=lambda k: (k not in ("epoch", "phase"), k))
        tmp = self.out / ".log.csv.tmp"
        with open(tmp, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=keys)
            w.writeheader()
            w.writerows(self.rows)
        tmp.replace(self.out / "log.csv")

    def phase_average(self) -> WeightAverage | None:
        """The weight average of the phase the model is in (ema, qat_ema), if on: what the phase ships."""
        return self.qat_average if self.model.is_quant else self.ema

    def averaged_model(self):
        """The model as it would be shipped now: the weight average of its phase, if on (the float
        phase's is what QAT would start from)."""
        average = self.phase_average()
        if average is None:
            return self.model
        model = copy.deepcopy(self.model)
        model.load_state_dict(average.averaged)
        return model

    def validate(self, out_dir=None, split: str = "", model=None) -> dict:
        from codenet.model.predict import evaluate_model

        metrics = evaluate_model(model or self.model, self._val_set(split), out_dir, progress=self.progress)
        return {k: v for k, v in metrics.items() if k not in ("pr_curves",)}

    def _val_set(self, split: str = ""):
        return open_dataset(self.s.val_data or self.s.data, split or self.s.val_split, self.s.val_images,
                            self.cfg.input_size, self.s.seed)

    def calibrate_scores(self) -> dict | None:
        """The W4A8 model's scores calibrated on the val split (model/calibrate.py): its file's entry, or
        None where the val detections are too few to fit one (a tiny test run)."""
        try:
            return calibrate_model(self.model, self._val_set(), self.s.val_data or self.s.data, self.s.val_split)[0]
        except CodenetError as e:
            print(f"scores left uncalibrated: {e}")
            return None

    def finish(self) -> Path:
        path = self.out / "model.pt"
        if self.world.main:
            self.model = self.model.to(memory_format=torch.contiguous_format)
            average = self.phase_average()
            if average is not None:
                self.model.load_state_dict(average.averaged)
            calibration = self.calibrate_scores() if self.model.is_quant and self.s.calibrate_scores else None
            metrics = self.validate(self.out)
            for split in self.s.report_splits:
                write_json_atomic(self.validate(split=split), self.out / f"metrics_{split}.json")
            meta = {"settings": dataclasses.asdict(self.s), "epochs": len(self.rows), "torch": torch.__version__,
                    "val": {k: metrics[k] for k in VAL_KEYS}, "processes": self.world.size,
                    "device": str(self.device), "threads": torch.get_num_threads()}
            if calibration is not None:
                meta["score_calibration"] = calibration
            checkpoint.save_model(self.model.cpu(), self.train_set.classes, path, meta)
        self.world.barrier()
        self.world.close()
        return path


def _progress(iterable, enabled, desc, initial, total):
    if not enabled:
        return iterable
    from tqdm import tqdm

    return tqdm(iterable, desc=desc, initial=initial, total=total, leave=False, dynamic_ncols=True)
