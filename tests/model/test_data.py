"""model/data: the synthetic set, the VOC and COCO loaders, augmentation, the trees set, the in-memory copy."""

import json

import numpy as np
import pytest
from PIL import Image

from codenet.host.errors import CodenetError
from codenet.host.preprocess import PAD_VALUE
from codenet.model.data import open_dataset, synthetic, trees
from codenet.model.data.augment import SCALE_RANGE, augment, hflip, letterbox
from codenet.model.data.cache import InMemory
from codenet.model.data.coco import COCODetection
from codenet.model.data.synthetic import CLASSES, SyntheticDetection
from codenet.model.data.voc import VOC_CLASSES, VOCDetection


def _same(a, b):
    return all(np.array_equal(x, y) for x, y in zip(a, b))


# ---------------------------------------------------------------- synthetic


@pytest.fixture(scope="module")
def scenes():
    return [SyntheticDetection(200, seed=3)[i] for i in range(200)]


def test_synthetic_classes():
    assert len(CLASSES) == 14
    assert CLASSES[:10] == tuple("0123456789") and CLASSES[10:] == ("circle", "triangle", "square", "star")
    ds = SyntheticDetection(4)
    assert ds.classes == list(CLASSES) and ds.name == "synthetic-train" and len(ds) == 4


def test_synthetic_is_deterministic_in_any_order():
    a, b = SyntheticDetection(10, seed=7), SyntheticDetection(10, seed=7)
    late = a[9]
    assert _same(a[3], a[3]) and _same(a[3], b[3]) and _same(late, b[9]) and _same(a[-1], late)


def test_synthetic_splits_and_seeds_differ():
    train, val, test = (SyntheticDetection(3, split=s)[0][0] for s in ("train", "val", "test"))
    assert not np.array_equal(train, val) and not np.array_equal(val, test)
    assert not np.array_equal(train, test)
    assert not np.array_equal(SyntheticDetection(3, seed=1)[0][0], train)


def test_synthetic_splits_use_disjoint_digit_samples():
    pools = [set(np.concatenate(synthetic._digit_pool(s)).tolist()) for s in (0, 1, 2)]
    assert not (pools[0] & pools[1]) and not (pools[0] & pools[2]) and not (pools[1] & pools[2])
    assert all(len(samples) > 0 for s in (0, 1, 2) for samples in synthetic._digit_pool(s))


def test_synthetic_item_format_and_boxes(scenes):
    for image, boxes, labels in scenes:
        assert image.shape == (256, 256, 3) and image.dtype == np.uint8
        assert boxes.dtype == np.float32 and boxes.ndim == 2 and boxes.shape[1] == 4
        assert labels.dtype == np.int64 and labels.shape == (len(boxes),)
        assert 1 <= len(boxes) <= synthetic.MAX_OBJECTS  # the last object drawn is never hidden
        assert (boxes >= 0).all() and (boxes <= 256).all()
        assert (boxes[:, 2] - boxes[:, 0] >= 2).all() and (boxes[:, 3] - boxes[:, 1] >= 2).all()
        assert (boxes == np.round(boxes)).all()  # pixel edges
        assert ((labels >= 0) & (labels < 14)).all()


def test_synthetic_objects_span_sizes_and_classes(scenes):
    boxes = np.concatenate([b for _, b, _ in scenes])
    side = np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])
    assert side.min() <= 12 and side.max() >= 100
    # log-uniform: every octave from 8 to 128 px is populated
    for lo in (8, 16, 32, 64):
        assert ((side >= lo) & (side < 2 * lo)).sum() >= 20
    assert set(np.concatenate([lab for _, _, lab in scenes]).tolist()) == set(range(14))
    aspect = (boxes[:, 2] - boxes[:, 0]) / (boxes[:, 3] - boxes[:, 1])
    assert aspect.min() < 0.7 and aspect.max() > 1.4


def test_synthetic_masks_are_tight():
    rng = np.random.default_rng(0)
    masks = [synthetic._shape_alpha(rng, 40, 25, s) for s in synthetic.SHAPES]
    masks += [synthetic._digit_alpha(rng, 30, 60, d, 0) for d in range(10)]
    for m in masks:
        visible = m >= synthetic.BOX_ALPHA
        assert visible[0].any() and visible[-1].any() and visible[:, 0].any() and visible[:, -1].any()
        assert ((m == 0) | visible).all()


def test_synthetic_small_canvas():
    ds = SyntheticDetection(5, size=64, seed=1)
    for image, boxes, _ in (ds[i] for i in range(5)):
        assert image.shape == (64, 64, 3) and (boxes <= 64).all()


def test_synthetic_bad_arguments():
    with pytest.raises(CodenetError, match="unknown split"):
        SyntheticDetection(5, split="dev")
    with pytest.raises(CodenetError, match="size"):
        SyntheticDetection(5, size=8)
    with pytest.raises(IndexError):
        SyntheticDetection(5)[5]


# ---------------------------------------------------------------- VOC

VOC_XML = """<annotation>
  <filename>{id}.jpg</filename>
  <size><width>40</width><height>30</height><depth>3</depth></size>
  {objects}
</annotation>"""
VOC_OBJECT = (
    "<object><name>{name}</name><difficult>{difficult}</difficult>"
    "<bndbox><xmin>{x1}</xmin><ymin>{y1}</ymin><xmax>{x2}</xmax><ymax>{y2}</ymax></bndbox></object>"
)


def _voc_object(name, x1, y1, x2, y2, difficult=0):
    return VOC_OBJECT.format(name=name, difficult=difficult, x1=x1, y1=y1, x2=x2, y2=y2)


def make_voc(root, annotations, split="train"):
    for sub in ("Annotations", "JPEGImages", "ImageSets/Main"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    for image_id, objects in annotations.items():
        Image.new("RGB", (40, 30), (90, 120, 150)).save(root / "JPEGImages" / f"{image_id}.jpg")
        xml = VOC_XML.format(id=image_id, objects="".join(objects))
        (root / "Annotations" / f"{image_id}.xml").write_text(xml)
    (root / "ImageSets/Main" / f"{split}.txt").write_text("".join(f"{i}\n" for i in annotations))
    return root


@pytest.fixture
def voc(tmp_path):
    return make_voc(
        tmp_path / "VOC",
        {
            "000001": [_voc_object("dog", 5, 3, 20, 10), _voc_object("person", 1, 1, 40, 30, difficult=1)],
            "000002": [_voc_object("car", 10, 10, "11.0", 12), _voc_object("dog", 2, 2, 3, 3)],
        },
    )


def test_voc_reads_boxes_in_0_based_pixel_edges(voc):
    ds = VOCDetection(voc, split="train")
    assert len(ds) == 2 and ds.classes == list(VOC_CLASSES) and ds.name == "voc-train"
    image, boxes, labels = ds[0]
    assert image.shape == (30, 40, 3) and image.dtype == np.uint8
    np.testing.assert_array_equal(boxes, np.array([[4, 2, 20, 10]], np.float32))
    assert boxes.dtype == np.float32 and labels.dtype == np.int64
    assert labels.tolist() == [VOC_CLASSES.index("dog")]
    _, boxes, labels = ds[1]
    np.testing.assert_array_equal(boxes, [[9, 9, 11, 12], [1, 1, 3, 3]])
    assert labels.tolist() == [VOC_CLASSES.index("car"), VOC_CLASSES.index("dog")]


def test_voc_difficult_and_custom_classes(voc):
    ds = VOCDetection(voc, split="train", classes=["person", "dog", "car"], keep_difficult=True)
    _, boxes, labels = ds[0]
    np.testing.assert_array_equal(boxes, [[4, 2, 20, 10], [0, 0, 40, 30]])
    assert labels.tolist() == [1, 0] and ds.classes == ["person", "dog", "car"]


def test_voc_items_are_copies(voc):
    ds = VOCDetection(voc, split="train")
    ds[0][1][:] = -1
    assert ds[0][1].min() >= 0


def test_voc_layout_errors(voc, tmp_path):
    with pytest.raises(CodenetError, match="nowhere: folder not found"):
        VOCDetection(tmp_path / "nowhere")
    with pytest.raises(CodenetError, match=r"trainval.txt: split file not found"):
        VOCDetection(voc)
    (voc / "JPEGImages").rename(voc / "images")
    with pytest.raises(CodenetError, match="JPEGImages: folder not found"):
        VOCDetection(voc, split="train")


def test_voc_malformed_xml_names_the_file(voc):
    (voc / "Annotations/000002.xml").write_text("<annotation><object><name>dog</name>")
    with pytest.raises(CodenetError, match="000002.xml: malformed XML") as info:
        VOCDetection(voc, split="train")
    assert "\n" not in str(info.value)


def test_voc_bad_objects(tmp_path):
    root = make_voc(tmp_path / "a", {"x": [_voc_object("unicorn", 1, 1, 5, 5)]})
    with pytest.raises(CodenetError, match="x.xml: object 0 has unknown class 'unicorn'"):
        VOCDetection(root, split="train")
    root = make_voc(tmp_path / "b", {"y": [_voc_object("dog", 1, 1, "", 5)]})
    with pytest.raises(CodenetError, match="y.xml: object 0 .*bndbox"):
        VOCDetection(root, split="train")
    root = make_voc(tmp_path / "c", {"z": []})
    (root / "Annotations/z.xml").unlink()
    with pytest.raises(CodenetError, match="z.xml: annotation file not found"):
        VOCDetection(root, split="train")
    with pytest.raises(CodenetError, match="repeated class"):
        VOCDetection(root, split="train", classes=["dog", "dog"])


def test_voc_unreadable_image_fails_on_that_item(voc):
    (voc / "JPEGImages/000002.jpg").unlink()
    (voc / "JPEGImages/000001.jpg").write_bytes(b"\xff\xd8 truncated")
    ds = VOCDetection(voc, split="train")  # images are read lazily
    with pytest.raises(CodenetError, match="000001.jpg: cannot read image"):
        ds[0]
    with pytest.raises(CodenetError, match="000002.jpg: image file not found"):
        ds[1]


# ---------------------------------------------------------------- COCO


def make_coco(tmp_path, annotations=None):
    images = tmp_path / "images"
    images.mkdir()
    Image.new("RGB", (50, 40), (10, 200, 30)).save(images / "a.jpg")
    Image.new("L", (20, 30), 80).save(images / "b.jpg")
    data = {
        "images": [
            {"id": 20, "file_name": "b.jpg", "width": 20, "height": 30},
            {"id": 10, "file_name": "a.jpg", "width": 50, "height": 40},
        ],
        "categories": [{"id": 7, "name": "zebra"}, {"id": 2, "name": "cat"}, {"id": 5, "name": "dog"}],
        "annotations": annotations
        if annotations is not None
        else [
            {"id": 1, "image_id": 10, "category_id": 2, "bbox": [1.5, 2, 10, 5], "iscrowd": 0},
            {"id": 2, "image_id": 10, "category_id": 7, "bbox": [0, 0, 50, 40], "iscrowd": 1},
            {"id": 3, "image_id": 10, "category_id": 7, "bbox": [30, 20, 20, 20]},
            {"id": 4, "image_id": 20, "category_id": 5, "bbox": [0, 0, 20, 30], "iscrowd": 0},
        ],
    }
    ann = tmp_path / "instances_val.json"
    ann.write_text(json.dumps(data))
    return images, ann


def test_coco_reads_boxes_and_contiguous_labels(tmp_path):
    images, ann = make_coco(tmp_path)
    ds = COCODetection(images, ann)
    assert ds.classes == ["cat", "dog", "zebra"] and ds.category_ids == [2, 5, 7]
    assert ds.name == "coco-instances_val" and len(ds) == 2 and ds.image_ids == [20, 10]
    image, boxes, labels = ds[1]
    assert image.shape == (40, 50, 3) and image.dtype == np.uint8
    np.testing.assert_array_equal(boxes, np.array([[1.5, 2, 11.5, 7], [30, 20, 50, 40]], np.float32))
    assert boxes.dtype == np.float32 and labels.dtype == np.int64 and labels.tolist() == [0, 2]
    image, boxes, labels = ds[0]
    assert image.shape == (30, 20, 3)  # gray JPEG comes back as RGB
    np.testing.assert_array_equal(boxes, [[0, 0, 20, 30]])
    assert labels.tolist() == [1]


def test_coco_custom_classes(tmp_path):
    images, ann = make_coco(tmp_path)
    ds = COCODetection(images, ann, classes=["zebra", "dog", "cat", "okapi"])
    assert ds[1][2].tolist() == [2, 0] and ds.category_ids == [7, 5, 2, None]
    with pytest.raises(CodenetError, match="unknown class 'zebra'"):
        COCODetection(images, ann, classes=["cat", "dog"])


def test_coco_image_without_annotations(tmp_path):
    images, ann = make_coco(tmp_path, annotations=[])
    _, boxes, labels = COCODetection(images, ann)[0]
    assert boxes.shape == (0, 4) and boxes.dtype == np.float32 and labels.shape == (0,)


def test_coco_layout_errors(tmp_path):
    images, ann = make_coco(tmp_path)
    with pytest.raises(CodenetError, match="nowhere: images folder not found"):
        COCODetection(tmp_path / "nowhere", ann)
    with pytest.raises(CodenetError, match="missing.json: annotation file not found"):
        COCODetection(images, tmp_path / "missing.json")
    ann.write_text('{"images": [')
    with pytest.raises(CodenetError, match="instances_val.json: malformed JSON") as info:
        COCODetection(images, ann)
    assert "\n" not in str(info.value)
    ann.write_text("[1, 2]")
    with pytest.raises(CodenetError, match="not a COCO instances file"):
        COCODetection(images, ann)


@pytest.mark.parametrize(
    "annotation, message",
    [
        (
            {"id": 9, "image_id": 99, "category_id": 2, "bbox": [0, 0, 1, 1]},
            r"annotation #0 \(id 9\) refers to unknown image id 99",
        ),
        ({"id": 9, "image_id": 10, "category_id": 3, "bbox": [0, 0, 1, 1]}, "unknown category id 3"),
        ({"id": 9, "image_id": 10, "category_id": 2, "bbox": [0, 0, 1]}, r"#0 \(id 9\) is malformed"),
        ({"id": 9, "image_id": 10, "category_id": 2}, "is malformed .*bbox"),
    ],
)
def test_coco_bad_annotations(tmp_path, annotation, message):
    images, ann = make_coco(tmp_path, annotations=[annotation])
    with pytest.raises(CodenetError, match=message):
        COCODetection(images, ann)


def test_coco_missing_image_fails_on_that_item(tmp_path):
    images, ann = make_coco(tmp_path)
    (images / "b.jpg").unlink()
    ds = COCODetection(images, ann)
    assert ds[1][0].shape == (40, 50, 3)
    with pytest.raises(CodenetError, match="b.jpg: image file not found"):
        ds[0]


# ---------------------------------------------------------------- augmentation


class FakeRng:
    """Stands in for np.random.Generator: a chosen scale factor, placement and flip, neutral jitter."""

    def __init__(self, scale, offsets, flip):
        self.scale, self.offsets, self.flip = scale, list(offsets), flip

    def uniform(self, lo, hi):
        return self.scale if (lo, hi) == SCALE_RANGE else 1.0

    def integers(self, lo, hi):
        value = self.offsets.pop(0)
        assert lo <= value < hi, (lo, value, hi)
        return value

    def random(self):
        return 0.0 if self.flip else 0.99


def test_hflip_moves_a_box_to_its_mirror():
    image = np.zeros((4, 10, 3), np.uint8)
    image[:, 1:4] = 255
    out, boxes = hflip(image, np.array([[1, 2, 4, 3]], np.float32))
    np.testing.assert_array_equal(boxes, [[6, 2, 9, 3]])
    assert (out[:, 6:9] == 255).all() and out[:, :6].max() == 0 and out[:, 9:].max() == 0


def test_augment_exact_placement_flip_and_dropping():
    image = np.random.default_rng(0).integers(0, 256, (100, 100, 3), dtype=np.uint8)
    boxes = np.array([[10, 20, 30, 60], [60, 0, 100, 100], [0, 0, 2, 100]], np.float32)
    labels = np.array([3, 4, 5])
    # scale 1 (the 100 px image already fits 100 px), no placement freedom, flip
    canvas, out, out_labels = augment(image, boxes, labels, 100, FakeRng(1.0, [0, 0], flip=True))
    assert np.array_equal(canvas, image[:, ::-1])
    np.testing.assert_array_equal(out, [[70, 20, 90, 60], [0, 0, 40, 100], [98, 0, 100, 100]])
    assert out_labels.tolist() == [3, 4, 5] and out_labels.dtype == np.int64
    # scale 0.5 into a 100 px canvas at (50, 10): the rest is gray 114
    canvas, out, out_labels = augment(image, boxes, labels, 100, FakeRng(0.5, [50, 10], flip=False))
    assert (canvas[:10] == PAD_VALUE).all() and (canvas[:, :50] == PAD_VALUE).all()
    np.testing.assert_array_equal(out, [[55, 20, 65, 40], [80, 10, 100, 60]])  # the 1 px wide box went
    assert out_labels.tolist() == [3, 4]
    # scale 1.4 = 140 px shifted by (-40, -40): box 0 keeps 2x44 of 28x56 px (dropped), box 1 keeps 71%
    canvas, out, out_labels = augment(image, boxes, labels, 100, FakeRng(1.4, [-40, -40], flip=False))
    np.testing.assert_allclose(out, [[44, 0, 100, 100]], atol=1e-4)
    assert out_labels.tolist() == [4]


def test_augment_crops_at_the_test_scale():
    """With scale_size, a canvas smaller than the test input is a window at test scale, not a shrink."""
    image = np.random.default_rng(0).integers(0, 256, (200, 200, 3), dtype=np.uint8)
    boxes = np.array([[60, 70, 90, 120]], np.float32)
    canvas, out, _ = augment(image, boxes, [1], 100, FakeRng(1.0, [-50, -60], flip=False), scale_size=200)
    assert np.array_equal(canvas, image[60:160, 50:150])
    np.testing.assert_array_equal(out, [[10, 10, 40, 60]])


def test_augment_drops_boxes_that_lose_most_of_their_area():
    image = np.zeros((100, 100, 3), np.uint8)
    boxes = np.array([[0, 0, 60, 100], [0, 0, 40, 100]], np.float32)
    _, out, labels = augment(image, boxes, [0, 1], 100, FakeRng(1.4, [-40, 0], flip=False))
    # box 0: 84 px wide, 44 left (52%): kept; box 1: 56 px wide, 16 left (29%): dropped
    np.testing.assert_allclose(out, [[0, 0, 44, 100]], atol=1e-4)
    assert labels.tolist() == [0]


def test_augment_boxes_follow_the_pixels():
    image = np.zeros((160, 200, 3), np.uint8)
    image[20:100, 150:195] = (255, 0, 0)
    box = np.array([[150, 20, 195, 100]], np.float32)
    kept = 0
    for seed in range(40):
        canvas, boxes, labels = augment(image, box, [7], 128, np.random.default_rng(seed))
        assert canvas.shape == (128, 128, 3) and canvas.dtype == np.uint8
        assert boxes.dtype == np.float32 and (boxes >= 0).all() and (boxes <= 128).all()
        red = canvas[:, :, 0].astype(int) - canvas[:, :, 1] > 60
        if len(boxes):
            kept += 1
            ys, xs = np.nonzero(red)
            np.testing.assert_allclose(boxes[0], [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], atol=1.5)
            assert labels.tolist() == [7]
    assert kept >= 30


def test_letterbox_maps_boxes_exactly():
    image = np.zeros((100, 200, 3), np.uint8)
    canvas, boxes, (scale, pad_x, pad_y) = letterbox(image, np.array([[10, 20, 110, 70]], np.float32), 64)
    assert canvas.shape == (64, 64, 3) and (scale, pad_x, pad_y) == (0.32, 0, 16)
    np.testing.assert_allclose(boxes, [[3.2, 22.4, 35.2, 38.4]], rtol=1e-6)
    assert boxes.dtype == np.float32
    _, empty, _ = letterbox(image, np.zeros((0, 4), np.float32), 64)
    assert empty.shape == (0, 4)


# ---------------------------------------------------------------- trees (a small wheel the test writes)

TREE_OBJECT = ("<object><name>{}</name><difficult>0</difficult><bndbox><xmin>{}</xmin><ymin>{}</ymin>"
               "<xmax>{}</xmax><ymax>{}</ymax></bndbox></object>")


def _tree_xml(boxes, names=None):
    names = names or ["Tree"] * len(boxes)
    return "<annotation>" + "".join(TREE_OBJECT.format(n, *b) for n, b in zip(names, boxes)) + "</annotation>"


@pytest.fixture
def tree_wheel(tmp_path, monkeypatch):
    """A wheel-shaped zip: a 600x1000 scene (train rows 0..500 black, val and test bands white, one
    bright crown in the training rows) and two 300x300 cross-site scenes, one with Alive/Dead labels."""
    import io
    import zipfile

    def png(array):
        buf = io.BytesIO()
        Image.fromarray(array).save(buf, format="PNG")
        return buf.getvalue()

    scene = np.zeros((1000, 600, 3), np.uint8)
    scene[500:] = 255
    scene[200:240, 300:350] = (250, 200, 40)  # the crown at VOC (301, 201, 350, 240)
    crowns = [(301, 201, 350, 240), (101, 601, 140, 640), (401, 730, 440, 790), (11, 900, 50, 950)]
    site = np.full((300, 300, 3), 90, np.uint8)
    path = tmp_path / "deepforest-2.1.0-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("deepforest/data/A.png", png(scene))
        z.writestr("deepforest/data/A.xml", _tree_xml(crowns))
        z.writestr("deepforest/data/B.png", png(site))
        z.writestr("deepforest/data/B.xml", _tree_xml([(11, 11, 40, 40), (251, 251, 290, 290)]))
        z.writestr("deepforest/data/C.png", png(site))
        z.writestr("deepforest/data/C.xml", _tree_xml([(21, 21, 50, 50), (61, 21, 90, 50)], ["Alive", "Dead"]))
    monkeypatch.setattr(trees, "BANDS", {"A": {"val": (500, 756), "test": (756, 1000)}})
    monkeypatch.setattr(trees, "CROSS_SITE", ("B", "C"))
    return path


def test_trees_missing_data_is_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(trees, "WHEEL_DIR", tmp_path)
    monkeypatch.setattr(trees, "_installed_data", lambda: None)
    with pytest.raises(CodenetError, match=r"not found; get it with make trees-data \(pip download --no-deps "
                                           r"deepforest==2\.1\.0"):
        trees.TreeTiles("train")
    with pytest.raises(CodenetError, match="is not the deepforest wheel"):
        open_dataset(f"trees:{tmp_path / 'nothing.whl'}", "train")
    with pytest.raises(CodenetError, match="unknown split 'trainval'"):
        trees.TreeTiles("trainval", tmp_path)


def test_trees_training_tiles_overlap_and_stay_above_the_val_band(tree_wheel):
    ds = open_dataset(f"trees:{tree_wheel}", "train")
    assert ds.classes == ["tree"] and ds.name == "trees-train"
    origins = {(x, y) for _, x, y, _ in ds.windows}
    # stride 128 plus one aligned to the edge: x 0, 128, 256, 344; y 0, 128, 244
    assert origins == {(x, y) for x in (0, 128, 256, 344) for y in (0, 128, 244)}
    for i in range(len(ds)):
        image, boxes, labels = ds[i]
        assert image.shape == (256, 256, 3) and image.max() < 255  # no white band pixel
        assert labels.dtype == np.int64 and (labels == 0).all() and boxes.dtype == np.float32
    image, boxes, _ = ds[list(ds.windows).index(("A", 256, 128, (0, 0, 600, 500)))]
    np.testing.assert_array_equal(boxes, [[44, 72, 94, 112]])  # the crown in tile coordinates
    assert (image[72:112, 44:94] == (250, 200, 40)).all()


def test_trees_augmented_views_never_see_the_held_out_bands(tree_wheel):
    ds = trees.TreeTiles("train", tree_wheel)
    seen = 0
    near_crown = [ds.windows.index(("A", x, 128, (0, 0, 600, 500))) for x in (128, 256)]
    for seed in range(120):
        i = near_crown[seed % 2] if seed % 3 else seed % len(ds)
        image, boxes, labels = ds.augmented(i, np.random.default_rng(seed), 128)
        assert image.shape == (128, 128, 3) and image.dtype == np.uint8
        white = (image.min(axis=2) > 230).sum()
        assert white == 0, "a training view reached the val or test band"
        again = ds.augmented(i, np.random.default_rng(seed), 128)
        assert np.array_equal(again[0], image) and np.array_equal(again[1], boxes)
        crown = image[:, :, 0].astype(int) - image[:, :, 2] > 80  # the yellow crown, whatever the jitter
        if len(boxes) and crown.sum() > 200 and boxes[0].min() > 2 and boxes[0].max() < 126:
            seen += 1
            ys, xs = np.nonzero(crown)
            np.testing.assert_allclose(boxes[0], [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], atol=2.0)
            assert labels.tolist() == [0]
    assert seen >= 10


@pytest.mark.parametrize("k", range(4))
def test_rot90_turns_boxes_with_the_pixels(k):
    image = np.zeros((32, 32, 3), np.uint8)
    image[2:9, 20:30] = 255
    out, boxes = trees.rot90(image, np.array([[20, 2, 30, 9]], np.float32), k)
    ys, xs = np.nonzero(out[:, :, 0])
    np.testing.assert_array_equal(boxes, [[xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]])


def test_trees_evaluation_tiles_are_disjoint_and_cover_their_band(tree_wheel):
    for split, (top, bottom) in (("val", (500, 756)), ("test", (756, 1000))):
        ds = trees.TreeTiles(split, tree_wheel)
        covered = np.zeros((1000, 600), int)
        for _, x, y, region in ds.windows:
            covered[y:min(y + 256, region[3]), x:min(x + 256, region[2])] += 1
        assert (covered[top:bottom] == 1).all() and covered.sum() == (bottom - top) * 600
        tiles = [ds[i] for i in range(len(ds))]
        assert all(t[0].shape == (256, 256, 3) for t in tiles)
        # partial tiles are padded with gray 114 beyond the band: x 512..600 is 88 px wide
        rows = bottom - top
        assert (tiles[2][0][:, 88:] == PAD_VALUE).all() and (tiles[2][0][rows:] == PAD_VALUE).all()
        assert (tiles[2][0][:rows, :88] == 255).all()
    test = trees.TreeTiles("test", tree_wheel)
    # the crown across rows 729..790 keeps 34/60 of its height in the test band (>= half): kept, clipped
    boxes = np.concatenate([test[i][1] for i in range(len(test))])
    np.testing.assert_array_equal(boxes, [[10, 143, 50, 194], [144, 0, 184, 34]])


def test_trees_cross_site_is_its_own_split_with_alive_and_dead_as_trees(tree_wheel):
    ds = open_dataset(f"trees:{tree_wheel}", "cross-site")
    assert len(ds) == 8 and {w[0] for w in ds.windows} == {"B", "C"}
    counts = [len(ds[i][1]) for i in range(len(ds))]
    # B's second crown keeps 34x34 of 40x40 px in its tile; C has one Alive and one Dead crown
    assert sum(counts) == 4 and all((ds[i][2] == 0).all() for i in range(len(ds)))


def test_trees_read_from_a_data_folder(tree_wheel, tmp_path):
    import zipfile

    zipfile.ZipFile(tree_wheel).extractall(tmp_path / "site")
    folder = trees.TreeTiles("val", tmp_path / "site" / "deepforest" / "data")
    wheel = trees.TreeTiles("val", tree_wheel)
    assert len(folder) == len(wheel) and all(_same(folder[i], wheel[i]) for i in range(len(folder)))


def test_in_memory_copy_gives_the_same_items_and_protects_itself():
    ds = SyntheticDetection(5, size=64, seed=2)
    cached = InMemory(ds)
    assert len(cached) == 5 and cached.classes == ds.classes and cached.name == ds.name
    assert all(_same(cached[i], ds[i]) for i in range(5))
    cached[0][0][:] = 0
    assert _same(cached[0], ds[0])
