"""`pip install client/python` offline: the in-tree build backend, in a real venv with real pip.

PIP_NO_INDEX makes every download fail at once, as on a machine without PyPI: with setuptools
as the build requirement, pip's isolated build could not start. The venv sees Debian's pip 23
(python3-pip) through the system site-packages instead of copying one in with ensurepip,
which costs seconds of CPU; pip still installs into the venv and still isolates the build.
"""
import importlib.util
import os
import pathlib
import subprocess
import sys
import tarfile
import tempfile
import unittest
import zipfile

ROOT = pathlib.Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("metricsd_build",
                                               ROOT / "_build" / "metricsd_build.py")
backend = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(backend)  # type: ignore[union-attr]

OFFLINE = dict(os.environ, PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1",
               PYTHONDONTWRITEBYTECODE="1")
OFFLINE.pop("PYTHONPATH", None)
MODULES = sorted(p.name for p in (ROOT / "metricsd").glob("*.py"))
CHECK = ("import importlib.metadata, os, metricsd; print(os.path.dirname(metricsd.__file__)); "
         "print(importlib.metadata.version('metricsd')); "
         "print(metricsd.Counter('x', '', client=metricsd.Client(socket='/nonexistent'))._name)")


def run(*args, cwd=None):
    result = subprocess.run(args, cwd=cwd, env=OFFLINE, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, timeout=120)
    if result.returncode != 0:
        raise AssertionError(f"{args} exited {result.returncode}:\n{result.stdout}")
    return result.stdout


class OfflineInstallTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="metricsd-pkg-")
        cls.venv = pathlib.Path(cls.tmp.name) / "venv"
        run("/usr/bin/python3", "-m", "venv", "--without-pip", "--system-site-packages",
            str(cls.venv))
        cls.python = str(cls.venv / "bin" / "python")

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def check_import(self, where):
        # From a directory outside the tree, so the installed copy is what imports.
        lines = run(self.python, "-c", CHECK, cwd=self.tmp.name).split()
        self.assertEqual(lines, [str(where), "0.1.0", "x_total"])

    def test_pip_install_from_the_tree_then_editable_then_from_the_sdist(self):
        site = run(self.python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])")
        installed = pathlib.Path(site.strip()) / "metricsd"
        before = sorted(str(p) for p in ROOT.rglob("*") if "__pycache__" not in p.parts)

        run(self.python, "-m", "pip", "install", "-q", str(ROOT))
        self.check_import(installed)
        self.assertEqual(sorted(p.name for p in installed.glob("*.py")), MODULES)

        run(self.python, "-m", "pip", "install", "-q", "-e", str(ROOT))
        self.check_import(ROOT / "metricsd")

        sdist_dir = pathlib.Path(self.tmp.name) / "sdist"
        sdist_dir.mkdir()
        name = backend.build_sdist(str(sdist_dir))
        self.assertEqual(name, "metricsd-0.1.0.tar.gz")
        run(self.python, "-m", "pip", "install", "-q", "--force-reinstall",
            str(sdist_dir / name))
        self.check_import(installed)
        # The build wrote nothing into the tree (no build/, no *.egg-info).
        after = sorted(str(p) for p in ROOT.rglob("*") if "__pycache__" not in p.parts)
        self.assertEqual(after, before)


class BackendTest(unittest.TestCase):
    def test_wheel_contents_and_record(self):
        with tempfile.TemporaryDirectory() as out:
            name = backend.build_wheel(out)
            self.assertEqual(name, "metricsd-0.1.0-py3-none-any.whl")
            with zipfile.ZipFile(os.path.join(out, name)) as wheel:
                names = wheel.namelist()
                record = wheel.read("metricsd-0.1.0.dist-info/RECORD").decode()
                wheel_file = wheel.read("metricsd-0.1.0.dist-info/WHEEL").decode()
                meta = wheel.read("metricsd-0.1.0.dist-info/METADATA").decode()
        self.assertEqual(names, ["metricsd/" + m for m in MODULES] + [
            "metricsd-0.1.0.dist-info/METADATA", "metricsd-0.1.0.dist-info/WHEEL",
            "metricsd-0.1.0.dist-info/RECORD"])
        self.assertEqual(len(record.splitlines()), len(names))
        self.assertIn("Tag: py3-none-any\n", wheel_file)
        self.assertTrue(meta.startswith("Metadata-Version: 2.1\nName: metricsd\nVersion: 0.1.0\n"))
        self.assertIn("Requires-Python: >=3.9\n", meta)

    def test_sdist_holds_what_a_build_needs(self):
        with tempfile.TemporaryDirectory() as out:
            with tarfile.open(os.path.join(out, backend.build_sdist(out))) as sdist:
                names = sorted(sdist.getnames())
        expected = sorted(["metricsd-0.1.0/" + n for n in
                           ["PKG-INFO", "README.md", "pyproject.toml", "_build/metricsd_build.py"]
                           + ["metricsd/" + m for m in MODULES]])
        self.assertEqual(names, expected)

    def test_fallback_reader_agrees_with_tomllib(self):
        # Python 3.9/3.10 (no tomllib) read pyproject.toml with the backend's own reader.
        text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
        project = backend.parse_project_table(text)
        if sys.version_info >= (3, 11):
            import tomllib
            self.assertEqual(project, tomllib.loads(text)["project"])
        self.assertEqual(project["name"], "metricsd")
        self.assertEqual(project["dependencies"], [])
        self.assertEqual(len(project["classifiers"]), 3)


if __name__ == "__main__":
    unittest.main()
