"""Anime-face metrics from an offline detector: nagadomi's AnimeFace 2009 (PyPI `animeface`, its model compiled
into the bundled libnvxs), which finds a face with its eyes (and their colours), nose, mouth and chin.

The package's own Python binding reads Pillow's internal image struct and silently finds nothing with Pillow 12
and later, so gan-spec calls the bundled library through ctypes on a plain array, with the binding's own
preprocessing and parameters. A 64x64 face is too small for the detector (it looks for faces from 42 pixels up to
three quarters of the frame and skips blurry windows): each image is enlarged twice (bicubic) and framed by a
32-pixel white border first.

Metrics on the detected faces (each beside the real faces' own value, `real_*`):
- `face_detection_rate`: the share of images in which a face is found;
- `heterochromia_share`: the share of detected faces whose two eyes differ in colour by more than EYE_COLOUR;
- `eye_mismatch`: the share whose eyes differ in colour by that much or in area by more than EYE_AREA times;
- `proportion_error`: the landmarks' geometry (eyes, nose, mouth and chin within the face box) against the real
  faces' typical geometry: the mean robust z-score over the features (real faces score their own level).
"""

from __future__ import annotations

import ctypes as C
import statistics
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

EYE_COLOUR = 80.0  # RGB distance (0-255 per channel) beyond which two eyes are of different colours
EYE_AREA = 2.0  # area ratio beyond which two eyes are of different sizes
MAX_FACES = 64  # detections per image kept by the library
SCALE, BORDER = 2, 32  # the 64x64 recipe: enlarge twice, then frame in white


@dataclass(frozen=True)
class Face:
    """One detected face: boxes as (x, y, width, height), points as (x, y), colours as (r, g, b)."""

    likelihood: float
    face: tuple[int, int, int, int]
    left_eye: tuple[int, int, int, int]
    right_eye: tuple[int, int, int, int]
    left_colour: tuple[float, float, float]
    right_colour: tuple[float, float, float]
    nose: tuple[int, int]
    mouth: tuple[int, int, int, int]
    chin: tuple[int, int]


class _Mat(C.Structure):
    _fields_ = [("list", C.c_int), ("list_step", C.c_uint), ("n", C.c_int), ("m", C.c_int), ("rows", C.c_int),
                ("cols", C.c_int), ("step", C.c_int), ("alias", C.c_int), ("v", C.POINTER(C.c_float))]


class _Rect(C.Structure):
    _fields_ = [("x", C.c_int), ("y", C.c_int), ("width", C.c_int), ("height", C.c_int)]


class _Pos(C.Structure):
    _fields_ = [("likelihood", C.c_float)] + [(k, _Rect) for k in ("face", "left_eye", "right_eye", "nose", "mouth",
                                                                    "chin")]


_Colour = C.c_float * 4


class _Features(C.Structure):
    _fields_ = [("eye_ratio", C.c_float), ("face_ratio", C.c_float), ("skin_bgr", _Colour), ("skin_ec", _Colour),
                ("hair_bgr", _Colour), ("hair_ec", _Colour), *[(k, _Colour * 4) for k in (
                    "left_eye_bgr", "right_eye_bgr", "eye_bgr", "left_eye_ec", "right_eye_ec", "eye_ec")]]


def library_path() -> Path | None:
    """The libnvxs that the installed `animeface` wheel bundles, or None when it is not installed."""
    try:
        import animeface
    except ImportError:
        return None
    found = sorted((Path(animeface.__file__).parent.parent / "animeface.libs").glob("libnvxs*.so*"))
    return found[0] if found else None


class Detector:
    """The AnimeFace 2009 detector of the bundled library, called on (H, W, 3) uint8 RGB arrays."""

    def __init__(self, path: Path) -> None:
        lib = C.CDLL(str(path))
        mat = C.POINTER(_Mat)
        lib.nv_matrix3d_alloc.restype, lib.nv_matrix3d_alloc.argtypes = mat, [C.c_int] * 3
        lib.nv_matrix_free.argtypes = [C.POINTER(mat)]
        lib.nv_matrix_zero.argtypes = [mat]
        lib.nv_gray.argtypes = [mat, mat]
        lib.nv_gaussian5x5.argtypes = [mat, C.c_int, mat, C.c_int]
        lib.nv_laplacian1.argtypes = [mat, mat, C.c_float]
        lib.nv_integral.argtypes = [mat, mat, C.c_int]
        lib.nv_face_detect.restype = C.c_int
        lib.nv_face_detect.argtypes = [C.POINTER(_Pos), C.c_int, mat, mat, C.POINTER(_Rect), C.c_void_p, C.c_void_p,
                                       C.c_void_p, C.c_int, C.c_void_p, C.c_float, C.c_float, C.c_float]
        lib.nv_face_analyze.argtypes = [C.POINTER(_Features), C.POINTER(_Pos), mat]
        lib.nv_srand.argtypes = [C.c_ulong]
        self.lib = lib
        self.mlp = {k: C.addressof(C.c_char.in_dll(lib, f"nv_face_mlp_{k}"))
                    for k in ("face_00", "face_01", "face_02", "dir", "parts")}
        self.bag = (C.c_void_p * 3)(self.mlp["face_01"], self.mlp["face_02"], None)

    def _matrix(self, n: int, rows: int, cols: int) -> C._Pointer[_Mat]:
        m: C._Pointer[_Mat] = self.lib.nv_matrix3d_alloc(n, rows, cols)
        self.lib.nv_matrix_zero(m)
        return m

    def detect(self, rgb: np.ndarray, seed: int = 0) -> list[Face]:
        """The faces in one image, most likely first (colours are sampled: `seed` makes them repeatable)."""
        lib, (h, w) = self.lib, rgb.shape[:2]
        bgr, grey, smooth, edge = (self._matrix(c, h, w) for c in (3, 1, 1, 1))
        grey_sum, edge_sum = self._matrix(1, h + 1, w + 1), self._matrix(1, h + 1, w + 1)
        try:
            s = bgr.contents
            view = np.ctypeslib.as_array(s.v, shape=(s.rows * s.cols * s.step,)).reshape(s.rows, s.cols, s.step)
            view[:, :, :3] = rgb[:, :, ::-1].astype(np.float32)
            lib.nv_gray(grey, bgr)
            lib.nv_gaussian5x5(smooth, 0, grey, 0)
            lib.nv_laplacian1(edge, smooth, 4.0)
            lib.nv_integral(grey_sum, grey, 0)
            lib.nv_integral(edge_sum, edge, 0)
            found, size = (_Pos * MAX_FACES)(), _Rect(0, 0, w, h)
            n = lib.nv_face_detect(found, MAX_FACES, grey_sum, edge_sum, C.byref(size), self.mlp["dir"],
                                   self.mlp["face_00"], C.cast(self.bag, C.c_void_p), 2, self.mlp["parts"], 4.0,
                                   1.095, 42.592)
            faces = []
            for pos in found[:n]:
                lib.nv_srand(seed)
                feat = _Features()
                lib.nv_face_analyze(C.byref(feat), C.byref(pos), bgr)
                faces.append(_face(pos, feat))
        finally:
            for m in (bgr, grey, smooth, edge, grey_sum, edge_sum):
                lib.nv_matrix_free(C.byref(m))
        return sorted(faces, key=lambda f: -f.likelihood)


def _face(pos: _Pos, feat: _Features) -> Face:
    def box(r: _Rect) -> tuple[int, int, int, int]:
        return r.x, r.y, r.width, r.height

    def rgb(c: C.Array[C.c_float]) -> tuple[float, float, float]:
        return float(c[2]), float(c[1]), float(c[0])

    return Face(float(pos.likelihood), box(pos.face), box(pos.left_eye), box(pos.right_eye),
                rgb(feat.left_eye_bgr[0]), rgb(feat.right_eye_bgr[0]), (pos.nose.x, pos.nose.y), box(pos.mouth),
                (pos.chin.x, pos.chin.y))


def prepared(images: torch.Tensor) -> list[np.ndarray]:
    """Images in [-1, 1] (N, C, H, W) as the detector sees them: RGB uint8, enlarged SCALE times, framed in white."""
    x = images.detach().float().cpu()
    x = x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x[:, :3]
    x = F.interpolate(x, scale_factor=SCALE, mode="bicubic", align_corners=False)
    x = F.pad(x, (BORDER,) * 4, value=1.0)
    pixels = ((x + 1) * 127.5).round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).contiguous().numpy()
    return list(pixels)


def detect_all(images: torch.Tensor, detector: Detector) -> list[Face | None]:
    """The most likely face of each image, or None where the detector finds none."""
    return [next(iter(detector.detect(arr, seed=i)), None) for i, arr in enumerate(prepared(images))]


def geometry(face: Face) -> list[float]:
    """The landmarks within the face box, as shares of its size: eye gap, eye height, nose, mouth and chin height,
    eye size."""
    x, y, w, h = face.face
    (lx, ly, lw, lh), (rx, ry, rw, rh) = face.left_eye, face.right_eye

    def centre(bx: float, bw: float) -> float:
        return bx + bw / 2

    return [abs(centre(lx, lw) - centre(rx, rw)) / w, ((ly + lh / 2 + ry + rh / 2) / 2 - y) / h,
            (face.nose[1] - y) / h, (face.mouth[1] + face.mouth[3] / 2 - y) / h, (face.chin[1] - y) / h,
            (lw * lh + rw * rh) / 2 / (w * h)]


def _colour_distance(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    return float(np.linalg.norm(np.subtract(a, b)))


def eye_shares(faces: list[Face]) -> tuple[float, float]:
    """(heterochromia share, eye-mismatch share) of the detected faces."""
    if not faces:
        return float("nan"), float("nan")
    hetero = [_colour_distance(f.left_colour, f.right_colour) > EYE_COLOUR for f in faces]
    areas = [(f.left_eye[2] * f.left_eye[3], f.right_eye[2] * f.right_eye[3]) for f in faces]
    size = [max(a, b) > EYE_AREA * max(1, min(a, b)) for a, b in areas]
    return statistics.fmean(hetero), statistics.fmean(h or s for h, s in zip(hetero, size))


def proportion_error(faces: list[Face], typical: list[tuple[float, float]]) -> float:
    """The mean robust z-score of the faces' geometry against the real faces' (median, MAD) per feature."""
    if not faces:
        return float("nan")
    scores = [statistics.fmean(abs(v - m) / (mad or 1e-6) for v, (m, mad) in zip(geometry(f), typical))
              for f in faces]
    return statistics.fmean(scores)


def typical_geometry(faces: list[Face]) -> list[tuple[float, float]]:
    """(median, median absolute deviation) of each geometry feature over real faces."""
    columns = list(zip(*(geometry(f) for f in faces)))
    return [(statistics.median(c), statistics.median(abs(v - statistics.median(c)) for v in c)) for c in columns]


def face_metrics(got: list[Face | None], ref: list[Face | None]) -> dict[str, float]:
    """The face metrics of generated images' detections beside the real faces' own (one entry per image, None
    where no face was found). The real faces are split in two halves: the first gives the typical geometry, the
    second the real faces' own error against it."""
    found, real_found = [f for f in got if f], [f for f in ref if f]
    out = {"face_detection_rate": len(found) / max(1, len(got)),
           "real_face_detection_rate": len(real_found) / max(1, len(ref))}
    out["heterochromia_share"], out["eye_mismatch"] = eye_shares(found)
    out["real_heterochromia_share"], out["real_eye_mismatch"] = eye_shares(real_found)
    half = len(real_found) // 2
    if half >= 2:
        typical = typical_geometry(real_found[:half])
        out["proportion_error"] = proportion_error(found, typical)
        out["real_proportion_error"] = proportion_error(real_found[half:], typical)
    return {k: v for k, v in out.items() if v == v}  # NaN where nothing was found: left out, not written
