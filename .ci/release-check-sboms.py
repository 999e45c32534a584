"""Checks a snapshot's SBOMs (.ci/release-check): one CycloneDX document per
binary, listed in checksums.txt, naming odin at the release's version with
the binary's platform in every package URL, whose components are exactly the
modules `go version -m` reads from that binary.

    python3 .ci/release-check-sboms.py dist VERSION
"""
import json
import subprocess
import sys

dist, version = sys.argv[1], sys.argv[2]
artifacts = json.load(open(f"{dist}/artifacts.json"))
sums = {line.split()[1].lstrip("*") for line in open(f"{dist}/checksums.txt")}
binaries = [a for a in artifacts if a["type"] == "Binary"]
if not binaries:
    sys.exit("release-check: artifacts.json lists no binary")


def linked_modules(binary):
    """The dependencies Go recorded in the binary, as (path, version)."""
    out = subprocess.run(["go", "version", "-m", binary], check=True, capture_output=True, text=True).stdout
    mods, last = set(), None
    for line in out.splitlines():
        f = line.split()
        if f[0] == "dep":
            last = (f[1], f[2])
            mods.add(last)
        elif f[0] == "=>":  # a replacement: the module that was linked
            mods.discard(last)
            mods.add((f[1], f[2]))
    return mods


for b in binaries:
    name = f"odin_{version}_{b['goos']}_{b['goarch']}.sbom.json"
    if name not in sums:
        sys.exit(f"release-check: {name} is not in checksums.txt")
    bom = json.load(open(f"{dist}/{name}"))
    main = bom["metadata"]["component"]
    problems = []
    if bom.get("bomFormat") != "CycloneDX":
        problems.append(f"bomFormat {bom.get('bomFormat')!r}")
    if (main.get("name"), main.get("version")) != ("github.com/odin-deploy/odin", f"v{version}"):
        problems.append(f"main component {main.get('name')} {main.get('version')}")
    qualifiers = f"goarch={b['goarch']}&goos={b['goos']}&"
    if any(qualifiers not in c.get("purl", "") for c in [main] + bom.get("components", [])):
        problems.append(f"a package URL lacks {qualifiers}")
    listed = {(c["name"], c["version"]) for c in bom.get("components", [])}
    linked = linked_modules(b["path"])
    if listed != linked:
        problems.append(f"components differ from the binary's modules: only in SBOM {sorted(listed - linked)}, "
                        f"only in binary {sorted(linked - listed)}")
    if problems:
        sys.exit(f"release-check: {name}: " + "; ".join(problems))
    print(f"{name}: CycloneDX {bom['specVersion']}, {len(listed)} modules, as linked into {b['path']}")
