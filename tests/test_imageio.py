"""Image I/O: every common mode becomes uint8 RGB; bad files are clear errors naming the file."""

from __future__ import annotations

import io
import struct
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from restore_ray.imageio import (
    ImageReadError,
    ImageTooLargeError,
    check_rgb_u8,
    list_images,
    read_image,
    write_image,
)


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def bomb_png(width: int, height: int) -> bytes:
    """A tiny file whose header claims width × height RGB pixels."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")


def save(img: Image.Image, path: Path, **kw) -> Path:
    img.save(path, **kw)
    return path


def test_rgb_png_round_trip(tmp_path) -> None:
    arr = np.random.default_rng(0).integers(0, 256, (7, 9, 3), dtype=np.uint8)
    path = write_image(tmp_path / "a.png", arr)
    out = read_image(path)
    assert out.dtype == np.uint8 and out.shape == (7, 9, 3)
    assert np.array_equal(out, arr)


def test_empty_file_names_the_file(tmp_path) -> None:
    path = tmp_path / "empty.png"
    path.write_bytes(b"")
    with pytest.raises(ImageReadError, match=r"empty\.png.*empty \(0 bytes\)"):
        read_image(path)
    with pytest.raises(ImageReadError, match="empty"):
        read_image(b"")


def test_truncated_png_is_an_error_not_a_black_image(tmp_path) -> None:
    arr = np.random.default_rng(1).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    data = (write_image(tmp_path / "full.png", arr)).read_bytes()
    path = tmp_path / "cut.png"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageReadError, match=r"cut\.png.*(corrupt|truncated)"):
        read_image(path)


def test_truncated_jpeg_is_an_error(tmp_path) -> None:
    arr = np.random.default_rng(2).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="JPEG")
    path = tmp_path / "cut.jpg"
    path.write_bytes(buf.getvalue()[:300])
    with pytest.raises(ImageReadError, match=r"cut\.jpg"):
        read_image(path)


def test_one_pixel_image(tmp_path) -> None:
    path = save(Image.new("RGB", (1, 1), (10, 20, 30)), tmp_path / "one.png")
    out = read_image(path)
    assert out.shape == (1, 1, 3) and out[0, 0].tolist() == [10, 20, 30]


def test_sixteen_bit_grey_keeps_the_high_byte(tmp_path) -> None:
    grey = np.array([[0, 257, 65535], [32768, 1000, 51400]], dtype=np.uint16)
    path = save(Image.fromarray(grey), tmp_path / "g16.png")
    out = read_image(path)
    assert out.shape == (2, 3, 3)
    assert out[..., 0].tolist() == (grey >> 8).astype(np.uint8).tolist()
    assert np.all(out[..., 0] == out[..., 2])


def test_sixteen_bit_rgb(tmp_path) -> None:
    import cv2

    rgb16 = np.zeros((4, 5, 3), np.uint16)
    rgb16[..., 0] = 65535  # red, full scale
    rgb16[..., 2] = 32896  # blue, half scale
    cv2.imwrite(str(tmp_path / "c16.png"), rgb16[..., ::-1])  # OpenCV writes BGR
    out = read_image(tmp_path / "c16.png")
    assert out.dtype == np.uint8
    assert out[0, 0].tolist() == [255, 0, 128]


def test_cmyk_jpeg_uses_the_documented_rule(tmp_path) -> None:
    c, m, y, k = 10, 20, 30, 40
    path = save(Image.new("CMYK", (16, 16), (c, m, y, k)), tmp_path / "cmyk.jpg", quality=100)
    out = read_image(path)
    expected = [round(255 * (1 - v / 255) * (1 - k / 255)) for v in (c, m, y)]
    assert out.shape == (16, 16, 3)
    assert np.abs(out[8, 8].astype(int) - expected).max() <= 3  # JPEG rounding


def test_header_claiming_30000_squared_is_refused_before_decoding(tmp_path) -> None:
    path = tmp_path / "bomb.png"
    path.write_bytes(bomb_png(30_000, 30_000))
    t0 = time.perf_counter()
    with pytest.raises(ImageTooLargeError, match=r"bomb\.png: 30000×30000 = 900,000,000 pixels exceeds"):
        read_image(path)
    assert time.perf_counter() - t0 < 1.0  # nothing was decoded
    with pytest.raises(ImageTooLargeError):
        read_image(path.read_bytes())


def test_pixel_limit_is_configurable(tmp_path, monkeypatch) -> None:
    path = write_image(tmp_path / "a.png", np.zeros((20, 20, 3), np.uint8))
    with pytest.raises(ImageTooLargeError, match="limit of 100"):
        read_image(path, max_pixels=100)
    monkeypatch.setenv("RESTORE_RAY_MAX_PIXELS", "399")
    with pytest.raises(ImageTooLargeError, match="RESTORE_RAY_MAX_PIXELS"):
        read_image(path)
    monkeypatch.setenv("RESTORE_RAY_MAX_PIXELS", "400")
    assert read_image(path).shape == (20, 20, 3)
    monkeypatch.setenv("RESTORE_RAY_MAX_PIXELS", "lots")
    with pytest.raises(ValueError, match="RESTORE_RAY_MAX_PIXELS"):
        read_image(path)


def test_rgba_is_composited_over_white(tmp_path) -> None:
    rgba = np.zeros((2, 2, 4), np.uint8)
    rgba[0, 0] = (255, 0, 0, 255)  # opaque red
    rgba[0, 1] = (0, 0, 255, 0)  # fully transparent blue
    rgba[1, 0] = (0, 0, 0, 128)  # half-transparent black
    out = read_image(save(Image.fromarray(rgba, "RGBA"), tmp_path / "a.png"))
    assert out[0, 0].tolist() == [255, 0, 0]
    assert out[0, 1].tolist() == [255, 255, 255]
    assert 120 <= out[1, 0, 0] <= 135


def test_grey_palette_and_bilevel(tmp_path) -> None:
    grey = read_image(save(Image.new("L", (3, 2), 77), tmp_path / "l.png"))
    assert grey.shape == (2, 3, 3) and np.all(grey == 77)
    pal = Image.new("P", (4, 4))
    pal.putpalette([0, 0, 0, 200, 100, 50] + [0] * 762)
    pal.putpixel((1, 1), 1)
    out = read_image(save(pal, tmp_path / "p.png"))
    assert out[1, 1].tolist() == [200, 100, 50] and out[0, 0].tolist() == [0, 0, 0]
    bw = read_image(save(Image.new("1", (5, 5), 1), tmp_path / "b.png"))
    assert np.all(bw == 255)


def test_exif_orientation_is_applied(tmp_path) -> None:
    arr = np.zeros((10, 20, 3), np.uint8)  # landscape, left half red
    arr[:, :10] = (255, 0, 0)
    img = Image.fromarray(arr)
    exif = img.getexif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    path = tmp_path / "rot.jpg"
    img.save(path, exif=exif, quality=95)
    out = read_image(path)
    assert out.shape == (20, 10, 3)  # now portrait
    assert out[2, 5, 0] > 200 and out[-3, 5, 0] < 60  # the red half is on top


def test_not_an_image_and_missing_paths(tmp_path) -> None:
    text = tmp_path / "notes.png"
    text.write_text("hello")
    with pytest.raises(ImageReadError, match=r"notes\.png: not a recognised image format"):
        read_image(text)
    with pytest.raises(ImageReadError, match="no such file"):
        read_image(tmp_path / "missing.png")
    with pytest.raises(ImageReadError, match="is a directory"):
        read_image(tmp_path)
    with pytest.raises(ImageReadError, match="upload.bin"):
        read_image(b"garbage", name="upload.bin")


def test_write_image_checks_arrays_and_formats(tmp_path) -> None:
    with pytest.raises(ValueError, match="uint8 \\(H, W, 3\\)"):
        write_image(tmp_path / "x.png", np.zeros((4, 4), np.uint8))
    with pytest.raises(ValueError, match="unsupported output format"):
        write_image(tmp_path / "x.xyz", np.zeros((4, 4, 3), np.uint8))
    jpg = write_image(tmp_path / "sub" / "x.jpg", np.full((8, 8, 3), 90, np.uint8))
    assert np.abs(read_image(jpg).astype(int) - 90).max() <= 2
    with pytest.raises(ValueError, match="float32"):
        check_rgb_u8(np.zeros((2, 2, 3), np.float32))


def test_list_images(tmp_path) -> None:
    for name in ("b.png", "a.JPG", "c.txt"):
        (tmp_path / name).write_bytes(b"x")
    assert [p.name for p in list_images(tmp_path)] == ["a.JPG", "b.png"]
    with pytest.raises(FileNotFoundError):
        list_images(tmp_path / "nope")
