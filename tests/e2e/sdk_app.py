"""An unchanged app: the official SDK, built with no argument in code.

Everything comes from the environment, as a user deploys it behind Envoy:
`ANTHROPIC_BASE_URL` (the Envoy listener with the claude-wif filter) and
`ANTHROPIC_API_KEY` (a placeholder: SDK 2.x will not send a request without
some credential). test_sdk_env_app.py runs this file with .venv's python in
a clean environment.

It makes one `messages.create` and one streaming call, then prints one line
of JSON describing what it did and which headers the SDK builds, never a
credential (the placeholder is compared, not printed).
"""

import json
import os
import sys

import anthropic

MODEL = "claude-sonnet-4-6"
MESSAGES = [{"role": "user", "content": "Hello"}]


def main() -> None:
    client = anthropic.Anthropic()

    message = client.messages.create(model=MODEL, max_tokens=32, messages=MESSAGES)
    with client.messages.stream(model=MODEL, max_tokens=32, messages=MESSAGES) as stream:
        streamed = "".join(stream.text_stream)
        final = stream.get_final_message()

    headers = {k.lower(): v for k, v in client.default_headers.items() if isinstance(v, str)}
    placeholder = os.environ["ANTHROPIC_API_KEY"]
    print(json.dumps({
        "version": anthropic.__version__,
        "module": os.path.dirname(anthropic.__file__),
        "base_url": str(client.base_url),
        "api_key_is_placeholder": client.api_key == placeholder,
        "credentials": None if client.credentials is None else type(client.credentials).__name__,
        "auth_header_names": sorted(k.lower() for k in client.auth_headers),
        "authorization_is_bearer_placeholder": headers.get("authorization") == f"Bearer {placeholder}",
        "sends_x_api_key": "x-api-key" in headers,
        "anthropic_version": headers.get("anthropic-version"),
        "user_agent": headers.get("user-agent"),
        "message": {
            "type": message.type,
            "role": message.role,
            "model": message.model,
            "text": message.content[0].text,
            "stop_reason": message.stop_reason,
        },
        "stream": {"text": streamed, "final_text": final.content[0].text, "stop_reason": final.stop_reason},
    }))


if __name__ == "__main__":
    try:
        main()
    except anthropic.APIStatusError as err:
        sys.exit(f"sdk_app: HTTP {err.status_code} {type(err).__name__}: {err.body}")
