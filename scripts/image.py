#!/usr/bin/env python3
"""Packages issuer-svc as an OCI container image, without Docker and without a
registry: an OCI image layout directory written with the standard library
only (the helpers are shared with scripts/oci.py in scripts/ocilayout.py).

The image has no base and a single layer: the static issuer-svc binary (musl,
`make image` builds it) as /usr/local/bin/issuer-svc, /etc/passwd and
/etc/group naming the non-root user 65532 (`nonroot`), and an empty /tmp.
There is no shell and no CA bundle: issuer-svc's HTTPS client (reqwest with
rustls) trusts the Mozilla roots compiled into the binary (webpki-roots). The
config runs as 65532:65532 with the binary as entrypoint. The output is
reproducible: the same binary, version, revision and source give the same
digests.

    scripts/image.py build [--bin FILE] [--out DIR] [--tag TAG] [--revision REV] [--source URL]
    scripts/image.py check [--bin FILE] [--out DIR] [--no-skopeo]

`build` writes DIR (default target/image) and prints the manifest digest.
`check` verifies the layout (digests, sizes, media types, the layer's exact
entries and metadata, a statically linked binary equal to FILE, the same
digest when built again), then reads it back with skopeo (`skopeo inspect`,
`skopeo inspect --config`, `skopeo copy` to a `dir:`) and runs the binary
taken from the copied layer with `--version` (as root, also chrooted into the
layer's own files as the image's user). Push with any OCI tool, e.g.

    skopeo copy oci:target/image:TAG docker://REGISTRY/claude-wif/issuer-svc:TAG
    crane push target/image REGISTRY/claude-wif/issuer-svc:TAG
    oras cp --from-oci-layout target/image:TAG REGISTRY/claude-wif/issuer-svc:TAG
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import os
import shutil
import struct
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

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

DEFAULT_BIN = ROOT / "target/image-build/x86_64-unknown-linux-musl/release/issuer-svc"
DEFAULT_OUT = ROOT / "target/image"

BINARY = "usr/local/bin/issuer-svc"
USER = "65532:65532"
# The listeners of envoy/istio/issuer-svc-config.yaml: the token API
# (internal_listen) and discovery/JWKS (public_listen).
PORTS = ("8443/tcp", "9090/tcp")
# What the Deployment runs (envoy/istio/issuer-svc.yaml sets the same args).
DEFAULT_CMD = ["serve", "--config", "/etc/issuer-svc/issuer-svc.toml"]
# No image timestamp: the epoch, so that the digest depends on the content only.
CREATED = "1970-01-01T00:00:00Z"
PASSWD = (
    "root:x:0:0:root:/root:/sbin/nologin\n"
    "nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n"
    "nonroot:x:65532:65532:nonroot:/nonexistent:/sbin/nologin\n"
)
GROUP = "root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n"
# ELF e_machine → OCI architecture.
ARCHITECTURES = {0x3E: "amd64", 0xB7: "arm64"}
PT_DYNAMIC, PT_INTERP, DT_NULL, DT_NEEDED = 2, 3, 0, 1
SKOPEO_INSTALL = "apt-get install -y skopeo (Debian), or run `make image-check`, which installs it"


def elf_architecture(binary: bytes, what: str) -> str:
    """The OCI architecture of a statically linked ELF64 little-endian
    executable; LayoutError when it is not one (an interpreter or a needed
    shared library means it would not run in an image without a libc)."""
    if binary[:4] != b"\x7fELF" or binary[4] != 2 or binary[5] != 1:
        raise LayoutError(f"{what} is not a 64-bit little-endian ELF executable")
    (machine,) = struct.unpack_from("<H", binary, 18)
    if machine not in ARCHITECTURES:
        raise LayoutError(f"{what}: ELF machine {machine:#x} is not amd64 or arm64")
    (phoff,) = struct.unpack_from("<Q", binary, 32)
    phentsize, phnum = struct.unpack_from("<HH", binary, 54)
    for i in range(phnum):
        p_type, _, p_offset, _, _, p_filesz = struct.unpack_from("<IIQQQQ", binary, phoff + i * phentsize)
        if p_type == PT_INTERP:
            interp = binary[p_offset : p_offset + p_filesz].rstrip(b"\0").decode(errors="replace")
            raise LayoutError(f"{what} is dynamically linked (interpreter {interp}): build it with `make image`")
        if p_type == PT_DYNAMIC:
            for offset in range(p_offset, p_offset + p_filesz - 15, 16):
                tag, _ = struct.unpack_from("<qQ", binary, offset)
                if tag == DT_NULL:
                    break
                if tag == DT_NEEDED:
                    raise LayoutError(f"{what} needs shared libraries: build it with `make image`")
    return ARCHITECTURES[machine]


def tar_entries(binary: bytes) -> list[tuple[tarfile.TarInfo, bytes | None]]:
    """The layer's entries, parents first, sorted by name, fixed metadata:
    owned by root (the binary is not writable by the user it runs as), mtime 0."""

    def entry(name: str, mode: int, data: bytes | None = None) -> tuple[tarfile.TarInfo, bytes | None]:
        info = tarfile.TarInfo(name)
        info.type = tarfile.DIRTYPE if data is None else tarfile.REGTYPE
        info.size = 0 if data is None else len(data)
        info.mode = mode
        info.mtime = 0
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        return info, data

    entries = [
        entry("etc/", 0o755),
        entry("etc/group", 0o644, GROUP.encode()),
        entry("etc/passwd", 0o644, PASSWD.encode()),
        entry("tmp/", 0o1777),
        entry("usr/", 0o755),
        entry("usr/local/", 0o755),
        entry("usr/local/bin/", 0o755),
        entry(BINARY, 0o755, binary),
    ]
    assert [info.name for info, _ in entries] == sorted(info.name for info, _ in entries)
    return entries


def layer_tar(binary: bytes) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for info, data in tar_entries(binary):
            tar.addfile(info, None if data is None else io.BytesIO(data))
    return buffer.getvalue()


def labels(tag: str, revision: str | None, source: str | None) -> dict:
    values = {
        "org.opencontainers.image.title": "issuer-svc",
        "org.opencontainers.image.description": "claude-wif issuer-svc: OIDC issuer and Claude WIF token exchanger",
        "org.opencontainers.image.version": tag,
        "org.opencontainers.image.licenses": "Apache-2.0",
    }
    if revision:
        values["org.opencontainers.image.revision"] = revision
    if source:
        values["org.opencontainers.image.source"] = source
    return values


def build(bin_path: Path, out: Path, tag: str, revision: str | None, source: str | None) -> str:
    """Writes the layout to `out`; returns the manifest digest."""
    binary = bin_path.read_bytes()
    architecture = elf_architecture(binary, str(bin_path))
    tar = layer_tar(binary)
    layer = gzip_bytes(tar)
    image_labels = labels(tag, revision, source)
    config = canonical_json(
        {
            "created": CREATED,
            "architecture": architecture,
            "os": "linux",
            "config": {
                "User": USER,
                "Entrypoint": ["/" + BINARY],
                "Cmd": DEFAULT_CMD,
                "Env": ["PATH=/usr/local/bin"],
                "WorkingDir": "/",
                "ExposedPorts": {port: {} for port in PORTS},
                "Labels": image_labels,
            },
            "rootfs": {"type": "layers", "diff_ids": [sha256(tar)]},
            "history": [{"created": CREATED, "created_by": "scripts/image.py (make image)"}],
        }
    )
    manifest = canonical_json(
        {
            "schemaVersion": 2,
            "mediaType": MANIFEST_MEDIA_TYPE,
            "config": descriptor(CONFIG_MEDIA_TYPE, config),
            "layers": [descriptor(LAYER_MEDIA_TYPE, layer)],
            "annotations": image_labels,
        }
    )
    index = canonical_json(
        {
            "schemaVersion": 2,
            "mediaType": INDEX_MEDIA_TYPE,
            "manifests": [
                descriptor(
                    MANIFEST_MEDIA_TYPE,
                    manifest,
                    platform={"architecture": architecture, "os": "linux"},
                    annotations={REF_NAME: tag},
                )
            ],
        }
    )
    write_layout(out, [layer, config, manifest], index)
    return sha256(manifest)


def binary_from_layer(layer: bytes) -> tuple[bytes, bytes]:
    """(uncompressed tar, the binary); the tar must hold exactly the entries
    tar_entries() writes, with the same metadata."""
    try:
        tar = gzip.decompress(layer)
        with tarfile.open(fileobj=io.BytesIO(tar), mode="r:") as archive:
            members = archive.getmembers()
            found = [(m.name.rstrip("/"), m.type, m.mode, m.uid, m.gid, m.mtime) for m in members]
            expected = [
                (info.name.rstrip("/"), info.type, info.mode, 0, 0, 0) for info, _ in tar_entries(b"")
            ]
            if found != expected:
                raise LayoutError(f"layer: holds {found}, expected {expected}")
            extracted = archive.extractfile(BINARY)
            binary = extracted.read() if extracted else b""
    except (OSError, EOFError, tarfile.TarError, KeyError) as err:
        raise LayoutError(f"layer: not a gzip-compressed tar with {BINARY}: {err}") from err
    return tar, binary


def check_layout(out: Path, bin_path: Path) -> tuple[str, str, dict]:
    """Verifies the layout in `out` without external tools; returns
    (manifest digest, tag, config)."""
    used: set[str] = set()
    manifest_desc, manifest, config = read_image(out, used)
    layers = manifest.get("layers", [])
    if len(layers) != 1:
        raise LayoutError(f"manifest: {len(layers)} layers, expected 1")
    tar, binary = binary_from_layer(blob(out, layers[0], LAYER_MEDIA_TYPE, "layer", used))
    if config.get("rootfs", {}).get("diff_ids") != [sha256(tar)]:
        raise LayoutError("config: rootfs.diff_ids does not match the uncompressed layer")
    if binary != bin_path.read_bytes():
        raise LayoutError(f"layer: {BINARY} differs from {bin_path} (run `make image` again)")
    architecture = elf_architecture(binary, f"layer: {BINARY}")
    if (config.get("architecture"), config.get("os")) != (architecture, "linux"):
        raise LayoutError(f"config: platform {config.get('os')}/{config.get('architecture')}, binary linux/{architecture}")
    settings = config.get("config", {})
    if settings.get("User") != USER or settings.get("Entrypoint") != ["/" + BINARY]:
        raise LayoutError(f"config: User {settings.get('User')!r}, Entrypoint {settings.get('Entrypoint')!r}")
    check_no_stray_blobs(out, used)
    tag = manifest_desc["annotations"][REF_NAME]
    labels_found = settings.get("Labels", {})
    with tempfile.TemporaryDirectory() as scratch:
        again = build(
            bin_path,
            Path(scratch),
            tag,
            labels_found.get("org.opencontainers.image.revision"),
            labels_found.get("org.opencontainers.image.source"),
        )
    if again != manifest_desc["digest"]:
        raise LayoutError(f"not reproducible: built again from {bin_path}, manifest {again}")
    return manifest_desc["digest"], tag, config


def skopeo(*args: str) -> str:
    if shutil.which("skopeo") is None:
        raise LayoutError(f"skopeo is not installed: {SKOPEO_INSTALL}")
    run = subprocess.run(["skopeo", *args], capture_output=True, text=True, timeout=120, check=False)
    if run.returncode != 0:
        raise LayoutError(f"skopeo {' '.join(args)}: exit {run.returncode}: {run.stderr.strip()}")
    return run.stdout


def check_with_skopeo(out: Path, tag: str, digest: str, config: dict) -> list[str]:
    """Reads the image back with skopeo, runs the binary from the copied
    layer; returns lines describing what was seen."""
    reference = f"oci:{out}:{tag}"
    inspected = json.loads(skopeo("inspect", reference))
    if inspected.get("Digest") != digest:
        raise LayoutError(f"skopeo inspect: digest {inspected.get('Digest')}, expected {digest}")
    if len(inspected.get("Layers", [])) != 1:
        raise LayoutError(f"skopeo inspect: layers {inspected.get('Layers')}, expected 1")
    if inspected.get("Architecture") != config["architecture"] or inspected.get("Os") != "linux":
        raise LayoutError(f"skopeo inspect: platform {inspected.get('Os')}/{inspected.get('Architecture')}")
    if inspected.get("Labels", {}).get("org.opencontainers.image.version") != tag:
        raise LayoutError(f"skopeo inspect: labels {inspected.get('Labels')} lack version {tag}")
    seen = json.loads(skopeo("inspect", "--config", reference))
    settings = seen.get("config", {})
    user = settings.get("User", "")
    uid, _, gid = user.partition(":")
    if not uid.isdigit() or int(uid) == 0 or not gid.isdigit() or int(gid) == 0:
        raise LayoutError(f"skopeo inspect --config: User {user!r} is not a numeric non-root uid:gid")
    if settings.get("Entrypoint") != ["/" + BINARY]:
        raise LayoutError(f"skopeo inspect --config: Entrypoint {settings.get('Entrypoint')}")
    if sorted(settings.get("ExposedPorts", {})) != sorted(PORTS):
        raise LayoutError(f"skopeo inspect --config: ExposedPorts {settings.get('ExposedPorts')}")
    lines = [
        f"skopeo inspect: {inspected['Digest']}, {inspected['Os']}/{inspected['Architecture']}, "
        f"{len(inspected['Layers'])} layer, version {tag}",
        f"skopeo inspect --config: User {user}, Entrypoint {settings['Entrypoint']}, "
        f"Cmd {settings.get('Cmd')}, ExposedPorts {sorted(settings['ExposedPorts'])}",
    ]
    with tempfile.TemporaryDirectory() as scratch:
        # skopeo copy evaluates a signature policy; this one accepts the local layout.
        policy = Path(scratch, "policy.json")
        policy.write_text(json.dumps({"default": [{"type": "insecureAcceptAnything"}]}))
        copied = Path(scratch, "copied")
        skopeo("--policy", str(policy), "copy", "--quiet", reference, f"dir:{copied}")
        layer_hex = inspected["Layers"][0].removeprefix("sha256:")
        layer = (copied / layer_hex).read_bytes()
        _, binary = binary_from_layer(layer)
        exe = Path(scratch, "issuer-svc")
        exe.write_bytes(binary)
        exe.chmod(0o755)
        # No environment: nothing from the host (PATH, LD_*) helps it start.
        run = subprocess.run([str(exe), "--version"], capture_output=True, text=True, timeout=30, env={}, check=False)
        expected = f"issuer-svc {workspace_version()}"
        if run.returncode != 0 or run.stdout.strip() != expected:
            raise LayoutError(
                f"the binary from the copied layer: `issuer-svc --version` exit {run.returncode}, "
                f"output {run.stdout.strip()!r} {run.stderr.strip()!r}, expected {expected!r}"
            )
        lines.append(f"skopeo copy to dir: and run: `issuer-svc --version` → {run.stdout.strip()}")
        lines.append(run_in_layer_root(layer, Path(scratch, "rootfs"), expected))
    return lines


def run_in_layer_root(layer: bytes, rootfs: Path, expected: str) -> str:
    """As root: `issuer-svc --version` chrooted into the layer's own files as
    the image's user, i.e. with nothing from the host. Skipped (and said so)
    where chroot is not allowed."""
    chroot = shutil.which("chroot")
    if not hasattr(os, "geteuid") or os.geteuid() != 0 or chroot is None:
        return "chroot into the layer: skipped (needs root and chroot)"
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(layer)), mode="r:") as archive:
        for member in archive.getmembers():  # exactly tar_entries(), checked before
            target = rootfs / member.name
            if member.isdir():
                target.mkdir(parents=True, exist_ok=True)
            else:
                extracted = archive.extractfile(member)
                target.write_bytes(extracted.read() if extracted else b"")
            target.chmod(member.mode)
    run = subprocess.run(
        [chroot, f"--userspec={USER}", str(rootfs), "/" + BINARY, "--version"],
        capture_output=True, text=True, timeout=30, env={}, check=False,
    )
    if run.returncode == 125 and "Operation not permitted" in run.stderr:
        return "chroot into the layer: skipped (chroot not permitted here)"
    if run.returncode != 0 or run.stdout.strip() != expected:
        raise LayoutError(
            f"chrooted into the layer as {USER}: `issuer-svc --version` exit {run.returncode}, "
            f"output {run.stdout.strip()!r} {run.stderr.strip()!r}, expected {expected!r}"
        )
    return f"chroot into the layer as {USER}, nothing from the host: `issuer-svc --version` → {run.stdout.strip()}"


def git_revision() -> str | None:
    """HEAD's commit, `-dirty` when what the binary is built from has
    uncommitted changes; None outside a git checkout."""
    try:
        head = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "--", "issuer-svc", "Cargo.toml", "Cargo.lock",
             "rust-toolchain.toml"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return head + ("-dirty" if dirty else "")


def public_url(url: str | None) -> str | None:
    """An http(s) URL without credentials, query or fragment (a remote URL can
    carry a token, which must not end up in a published image); None otherwise."""
    parts = urlsplit(url or "")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    host = parts.hostname + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def git_source() -> str | None:
    """The `origin` remote's URL, if it is an http(s) one."""
    try:
        url = subprocess.run(
            ["git", "-C", str(ROOT), "config", "--get", "remote.origin.url"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return public_url(url)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["build", "check"])
    parser.add_argument("--bin", type=Path, default=DEFAULT_BIN)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--tag", default=None, help="the image tag (default: the workspace version)")
    parser.add_argument("--revision", default=None, help="org.opencontainers.image.revision (default: git HEAD)")
    parser.add_argument(
        "--source", default=os.environ.get("IMAGE_SOURCE") or None,
        help="org.opencontainers.image.source (default: $IMAGE_SOURCE, else the https origin remote)",
    )
    parser.add_argument("--no-skopeo", action="store_true", help="check: only the checks without external tools")
    args = parser.parse_args(argv)
    if not args.bin.is_file():
        print(f"image: {args.bin} is missing: run `make image`", file=sys.stderr)
        return 1
    try:
        if args.command == "build":
            tag = args.tag or workspace_version()
            revision = args.revision or git_revision()
            source = public_url(args.source) if args.source else git_source()
            if args.source and source is None:
                raise LayoutError("--source / IMAGE_SOURCE: not an http(s) URL")
            digest = build(args.bin, args.out, tag, revision, source)
            size = sum(p.stat().st_size for p in (args.out / "blobs/sha256").iterdir())
            print(f"image: wrote {args.out} (tag {tag}, manifest {digest}, {size} bytes of blobs)")
            print(f"image: push:  skopeo copy oci:{args.out}:{tag} docker://REGISTRY/claude-wif/issuer-svc:{tag}")
            print(f"image: pin:   image: REGISTRY/claude-wif/issuer-svc@{digest}")
        else:
            if not (args.out / "index.json").is_file():
                print(f"image: {args.out} holds no image layout: run `make image`", file=sys.stderr)
                return 1
            digest, tag, config = check_layout(args.out, args.bin)
            if not args.no_skopeo:
                for line in check_with_skopeo(args.out, tag, digest, config):
                    print(f"image: {line}")
            print(f"image: ok   {args.out} (tag {tag}, manifest {digest})")
    except (LayoutError, OSError, ValueError) as err:
        print(f"image: FAIL {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
