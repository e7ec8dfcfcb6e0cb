"""HTTP routes: the Nova API (`internal`), the OpenAI-compatible API (`openai`) and provider health."""
