"""Core Kubernetes half of tools/manifest-check (check.js runs it).

Reads a JSON request on stdin:
  {"versions": ["1.27", "1.37"],
   "documents": [{"doc": {...}, "metadataOnly": false}, ...]}
and writes a JSON list, one entry per document, of error lines
("<JSON pointer>: <message>"). Each document is validated with
kubernetes-validate's strict schemas (additionalProperties false on every
object that lists properties) for every version asked for; an error found in
every version is reported once, one found in some versions names them.

metadataOnly: the document is a custom resource whose spec check.js validates
against its CRD; only `metadata` is checked here, as the API server does for
every object (ObjectMeta of the same Kubernetes versions).
"""

import json
import sys

import jsonschema
import referencing
from kubernetes_validate import utils as kv

OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"


def schema_dir(version):
    """The strict schema folder kubernetes-validate uses for `version`."""
    if version not in [kv.major_minor(v) for v in kv.all_versions()]:
        raise SystemExit(f"check_core: kubernetes-validate {kv.__version__} has no schemas for Kubernetes {version}")
    full = [v for v in kv.all_versions() if kv.major_minor(v) == version][-1]
    return f"kubernetes-json-schema/v{full}-local-strict"


class Validators:
    """kubernetes-validate's strict schemas of one Kubernetes version."""

    def __init__(self, version):
        self.version = version
        self.dir = schema_dir(version)
        definitions = kv.schema_contents(f"{self.dir}/_definitions.json", version)
        # Kind schemas refer to https://kubernetes.io/api/_definitions.json.
        self.registry = referencing.Resource.from_contents(definitions) @ referencing.Registry()
        self.cache = {}

    def _validator(self, schema):
        return jsonschema.Draft202012Validator(schema, registry=self.registry)

    def for_document(self, doc, metadata_only):
        """The validator for `doc` (only its metadata when metadata_only), or
        None when this version has no such kind."""
        if metadata_only:
            key = "metadata"
            schema = {"$ref": f"https://kubernetes.io/api/_definitions.json#/$defs/{OBJECT_META}"}
        else:
            # kubernetes-validate's file names: apps/v1 -> apps-v1,
            # networking.k8s.io/v1 -> networking-v1, v1 -> v1.
            api_version = str(doc.get("apiVersion"))
            group, _, version = api_version.rpartition("/")
            name = f"{group.split('.')[0]}-{version}" if group else version
            key = f"{str(doc.get('kind')).lower()}-{name}"
            schema = None
        if key not in self.cache:
            if schema is None:
                try:
                    schema = kv.schema_contents(f"{self.dir}/{key}.json", self.version)
                except FileNotFoundError:
                    schema = False
            self.cache[key] = schema and self._validator(schema)
        return self.cache[key] or None


def pointer(base, path):
    return base + "".join(f"/{p}" for p in path) or "/"


def messages(error, base):
    """One line per problem, in the wording check.js uses for CRDs."""
    where = pointer(base, error.absolute_path)
    if error.validator == "additionalProperties":
        listed = error.schema.get("properties", {})
        return [f'{where}: unknown field "{k}"' for k in error.instance if k not in listed]
    if error.validator == "type":
        expected = error.validator_value
        expected = [t for t in expected if t != "null"] if isinstance(expected, list) else [expected]
        return [f"{where}: must be {' or '.join(expected)}"]
    if error.validator == "enum":
        return [f"{where}: must be one of {json.dumps(error.validator_value)}"]
    if error.validator == "required":
        return [f"{where}: must have required property '{k}'" for k in error.validator_value if k not in error.instance]
    if error.validator in ("anyOf", "oneOf"):
        # int-or-string and the like: one line, not one per alternative.
        return [f"{where}: must match one of the allowed types"]
    return [f"{where}: {error.message}"]


def check(request):
    versions = request["versions"]
    validators = [Validators(v) for v in versions]
    results = []
    for entry in request["documents"]:
        doc, metadata_only = entry["doc"], entry.get("metadataOnly", False)
        found = {}  # line -> versions that report it
        for v in validators:
            validator = v.for_document(doc, metadata_only)
            if validator is None:
                lines = [f"unknown kind {doc.get('kind')} in {doc.get('apiVersion')}"]
            else:
                instance = doc.get("metadata", {}) if metadata_only else doc
                base = "/metadata" if metadata_only else ""
                errors = sorted(validator.iter_errors(instance), key=lambda e: [str(p) for p in e.absolute_path])
                lines = [line for error in errors for line in messages(error, base)]
            for line in dict.fromkeys(lines):
                found.setdefault(line, []).append(v.version)
        out = []
        for line, where in found.items():
            if len(where) == len(versions):
                out.append(line)
            else:
                out.append(f"{line} (Kubernetes {', '.join(where)} only)")
        results.append(out)
    return results


def main():
    request = json.load(sys.stdin)
    json.dump(check(request), sys.stdout)


if __name__ == "__main__":
    main()
