"""What a service is built from: the Processor, stores, ports, rules, settings, logging, metrics. Never imports the runtime."""
