"""Build google-genai's request and response models ahead of the first message.

google-genai declares its pydantic models with deferred builds: the first
`generate_content_stream` of a process builds the schemas of the request parameters, of
`GenerateContentResponse` and of every nested type it meets, which measured 270 ms (loaded
machine) on top of the call. `build_types` runs the same conversions on a sample request and
a sample streamed chunk, with no network, so the warm-up (`GoogleProvider.warm`) pays it.
"""

from __future__ import annotations

from typing import Any

from apsara_core.providers.base import GenerationOptions, ProviderRequest, Turn

SAMPLE_CHUNK: dict[str, Any] = {  # the shape of a streamed chunk, every commonly sent field
    "candidates": [
        {
            "content": {
                "role": "model",
                "parts": [
                    {"text": "thinking", "thought": True, "thoughtSignature": "c2ln"},
                    {"text": "OK"},
                    {"functionCall": {"id": "c1", "name": "f", "args": {"a": 1}}},
                ],
            },
            "finishReason": "STOP",
            "index": 0,
            "safetyRatings": [
                {"category": "HARM_CATEGORY_HARASSMENT", "probability": "NEGLIGIBLE"}
            ],
        }
    ],
    "promptFeedback": {"blockReason": "SAFETY", "blockReasonMessage": "x"},
    "usageMetadata": {
        "promptTokenCount": 1,
        "candidatesTokenCount": 1,
        "thoughtsTokenCount": 1,
        "totalTokenCount": 3,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 1}],
    },
    "modelVersion": "gemini-2.5-flash",
    "responseId": "warm-up",
}


SAMPLE_REQUEST = ProviderRequest(
    model="gemini-2.5-flash",
    turns=[Turn("user", "hi", files=[{"uri": "u", "mimeType": "text/plain"}])],
    options=GenerationOptions(temperature=0.5, max_output_tokens=8),
    system_instruction="warm",
)


def build_types(api_client: Any, model: str, contents: Any, config: Any) -> None:
    """Convert a request (`contents` and `config` as `google.build_payload` makes them for
    SAMPLE_REQUEST) and a sample response as generate_content_stream does (CPU only; run it
    in a thread). Raises whatever a changed SDK raises: the caller logs it."""
    from google.genai import models, types

    params = types._GenerateContentParameters(model=model, contents=contents, config=config)
    models._GenerateContentParameters_to_mldev(api_client, params, None, params)
    response = models._GenerateContentResponse_from_mldev(dict(SAMPLE_CHUNK), None, params)
    parsed = types.GenerateContentResponse._from_response(
        response=response,
        kwargs={"config": {"response_schema": None, "response_json_schema": None}},
    )
    parsed.sdk_http_response = types.HttpResponse(headers={"content-type": "text/event-stream"})
