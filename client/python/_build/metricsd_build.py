"""The client's PEP 517/660 build backend: standard library only, so installing needs no download.

pip builds a package in an isolated environment holding only ``[build-system] requires``; with
setuptools named there, ``pip install client/python`` had to fetch setuptools from an index and
failed offline. This backend has no requirements (``requires = []``, ``backend-path``): it
copies the pure-Python package into a wheel (or an sdist) and writes the metadata from
``pyproject.toml``'s ``[project]`` table, nothing more. It serves ``pip install``, ``pip
install -e`` (a ``.pth`` file pointing at the tree), ``pip wheel`` and ``python -m build``.
"""
from __future__ import annotations

import base64
import hashlib
import io
import os
import re
import tarfile
import time
import zipfile
from typing import Dict, List, Optional, Tuple, Union

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = "metricsd"
TAG = "py3-none-any"  # pure Python, any platform

Project = Dict[str, Union[str, List[str]]]


# --- metadata ---------------------------------------------------------------------------------

def parse_project_table(text: str) -> Project:
    """The ``[project]`` table's string and list-of-strings values, as tomllib would read them.

    Python 3.9 and 3.10 have no tomllib; our pyproject.toml keeps to what this reads (checked
    against tomllib by tests/test_packaging.py), so every supported interpreter builds alike.
    """
    project: Project = {}
    table = None
    key: Optional[str] = None  # a list still open across lines
    items: List[str] = []
    for raw in text.splitlines():
        line = raw.strip()
        if key is not None:
            items += re.findall(r'"((?:[^"\\]|\\.)*)"', line)
            if line.endswith("]"):
                project[key], key = items, None
            continue
        if not line or line.startswith("#"):
            continue
        header = re.fullmatch(r"\[([^\]]+)\]", line)
        if header:
            table = header.group(1).strip()
            continue
        if table != "project":
            continue
        name, _, value = (part.strip() for part in line.partition("="))
        if value.startswith("["):
            items = re.findall(r'"((?:[^"\\]|\\.)*)"', value)
            if value.endswith("]"):
                project[name] = items
            else:
                key = name
        elif value.startswith('"') and value.endswith('"'):
            project[name] = value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
        else:
            raise ValueError(f"pyproject.toml [project] {name}: only strings and lists of "
                             "strings are supported by this backend")
    return project


def read_project() -> Project:
    with open(os.path.join(ROOT, "pyproject.toml"), encoding="utf-8") as f:
        text = f.read()
    try:
        import tomllib  # Python >= 3.11
    except ImportError:
        return parse_project_table(text)
    return tomllib.loads(text)["project"]


def metadata(project: Project) -> str:
    """Core metadata 2.1 (PKG-INFO / METADATA)."""
    lines = ["Metadata-Version: 2.1", f"Name: {project['name']}",
             f"Version: {project['version']}", f"Summary: {project['description']}"]
    if project.get("requires-python"):
        lines.append(f"Requires-Python: {project['requires-python']}")
    if project.get("keywords"):
        lines.append("Keywords: " + ",".join(project["keywords"]))
    lines += [f"Classifier: {c}" for c in project.get("classifiers", [])]
    lines += [f"Requires-Dist: {d}" for d in project.get("dependencies", [])]
    body = ""
    if project.get("readme"):
        lines.append("Description-Content-Type: text/markdown")
        with open(os.path.join(ROOT, str(project["readme"])), encoding="utf-8") as f:
            body = "\n" + f.read()
    return "\n".join(lines) + "\n" + body


def _dist_name(project: Project) -> str:
    return f"{re.sub(r'[-_.]+', '_', str(project['name']))}-{project['version']}"


def _package_files() -> List[Tuple[str, str]]:
    """(path in the archive, path on disk) of every module of the package, sorted."""
    out = []
    base = os.path.join(ROOT, PACKAGE)
    for directory, dirs, files in os.walk(base):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(files):
            if name.endswith(".py") or name == "py.typed":
                path = os.path.join(directory, name)
                out.append((os.path.relpath(path, ROOT).replace(os.sep, "/"), path))
    return out


# --- wheels -----------------------------------------------------------------------------------

def _write_wheel(wheel_directory: str, contents: List[Tuple[str, bytes]],
                 project: Project) -> str:
    dist = _dist_name(project)
    info = f"{dist}.dist-info"
    contents = contents + [
        (f"{info}/METADATA", metadata(project).encode("utf-8")),
        (f"{info}/WHEEL", (f"Wheel-Version: 1.0\nGenerator: metricsd_build\n"
                           f"Root-Is-Purelib: true\nTag: {TAG}\n").encode()),
    ]
    record = []
    for path, data in contents:
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(data)}")
    record.append(f"{info}/RECORD,,")
    contents.append((f"{info}/RECORD", ("\n".join(record) + "\n").encode()))
    filename = f"{dist}-{TAG}.whl"
    with zipfile.ZipFile(os.path.join(wheel_directory, filename), "w",
                         zipfile.ZIP_DEFLATED) as wheel:
        for path, data in contents:
            entry = zipfile.ZipInfo(path, date_time=(1980, 1, 1, 0, 0, 0))  # reproducible
            entry.external_attr = 0o644 << 16
            wheel.writestr(entry, data, zipfile.ZIP_DEFLATED)
    return filename


def _read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def get_requires_for_build_wheel(config_settings=None) -> List[str]:
    return []


def get_requires_for_build_sdist(config_settings=None) -> List[str]:
    return []


def get_requires_for_build_editable(config_settings=None) -> List[str]:
    return []


def prepare_metadata_for_build_wheel(metadata_directory: str, config_settings=None) -> str:
    project = read_project()
    info = f"{_dist_name(project)}.dist-info"
    os.makedirs(os.path.join(metadata_directory, info), exist_ok=True)
    with open(os.path.join(metadata_directory, info, "METADATA"), "w", encoding="utf-8") as f:
        f.write(metadata(project))
    return info


prepare_metadata_for_build_editable = prepare_metadata_for_build_wheel


def build_wheel(wheel_directory: str, config_settings=None,
                metadata_directory: Optional[str] = None) -> str:
    return _write_wheel(wheel_directory,
                        [(name, _read(path)) for name, path in _package_files()], read_project())


def build_editable(wheel_directory: str, config_settings=None,
                   metadata_directory: Optional[str] = None) -> str:
    """A wheel whose one module is a .pth line putting this tree on sys.path."""
    return _write_wheel(wheel_directory, [(f"_{PACKAGE}_editable.pth",
                                           (ROOT + "\n").encode("utf-8"))], read_project())


# --- sdist ------------------------------------------------------------------------------------

def build_sdist(sdist_directory: str, config_settings=None) -> str:
    project = read_project()
    dist = _dist_name(project)
    files = _package_files() + [(name, os.path.join(ROOT, name)) for name in
                                ("pyproject.toml", "README.md", "_build/metricsd_build.py")]
    filename = f"{dist}.tar.gz"
    with tarfile.open(os.path.join(sdist_directory, filename), "w:gz",
                      format=tarfile.PAX_FORMAT) as sdist:
        def add(name: str, data: bytes) -> None:
            entry = tarfile.TarInfo(f"{dist}/{name}")
            entry.size, entry.mode, entry.mtime = len(data), 0o644, int(time.time())
            sdist.addfile(entry, io.BytesIO(data))
        for name, path in files:
            add(name, _read(path))
        add("PKG-INFO", metadata(project).encode("utf-8"))
    return filename
