"""The OpenAI- and Ollama-compatible HTTP APIs, and the API keys, limits and usage they use."""
