#!/usr/bin/env python3
"""Packages the claude-wif .wasm as an OCI image that Istio's WasmPlugin can
pull, without Docker: an OCI image layout directory (https://github.com/
opencontainers/image-spec/blob/main/image-layout.md) written with the standard
library only.

Format: the "compat" variant of the Wasm image specification, which Istio's
image fetcher accepts: an OCI image manifest whose single layer
(`application/vnd.oci.image.layer.v1.tar+gzip`) is a tar holding `plugin.wasm`.
The output is reproducible: the same .wasm gives the same digests.

    scripts/oci.py build [--wasm FILE] [--out DIR] [--tag TAG]
    scripts/oci.py check [--wasm FILE] [--out DIR]

`build` writes DIR (default target/oci) and prints the manifest digest to pin
in the WasmPlugin: `sha256:<hex>` inside `url` (oci://…@sha256:<hex>), bare
`<hex>` in its `sha256` field. `check` verifies the layout: every digest and size, media
types, the layer holds exactly `plugin.wasm` (a Wasm module; the same bytes as
FILE when given). Push with any OCI tool, e.g.

    oras cp --from-oci-layout target/oci:TAG REGISTRY/claude-wif/claude-wif-filter:TAG
    crane push target/oci REGISTRY/claude-wif/claude-wif-filter:TAG
    skopeo copy oci:target/oci:TAG docker://REGISTRY/claude-wif/claude-wif-filter:TAG
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import sys
import tarfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_WASM = ROOT / "target/wasm/claude_wif_filter.wasm"
DEFAULT_OUT = ROOT / "target/oci"

INDEX_MEDIA_TYPE = "application/vnd.oci.image.index.v1+json"
MANIFEST_MEDIA_TYPE = "application/vnd.oci.image.manifest.v1+json"
CONFIG_MEDIA_TYPE = "application/vnd.oci.image.config.v1+json"
LAYER_MEDIA_TYPE = "application/vnd.oci.image.layer.v1.tar+gzip"
PLUGIN_FILE = "plugin.wasm"
WASM_MAGIC = b"\0asm"
REF_NAME = "org.opencontainers.image.ref.name"


class LayoutError(Exception):
    """The layout is not a well-formed Wasm OCI image."""


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def descriptor(media_type: str, data: bytes, **extra) -> dict:
    return {"mediaType": media_type, "digest": sha256(data), "size": len(data), **extra}


def canonical_json(value) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def workspace_version() -> str:
    cargo = tomllib.loads((ROOT / "Cargo.toml").read_text())
    return cargo["workspace"]["package"]["version"]


def layer_tar(wasm: bytes) -> bytes:
    """A tar with one file, plugin.wasm, with fixed metadata (reproducible)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo(PLUGIN_FILE)
        info.size = len(wasm)
        info.mode = 0o644
        info.mtime = 0
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        tar.addfile(info, io.BytesIO(wasm))
    return buffer.getvalue()


def gzip_bytes(data: bytes) -> bytes:
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=0, compresslevel=9) as gz:
        gz.write(data)
    return buffer.getvalue()


def build(wasm_path: Path, out: Path, tag: str) -> str:
    """Writes the layout to `out`; returns the manifest digest."""
    wasm = wasm_path.read_bytes()
    if not wasm.startswith(WASM_MAGIC):
        raise LayoutError(f"{wasm_path} is not a Wasm module")
    tar = layer_tar(wasm)
    layer = gzip_bytes(tar)
    config = canonical_json(
        {
            "architecture": "wasm",
            "os": "wasip1",
            "config": {},
            "rootfs": {"type": "layers", "diff_ids": [sha256(tar)]},
        }
    )
    manifest = canonical_json(
        {
            "schemaVersion": 2,
            "mediaType": MANIFEST_MEDIA_TYPE,
            "config": descriptor(CONFIG_MEDIA_TYPE, config),
            "layers": [
                descriptor(LAYER_MEDIA_TYPE, layer, annotations={"org.opencontainers.image.title": PLUGIN_FILE})
            ],
            "annotations": {
                "org.opencontainers.image.title": "claude-wif-filter",
                "org.opencontainers.image.description": "claude-wif proxy-wasm filter for Envoy and Istio",
                "org.opencontainers.image.version": tag,
            },
        }
    )
    index = canonical_json(
        {
            "schemaVersion": 2,
            "mediaType": INDEX_MEDIA_TYPE,
            "manifests": [descriptor(MANIFEST_MEDIA_TYPE, manifest, annotations={REF_NAME: tag})],
        }
    )
    blobs = out / "blobs/sha256"
    if blobs.exists():
        for stale in blobs.iterdir():
            stale.unlink()
    blobs.mkdir(parents=True, exist_ok=True)
    for blob in (layer, config, manifest):
        (blobs / sha256(blob).removeprefix("sha256:")).write_bytes(blob)
    (out / "oci-layout").write_bytes(canonical_json({"imageLayoutVersion": "1.0.0"}))
    (out / "index.json").write_bytes(index)
    return sha256(manifest)


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


def wasm_from_layer(layer: bytes) -> tuple[bytes, bytes]:
    """(uncompressed tar, plugin.wasm bytes); the tar must hold exactly that file."""
    try:
        tar = gzip.decompress(layer)
        with tarfile.open(fileobj=io.BytesIO(tar), mode="r:") as archive:
            members = archive.getmembers()
            names = [m.name for m in members]
            if names != [PLUGIN_FILE] or not members[0].isreg():
                raise LayoutError(f"layer: holds {names}, expected exactly one regular file {PLUGIN_FILE}")
            extracted = archive.extractfile(members[0])
            wasm = extracted.read() if extracted else b""
    except (OSError, EOFError, tarfile.TarError) as err:
        raise LayoutError(f"layer: not a gzip-compressed tar: {err}") from err
    return tar, wasm


def check(out: Path, wasm_path: Path | None) -> str:
    """Verifies the layout in `out`; returns the manifest digest."""
    layout = read_json((out / "oci-layout").read_bytes(), "oci-layout")
    if layout.get("imageLayoutVersion") != "1.0.0":
        raise LayoutError(f"oci-layout: imageLayoutVersion {layout.get('imageLayoutVersion')!r}")
    index = read_json((out / "index.json").read_bytes(), "index.json")
    if index.get("schemaVersion") != 2 or len(index.get("manifests", [])) != 1:
        raise LayoutError("index.json: expected schemaVersion 2 and exactly one manifest")
    used: set[str] = set()
    manifest_desc = index["manifests"][0]
    if not manifest_desc.get("annotations", {}).get(REF_NAME):
        raise LayoutError(f"index.json: the manifest has no {REF_NAME} (the tag oras/skopeo copy)")
    manifest = read_json(blob(out, manifest_desc, MANIFEST_MEDIA_TYPE, "manifest", used), "manifest")
    if manifest.get("schemaVersion") != 2 or manifest.get("mediaType") != MANIFEST_MEDIA_TYPE:
        raise LayoutError("manifest: expected schemaVersion 2 and an OCI image manifest media type")
    config = read_json(blob(out, manifest.get("config", {}), CONFIG_MEDIA_TYPE, "config", used), "config")
    layers = manifest.get("layers", [])
    if len(layers) != 1:
        raise LayoutError(f"manifest: {len(layers)} layers, expected 1 (the compat variant)")
    tar, wasm = wasm_from_layer(blob(out, layers[0], LAYER_MEDIA_TYPE, "layer", used))
    if config.get("rootfs", {}).get("diff_ids") != [sha256(tar)]:
        raise LayoutError("config: rootfs.diff_ids does not match the uncompressed layer")
    if not wasm.startswith(WASM_MAGIC):
        raise LayoutError(f"layer: {PLUGIN_FILE} is not a Wasm module")
    if wasm_path is not None and wasm != wasm_path.read_bytes():
        raise LayoutError(f"layer: {PLUGIN_FILE} differs from {wasm_path} (run `make oci` again)")
    stray = sorted({p.name for p in (out / "blobs/sha256").iterdir()} - used)
    if stray:
        raise LayoutError(f"blobs: not referenced: {stray}")
    return manifest_desc["digest"]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["build", "check"])
    parser.add_argument("--wasm", type=Path, default=DEFAULT_WASM)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--tag", default=None, help="the image tag (default: the workspace version)")
    args = parser.parse_args(argv)
    if not args.wasm.is_file():
        print(f"oci: {args.wasm} is missing: run `make build`", file=sys.stderr)
        return 1
    try:
        if args.command == "build":
            tag = args.tag or workspace_version()
            digest = build(args.wasm, args.out, tag)
            print(f"oci: wrote {args.out} (tag {tag}, manifest {digest})")
            print(f"oci: push:  oras cp --from-oci-layout {args.out}:{tag} REGISTRY/claude-wif/claude-wif-filter:{tag}")
            # The WasmPlugin takes the digest two ways: inside `url` with its
            # algorithm (…@sha256:<hex>), and in the `sha256` field as bare hex
            # (Istio compares it with the pulled manifest's digest).
            print(f"oci: pin:   url: oci://REGISTRY/claude-wif/claude-wif-filter@{digest}")
            print(f"oci:   or:  sha256: {digest.removeprefix('sha256:')}")
            print(f"oci: check: crane manifest REGISTRY/claude-wif/claude-wif-filter@{digest}")
        else:
            digest = check(args.out, args.wasm)
            print(f"oci: ok   {args.out} (manifest {digest})")
    except (LayoutError, OSError) as err:
        print(f"oci: FAIL {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
