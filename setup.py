"""Builds the C++ extension llm_quantize._core with the project's CMake (the
same build as the CLI; see README "Python"). LLMQ_BUILD_DIR names an already
configured build folder (e.g. build/, from scripts/build.sh) to build the
extension in, as it is configured; else a fresh one is configured under build/pip."""
import os
import pathlib
import shutil
import subprocess
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = pathlib.Path(__file__).resolve().parent


class CMakeBuild(build_ext):
    def build_extension(self, ext):
        given = os.environ.get("LLMQ_BUILD_DIR")
        build = pathlib.Path(given).resolve() if given else ROOT / "build" / "pip"
        if not given:
            subprocess.check_call(["cmake", "-S", str(ROOT), "-B", str(build), "-DCMAKE_BUILD_TYPE=Release",
                                   "-DLLMQ_BUILD_TESTS=OFF", "-DLLMQ_BUILD_BENCH=OFF", "-DLLMQ_PYTHON=ON",
                                   f"-DPython3_EXECUTABLE={sys.executable}"])
        elif not (build / "CMakeCache.txt").exists():
            raise RuntimeError(f"LLMQ_BUILD_DIR={given} is not a configured build folder (run scripts/build.sh)")
        subprocess.check_call(["cmake", "--build", str(build), "--target", "_core", "-j", str(os.cpu_count() or 1)])
        built = sorted((build / "python" / "llm_quantize").glob("_core*.so"))
        if not built:
            raise RuntimeError(f"no _core extension under {build}/python/llm_quantize")
        target = pathlib.Path(self.get_ext_fullpath(ext.name))
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(built[-1], target)


setup(ext_modules=[Extension("llm_quantize._core", sources=[])], cmdclass={"build_ext": CMakeBuild})
