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
import io
import sys
import tarfile
from pathlib import Path

from ocilayout import (
    CONFIG_MEDIA_TYPE,
    INDEX_MEDIA_TYPE,
    LAYER_MEDIA_TYPE,
    MANIFEST_MEDIA_TYPE,
    REF_NAME,
    ROOT,
    LayoutError,
    blob,
    canonical_json,
    check_no_stray_blobs,
    descriptor,
    gzip_bytes,
    read_image,
    sha256,
    workspace_version,
    write_layout,
)

DEFAULT_WASM = ROOT / "target/wasm/claude_wif_filter.wasm"
DEFAULT_OUT = ROOT / "target/oci"

PLUGIN_FILE = "plugin.wasm"
WASM_MAGIC = b"\0asm"

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
    write_layout(out, [layer, config, manifest], index)
    return sha256(manifest)


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
    used: set[str] = set()
    manifest_desc, manifest, config = read_image(out, used)
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
    check_no_stray_blobs(out, used)
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
