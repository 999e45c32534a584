"""Checks a snapshot's Homebrew cask and Scoop manifest (.ci/release-check):
each points at an archive of the release with that archive's SHA-256 from
checksums.txt, covers every archive of its platforms, installs the odin
binary, and the cask lists every man page the archives carry.

    python3 .ci/release-check-manifests.py dist VERSION TAG
"""
import json
import re
import sys
import tarfile

dist, version, tag = sys.argv[1], sys.argv[2], sys.argv[3]
base = f"https://github.com/odin-deploy/odin/releases/download/{tag}/"
sums = {}
for line in open(f"{dist}/checksums.txt"):
    digest, name = line.split()
    sums[name.lstrip("*")] = digest
archives = [a for a in json.load(open(f"{dist}/artifacts.json")) if a["type"] == "Archive"]


def check_urls(what, pairs, goos):
    """pairs: (url, sha256) as the manifest has them."""
    want = {a["name"] for a in archives if a["goos"] in goos}
    got = set()
    for url, digest in pairs:
        if not url.startswith(base):
            sys.exit(f"release-check: {what}: {url} is not under {base}")
        name = url[len(base):]
        if name not in sums:
            sys.exit(f"release-check: {what}: {name} is not in checksums.txt")
        if sums[name] != digest:
            sys.exit(f"release-check: {what}: {name} has sha256 {digest}, checksums.txt says {sums[name]}")
        got.add(name)
    if got != want:
        sys.exit(f"release-check: {what} points at {sorted(got)}, want {sorted(want)}")
    print(f"{what}: {len(got)} archives, SHA-256 as in checksums.txt: {', '.join(sorted(got))}")


cask = open(f"{dist}/homebrew/Casks/odin.rb").read()
m = re.search(r'^\s*version "([^"]+)"$', cask, re.M)
if not m or m.group(1) != version:
    sys.exit(f"release-check: cask version {m and m.group(1)!r}, want {version!r}")
pairs = re.findall(r'url "([^"]+)"\s+sha256 "([0-9a-f]{64})"', cask)
check_urls("cask", [(u.replace("#{version}", version), d) for u, d in pairs], {"darwin", "linux"})
if not re.search(r'^\s*binary "odin"$', cask, re.M):
    sys.exit('release-check: the cask has no binary "odin"')
for shell, path in [("bash", "completions/odin.bash"), ("zsh", "completions/_odin"), ("fish", "completions/odin.fish")]:
    if f'{shell}_completion "{path}"' not in cask:
        sys.exit(f"release-check: the cask has no {shell}_completion {path}")
darwin = next(a for a in archives if a["goos"] == "darwin")
with tarfile.open(f"{dist}/{darwin['name']}") as t:
    pages = {n for n in t.getnames() if n.startswith("man/")}
listed = set(re.findall(r'^\s*manpage "([^"]+)"$', cask, re.M))
if listed != pages:
    sys.exit(f"release-check: the cask's manpages differ from the archive's man/: only in the cask "
             f"{sorted(listed - pages)}, only in the archive {sorted(pages - listed)}")
print(f"cask: binary odin, bash/zsh/fish completions, {len(listed)} man pages (all of man/)")

scoop = json.load(open(f"{dist}/scoop/odin.json"))
if scoop["version"] != version:
    sys.exit(f"release-check: Scoop manifest version {scoop['version']!r}, want {version!r}")
arch = scoop["architecture"]
for key in arch:
    if arch[key].get("bin") != ["odin.exe"]:
        sys.exit(f"release-check: Scoop {key} installs {arch[key].get('bin')}, want ['odin.exe']")
check_urls("Scoop manifest", [(a["url"], a["hash"]) for a in arch.values()], {"windows"})
print(f"Scoop manifest: {', '.join(sorted(arch))} install odin.exe")
