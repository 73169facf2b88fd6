"""Helpers for tests that look inside rendered files: decode frames, compare them, read MP4 atoms."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import av
import numpy as np


def frames_rgb(path: Path) -> list[np.ndarray]:
    """Every video frame as an HxWx3 uint8 array."""
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def top_level_atoms(path: Path) -> list[str]:
    """The MP4's top-level box types in file order (``moov`` before ``mdat`` = faststart)."""
    atoms = []
    with open(path, "rb") as f:
        while header := f.read(8):
            size, kind = struct.unpack(">I4s", header)
            if size == 1:
                size = struct.unpack(">Q", f.read(8))[0]
                f.seek(size - 16, 1)
            elif size == 0:
                atoms.append(kind.decode("latin-1"))
                break
            else:
                f.seek(size - 8, 1)
            atoms.append(kind.decode("latin-1"))
    return atoms


def box_diff(a: np.ndarray, b: np.ndarray, box: tuple[int, int, int, int]) -> tuple[float, float]:
    """Mean absolute difference inside ``box`` (x, y, w, h) and outside it (with a margin)."""
    x, y, w, h = box
    diff = np.abs(a.astype(np.int16) - b.astype(np.int16)).mean(axis=2)
    inside = diff[y : y + h, x : x + w].mean()
    mask = np.ones(diff.shape, dtype=bool)
    margin = 16  # x264 macroblocks around the box may shift a little
    mask[max(0, y - margin) : y + h + margin, max(0, x - margin) : x + w + margin] = False
    return float(inside), float(diff[mask].mean())


def stream_spans(path: Path) -> dict[str, tuple[float, float]]:
    """``{"video": (start, end), "audio": (start, end)}`` in seconds, from packet timestamps."""
    spans: dict[str, tuple[float, float]] = {}
    with av.open(str(path)) as container:
        for packet in container.demux():
            if packet.size and packet.pts is not None:
                kind, tb = packet.stream.type, packet.time_base
                start, end = float(packet.pts * tb), float((packet.pts + packet.duration) * tb)
                old = spans.get(kind, (start, end))
                spans[kind] = (min(old[0], start), max(old[1], end))
    return spans


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """Peak signal-to-noise ratio of two RGB frames in dB (``inf`` when identical)."""
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def luma_psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR of the BT.601 luma planes.

    Luma, because the engine's H.264 output is 4:2:0: chroma has half the
    resolution, so a hard green/blue edge in an overlay is smeared over a pixel
    or two by design, while the reference keeps full-resolution RGB.
    """
    weights = np.array([0.299, 0.587, 0.114])
    mse = np.mean((a.astype(np.float64) @ weights - b.astype(np.float64) @ weights) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def decoded_audio(path: Path, rate: int = 48_000) -> tuple[float, np.ndarray]:
    """When the first decoded audio sample plays (seconds, by its timestamp) and the audio as one
    float channel resampled to ``rate``: what a player hears, edit lists applied by the demuxer."""
    with av.open(str(path)) as container:
        resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
        start, chunks = None, []
        for frame in container.decode(audio=0):
            if start is None:
                start = float(frame.pts * frame.time_base)
            chunks += [f.to_ndarray()[0] for f in resampler.resample(frame)]
        chunks += [f.to_ndarray()[0] for f in resampler.resample(None)]
    assert start is not None, f"{path.name} has no audio"
    return start, np.concatenate(chunks)


def first_frame_time(path: Path) -> float:
    """When the first decoded video frame is shown, in seconds."""
    with av.open(str(path)) as container:
        frame = next(container.decode(video=0))
        return float(frame.pts * frame.time_base)


def audio_lag(
    samples: np.ndarray,
    reference: np.ndarray,
    rate: int = 48_000,
    *,
    within: float = 0.2,
    window: tuple[float, float] | None = None,
) -> float:
    """Seconds by which ``samples`` lag ``reference`` (negative: lead), up to ``within``: the peak
    of their cross-correlation over the ``window`` of the reference (seconds; by default from
    ``within`` to ``3 * within``). Pick a window where the sound is not periodic."""
    first, last = window or (within, 3 * within)
    assert first >= within, "the window must start at least `within` seconds in"
    span = slice(int(first * rate), int(last * rate))
    shift = int(within * rate)
    a, b = samples[span.start - shift : span.stop + shift], reference[span]
    size = 1 << (len(a) + len(b)).bit_length()
    corr = np.fft.irfft(np.fft.rfft(a, size) * np.conj(np.fft.rfft(b, size)), size)
    lags = np.arange(size) - shift
    valid = np.abs(lags) <= shift
    return float(lags[valid][np.argmax(corr[valid])] / rate)


def audio_offset(path: Path, reference: Path, rate: int = 48_000, **lag: Any) -> float:
    """Seconds by which the audio of ``path`` plays later, relative to its first video frame, than
    the audio of ``reference`` relative to its first frame (0: in sync as the reference is);
    ``lag`` as ``audio_lag`` takes it."""
    (start, samples), (ref_start, ref_samples) = decoded_audio(path, rate), decoded_audio(reference, rate)
    offset = audio_lag(samples, ref_samples, rate, **lag)
    return (start - first_frame_time(path)) + offset - (ref_start - first_frame_time(reference))
