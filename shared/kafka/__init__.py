"""Plain Kafka clients for tools (settings → client arguments, read/publish helpers) and the embedded dev broker."""
