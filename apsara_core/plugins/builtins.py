"""The built-in plugins, google/calculator and google/echo, registered through the same
`apsara.plugins` entry point as any third-party package (see pyproject.toml)."""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, StrictStr

from apsara_core.errors import ValidationError
from apsara_core.plugins.base import Plugin, PluginContext

Number = StrictInt | StrictFloat
Operation = Literal["add", "subtract", "multiply", "divide", "power", "modulo"]
MAX_RESULT_DIGITS = 1000  # a power whose result would have more digits is refused unrun
MAX_FLOAT_EXPONENT = 308  # float results beyond ~1e308 overflow


class CalculatorParams(BaseModel):
    """number1 <operation> number2."""

    model_config = ConfigDict(extra="forbid", strict=True)
    number1: Number = Field(description="The first operand (a finite number)")
    number2: Number = Field(description="The second operand (a finite number)")
    operation: Operation = Field(description="add, subtract, multiply, divide, power or modulo")


class EchoParams(BaseModel):
    """Anything to echo back."""

    model_config = ConfigDict(extra="forbid", strict=True)
    message: StrictStr = Field(description="The text to echo", max_length=100_000)
    data: dict[str, Any] | list[Any] | None = Field(None, description="Any JSON to echo back")


def _finite(value: int | float, field: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValidationError(f"{field} must be a number", field=field)
    if isinstance(value, float) and not math.isfinite(value):
        raise ValidationError(f"{field} must be a finite number; got {value}", field=field)


def _result_digits(base: int | float, exponent: int | float) -> float:
    """An upper estimate of the decimal digits of base ** exponent (0 for |base| <= 1)."""
    if abs(base) <= 1 or exponent <= 0:
        return 0.0
    return float(exponent) * math.log10(abs(base))


def _power(a: int | float, b: int | float) -> int | float:
    digits = _result_digits(a, b)
    limit = MAX_RESULT_DIGITS if isinstance(a, int) and isinstance(b, int) else MAX_FLOAT_EXPONENT
    if digits > limit:
        raise ValidationError(
            f"{a} ** {b} would have about {digits:.0f} digits; the limit is {limit}",
            field="number2",
            suggestions=["Use a smaller exponent"],
        )
    if a == 0 and b < 0:
        raise ValidationError("0 cannot be raised to a negative power", field="number2")
    result = a**b
    if isinstance(result, complex):
        raise ValidationError(
            f"{a} ** {b} is not a real number (a negative base with a fractional exponent)",
            field="number2",
        )
    return result


def calculate(a: int | float, b: int | float, operation: str) -> int | float:
    """number1 <operation> number2; integer operands give exact integer results.

    Raises:
        ValidationError: division or modulo by zero, a non-finite operand or result, or a
            power too large to compute.
    """
    _finite(a, "number1")
    _finite(b, "number2")
    if operation in ("divide", "modulo") and b == 0:
        verb = "Division" if operation == "divide" else "Modulo"
        raise ValidationError(f"{verb} by zero: number2 must not be 0", field="number2")
    if operation == "add":
        result: int | float = a + b
    elif operation == "subtract":
        result = a - b
    elif operation == "multiply":
        result = a * b
    elif operation == "divide":
        exact = isinstance(a, int) and isinstance(b, int) and a % b == 0
        result = a // b if exact else _float(lambda: a / b)
    elif operation == "modulo":
        result = a % b
    elif operation == "power":
        result = _power(a, b)
    else:
        raise ValidationError(f"Unknown operation {operation!r}", field="operation")
    if isinstance(result, float) and not math.isfinite(result):
        raise ValidationError(
            f"The result of {operation} is not finite (overflow)", field="operation"
        )
    return result


def _float(op: Any) -> float:
    try:
        return float(op())
    except OverflowError:
        raise ValidationError("The result is too large for a float", field="number1") from None


def run_calculator(params: CalculatorParams, ctx: PluginContext) -> dict[str, Any]:
    """{"result", "operation", "number1", "number2", "expression"}."""
    result = calculate(params.number1, params.number2, params.operation)
    symbol = {"add": "+", "subtract": "-", "multiply": "*", "divide": "/", "power": "**"}
    expression = f"{params.number1} {symbol.get(params.operation, '%')} {params.number2}"
    return {
        "result": result,
        "operation": params.operation,
        "number1": params.number1,
        "number2": params.number2,
        "expression": f"{expression} = {result}",
    }


def run_echo(params: EchoParams, ctx: PluginContext) -> dict[str, Any]:
    """The parameters as given."""
    return params.model_dump(exclude_none=True)


def plugins() -> list[Plugin]:
    """The built-ins (the `google` entry point of Apsara's own distribution)."""
    return [
        Plugin(
            "google",
            "calculator",
            "Basic arithmetic: add, subtract, multiply, divide, power, modulo (exact integers)",
            CalculatorParams,
            run_calculator,
            timeout_s=5.0,
        ),
        Plugin("google", "echo", "Returns its parameters", EchoParams, run_echo, timeout_s=5.0),
    ]
