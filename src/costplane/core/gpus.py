"""GPU model names: one canonical name per part, its memory, and the nearest-name suggestion for typos.

`H100` is the 80 GB H100 whatever a cloud calls it (H100-SXM, H100-MEGA, H100-80G-PCIe, ...);
`A100` is the 40 GB part and `A100-80GB` the 80 GB one (as SkyPilot names them).
"""

from __future__ import annotations

import difflib
import re

from costplane.core.errors import UnknownGpuError

# Canonical name -> memory per GPU in GiB (vendor datasheets; GiB as clouds report them).
GPU_MEMORY_GIB: dict[str, float] = {
    "B300": 288.0,
    "B200": 180.0,
    "GB200": 186.0,
    "H200": 141.0,
    "GH200": 96.0,
    "H100": 80.0,
    "H800": 80.0,
    "A100-80GB": 80.0,
    "A800": 80.0,
    "A100": 40.0,
    "L40S": 48.0,
    "L40": 48.0,
    "A40": 48.0,
    "A6000": 48.0,
    "RTX6000-Ada": 48.0,
    "RTXPRO6000": 96.0,
    "RTX6000": 24.0,
    "A5000": 24.0,
    "A4000": 16.0,
    "A2000": 12.0,
    "L4": 24.0,
    "A10G": 24.0,
    "A10": 24.0,
    "A16": 16.0,
    "T4": 16.0,
    "V100-32GB": 32.0,
    "V100": 16.0,
    "P100": 16.0,
    "P4": 8.0,
    "K80": 12.0,
    "M60": 8.0,
    "GAUDI2": 96.0,
    "MI25": 16.0,
    "RTX5090": 32.0,
    "RTX4090": 24.0,
    "RTX4070": 12.0,
    "RTX4060": 8.0,
    "RTX3090": 24.0,
    "RTX3080": 10.0,
    "RTX3070": 8.0,
    "RTX3060": 12.0,
}

# Cloud spellings -> canonical name. Keys are compared after _squash (upper case, no separators).
_ALIASES: dict[str, str] = {
    "H100MEGA": "H100",
    "H100SXM": "H100",
    "H100SXM5": "H100",
    "H10080G": "H100",
    "H10080GB": "H100",
    "H10080GPCIE": "H100",
    "H10080GPCIENVLINK": "H100",
    "H10080GSXM5": "H100",
    "H100PCIE": "H100",
    "H100NVL": "H100",
    "A10080G": "A100-80GB",
    "A10080GB": "A100-80GB",
    "A10080GPCIE": "A100-80GB",
    "A10080GPCIENVLINK": "A100-80GB",
    "A100SXM480GB": "A100-80GB",
    "A800SXM480GB": "A800",
    "A10040GB": "A100",
    "A100SXM4": "A100",
    "V10032GB": "V100-32GB",
    "V10032G": "V100-32GB",
    "V100M32": "V100-32GB",
    "V100M16": "V100",
    "RTXA6000": "A6000",
    "RTXA5000": "A5000",
    "RTXA4000": "A4000",
    "RTXA2000": "A2000",
    "RTX6000ADA": "RTX6000-Ada",
    "RTXPRO6000S": "RTXPRO6000",
    "RADEONMI25": "MI25",
}


def _squash(name: str) -> str:
    return re.sub(r"[^A-Z0-9]", "", name.upper())


_CANONICAL_BY_SQUASHED: dict[str, str] = {_squash(n): n for n in GPU_MEMORY_GIB}
_CANONICAL_BY_SQUASHED.update(_ALIASES)


# Words some clouds and nvidia-smi add around the model ("NVIDIA H100 80GB HBM3", "Tesla V100-SXM2-32GB").
_NOISE_TOKENS = frozenset({"NVIDIA", "TESLA", "GEFORCE", "AMD", "INSTINCT", "GPU", "SXM", "SXM2", "SXM3", "SXM4",
                           "SXM5", "SXM6", "PCIE", "NVLINK", "HBM2", "HBM2E", "HBM3", "HBM3E", "GDDR6"})
_MEMORY_TOKEN = re.compile(r"^(\d+)GB?$")


def canonical_gpu(name: str) -> str | None:
    """The canonical name for a cloud's spelling, or None when it is not a known GPU part."""
    exact = _CANONICAL_BY_SQUASHED.get(_squash(name))
    if exact is not None:
        return exact
    # Unseen spellings: drop vendor/form-factor words, then let a memory size pick the part (A100 40 vs 80 GB).
    tokens = [t for t in re.split(r"[^A-Z0-9]+", name.upper()) if t and t not in _NOISE_TOKENS]
    sizes = [int(m.group(1)) for t in tokens if (m := _MEMORY_TOKEN.match(t))]
    base = "".join(t for t in tokens if not _MEMORY_TOKEN.match(t))
    if not base:
        return None
    model = _CANONICAL_BY_SQUASHED.get(base)
    if not sizes:
        return model
    sized = _CANONICAL_BY_SQUASHED.get(f"{base}{sizes[0]}GB")
    if sized is not None:
        return sized
    if model is not None and abs(GPU_MEMORY_GIB.get(model, 0.0) - sizes[0]) <= max(2.0, 0.1 * sizes[0]):
        return model
    return None


def normalise_gpu_name(name: str) -> str:
    """Canonical name when known; otherwise the name as given (opaque types such as `G1` stay usable)."""
    return canonical_gpu(name) or name.strip()


def gpu_memory_gib(name: str) -> float | None:
    return GPU_MEMORY_GIB.get(normalise_gpu_name(name))


def resolve_gpu(name: str, known: tuple[str, ...] | list[str]) -> str:
    """Map a user's GPU name to one of `known` (the catalog's models), or raise with the nearest names."""
    if not name or not name.strip():
        raise UnknownGpuError("empty GPU model name", fix="pass a model such as H100, A100-80GB or L4")
    canonical = normalise_gpu_name(name)
    if canonical in known:
        return canonical
    squashed = {_squash(k): k for k in known}
    if _squash(name) in squashed:
        return squashed[_squash(name)]
    close = difflib.get_close_matches(canonical.upper(), [k.upper() for k in known], n=3, cutoff=0.5)
    upper_to_known = {k.upper(): k for k in known}
    hint = ", ".join(upper_to_known[c] for c in close) or ", ".join(sorted(known)[:8])
    raise UnknownGpuError(
        f"unknown GPU model {name!r}; nearest known: {hint}",
        fix="use a name from `costplane catalog --gpus-known`",
    )
