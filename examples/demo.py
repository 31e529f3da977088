"""The Python leg of the demo: settings from the environment (VAULT_ADDR, VAULT_ROLE_ID,
VAULT_SECRET_ID, HOLYSHEEP_BASE_URL, ...), one chat completion, one streamed completion."""

import json
import os

import holysheep_vault

MODEL = os.environ.get("HOLYSHEEP_DEMO_MODEL", "deepseek-v3.2")

with holysheep_vault.Client.from_env() as client:
    reply = client.chat_completions(
        model=MODEL,
        messages=[
            {"role": "system", "content": "You are a concise assistant."},
            {"role": "user", "content": "Why keep AI API keys in Vault? (Python)"},
        ],
        max_tokens=200,
    )
    print(f"reply:   {reply['choices'][0]['message']['content']}")
    print(f"tokens:  {reply['usage']['total_tokens']}")
    print(f"cost:    ${reply.cost_usd or 0:.8f}")

    chunks = 0
    print("stream:  ", end="")
    for chunk in client.chat_completions(
        model=MODEL,
        messages=[{"role": "user", "content": "Stream a short answer, please. (Python)"}],
        stream=True,
        stream_options={"include_usage": True},
    ):
        chunks += 1
        if chunk["choices"]:
            print(chunk["choices"][0]["delta"].get("content") or "", end="", flush=True)
    print(f"\n         ({chunks} chunks)")
    print(f"stats:   {json.dumps(client.stats(), indent=2)}")
