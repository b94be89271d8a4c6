"""Independent Python reference for timm's evaluation transform (PIL + numpy only, no torchvision).

Reproduces, for a single image file:

    transforms.Resize(floor(size / crop_pct), interpolation)   # shorter side -> scale_size
    transforms.CenterCrop(size)
    transforms.ToTensor()                                      # /255 in float32, HWC -> CHW
    transforms.Normalize(mean, std)                            # (x - mean) / std in float32

exactly as timm (create_transform(..., is_training=False)) + torchvision do on a PIL image.

16-bit PNGs: PIL opens 16-bit greyscale as mode "I" and convert('RGB') clips values to 255 (a lossy
quirk), while 16-bit RGB/RGBA are reduced to 8 bits by taking the high byte. vitrim deliberately does
NOT mimic the clipping: every 16-bit sample v becomes v >> 8. This reference does the same explicitly
with numpy so both sides agree.

Usage: python3 tools/timm_transform.py IMAGE [size] [crop_pct]   (prints shape and a few stats)
"""
import math
import sys

import numpy as np
from PIL import Image

_INTERP = {
    'bicubic': Image.BICUBIC,
    'bilinear': Image.BILINEAR,
}


def load_rgb(path):
    """Opens an image and converts it to an 8-bit RGB PIL image the way vitrim does."""
    img = Image.open(path)
    img.load()
    if img.mode in ('I', 'I;16', 'I;16B', 'I;16L'):
        # 16-bit greyscale (PNG): take the high byte of each sample, replicate to RGB.
        a = np.asarray(img).astype(np.int64)
        a8 = (np.clip(a, 0, 65535) >> 8).astype(np.uint8)
        return Image.fromarray(np.stack([a8, a8, a8], axis=-1), 'RGB')
    if img.mode != 'RGB':
        # RGBA/LA: alpha dropped (no compositing); L: replicated; P: palette lookup;
        # CMYK: PIL's naive conversion.  16-bit RGB(A)/LA PNGs are already reduced by PIL to
        # 8 bits by taking the high byte (rawmodes RGB;16B etc.).
        img = img.convert('RGB')
    return img


def scale_size(size, crop_pct):
    return int(math.floor(size / crop_pct))


def resize_shorter(img, target, interpolation):
    """torchvision.transforms.functional.resize with an int size on a PIL image."""
    w, h = img.size
    short, long_ = (w, h) if w <= h else (h, w)
    if short == target:
        return img
    new_short, new_long = target, int(target * long_ / short)
    new_w, new_h = (new_short, new_long) if w <= h else (new_long, new_short)
    return img.resize((new_w, new_h), _INTERP[interpolation])


def center_crop(img, size):
    """torchvision.transforms.functional.center_crop, including its zero padding when the image is smaller
    than the crop (only possible with crop_pct > 1)."""
    w, h = img.size
    if size > w or size > h:
        pl = (size - w) // 2 if size > w else 0
        pt = (size - h) // 2 if size > h else 0
        pw, ph = max(w, size), max(h, size)
        padded = Image.new('RGB', (pw, ph), (0, 0, 0))
        padded.paste(img, (pl, pt))
        img, w, h = padded, pw, ph
        if w == size and h == size:
            return img
    top = int(round((h - size) / 2.0))
    left = int(round((w - size) / 2.0))
    return img.crop((left, top, left + size, top + size))


def timm_eval_transform(path, size=224, crop_pct=0.9, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5),
                        interpolation='bicubic'):
    """Returns a float32 numpy array [3, size, size]."""
    img = load_rgb(path)
    img = resize_shorter(img, scale_size(size, crop_pct), interpolation)
    img = center_crop(img, size)
    x = np.asarray(img, dtype=np.uint8).astype(np.float32) / np.float32(255.0)  # HWC
    m = np.asarray(mean, dtype=np.float32)
    s = np.asarray(std, dtype=np.float32)
    x = (x - m) / s
    return np.ascontiguousarray(x.transpose(2, 0, 1), dtype=np.float32)


if __name__ == '__main__':
    p = sys.argv[1]
    sz = int(sys.argv[2]) if len(sys.argv) > 2 else 224
    cp = float(sys.argv[3]) if len(sys.argv) > 3 else 0.9
    t = timm_eval_transform(p, sz, cp)
    print(t.shape, t.dtype, float(t.min()), float(t.max()), float(t.mean()))
