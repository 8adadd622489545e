"""Model configuration: one typed dataclass, presets by name, YAML files for variants."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from codenet.host.errors import CodenetError

DEFORM_KINDS = ("bounded", "plain", "fixed", "bilinear")
WEIGHT_SCALES = ("stats", "learned")


def reject_unknown_keys(cls, data: dict, what: str) -> None:
    """A typo in a config is an error, not a silently ignored key."""
    unknown = sorted(set(data) - {f.name for f in dataclasses.fields(cls)})
    if unknown:
        raise CodenetError(f"unknown {what}: {', '.join(unknown)}")


@dataclass(frozen=True)
class ModelConfig:
    """The network's shape and quantization. Every field is checked in `validate`."""

    name: str = "codenet-s"
    input_size: int = 256  #: square input, a multiple of 32
    num_classes: int = 14
    #: stem: (out channels, stride) of the first 3x3 conv (8-bit weights)
    stem: tuple = (16, 2)
    #: backbone: depthwise-separable blocks as (out channels, stride), MobileNetV1 style
    backbone: tuple = ((32, 2), (64, 1), (96, 2), (96, 1), (192, 2), (192, 1), (256, 2), (256, 1))
    #: neck: output channels of the one to three deformable stages, each followed by a nearest x2
    #: upsample; the head sits at stride 4 (this default: three after a stride-32 backbone;
    #: codenet-s: two after a stride-16 one)
    neck: tuple = (128, 64, 64)
    head_channels: int = 32
    deform: str = "bounded"  #: bounded | plain | fixed | bilinear (float only)
    bound: int = 4  #: D: dilations are integers in {1..D}; the line buffer holds 2D+1 rows
    fixed_dilation: int = 2  #: the dilation of the "fixed" variant
    weight_bits: int = 4
    stem_weight_bits: int = 8
    #: per-layer weight bits by module path (e.g. {"backbone.3.pw": 2, "head.out": 8}): mixed precision
    layer_bits: dict = field(default_factory=dict)
    #: per-channel weight scales: "stats" (the weights' max |w| at each step) or "learned" (a trained
    #: parameter initialised from it, as LSQ does). codenet-s's QAT from its float start, val AP50 after
    #: epochs 1 and 2: learned 68.1, 67.8 against stats' 66.3, 67.7 (one seed). The tree detector's QAT uses
    #: learned (trees.yaml: val AP50 +3.3 and +1.6 over stats on two seeds)
    weight_scale: str = "stats"
    act_bits: int = 8

    @property
    def total_stride(self) -> int:
        """The stem's and backbone's stride: the deepest feature map is input_size / this."""
        stride = self.stem[1]
        for _, s in self.backbone:
            stride *= s
        return stride

    @property
    def output_stride(self) -> int:
        return self.total_stride // 2 ** len(self.neck)

    def validate(self) -> "ModelConfig":
        def need(ok, what):
            if not ok:
                raise CodenetError(f"bad model config {self.name!r}: {what}")

        need(self.deform in DEFORM_KINDS, f"deform must be one of {', '.join(DEFORM_KINDS)}, not {self.deform!r}")
        need(isinstance(self.input_size, int) and self.input_size >= 32 and self.input_size % 32 == 0,
             f"input_size must be a multiple of 32, not {self.input_size!r}")
        need(isinstance(self.num_classes, int) and 1 <= self.num_classes <= 1000, "num_classes must be 1..1000")
        need(isinstance(self.bound, int) and 1 <= self.bound <= 8, "bound must be 1..8")
        need(1 <= self.fixed_dilation <= self.bound, "fixed_dilation must be in 1..bound")
        need(2 <= self.weight_bits <= 8 and 2 <= self.stem_weight_bits <= 8, "weight bits must be 2..8")
        need(isinstance(self.layer_bits, dict) and all(isinstance(b, int) and 2 <= b <= 8
                                                       for b in self.layer_bits.values()),
             "layer_bits must map layer paths to weight bits 2..8")
        need(self.weight_scale in WEIGHT_SCALES,
             f"weight_scale must be one of {', '.join(WEIGHT_SCALES)}, not {self.weight_scale!r}")
        need(self.act_bits == 8, "act_bits must be 8 (the requantization contract)")
        need(1 <= len(self.neck) <= 3, "neck must have one to three stages")
        need(all(int(c) > 0 for c in self.neck) and self.head_channels > 0, "channel counts must be positive")
        need(all(s in (1, 2) for _, s in self.backbone) and self.stem[1] in (1, 2), "strides must be 1 or 2")
        need(self.total_stride >= 2 ** len(self.neck),  # strides of 1 or 2: both are powers of two
             f"the neck's {len(self.neck)} x2 stages must not upsample past the input: the backbone's "
             f"stride is {self.total_stride}")
        need(self.input_size % self.total_stride == 0,
             "input_size must be divisible by the backbone's total stride")
        return self

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "ModelConfig":
        reject_unknown_keys(cls, data, "model config keys")
        data = dict(data)
        for key in ("stem", "neck"):
            if key in data:
                data[key] = tuple(data[key])
        if "backbone" in data:
            data["backbone"] = tuple(tuple(b) for b in data["backbone"])
        try:
            return cls(**data).validate()
        except TypeError as e:
            raise CodenetError(f"bad model config: {e}") from None


CONFIG_DIR = Path(__file__).parent / "configs"


def load_config(name_or_path: str) -> tuple[ModelConfig, dict]:
    """A preset name (model/configs/<name>.yaml) or a YAML path -> (model config, training settings)."""
    import yaml

    path = Path(name_or_path)
    if not path.suffix:
        path = CONFIG_DIR / f"{name_or_path}.yaml"
    if not path.is_file():
        presets = ", ".join(sorted(p.stem for p in CONFIG_DIR.glob("*.yaml")))
        raise CodenetError(f"no config {name_or_path!r} (presets: {presets}; or give a .yaml path)")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise CodenetError(f"{path}: not valid YAML ({str(e).splitlines()[0]})") from None
    if not isinstance(data, dict) or not isinstance(data.get("model", {}), dict):
        raise CodenetError(f"{path}: expected a mapping with 'model' and 'train' sections")
    model = ModelConfig.from_dict(data.get("model", {}))
    train = data.get("train", {}) or {}
    if not isinstance(train, dict):
        raise CodenetError(f"{path}: 'train' must be a mapping")
    return model, train


def config_yaml(cfg: ModelConfig, train: dict | None = None) -> str:
    """A config file's text (what load_config reads): the model section and, if given, the train section."""
    import yaml

    from codenet.model.checkpoint import plain

    return yaml.safe_dump({"model": plain(cfg.to_dict()), **({"train": plain(train)} if train else {})},
                          sort_keys=False, default_flow_style=None)
