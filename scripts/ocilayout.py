"""OCI image layout helpers shared by scripts/oci.py (the .wasm filter) and
scripts/image.py (the issuer-svc container image): standard library only.

An OCI image layout (https://github.com/opencontainers/image-spec/blob/main/
image-layout.md) is a directory with `oci-layout`, `index.json` and
`blobs/sha256/<hex>`. Everything written here is reproducible: canonical JSON,
gzip with mtime 0, tar entries with fixed metadata (the callers' job).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

INDEX_MEDIA_TYPE = "application/vnd.oci.image.index.v1+json"
MANIFEST_MEDIA_TYPE = "application/vnd.oci.image.manifest.v1+json"
CONFIG_MEDIA_TYPE = "application/vnd.oci.image.config.v1+json"
LAYER_MEDIA_TYPE = "application/vnd.oci.image.layer.v1.tar+gzip"
REF_NAME = "org.opencontainers.image.ref.name"


class LayoutError(Exception):
    """The layout is not a well-formed OCI image of the expected kind."""


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def descriptor(media_type: str, data: bytes, **extra) -> dict:
    return {"mediaType": media_type, "digest": sha256(data), "size": len(data), **extra}


def canonical_json(value) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def workspace_version() -> str:
    cargo = tomllib.loads((ROOT / "Cargo.toml").read_text())
    return cargo["workspace"]["package"]["version"]


def gzip_bytes(data: bytes) -> bytes:
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=0, compresslevel=9) as gz:
        gz.write(data)
    return buffer.getvalue()


def write_layout(out: Path, blobs: list[bytes], index: bytes) -> None:
    """Writes `out` with exactly `blobs` (stale blobs of an earlier build removed)."""
    blob_dir = out / "blobs/sha256"
    if blob_dir.exists():
        for stale in blob_dir.iterdir():
            stale.unlink()
    blob_dir.mkdir(parents=True, exist_ok=True)
    for data in blobs:
        (blob_dir / sha256(data).removeprefix("sha256:")).write_bytes(data)
    (out / "oci-layout").write_bytes(canonical_json({"imageLayoutVersion": "1.0.0"}))
    (out / "index.json").write_bytes(index)


def read_json(data: bytes, what: str) -> dict:
    try:
        value = json.loads(data)
    except ValueError as err:
        raise LayoutError(f"{what} is not JSON: {err}") from err
    if not isinstance(value, dict):
        raise LayoutError(f"{what} is not a JSON object")
    return value


def blob(out: Path, desc: dict, media_type: str, what: str, used: set[str]) -> bytes:
    """The blob `desc` points at, after checking its media type, size and digest."""
    if desc.get("mediaType") != media_type:
        raise LayoutError(f"{what}: media type {desc.get('mediaType')!r}, expected {media_type!r}")
    digest = desc.get("digest", "")
    if not digest.startswith("sha256:") or len(digest) != 71:
        raise LayoutError(f"{what}: digest {digest!r} is not sha256:<64 hex>")
    path = out / "blobs/sha256" / digest.removeprefix("sha256:")
    if not path.is_file():
        raise LayoutError(f"{what}: blob {digest} is missing")
    data = path.read_bytes()
    if len(data) != desc.get("size"):
        raise LayoutError(f"{what}: size {desc.get('size')} in the descriptor, {len(data)} on disk")
    if sha256(data) != digest:
        raise LayoutError(f"{what}: content does not match its digest {digest}")
    used.add(path.name)
    return data


def read_image(out: Path, used: set[str]) -> tuple[dict, dict, dict]:
    """(index entry, manifest, config) of the single tagged image manifest in
    `out`, every digest and size checked; the blobs read are added to `used`."""
    layout = read_json((out / "oci-layout").read_bytes(), "oci-layout")
    if layout.get("imageLayoutVersion") != "1.0.0":
        raise LayoutError(f"oci-layout: imageLayoutVersion {layout.get('imageLayoutVersion')!r}")
    index = read_json((out / "index.json").read_bytes(), "index.json")
    if index.get("schemaVersion") != 2 or len(index.get("manifests", [])) != 1:
        raise LayoutError("index.json: expected schemaVersion 2 and exactly one manifest")
    manifest_desc = index["manifests"][0]
    if not manifest_desc.get("annotations", {}).get(REF_NAME):
        raise LayoutError(f"index.json: the manifest has no {REF_NAME} (the tag oras/skopeo copy)")
    manifest = read_json(blob(out, manifest_desc, MANIFEST_MEDIA_TYPE, "manifest", used), "manifest")
    if manifest.get("schemaVersion") != 2 or manifest.get("mediaType") != MANIFEST_MEDIA_TYPE:
        raise LayoutError("manifest: expected schemaVersion 2 and an OCI image manifest media type")
    config = read_json(blob(out, manifest.get("config", {}), CONFIG_MEDIA_TYPE, "config", used), "config")
    return manifest_desc, manifest, config


def check_no_stray_blobs(out: Path, used: set[str]) -> None:
    stray = sorted({p.name for p in (out / "blobs/sha256").iterdir()} - used)
    if stray:
        raise LayoutError(f"blobs: not referenced: {stray}")
