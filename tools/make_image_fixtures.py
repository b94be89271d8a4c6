"""Writes the golden image fixtures for dev.vitrim.image tests.

Run from the repository root with Debian's python (PIL 9.4 + numpy):

    /usr/bin/python3 tools/make_image_fixtures.py

Writes into core/src/test/resources/golden/images/:
  * a set of tiny test images made with PIL (RGB/RGBA/L/P/16-bit PNGs, baseline/progressive/grey/CMYK
    JPEGs, BMP, GIF), deterministic (fixed seed);
  * for each image and a few preprocessing configs, the expected timm eval tensor (float32 [3,S,S]) as
    gzip-compressed .npy (.npy.gz), computed with tools/timm_transform.py;
  * PIL Image.resize outputs of a small noise image (no crop/normalise), stored as lossless PNGs;
  * manifest.json: "cases" {image, size, crop_pct, mean, std, interpolation, expected, exact} and
    "resizes" {image, width, height, interpolation, expected}.

dog.jpg (768x576, from Debian's darknet package: usr/share/darknet/data/dog.jpg) must already be there.

"exact" is true for every case: vitrim reproduces PIL's decoding (including its CMYK/YCCK conversion and its
ignoring of embedded ICC profiles) and resampling bit for bit. A case marked false would be checked with a
grey-level tolerance instead (see ImageGoldenTest).
"""
import gzip
import io
import json
import os
import struct
import sys
import zlib

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from timm_transform import timm_eval_transform, scale_size  # noqa: E402

OUT = os.path.join('core', 'src', 'test', 'resources', 'golden', 'images')

IMAGENET = dict(mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))
HALF = dict(mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))

# name -> (size, crop_pct, norm, interpolation)
CONFIGS = {
    'a': (32, 0.875, IMAGENET, 'bicubic'),   # scale 36
    'b': (24, 1.0, HALF, 'bilinear'),        # scale 24
    'c': (20, 0.9, HALF, 'bicubic'),         # scale 22
}


def pattern(w, h, seed, channels=3):
    """A deterministic 'photo-like' uint8 image: gradients, rings, hard edges, saturated areas, noise."""
    rs = np.random.RandomState(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    planes = []
    for c in range(channels):
        fx, fy = rs.uniform(0.05, 0.4, size=2)
        ph = rs.uniform(0, 6.28)
        p = 128 + 110 * np.sin(fx * x + ph) * np.cos(fy * y)
        p += 60 * ((x // (7 + c)) % 2 - 0.5)             # hard vertical edges
        r = np.hypot(x - w * 0.6, y - h * 0.4)
        p += 90 * np.cos(r * 0.5 + c)                     # rings
        p += rs.normal(0, 12, size=(h, w))                 # noise
        p[(x < w * 0.2) & (y < h * 0.3)] = 255 if c % 2 == 0 else 0   # saturated block
        planes.append(np.clip(np.rint(p), 0, 255).astype(np.uint8))
    return np.stack(planes, axis=-1)


def png_chunk(tag, data):
    return struct.pack('>I', len(data)) + tag + data + struct.pack('>I', zlib.crc32(tag + data) & 0xffffffff)


def write_png16(path, arr16):
    """Minimal 16-bit PNG writer (grey: [h,w], RGB: [h,w,3]) using zlib, filter type 0."""
    h, w = arr16.shape[:2]
    ctype = 0 if arr16.ndim == 2 else {3: 2, 4: 6, 2: 4}[arr16.shape[2]]
    raw = b''.join(b'\x00' + arr16[r].astype('>u2').tobytes() for r in range(h))
    ihdr = struct.pack('>IIBBBBB', w, h, 16, ctype, 0, 0, 0)
    with open(path, 'wb') as f:
        f.write(b'\x89PNG\r\n\x1a\n' + png_chunk(b'IHDR', ihdr) + png_chunk(b'IDAT', zlib.compress(raw, 9))
                + png_chunk(b'IEND', b''))


def icc_not_srgb():
    """An RGB display profile that is not sRGB: lcms's sRGB with the red and green primaries moved."""
    from PIL import ImageCms
    p = bytearray(ImageCms.ImageCmsProfile(ImageCms.createProfile('sRGB')).tobytes())
    n = struct.unpack('>I', p[128:132])[0]
    tags = {}
    for i in range(n):
        sig, off, size = struct.unpack('>4sII', bytes(p[132 + 12 * i:144 + 12 * i]))
        tags[sig] = off
    for tag, comp, factor in ((b'rXYZ', 0, 0.8), (b'gXYZ', 1, 1.1)):
        o = tags[tag] + 8 + 4 * comp
        v = struct.unpack('>i', bytes(p[o:o + 4]))[0]
        p[o:o + 4] = struct.pack('>i', int(v * factor))
    p[24:36] = b'\x00' * 12   # creation date: keep the fixtures reproducible
    p[84:100] = b'\x00' * 16  # profile ID (MD5) zero = not computed
    return bytes(p)


def make_images():
    imgs = {}  # file name -> list of config keys

    Image.fromarray(pattern(120, 90, 1), 'RGB').save(os.path.join(OUT, 'rgb_landscape.png'))
    imgs['rgb_landscape.png'] = ['a', 'b', 'c']

    # portrait; for config b: 45x55 -> 24x29, crop top = round(2.5) = 2 (round-half-even)
    Image.fromarray(pattern(45, 55, 2), 'RGB').save(os.path.join(OUT, 'rgb_portrait.png'))
    imgs['rgb_portrait.png'] = ['a', 'b', 'c']

    # landscape with odd excess for config a: 79x33 -> 86x36, left = round(27.0); config c: 52x22 -> round(16)
    Image.fromarray(pattern(79, 33, 3), 'RGB').save(os.path.join(OUT, 'rgb_wide.png'))
    imgs['rgb_wide.png'] = ['a', 'b', 'c']

    # already at scale size on the short side (no resize at all for config b: 24 short side)
    Image.fromarray(pattern(24, 40, 4), 'RGB').save(os.path.join(OUT, 'rgb_noresize.png'))
    imgs['rgb_noresize.png'] = ['a', 'b']

    rgba = np.concatenate([pattern(64, 48, 5), pattern(64, 48, 6, channels=1)], axis=-1)
    rgba[:10, :10, 3] = 0     # fully transparent corner: colour must be kept (no compositing)
    Image.fromarray(rgba, 'RGBA').save(os.path.join(OUT, 'rgba.png'))
    imgs['rgba.png'] = ['a', 'b']

    Image.fromarray(pattern(50, 40, 7, channels=1)[:, :, 0], 'L').save(os.path.join(OUT, 'grey.png'))
    imgs['grey.png'] = ['a', 'b']

    la = pattern(44, 52, 8, channels=2)
    Image.fromarray(la, 'LA').save(os.path.join(OUT, 'grey_alpha.png'))
    imgs['grey_alpha.png'] = ['a']

    pal_img = Image.fromarray(pattern(60, 44, 9), 'RGB').quantize(colors=200, method=Image.MEDIANCUT)
    pal_img.save(os.path.join(OUT, 'palette.png'))
    imgs['palette.png'] = ['a', 'b']

    # upscaling: 30x20 is smaller than every scale size used
    Image.fromarray(pattern(30, 20, 10), 'RGB').save(os.path.join(OUT, 'small_upscale.png'))
    imgs['small_upscale.png'] = ['a', 'b', 'c']

    # 16-bit: vitrim (and timm_transform.load_rgb) take the high byte of every sample.
    rs = np.random.RandomState(11)
    g16 = (pattern(48, 36, 12, channels=1)[:, :, 0].astype(np.uint16) * 257
           + rs.randint(0, 257, size=(36, 48)).astype(np.uint16))
    write_png16(os.path.join(OUT, 'grey16.png'), g16)
    chk = np.asarray(Image.open(os.path.join(OUT, 'grey16.png'))).astype(np.int64)
    assert (chk == g16).all(), 'PIL should open 16-bit grey losslessly as mode I'
    imgs['grey16.png'] = ['a', 'b']

    rgb16 = pattern(40, 56, 13).astype(np.uint16) * 257 + rs.randint(0, 257, size=(56, 40, 3)).astype(np.uint16)
    write_png16(os.path.join(OUT, 'rgb16.png'), rgb16)
    chk = np.asarray(Image.open(os.path.join(OUT, 'rgb16.png')).convert('RGB'))
    assert (chk == (rgb16 >> 8)).all(), 'PIL should reduce 16-bit RGB to the high byte'
    imgs['rgb16.png'] = ['a', 'b']

    photo = Image.fromarray(pattern(96, 72, 14), 'RGB')
    photo.save(os.path.join(OUT, 'baseline.jpg'), quality=90)
    imgs['baseline.jpg'] = ['a', 'b', 'c']

    Image.fromarray(pattern(60, 80, 15), 'RGB').save(os.path.join(OUT, 'progressive.jpg'), quality=85,
                                                      progressive=True)
    imgs['progressive.jpg'] = ['a', 'b']

    Image.fromarray(pattern(70, 50, 16), 'RGB').save(os.path.join(OUT, 'subsampling444.jpg'), quality=92,
                                                      subsampling=0)
    imgs['subsampling444.jpg'] = ['a']

    Image.fromarray(pattern(56, 42, 17, channels=1)[:, :, 0], 'L').save(os.path.join(OUT, 'grey.jpg'),
                                                                       quality=90)
    imgs['grey.jpg'] = ['a']

    # real CMYK with black ink (PIL's RGB->CMYK would give K = 0 everywhere); PIL writes Adobe-inverted CMYK
    Image.fromarray(pattern(64, 48, 18, channels=4), 'CMYK').save(os.path.join(OUT, 'cmyk.jpg'), quality=92)
    imgs['cmyk.jpg'] = ['a']

    # YCCK: PIL cannot write it, so write a CMYK JPEG whose stored samples are plausible Y, Cb, Cr, K values
    # (PIL stores 255 - value) with the first component 2x2-sampled, then patch the Adobe APP14 transform byte
    # from 0 (CMYK) to 2 (YCCK): libjpeg then decodes it as YCCK.
    ycck = pattern(56, 40, 22, channels=4).astype(np.int32)
    ycck[:, :, 1:3] = 128 + (ycck[:, :, 1:3] - 128) // 2       # moderate chroma
    buf = io.BytesIO()
    Image.fromarray((255 - ycck).astype(np.uint8), 'CMYK').save(buf, 'JPEG', quality=92, subsampling=2)
    data = buf.getvalue()
    i = data.index(b'\xff\xee')
    assert data[i + 4:i + 9] == b'Adobe' and data[i + 15] == 0, 'unexpected APP14 layout'
    data = data[:i + 15] + b'\x02' + data[i + 16:]
    with open(os.path.join(OUT, 'ycck.jpg'), 'wb') as f:
        f.write(data)
    chk = Image.open(os.path.join(OUT, 'ycck.jpg'))
    assert chk.mode == 'CMYK' and chk.info.get('adobe_transform') == 2
    imgs['ycck.jpg'] = ['a']

    # Embedded ICC profile that is not sRGB (sRGB with perturbed primaries): PIL ignores it, and so must vitrim
    prof = icc_not_srgb()
    Image.fromarray(pattern(52, 40, 23), 'RGB').save(os.path.join(OUT, 'icc_rgb.jpg'), quality=90, icc_profile=prof)
    imgs['icc_rgb.jpg'] = ['a']
    Image.fromarray(pattern(40, 52, 24), 'RGB').save(os.path.join(OUT, 'icc_rgb.png'), icc_profile=prof)
    imgs['icc_rgb.png'] = ['a']

    Image.fromarray(pattern(50, 38, 19), 'RGB').save(os.path.join(OUT, 'rgb.bmp'))
    imgs['rgb.bmp'] = ['a']

    Image.fromarray(pattern(46, 34, 20), 'RGB').quantize(colors=64).save(os.path.join(OUT, 'palette.gif'))
    imgs['palette.gif'] = ['a']
    return imgs


# PIL Image.resize on its own (no crop/normalise), outputs stored as lossless PNGs: (w, h, filter)
RESIZES = [(50, 11, 'bicubic'), (13, 40, 'bicubic'), (37, 60, 'bicubic'), (80, 23, 'bicubic'),
           (5, 3, 'bicubic'), (111, 70, 'bicubic'), (20, 12, 'bilinear'), (70, 9, 'bilinear'),
           (37, 7, 'bilinear'), (2, 50, 'bilinear'),
           (12, 23, 'bicubic'), (3, 23, 'bicubic'), (9, 23, 'bilinear'), (1, 1, 'bicubic'), (37, 2, 'bicubic')]


def make_resizes():
    src = np.random.RandomState(21).randint(0, 256, size=(23, 37, 3)).astype(np.uint8)
    src[5:12, 10:20] = 255   # flat saturated areas: bicubic overshoot must clip
    src[12:18, 20:30] = 0
    img = Image.fromarray(src, 'RGB')
    img.save(os.path.join(OUT, 'resize_src.png'))
    out = []
    filt = {'bicubic': Image.BICUBIC, 'bilinear': Image.BILINEAR}
    for w, h, f in RESIZES:
        name = 'resize_src_%dx%d_%s.png' % (w, h, f)
        img.resize((w, h), filt[f]).save(os.path.join(OUT, name))
        out.append(dict(image='resize_src.png', width=w, height=h, interpolation=f, expected=name))
    return out


def save_npy(path, arr, compress=False):
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(arr, dtype='<f4'))
    data = buf.getvalue()
    if compress:
        data = gzip.compress(data, 9, mtime=0)
    with open(path, 'wb') as f:
        f.write(data)


def main():
    if not os.path.isdir(OUT):
        sys.exit('run from the repository root (missing %s)' % OUT)
    if not os.path.exists(os.path.join(OUT, 'dog.jpg')):
        sys.exit('dog.jpg missing: apt-get download darknet; take usr/share/darknet/data/dog.jpg')
    imgs = make_images()
    cases = []

    def add(image, key, size, crop, norm, interp, compress=True):
        t = timm_eval_transform(os.path.join(OUT, image), size, crop, norm['mean'], norm['std'], interp)
        assert t.shape == (3, size, size) and t.dtype == np.float32
        stem = image.rsplit('.', 1)[0] + '_' + image.rsplit('.', 1)[1]
        expected = '%s.%s.npy' % (stem, key) + ('.gz' if compress else '')
        save_npy(os.path.join(OUT, expected), t, compress)
        cases.append(dict(image=image, size=size, crop_pct=crop, mean=list(norm['mean']), std=list(norm['std']),
                          interpolation=interp, expected=expected, exact=True))

    for image, keys in imgs.items():
        for k in keys:
            size, crop, norm, interp = CONFIGS[k]
            add(image, k, size, crop, norm, interp)
    # crop_pct > 1: resize target (26) smaller than the crop (32): torchvision zero-pads
    add('rgb_portrait.png', 'pad', 32, 1.25, HALF, 'bicubic')
    add('dog.jpg', 'inception224', 224, 0.9, HALF, 'bicubic')
    add('dog.jpg', 'imagenet160bilinear', 160, 0.875, IMAGENET, 'bilinear')

    with open(os.path.join(OUT, 'manifest.json'), 'w') as f:
        json.dump(dict(generator='tools/make_image_fixtures.py', reference='tools/timm_transform.py',
                       cases=cases, resizes=make_resizes()), f, indent=1)
        f.write('\n')

    # report the geometry each case exercises
    for c in cases:
        im = Image.open(os.path.join(OUT, c['image']))
        w, h = im.size
        s = scale_size(c['size'], c['crop_pct'])
        short, long_ = min(w, h), max(w, h)
        nl = long_ if short == s else int(s * long_ / short)
        ex = (nl - c['size']) / 2.0
        print('%-22s %-4s %3dx%-3d scale %3d -> long %3d, crop offset %5.1f -> %d%s' % (
            c['image'], c['interpolation'][:4], w, h, s, nl, ex, int(round(ex)),
            '  (half, rounds to even)' if ex != int(ex) else ''))
    total = sum(os.path.getsize(os.path.join(OUT, f)) for f in os.listdir(OUT) if f != 'dog.jpg')
    print('%d cases, fixtures (without dog.jpg): %d bytes' % (len(cases), total))


if __name__ == '__main__':
    main()
