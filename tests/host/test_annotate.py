"""Annotations a person can read: best on top, labels apart, text scaled to the image, colour per class."""

import numpy as np

from codenet.host.annotate import annotate, class_color, place_labels, text_size


def overlaps(a, b):
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def test_labels_of_one_box_do_not_overlap():
    boxes = [(10, 40, 100, 120)] * 4  # four classes on the same object, as a weak model gives
    corners = place_labels(boxes, [(50, 12)] * 4, (400, 300))
    rects = [(x, y, x + 50, y + 12) for x, y in corners]
    assert corners[0] == (10, 28)  # the best: right above its box
    assert not any(overlaps(a, b) for i, a in enumerate(rects) for b in rects[i + 1:])


def test_labels_stay_inside_the_image():
    corners = place_labels([(390, 0, 400, 5), (0, 290, 5, 300)], [(60, 12)] * 2, (400, 300))
    assert all(0 <= x <= 340 and 0 <= y <= 288 for x, y in corners)


def test_text_scales_with_the_image():
    assert text_size((256, 256)) == 11 and text_size((4000, 3000)) == 75


def test_best_class_drawn_on_top():
    image = np.zeros((200, 200, 3), np.uint8)
    boxes = np.array([[20, 50, 150, 150], [20, 50, 150, 150]], np.float32)
    out = np.asarray(annotate(image, boxes, np.array([0.9, 0.4]), np.array([1, 2]), ["a", "b", "c"]))
    # both boxes share their outline: the colour there is the best's (class 1)
    assert tuple(out[100, 20]) == class_color(1)
    # and the best's label sits right above the box, in its colour
    assert tuple(out[49, 20]) == class_color(1)


def test_class_colours_differ():
    assert len({class_color(i) for i in range(20)}) == 20
