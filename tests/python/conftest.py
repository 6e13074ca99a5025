"""Fixtures for the Python API tests: the fixture models beside the checkout
and the CLI binary of the same build (for parity checks)."""
import os
import pathlib

import pytest

SOURCE = pathlib.Path(__file__).resolve().parents[2]
SHARED = pathlib.Path(os.environ.get("LLMQ_SHARED_DIR", SOURCE.parent / "shared"))


@pytest.fixture(scope="session")
def models():
    return SHARED / "models"


@pytest.fixture(scope="session")
def wikitext():
    return str(SHARED / "data" / "wikitext2_test.txt")


@pytest.fixture(scope="session")
def cli():
    return os.environ.get("LLMQ_CLI", str(SOURCE / "build" / "llm-quantize"))
