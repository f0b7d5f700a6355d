"""The public contract: event models, the topic catalog, the generated schemas. Imports only kernel."""
