"""Embeddings: validated batch input, one provider call, metered like generation."""

from __future__ import annotations

from typing import Any

from apsara_core.errors import PayloadTooLargeError, ValidationError
from apsara_core.models import Principal
from apsara_core.providers.manager import ProviderManager
from apsara_core.services.chat_history import estimate_tokens
from apsara_core.services.input_checks import check_unicode
from apsara_core.services.limits import LimitsService

MAX_TEXTS = 100
MAX_DIMENSIONS = 3072
TASK_TYPES = (
    "RETRIEVAL_QUERY",
    "RETRIEVAL_DOCUMENT",
    "SEMANTIC_SIMILARITY",
    "CLASSIFICATION",
    "CLUSTERING",
    "QUESTION_ANSWERING",
    "FACT_VERIFICATION",
    "CODE_RETRIEVAL_QUERY",
)


def check_texts(texts: Any, limit: int) -> list[str]:
    """1..100 non-blank strings, each at most `limit` characters.

    Raises:
        ValidationError / PayloadTooLargeError: naming the text at fault.
    """
    if not isinstance(texts, list) or not 1 <= len(texts) <= MAX_TEXTS:
        raise ValidationError(f"texts must be a list of 1 to {MAX_TEXTS} strings", field="texts")
    for i, text in enumerate(texts):
        if not isinstance(text, str) or not check_unicode(text, f"texts[{i}]").strip():
            raise ValidationError(f"texts[{i}] must be a non-empty string", field=f"texts[{i}]")
        if len(text) > limit:
            raise PayloadTooLargeError(
                f"texts[{i}] is {len(text)} characters; the limit is {limit}", field=f"texts[{i}]"
            )
    return texts


def check_options(task_type: Any, dimensions: Any) -> tuple[str | None, int | None]:
    """Validated taskType and outputDimensionality.

    Raises:
        ValidationError: an unknown task type or dimensions outside 1..3072.
    """
    if task_type is not None:
        task_type = task_type.upper() if isinstance(task_type, str) else task_type
        if task_type not in TASK_TYPES:
            raise ValidationError(
                f"taskType must be one of {', '.join(TASK_TYPES)}", field="taskType"
            )
    if dimensions is not None and (
        not isinstance(dimensions, int)
        or isinstance(dimensions, bool)
        or not 1 <= dimensions <= MAX_DIMENSIONS
    ):
        raise ValidationError(
            f"outputDimensionality must be a whole number from 1 to {MAX_DIMENSIONS}",
            field="outputDimensionality",
        )
    return task_type, dimensions


async def embed_texts(
    *,
    providers: ProviderManager,
    limits: LimitsService,
    max_chars: int,
    actor: Principal,
    texts: Any,
    model: Any,
    task_type: Any,
    output_dimensionality: Any,
) -> dict[str, Any]:
    """{"embeddings": [[float]], "model"}; quota reserved first, refunded on failure."""
    texts = check_texts(texts, max_chars)
    task_type, dims = check_options(task_type, output_dimensionality)
    provider = providers.for_embedding_model(model)
    provider.check_ready()
    reservation = await limits.reserve(actor=actor, model=model)
    try:
        vectors = await provider.embed(
            texts=texts, model=model, task_type=task_type, output_dimensionality=dims
        )
    except BaseException:
        await limits.refund(reservation)
        raise
    await limits.commit(
        reservation, prompt_tokens=sum(estimate_tokens(t) for t in texts), output_tokens=0
    )
    return {
        "success": True,
        "embeddings": vectors,
        "model": model,
        "provider": provider.name,
        "dimensions": len(vectors[0]) if vectors else 0,
    }
