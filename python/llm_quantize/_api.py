"""The CLI's commands as functions: keyword arguments become options, the
JSON the command prints becomes the return value, a failure an exception."""
import json
from typing import Any, Callable, Optional

from . import _core

ProgressFn = Callable[[str, int, int], None]


class LlmQuantizeError(Exception):
    """A command failed: `message` is the CLI's one-line error, `exit_code` its exit code (1 runtime, 2 usage)."""

    def __init__(self, message: str, exit_code: int = 1):
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


class QualityGateError(LlmQuantizeError):
    """The output was written but failed its quality gate (exit code 3); `result` is what the command reported."""

    def __init__(self, message: str, result: Any):
        super().__init__(message, 3)
        self.result = result


def _option_name(key: str) -> str:
    if key == "output":
        return "-o"
    return ("-" if len(key) == 1 else "--") + key.replace("_", "-")


def options_to_args(options: dict) -> list:
    """{"group_size": 128, "desc_act": True, "ignore": ["a", "b"]} -> ["--group-size", "128", "--desc-act", "--ignore", "a", "--ignore", "b"]."""
    args = []
    for key, value in options.items():
        if value is None or value is False:
            continue
        name = _option_name(key)
        if value is True:
            args.append(name)
        elif isinstance(value, (list, tuple)):
            for v in value:
                args += [name, str(v)]
        else:
            args += [name, str(value)]
    return args


def run(*args: str, progress: Optional[ProgressFn] = None) -> Any:
    """Runs `llm-quantize ARGS... --format json` in this process and returns its result
    (a dict; a list when the command printed several objects)."""
    argv = [str(a) for a in args]
    if "--format" not in argv:
        argv += ["--format", "json"]
    code, texts = _core.run_cli(argv, progress)
    results = [json.loads(t) for t in texts]
    result = results[0] if len(results) == 1 else results
    if code == 0:
        return result
    error = next((r for r in results if isinstance(r, dict) and "error" in r), None)
    if code == 3:
        raise QualityGateError("the quality gate failed (see .result)", result)
    if error is None:
        raise LlmQuantizeError(f"llm-quantize {' '.join(argv[:2])} failed with exit code {code}", code)
    raise LlmQuantizeError(error["error"], error.get("exit_code", code))


def quantize(model: str, method: str, *, progress: Optional[ProgressFn] = None, **options) -> Any:
    """`llm-quantize quantize MODEL METHOD ...`: method is gguf, gptq, awq, rtn, fp8, fp4, int8 or smoothquant;
    e.g. quantize(m, "gguf", q="Q4_K_M", imatrix=f, output="x.gguf"), quantize(m, "gptq", bits=4, format_out="mlx")."""
    return run("quantize", model, method, *options_to_args(options), progress=progress)


def analyze(model: str, *, progress: Optional[ProgressFn] = None, **options) -> Any:
    """`llm-quantize analyze MODEL ...`: importance matrix and activation statistics (output= the .imatrix)."""
    return run("analyze", model, *options_to_args(options), progress=progress)


def inspect(model: str, **options) -> Any:
    """`llm-quantize inspect MODEL`: architecture, parameters, dtype, size."""
    return run("inspect", model, *options_to_args(options))


def quality_perplexity(model: str, *, data: str, progress: Optional[ProgressFn] = None, **options) -> Any:
    """`llm-quantize quality perplexity MODEL --data FILE ...`."""
    return run("quality", "perplexity", model, "--data", data, *options_to_args(options), progress=progress)


def quality_report(original: str, quantized: str, *, data: str, progress: Optional[ProgressFn] = None, **options) -> Any:
    """`llm-quantize quality report ORIGINAL QUANTIZED --data FILE ...`: perplexity, KL divergence, top-1 agreement."""
    return run("quality", "report", original, quantized, "--data", data, *options_to_args(options), progress=progress)


def quality_compare(original: str, *quantized: str, data: str, progress: Optional[ProgressFn] = None, **options) -> Any:
    """`llm-quantize quality compare ORIGINAL Q1 Q2 ... --data FILE`: one row per model."""
    return run("quality", "compare", original, *quantized, "--data", data, *options_to_args(options), progress=progress)


def quality_tasks(model: str, *others: str, tasks: str, progress: Optional[ProgressFn] = None, **options) -> Any:
    """`llm-quantize quality tasks MODEL [OTHERS...] --tasks FILE.jsonl`: multiple-choice accuracy."""
    return run("quality", "tasks", model, *others, "--tasks", tasks, *options_to_args(options), progress=progress)


def profile(action: str, *args: str, **options) -> Any:
    """`llm-quantize profile list|show|create|validate ...`."""
    return run("profile", action, *args, *options_to_args(options))


def synth(*, output: str, progress: Optional[ProgressFn] = None, **options) -> Any:
    """`llm-quantize synth -o DIR ...`: a random-weight checkpoint of any shape."""
    return run("synth", "-o", output, *options_to_args(options), progress=progress)
